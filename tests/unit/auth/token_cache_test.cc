#include "auth/token_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::auth {
namespace {

// g++ 12 misreads `"literal" + std::to_string(i)` under -Wrestrict; append instead.
std::string named(std::string_view prefix, int i) {
  std::string out(prefix);
  out += std::to_string(i);
  return out;
}

std::shared_ptr<const Identity> who(std::string principal) {
  auto identity = std::make_shared<Identity>();
  identity->kind = CredentialKind::kJwt;
  identity->principal = std::move(principal);
  return identity;
}

TEST(TokenCacheTest, HitReturnsTheIdentityVerifiedEarlier) {
  TokenCache cache(8);
  EXPECT_EQ(cache.find("t1", 100, 1), nullptr);
  cache.insert("t1", who("alice"), 200, 1);
  auto hit = cache.find("t1", 150, 1);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->principal, "alice");
  EXPECT_EQ(cache.find("t2", 150, 1), nullptr);
}

TEST(TokenCacheTest, AnEntryNeverOutlivesItsToken) {
  TokenCache cache(8);
  cache.insert("t1", who("alice"), 200, 1);
  EXPECT_NE(cache.find("t1", 199, 1), nullptr);
  EXPECT_EQ(cache.find("t1", 200, 1), nullptr);  // exp is exclusive (RFC 7519 4.1.4)
  EXPECT_EQ(cache.size(), 0u);                   // and the expired entry is gone
}

TEST(TokenCacheTest, AnotherKeyGenerationInvalidatesAtOnce) {
  TokenCache cache(8);
  cache.insert("t1", who("alice"), 1000, 7);
  EXPECT_EQ(cache.find("t1", 10, 8), nullptr);  // keys rotated or removed since
  EXPECT_EQ(cache.find("t1", 10, 7), nullptr);  // dropped, not merely hidden
}

TEST(TokenCacheTest, BoundedWhateverTheNumberOfDistinctTokens) {
  TokenCache cache(64);
  for (int i = 0; i < 10000; ++i) cache.insert(named("token-", i), who("p"), 1000, 1);
  EXPECT_EQ(cache.size(), 64u);
  EXPECT_EQ(cache.evictions(), 10000u - 64u);
  EXPECT_NE(cache.find("token-9999", 10, 1), nullptr);  // the newest stays
  EXPECT_EQ(cache.find("token-0", 10, 1), nullptr);
}

TEST(TokenCacheTest, RecentlyUsedEntriesSurviveEviction) {
  TokenCache cache(4);
  for (int i = 0; i < 4; ++i) cache.insert(named("t", i), who("p"), 1000, 1);
  ASSERT_NE(cache.find("t0", 10, 1), nullptr);  // referenced: gets a second chance
  cache.insert("new", who("q"), 1000, 1);
  EXPECT_NE(cache.find("t0", 10, 1), nullptr);
  EXPECT_NE(cache.find("new", 10, 1), nullptr);
  EXPECT_EQ(cache.size(), 4u);
}

TEST(TokenCacheTest, ReinsertReplacesAndZeroCapacityDisables) {
  TokenCache cache(4);
  cache.insert("t", who("old"), 1000, 1);
  cache.insert("t", who("new"), 1000, 2);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find("t", 10, 2)->principal, "new");
  TokenCache off(0);
  off.insert("t", who("x"), 1000, 1);
  EXPECT_EQ(off.find("t", 10, 1), nullptr);
}

TEST(TokenCacheTest, ClearEmptiesEverySlot) {
  TokenCache cache(4);
  cache.insert("a", who("x"), 1000, 1);
  cache.insert("b", who("y"), 1000, 1);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.find("a", 10, 1), nullptr);
  for (int i = 0; i < 8; ++i) cache.insert(named("c", i), who("z"), 1000, 1);
  EXPECT_EQ(cache.size(), 4u);
}

}  // namespace
}  // namespace rampart::auth
