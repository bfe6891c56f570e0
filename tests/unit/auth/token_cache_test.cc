#include "auth/token_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
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

// Big enough never to evict: then the cache must agree with a reference map
// exactly, while expiries and generation changes keep erasing entries in the
// middle of probe runs (backward-shift deletion must not strand any).
TEST(TokenCacheTest, AgreesExactlyWithAReferenceWhenNothingIsEvicted) {
  constexpr int kTokens = 300;
  TokenCache cache(kTokens);
  struct Expected {
    std::string principal;
    int64_t expires_at;
    uint64_t generation;
  };
  std::map<std::string, Expected> reference;
  std::mt19937 random(11);
  for (int step = 0; step < 50000; ++step) {
    std::string token = named("tok-", static_cast<int>(random() % kTokens));
    int64_t now = 1000 + step / 200;
    uint64_t generation = random() % 20 == 0 ? 2 : 1;
    if (random() % 3 == 0) {
      std::string principal = named("p-", step);
      int64_t expires_at = now + static_cast<int64_t>(random() % 30);
      cache.insert(token, who(principal), expires_at, generation);
      reference[token] = {principal, expires_at, generation};
      continue;
    }
    auto hit = cache.find(token, now, generation);
    auto it = reference.find(token);
    bool live =
        it != reference.end() && now < it->second.expires_at && generation == it->second.generation;
    ASSERT_EQ(hit != nullptr, live) << token << " at step " << step;
    if (hit) {
      EXPECT_EQ(hit->principal, it->second.principal);
    }
    if (it != reference.end() && !live) reference.erase(it);  // the cache dropped it
    ASSERT_EQ(cache.size(), reference.size());
  }
  EXPECT_EQ(cache.evictions(), 0u);
}

// Random inserts, finds, expiries and generation changes on a small, full
// cache agree with a reference map: whatever was evicted, every entry still
// present is found with its own identity (the open-addressed table's
// backward-shift deletion never strands an entry behind a hole), and the
// size never passes the capacity.
TEST(TokenCacheTest, AgreesWithAReferenceUnderChurn) {
  constexpr size_t kCapacity = 48;
  TokenCache cache(kCapacity);
  struct Expected {
    std::string principal;
    int64_t expires_at;
    uint64_t generation;
  };
  std::map<std::string, Expected> reference;  // a superset of what the cache holds
  std::mt19937 random(7);
  for (int step = 0; step < 20000; ++step) {
    std::string token = named("tok-", static_cast<int>(random() % 200));
    int64_t now = 1000 + step / 100;
    uint64_t generation = 1 + (random() % 50 == 0 ? 1 : 0);
    if (random() % 2 == 0) {
      std::string principal = named("p-", step);
      int64_t expires_at = now + static_cast<int64_t>(random() % 20);
      cache.insert(token, who(principal), expires_at, generation);
      reference[token] = {principal, expires_at, generation};
    } else {
      auto hit = cache.find(token, now, generation);
      auto it = reference.find(token);
      if (hit != nullptr) {
        ASSERT_NE(it, reference.end()) << token;
        EXPECT_EQ(hit->principal, it->second.principal) << token;
        EXPECT_LT(now, it->second.expires_at);
        EXPECT_EQ(generation, it->second.generation);
      } else if (it != reference.end() && now < it->second.expires_at &&
                 generation == it->second.generation) {
        // A miss on a live entry is only allowed when it was evicted; the
        // cache is then full or was full since.
        EXPECT_GT(cache.evictions(), 0u);
      }
    }
    ASSERT_LE(cache.size(), kCapacity);
  }
  // A token just inserted is found, whatever it evicted to make room.
  for (int i = 0; i < 500; ++i) {
    cache.insert(named("last-", i), who(named("q-", i)), 5000, 1);
    auto hit = cache.find(named("last-", i), 2000, 1);
    ASSERT_NE(hit, nullptr) << i;
    EXPECT_EQ(hit->principal, named("q-", i));
  }
  EXPECT_EQ(cache.size(), kCapacity);
}

}  // namespace
}  // namespace rampart::auth
