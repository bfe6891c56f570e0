#include "shield/rate_limiter.h"

#include <gtest/gtest.h>

namespace rampart::shield {

uint64_t allocationCount();  // keyed_table_test.cc

namespace {

constexpr Nanos kMs = 1'000'000;
constexpr Nanos kT0 = 5'000 * kSecond;

Key key(uint64_t i) {
  return Key{i * 0x9e3779b97f4a7c15ULL + 1, i * 0xbf58476d1ce4e5b9ULL + 7};
}

TEST(RateLimiterTest, KeysAreIndependent) {
  RateLimiter limiter(1'000);
  const Gcra limit(Limit{1, 3});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter.check(key(1), limit, kT0).allowed());
  EXPECT_FALSE(limiter.check(key(1), limit, kT0).allowed());
  EXPECT_TRUE(limiter.check(key(2), limit, kT0).allowed());
  EXPECT_EQ(limiter.peek(key(2), limit, kT0).remaining, 1u);
  EXPECT_EQ(limiter.peek(key(3), limit, kT0).remaining, 2u);  // unknown: the full burst
  EXPECT_EQ(limiter.size(), 2u);                              // peek inserts nothing
  EXPECT_TRUE(limiter.check(key(1), limit, kT0 + kSecond).allowed());
}

TEST(RateLimiterTest, OneTableServesManyLimits) {
  RateLimiter limiter(100);
  const Gcra strict(Limit{1, 1});
  const Gcra loose(Limit{100, 100});
  // Different limits use different keys (namespaces); each sees only its own state.
  EXPECT_TRUE(limiter.check(key(10), strict, kT0).allowed());
  EXPECT_FALSE(limiter.check(key(10), strict, kT0).allowed());
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.check(key(11), loose, kT0).allowed());
}

TEST(RateLimiterTest, EvictionOnlyEverMakesItMoreLenient) {
  RateLimiter limiter(1'000);
  const Gcra limit(Limit{1, 1});
  ASSERT_TRUE(limiter.check(key(0), limit, kT0).allowed());
  ASSERT_FALSE(limiter.check(key(0), limit, kT0).allowed());
  // Flood with busy keys (each exhausted, so none is idle): key 0 is the
  // least recently used and goes.
  const uint64_t before = allocationCount();
  for (uint64_t i = 1; i < 50'000; ++i) limiter.check(key(i), limit, kT0 + i);
  EXPECT_EQ(allocationCount(), before);
  EXPECT_EQ(limiter.size(), 1'000u);
  // Forgotten: it starts fresh (allowed), never worse than before.
  EXPECT_TRUE(limiter.check(key(0), limit, kT0 + 60'000).allowed());
}

TEST(RateLimiterTest, RefilledKeysGoFirstSoBusyKeysStayExact) {
  RateLimiter limiter(1'000);
  const Gcra slow(Limit{1.0 / 3600, 1});  // one an hour
  const Gcra fast(Limit{1000, 1});        // refilled 1 ms after use
  // 100 keys used up an hourly limit at kT0: the oldest entries in the table.
  for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(limiter.check(key(i), slow, kT0).allowed());
  // A flood of 100,000 one-off keys, each refilled by the time the next arrives.
  for (uint64_t i = 1'000; i < 101'000; ++i) {
    ASSERT_TRUE(limiter.check(key(i), fast, kT0 + i * kMs).allowed());
  }
  EXPECT_GE(limiter.evictions(), 99'000u);
  // The flood evicted only refilled entries: the hourly keys are still denied.
  for (uint64_t i = 0; i < 100; ++i) {
    EXPECT_FALSE(limiter.check(key(i), slow, kT0 + 200 * kSecond).allowed()) << i;
  }
}

}  // namespace
}  // namespace rampart::shield
