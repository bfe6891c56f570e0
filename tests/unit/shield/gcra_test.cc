#include "shield/gcra.h"

#include <gtest/gtest.h>

namespace rampart::shield {
namespace {

constexpr Nanos kMs = 1'000'000;
constexpr Nanos kT0 = 1'000 * kSecond;  // an arbitrary monotonic start

TEST(GcraTest, ExactlyBurstPassAtOnceFromIdleThenOnePerInterval) {
  const Gcra gcra(Limit{10, 5});  // one per 100 ms, 5 at once
  EXPECT_EQ(gcra.interval(), 100 * kMs);
  int64_t tat = 0;
  for (uint32_t i = 0; i < 5; ++i) {
    Decision d = gcra.check(tat, kT0);
    ASSERT_TRUE(d.allowed()) << i;
    EXPECT_EQ(d.limit, 5u);
    EXPECT_EQ(d.remaining, 4 - i);
    EXPECT_EQ(d.retry_after, 0);
  }
  Decision denied = gcra.check(tat, kT0);
  EXPECT_FALSE(denied.allowed());
  EXPECT_EQ(denied.remaining, 0u);
  EXPECT_EQ(denied.retry_after, 100 * kMs);
  EXPECT_EQ(denied.retryAfterSeconds(), 1);  // rounded up, never 0 when denied
  EXPECT_EQ(denied.reset, 500 * kMs);        // the whole burst refills in 5 intervals
  EXPECT_EQ(denied.resetSeconds(), 1);

  // One nanosecond early is still too early; on the interval exactly it passes.
  EXPECT_FALSE(gcra.check(tat, kT0 + 100 * kMs - 1).allowed());
  Decision next = gcra.check(tat, kT0 + 100 * kMs);
  EXPECT_TRUE(next.allowed());
  EXPECT_EQ(next.remaining, 0u);
  Decision again = gcra.check(tat, kT0 + 100 * kMs);
  EXPECT_FALSE(again.allowed());
  EXPECT_EQ(again.retry_after, 100 * kMs);
  for (int i = 2; i < 10; ++i) {
    EXPECT_FALSE(gcra.check(tat, kT0 + i * 100 * kMs - 1).allowed()) << i;
    EXPECT_TRUE(gcra.check(tat, kT0 + i * 100 * kMs).allowed()) << i;
  }
}

TEST(GcraTest, DeniedRequestsDoNotChargeTheState) {
  const Gcra gcra(Limit{1, 1});
  int64_t tat = 0;
  ASSERT_TRUE(gcra.check(tat, kT0).allowed());
  const int64_t before = tat;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(gcra.check(tat, kT0 + i * kMs).allowed());
  EXPECT_EQ(tat, before);
  EXPECT_TRUE(gcra.check(tat, kT0 + kSecond).allowed());
}

TEST(GcraTest, RetryAfterRoundsUpToWholeSeconds) {
  const Gcra gcra(Limit{0.4, 1});  // one per 2.5 s
  int64_t tat = 0;
  ASSERT_TRUE(gcra.check(tat, kT0).allowed());
  Decision d = gcra.check(tat, kT0);
  EXPECT_EQ(d.retry_after, 2500 * kMs);
  EXPECT_EQ(d.retryAfterSeconds(), 3);
  d = gcra.check(tat, kT0 + 2 * kSecond);
  EXPECT_EQ(d.retry_after, 500 * kMs);
  EXPECT_EQ(d.retryAfterSeconds(), 1);
  d = gcra.check(tat, kT0 + 2500 * kMs - 1);
  EXPECT_EQ(d.retryAfterSeconds(), 1);  // 1 ns still rounds up to 1 s
  EXPECT_TRUE(gcra.check(tat, kT0 + 2500 * kMs).allowed());
}

TEST(GcraTest, BurstZeroIsReadAsOneAndHugeValuesAreClamped) {
  const Gcra zero(Limit{1, 0});
  EXPECT_EQ(zero.burst(), 1u);
  const Gcra crazy(Limit{-5, 0});
  EXPECT_GE(crazy.interval(), 1);
  const Gcra fast(Limit{1e12, 4'000'000'000u});
  EXPECT_EQ(fast.interval(), 1);
  EXPECT_EQ(fast.burst(), 1'000'000u);
  int64_t tat = 0;
  EXPECT_TRUE(fast.check(tat, kT0).allowed());
}

TEST(GcraTest, CostAboveOneAndAboveTheBurst) {
  const Gcra gcra(Limit{10, 10});
  int64_t tat = 0;
  Decision d = gcra.check(tat, kT0, 4);
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.remaining, 6u);
  EXPECT_TRUE(gcra.check(tat, kT0, 6).allowed());
  d = gcra.check(tat, kT0, 2);
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.retry_after, 200 * kMs);
  int64_t fresh = 0;
  d = gcra.check(fresh, kT0, 11);  // can never pass
  EXPECT_FALSE(d.allowed());
  EXPECT_GE(d.retryAfterSeconds(), 1);
}

TEST(GcraTest, SustainedRateMatchesTheLimitWithinOnePercent) {
  struct Case {
    double rate;
    uint32_t burst;
    Nanos step;  // offered load: one request per step (well above the rate)
  };
  for (Case c : {Case{100, 50, 1 * kMs}, Case{3, 1, 7 * kMs}, Case{0.5, 10, 100 * kMs},
                 Case{1000, 1, 100'000}, Case{7.3, 20, 3 * kMs}}) {
    const Gcra gcra(Limit{c.rate, c.burst});
    const Nanos duration = 1000 * kSecond;
    int64_t tat = 0;
    uint64_t allowed = 0;
    for (Nanos t = kT0; t < kT0 + duration; t += c.step) {
      if (gcra.check(tat, t).allowed()) ++allowed;
    }
    const double expected = c.rate * 1000 + c.burst;
    EXPECT_NEAR(static_cast<double>(allowed), expected, expected * 0.01) << c.rate;
    // Rate alone, burst excluded, is also within 1%.
    EXPECT_NEAR(static_cast<double>(allowed - c.burst) / 1000, c.rate, c.rate * 0.01) << c.rate;
  }
}

TEST(GcraTest, ClockGoingBackwardsGrantsNothingExtraAndDoesNotDenyForever) {
  const Gcra gcra(Limit{10, 5});
  int64_t tat = 0;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(gcra.check(tat, kT0).allowed());
  ASSERT_FALSE(gcra.check(tat, kT0).allowed());

  // An hour back: still exhausted (no extra request)...
  const Nanos back = kT0 - 3600 * kSecond;
  Decision d = gcra.check(tat, back);
  EXPECT_FALSE(d.allowed());
  // ...but the wait is one interval from the new "now", not an hour.
  EXPECT_EQ(d.retry_after, 100 * kMs);
  EXPECT_TRUE(gcra.check(tat, back + 100 * kMs).allowed());
  EXPECT_FALSE(gcra.check(tat, back + 100 * kMs).allowed());

  // A small step back inside the burst window only makes it stricter.
  int64_t partial = 0;
  ASSERT_TRUE(gcra.check(partial, kT0).allowed());  // 4 left
  d = gcra.check(partial, kT0 - 150 * kMs);
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.remaining, 1u);  // fewer than at kT0 (3)
}

TEST(GcraTest, BackwardsAcrossManyChecksNeverExceedsTheBurstPlusRate) {
  // A clock that keeps slipping back must not let more through than a steady
  // clock would over the same span of real steps.
  const Gcra gcra(Limit{10, 5});
  int64_t tat = 0;
  uint64_t allowed = 0;
  Nanos now = kT0;
  for (int i = 0; i < 10'000; ++i) {
    now += (i % 10 == 9) ? -50 * kMs : 10 * kMs;  // net +40 ms per 10 steps
    if (gcra.check(tat, now).allowed()) ++allowed;
  }
  // Real time is the clock's forward motion (9 x 10 ms per 10 steps, the
  // backward slips pay nothing back): no more than the rate times that, plus
  // the burst.
  const double forward_seconds = 10'000 / 10 * 0.090;
  EXPECT_LE(allowed, static_cast<uint64_t>(forward_seconds * 10 + 5));
  EXPECT_GT(allowed, 0u);
}

TEST(GcraTest, HugeForwardJumpJustRefills) {
  const Gcra gcra(Limit{10, 5});
  int64_t tat = 0;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(gcra.check(tat, kT0).allowed());
  const Nanos far = kT0 + Nanos{100} * 365 * 24 * 3600 * kSecond;  // a century
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(gcra.check(tat, far).allowed()) << i;
  EXPECT_FALSE(gcra.check(tat, far).allowed());
  // Near the end of int64 time nothing overflows.
  int64_t edge = 0;
  const Nanos end = INT64_MAX - kSecond;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(gcra.check(edge, end).allowed()) << i;
  EXPECT_FALSE(gcra.check(edge, end).allowed());
}

TEST(GcraTest, PeekDoesNotCharge) {
  const Gcra gcra(Limit{1, 2});
  int64_t tat = 0;
  EXPECT_EQ(gcra.peek(tat, kT0).remaining, 1u);
  EXPECT_EQ(tat, 0);
  ASSERT_TRUE(gcra.check(tat, kT0).allowed());
  ASSERT_TRUE(gcra.check(tat, kT0).allowed());
  EXPECT_FALSE(gcra.peek(tat, kT0).allowed());
}

TEST(GcraTest, PolicyWindowForHeaders) {
  const Gcra per_second(Limit{100, 50});
  EXPECT_EQ(per_second.windowSeconds(), 1);
  EXPECT_EQ(per_second.quotaPerWindow(), 100u);
  const Gcra slow(Limit{0.1, 1});
  EXPECT_EQ(slow.windowSeconds(), 10);
  EXPECT_EQ(slow.quotaPerWindow(), 1u);
}

}  // namespace
}  // namespace rampart::shield
