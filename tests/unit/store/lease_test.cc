#include "store/lease.h"

#include <gtest/gtest.h>

namespace rampart::store {
namespace {

constexpr int64_t kUs = 1'000'000;  // one second in microseconds

// 10/s, burst 5: interval 100 ms, tolerance 500 ms.
constexpr int64_t kInterval = kUs / 10;
constexpr int64_t kTolerance = 5 * kInterval;

TEST(GrantLease, FromIdleTheWholeBurstAtMost) {
  LeaseGrant g = grantLease(0, 100 * kUs, kInterval, kTolerance, 3);
  EXPECT_EQ(g.granted, 3);
  EXPECT_EQ(g.tat_us, 100 * kUs + 3 * kInterval);
  g = grantLease(g.tat_us, 100 * kUs, kInterval, kTolerance, 10);
  EXPECT_EQ(g.granted, 2);  // 5 in all from idle
  g = grantLease(g.tat_us, 100 * kUs, kInterval, kTolerance, 1);
  EXPECT_EQ(g.granted, 0);
  EXPECT_EQ(g.retry_after_us, kInterval);  // one token per interval
}

TEST(GrantLease, NeverMoreThanOneAtATimeWouldGet) {
  // Over 10 simulated seconds, leases of any size grant at most
  // burst + rate * elapsed: leasing shifts when tokens are used, never how many.
  for (int64_t want : {1, 2, 3, 7}) {
    int64_t tat = 0, granted = 0;
    const int64_t start = 50 * kUs;
    for (int64_t t = start; t <= start + 10 * kUs; t += 7'000) {  // every 7 ms
      LeaseGrant g = grantLease(tat, t, kInterval, kTolerance, want);
      tat = g.tat_us;
      granted += g.granted;
    }
    EXPECT_LE(granted, 5 + 100) << want;
    EXPECT_GE(granted, 100) << want;
  }
}

TEST(GrantLease, ClockBehindTheTatIsClamped) {
  // A TAT far in the future (another node's clock) is pulled back to a spent burst.
  LeaseGrant g = grantLease(1000 * kUs, 100 * kUs, kInterval, kTolerance, 1);
  EXPECT_EQ(g.granted, 0);
  EXPECT_EQ(g.retry_after_us, kInterval);
}

constexpr Nanos kMs = 1'000'000;
const shield::Key kKey{1, 2};

TEST(LeaseTable, BridgeAskThenServeFromTheLease) {
  LeaseTable table(16);
  LeaseStep step = table.take(kKey, 1000 * kMs, 2, 100 * kMs);
  EXPECT_EQ(step.verdict, LeaseVerdict::kBridge);
  EXPECT_TRUE(step.refill);
  // While the refill is out, no second one is asked for.
  step = table.take(kKey, 1001 * kMs, 2, 100 * kMs);
  EXPECT_EQ(step.verdict, LeaseVerdict::kBridge);
  EXPECT_FALSE(step.refill);
  table.answer(kKey, 1002 * kMs, 5, 1000 * kMs, 0);
  // 5 tokens: the 3rd take leaves 2 (the low water mark) and asks ahead.
  for (int i = 0; i < 5; ++i) {
    step = table.take(kKey, 1003 * kMs, 2, 100 * kMs);
    EXPECT_EQ(step.verdict, LeaseVerdict::kAllow) << i;
    EXPECT_EQ(step.refill, i == 2) << i;
  }
  // Spent before the refill came back: refused, with the limit's interval.
  step = table.take(kKey, 1004 * kMs, 2, 100 * kMs);
  EXPECT_EQ(step.verdict, LeaseVerdict::kDeny);
  EXPECT_EQ(step.retry_after, 100 * kMs);
  table.answer(kKey, 1005 * kMs, 4, 1000 * kMs, 0);
  EXPECT_EQ(table.take(kKey, 1006 * kMs, 2, 100 * kMs).verdict, LeaseVerdict::kAllow);
  EXPECT_EQ(table.find(kKey)->tokens, 3u);
}

TEST(LeaseTable, DeniedUntilTheStoreSaysSo) {
  LeaseTable table(16);
  table.take(kKey, 0 + 1, 0, 100 * kMs);
  table.answer(kKey, 10 * kMs, 0, 1000 * kMs, 300 * kMs);
  LeaseStep step = table.take(kKey, 20 * kMs, 0, 100 * kMs);
  EXPECT_EQ(step.verdict, LeaseVerdict::kDeny);
  EXPECT_EQ(step.retry_after, 290 * kMs);
  EXPECT_FALSE(step.refill);  // no Redis call while the answer holds
  step = table.take(kKey, 311 * kMs, 0, 100 * kMs);
  EXPECT_TRUE(step.refill);
  EXPECT_EQ(step.verdict, LeaseVerdict::kBridge);
}

TEST(LeaseTable, ExpiredTokensAreVoidAndAFailedRefillCanBeRetried) {
  LeaseTable table(16);
  table.take(kKey, 1, 0, 100 * kMs);
  table.answer(kKey, 1 * kMs, 10, 50 * kMs, 0);
  EXPECT_EQ(table.take(kKey, 2 * kMs, 0, 100 * kMs).verdict, LeaseVerdict::kAllow);
  LeaseStep step = table.take(kKey, 60 * kMs, 0, 100 * kMs);  // past the ttl
  EXPECT_EQ(step.verdict, LeaseVerdict::kBridge);
  EXPECT_TRUE(step.refill);
  table.failed(kKey);
  EXPECT_TRUE(table.take(kKey, 61 * kMs, 0, 100 * kMs).refill);
}

TEST(LeaseTable, ALostAnswerIsForgottenAfterAWhile) {
  LeaseTable table(16);
  EXPECT_TRUE(table.take(kKey, 1 * kMs, 0, 100 * kMs).refill);
  EXPECT_FALSE(table.take(kKey, 100 * kMs, 0, 100 * kMs).refill);
  EXPECT_TRUE(table.take(kKey, 1 * kMs + LeaseTable::kRefillGiveUp + 1, 0, 100 * kMs).refill);
}

}  // namespace
}  // namespace rampart::store
