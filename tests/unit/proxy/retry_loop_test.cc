// The retry loop's decisions per request: which requests are safe to send
// twice, how many attempts, the backoff range, Retry-After.
#include "proxy/retry_loop.h"

#include <gtest/gtest.h>

namespace rampart::proxy {
namespace {

using std::chrono::milliseconds;
using upstream::AttemptOutcome;
using Kind = RetryDecision::Kind;

upstream::RetryPolicy policy503(uint32_t attempts) {
  upstream::RetryPolicy policy;
  policy.max_attempts = attempts;
  policy.on_statuses = {503};
  policy.backoff_base = milliseconds(10);
  policy.backoff_max = milliseconds(40);
  return policy;
}

TEST(RetryLoopTest, NoPolicyNeverRetries) {
  RetryLoop loop;
  loop.begin(nullptr, "GET", http::BodyFraming::kNone, 0);
  EXPECT_EQ(loop.afterAttempt(AttemptOutcome::kConnectFailure, 0, -1, 7).kind, Kind::kNotRetriable);
  EXPECT_FALSE(loop.keepsBody());
  EXPECT_FALSE(loop.considers(AttemptOutcome::kConnectFailure, 0));
}

TEST(RetryLoopTest, GetIsRetriedUntilAttemptsAreUsedWithDelaysUnderTheCap) {
  upstream::RetryPolicy policy = policy503(3);
  RetryLoop loop;
  loop.begin(&policy, "GET", http::BodyFraming::kNone, 0);
  EXPECT_TRUE(loop.considers(AttemptOutcome::kResponse, 503));
  EXPECT_FALSE(loop.considers(AttemptOutcome::kResponse, 500));
  RetryDecision first = loop.afterAttempt(AttemptOutcome::kResponse, 503, -1, 1234567);
  ASSERT_EQ(first.kind, Kind::kRetry);
  EXPECT_LE(first.delay.count(), 10);  // first retry: [0, base]
  RetryDecision second = loop.afterAttempt(AttemptOutcome::kResponse, 503, -1, 99999);
  ASSERT_EQ(second.kind, Kind::kRetry);
  EXPECT_LE(second.delay.count(), 20);
  EXPECT_EQ(loop.attempts(), 3u);
  EXPECT_EQ(loop.afterAttempt(AttemptOutcome::kResponse, 503, -1, 1).kind,
            Kind::kAttemptsExhausted);
  EXPECT_EQ(loop.afterAttempt(AttemptOutcome::kResponse, 500, -1, 1).kind, Kind::kNotRetriable);
}

TEST(RetryLoopTest, BeginStartsOver) {
  upstream::RetryPolicy policy = policy503(2);
  RetryLoop loop;
  loop.begin(&policy, "GET", http::BodyFraming::kNone, 0);
  EXPECT_TRUE(loop.afterAttempt(AttemptOutcome::kResponse, 503, -1, 0).retries());
  loop.setHoldsRetry(true);
  loop.begin(&policy, "GET", http::BodyFraming::kNone, 0);
  EXPECT_FALSE(loop.holdsRetry());
  EXPECT_EQ(loop.attempts(), 1u);
  EXPECT_TRUE(loop.afterAttempt(AttemptOutcome::kResponse, 503, -1, 0).retries());
}

TEST(RetryLoopTest, PostIsUnsafeUnlessTheRouteSaysIdempotent) {
  upstream::RetryPolicy policy = policy503(2);
  RetryLoop loop;
  loop.begin(&policy, "POST", http::BodyFraming::kContentLength, 10);
  EXPECT_FALSE(loop.keepsBody());
  EXPECT_EQ(loop.afterAttempt(AttemptOutcome::kResponse, 503, -1, 0).kind, Kind::kUnsafe);
  policy.idempotent = true;
  loop.begin(&policy, "POST", http::BodyFraming::kContentLength, 10);
  EXPECT_TRUE(loop.keepsBody());
  loop.keptBody(10);
  EXPECT_EQ(loop.afterAttempt(AttemptOutcome::kResponse, 503, -1, 0).kind, Kind::kRetry);
}

TEST(RetryLoopTest, ABodyOverTheLimitIsNeverResent) {
  upstream::RetryPolicy policy = policy503(2);
  policy.max_buffered_body = 100;
  RetryLoop loop;
  loop.begin(&policy, "PUT", http::BodyFraming::kContentLength, 101);  // known at once
  EXPECT_FALSE(loop.keepsBody());
  EXPECT_EQ(loop.afterAttempt(AttemptOutcome::kResponse, 503, -1, 0).kind, Kind::kUnsafe);
  loop.begin(&policy, "PUT", http::BodyFraming::kChunked, 0);  // found out as it streams
  EXPECT_TRUE(loop.keepsBody());
  loop.keptBody(60);
  EXPECT_TRUE(loop.keepsBody());
  loop.keptBody(60);
  EXPECT_FALSE(loop.keepsBody());
  EXPECT_EQ(loop.afterAttempt(AttemptOutcome::kResponse, 503, -1, 0).kind, Kind::kUnsafe);
}

TEST(RetryLoopTest, RetryAfterSetsTheDelayOrForbidsTheRetry) {
  upstream::RetryPolicy policy = policy503(3);
  policy.max_retry_after = milliseconds(1000);
  RetryLoop loop;
  loop.begin(&policy, "GET", http::BodyFraming::kNone, 0);
  RetryDecision honoured = loop.afterAttempt(AttemptOutcome::kResponse, 503, 1000, 5);
  ASSERT_EQ(honoured.kind, Kind::kRetry);
  EXPECT_EQ(honoured.delay.count(), 1000);
  EXPECT_EQ(loop.afterAttempt(AttemptOutcome::kResponse, 503, 2000, 5).kind,
            Kind::kRetryAfterTooLong);
  policy.honor_retry_after = false;
  loop.begin(&policy, "GET", http::BodyFraming::kNone, 0);
  RetryDecision ignored = loop.afterAttempt(AttemptOutcome::kResponse, 503, 2000, 5);
  ASSERT_EQ(ignored.kind, Kind::kRetry);
  EXPECT_LE(ignored.delay.count(), 10);
}

TEST(RetryLoopTest, PerTryTimeoutComesFromThePolicyEvenWithoutRetries) {
  upstream::RetryPolicy policy;
  policy.per_try_timeout = milliseconds(250);
  RetryLoop loop;
  loop.begin(&policy, "GET", http::BodyFraming::kNone, 0);
  EXPECT_EQ(loop.perTryTimeout().count(), 250);
  loop.begin(nullptr, "GET", http::BodyFraming::kNone, 0);
  EXPECT_EQ(loop.perTryTimeout().count(), 0);
}

}  // namespace
}  // namespace rampart::proxy
