// The decision cache's TTL and stale-if-error boundaries, with an injected
// clock, and its bound.
#include "authz/decision_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::authz {
namespace {

TEST(DecisionCacheTest, FreshUntilTtlThenUsableOnlyUntilStaleEnds) {
  DecisionCache cache(16, /*ttl=*/1000, /*stale_if_error=*/5000);
  cache.insert("alice", true, "X-Plan: gold\r\n", /*now=*/10'000);
  const DecisionCache::Decision* fresh = cache.findFresh("alice", 10'999);
  ASSERT_NE(fresh, nullptr);
  EXPECT_TRUE(fresh->allowed);
  EXPECT_EQ(fresh->upstream_headers, "X-Plan: gold\r\n");
  EXPECT_EQ(cache.findFresh("alice", 11'000), nullptr);   // exactly ttl old: no longer fresh
  ASSERT_NE(cache.findUsable("alice", 11'000), nullptr);  // but usable when the service fails
  ASSERT_NE(cache.findUsable("alice", 15'999), nullptr);
  EXPECT_EQ(cache.findUsable("alice", 16'000), nullptr);  // ttl + stale_if_error: gone
  EXPECT_EQ(cache.size(), 0u);                            // and its slot freed
}

TEST(DecisionCacheTest, NoStaleWindowMeansNothingPastTtl) {
  DecisionCache cache(4, 500, 0);
  cache.insert("k", false, "", 0);
  ASSERT_NE(cache.findFresh("k", 499), nullptr);
  EXPECT_FALSE(cache.findFresh("k", 499)->allowed);
  EXPECT_EQ(cache.findUsable("k", 500), nullptr);
}

TEST(DecisionCacheTest, AnAnswerMaxAgeShortensTheTtlButNeverLengthensIt) {
  DecisionCache cache(4, /*ttl=*/1000, /*stale_if_error=*/500);
  cache.insert("short", true, "", 0, /*ttl=*/200);
  cache.insert("long", true, "", 0, /*ttl=*/60'000);
  cache.insert("zero", true, "", 0, /*ttl=*/0);
  EXPECT_NE(cache.findFresh("short", 199), nullptr);
  EXPECT_EQ(cache.findFresh("short", 200), nullptr);
  EXPECT_NE(cache.findUsable("short", 699), nullptr);  // stale window after its own ttl
  EXPECT_EQ(cache.findUsable("short", 700), nullptr);
  EXPECT_EQ(cache.findFresh("long", 1000), nullptr);  // the config's ttl is the ceiling
  EXPECT_EQ(cache.findFresh("zero", 0), nullptr);
  EXPECT_NE(cache.findUsable("zero", 499), nullptr);
}

TEST(DecisionCacheTest, ReinsertReplacesTheDecisionAndRestartsItsClock) {
  DecisionCache cache(4, 1000, 0);
  cache.insert("k", true, "A: 1\r\n", 0);
  cache.insert("k", false, "", 900);
  EXPECT_EQ(cache.size(), 1u);
  const DecisionCache::Decision* d = cache.findFresh("k", 1500);
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->upstream_headers, "");
}

TEST(DecisionCacheTest, BoundedByCapacityEvictingUnreferencedFirst) {
  DecisionCache cache(3, 100'000, 0);
  cache.insert("a", true, "", 0);
  cache.insert("b", true, "", 0);
  cache.insert("c", true, "", 0);
  ASSERT_NE(cache.findFresh("a", 1), nullptr);  // referenced: survives the first sweep
  cache.insert("d", true, "", 2);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.evictions(), 1u);
  EXPECT_NE(cache.findFresh("a", 3), nullptr);
  EXPECT_NE(cache.findFresh("d", 3), nullptr);
  for (int i = 0; i < 1000; ++i) cache.insert(std::to_string(1000 + i), true, "", 4);
  EXPECT_EQ(cache.size(), 3u);
}

TEST(DecisionCacheTest, ZeroCapacityCachesNothing) {
  DecisionCache cache(0, 1000, 1000);
  cache.insert("k", true, "", 0);
  EXPECT_EQ(cache.findFresh("k", 1), nullptr);
  EXPECT_EQ(cache.findUsable("k", 1), nullptr);
}

TEST(DecisionCacheTest, KeysAreExactBytes) {
  DecisionCache cache(8, 1000, 0);
  cache.insert(std::string_view("a\0b", 3), true, "", 0);
  EXPECT_EQ(cache.findFresh("a", 1), nullptr);
  EXPECT_NE(cache.findFresh(std::string_view("a\0b", 3), 1), nullptr);
}

}  // namespace
}  // namespace rampart::authz
