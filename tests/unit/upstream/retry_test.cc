#include "upstream/retry.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace rampart::upstream {
namespace {

using std::chrono::milliseconds;

TEST(RetryPolicyTest, DefaultRetriesOnlyConnectFailuresAndNoStatus) {
  RetryPolicy policy;
  EXPECT_TRUE(retriableOutcome(policy, AttemptOutcome::kConnectFailure, 0));
  EXPECT_FALSE(retriableOutcome(policy, AttemptOutcome::kReset, 0));
  EXPECT_FALSE(retriableOutcome(policy, AttemptOutcome::kTimeout, 0));
  EXPECT_FALSE(retriableOutcome(policy, AttemptOutcome::kResponse, 503));
  EXPECT_EQ(policy.max_attempts, 1u);  // and no retry at all unless a route asks
}

TEST(RetryPolicyTest, ListedStatusesOnly) {
  RetryPolicy policy;
  policy.on_statuses = {502, 503, 504};
  policy.on_reset = true;
  EXPECT_TRUE(retriableOutcome(policy, AttemptOutcome::kResponse, 503));
  EXPECT_TRUE(retriableOutcome(policy, AttemptOutcome::kResponse, 504));
  EXPECT_FALSE(retriableOutcome(policy, AttemptOutcome::kResponse, 500));
  EXPECT_FALSE(retriableOutcome(policy, AttemptOutcome::kResponse, 200));
  EXPECT_FALSE(retriableOutcome(policy, AttemptOutcome::kResponse, 429));
  EXPECT_TRUE(retriableOutcome(policy, AttemptOutcome::kReset, 0));
}

TEST(RetryPolicyTest, IdempotentMethodsAreExactlyRfc9110s) {
  for (const char* m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    EXPECT_TRUE(idempotentMethod(m)) << m;
  }
  for (const char* m : {"POST", "PATCH", "CONNECT", "get", "Get", "", "GETX"}) {
    EXPECT_FALSE(idempotentMethod(m)) << m;
  }
}

TEST(BackoffTest, FullJitterStaysWithinTheDoublingCeiling) {
  RetryPolicy policy;
  policy.backoff_base = milliseconds(25);
  policy.backoff_max = milliseconds(250);
  std::mt19937_64 rng(1);
  const int64_t ceilings[] = {25, 50, 100, 200, 250, 250, 250};
  for (uint32_t retry = 1; retry <= 7; ++retry) {
    int64_t seen_max = 0, seen_min = 1 << 30;
    for (int i = 0; i < 20000; ++i) {
      int64_t d = backoffDelay(policy, retry, rng()).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceilings[retry - 1]) << "retry " << retry;
      seen_max = std::max(seen_max, d);
      seen_min = std::min(seen_min, d);
    }
    // Full jitter: the whole range is used, from 0 to the ceiling.
    EXPECT_EQ(seen_min, 0) << retry;
    EXPECT_EQ(seen_max, ceilings[retry - 1]) << retry;
  }
}

TEST(BackoffTest, HugeRetryNumbersDoNotOverflow) {
  RetryPolicy policy;
  policy.backoff_base = milliseconds(1000);
  policy.backoff_max = milliseconds(30000);
  EXPECT_LE(backoffDelay(policy, 4000000000u, ~uint64_t{0}).count(), 30000);
  policy.backoff_base = milliseconds(0);
  EXPECT_EQ(backoffDelay(policy, 3, 12345).count(), 0);
}

TEST(RetryAfterTest, SecondsAndDates) {
  const int64_t now = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parseRetryAfterMs("120", now), 120000);
  EXPECT_EQ(parseRetryAfterMs(" 0 ", now), 0);
  EXPECT_EQ(parseRetryAfterMs("Sun, 06 Nov 1994 08:49:47 GMT", now), 10000);
  EXPECT_EQ(parseRetryAfterMs("Sun, 06 Nov 1994 08:49:27 GMT", now), 0);  // past: now
  EXPECT_EQ(parseRetryAfterMs("", now), -1);
  EXPECT_EQ(parseRetryAfterMs("-5", now), -1);
  EXPECT_EQ(parseRetryAfterMs("1.5", now), -1);
  EXPECT_EQ(parseRetryAfterMs("9999999999", now), -1);
  EXPECT_EQ(parseRetryAfterMs("Sunday, 06-Nov-94 08:49:37 GMT", now), -1);
  EXPECT_EQ(parseRetryAfterMs("Sun, 06 Foo 1994 08:49:47 GMT", now), -1);
  EXPECT_EQ(parseRetryAfterMs("Sun, 06 Nov 1994 25:49:47 GMT", now), -1);
}

TEST(RetryBudgetTest, AFractionOfFirstAttemptsWithAFloor) {
  RetryBudget budget(/*budget_percent=*/20.0, /*min_retries=*/3);
  // 10 active, none retrying: 20% is 2, the floor of 3 wins.
  EXPECT_TRUE(budget.tryStartRetry(10));
  EXPECT_TRUE(budget.tryStartRetry(10));
  EXPECT_TRUE(budget.tryStartRetry(10));
  EXPECT_FALSE(budget.tryStartRetry(10));
  EXPECT_EQ(budget.refused(), 1u);
  // 103 active of which 3 retrying: 20% of the 100 others.
  uint32_t active = 103;
  for (int i = 3; i < 20; ++i) EXPECT_TRUE(budget.tryStartRetry(active++)) << i;
  EXPECT_FALSE(budget.tryStartRetry(active));
  budget.endRetry();
  EXPECT_TRUE(budget.tryStartRetry(active));
  EXPECT_EQ(budget.activeRetries(), 20u);
}

// An outage: every attempt fails and the policy allows 5. Time in ticks;
// each attempt takes one tick; 200 new requests arrive per tick. A request
// whose attempt failed retries next tick if the budget admits it, else it is
// answered with the failure. The upstream sees at most (1 + budget) x the
// client requests, not 5x.
TEST(RetryBudgetTest, AnOutageCannotMultiplyTheLoad) {
  for (double percent : {10.0, 20.0, 50.0}) {
    RetryBudget budget(percent, 1);
    const uint32_t arrivals = 200;
    const uint32_t max_attempts = 5;
    std::vector<uint32_t> in_flight;  // attempts made so far, per request in flight
    uint64_t client_requests = 0, attempts = 0;
    for (int tick = 0; tick < 2000; ++tick) {
      std::vector<uint32_t> next;
      // The attempts that were in flight all failed; their requests are
      // still active while each decides whether to retry.
      for (uint32_t made : in_flight) {
        if (made > 1) budget.endRetry();  // that retry attempt ended
      }
      const auto active = static_cast<uint32_t>(in_flight.size());
      for (uint32_t made : in_flight) {
        if (made < max_attempts && budget.tryStartRetry(active)) next.push_back(made + 1);
      }
      for (uint32_t i = 0; i < arrivals; ++i) next.push_back(1);
      client_requests += arrivals;
      attempts += next.size();
      in_flight = std::move(next);
    }
    double ratio = static_cast<double>(attempts) / static_cast<double>(client_requests);
    EXPECT_LE(ratio, 1.0 + percent / 100.0 + 0.01) << percent;
    EXPECT_GT(ratio, 1.0 + percent / 100.0 * 0.5) << percent;  // retries did happen
  }
}

}  // namespace
}  // namespace rampart::upstream
