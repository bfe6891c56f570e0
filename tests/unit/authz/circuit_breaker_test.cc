// The circuit breaker's states: closed, open after N consecutive failures,
// half-open with exactly one probe, and back.
#include "authz/circuit_breaker.h"

#include <gtest/gtest.h>

namespace rampart::authz {
namespace {

using State = CircuitBreaker::State;

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresOnly) {
  CircuitBreaker breaker(3, 1000);
  EXPECT_TRUE(breaker.allow(0));
  EXPECT_FALSE(breaker.onFailure(0));
  EXPECT_FALSE(breaker.onFailure(0));
  breaker.onSuccess();  // the run is broken
  EXPECT_FALSE(breaker.onFailure(1));
  EXPECT_FALSE(breaker.onFailure(1));
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.onFailure(2));  // the third in a row opens it
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_FALSE(breaker.allow(2));
  EXPECT_FALSE(breaker.allow(1001));
}

TEST(CircuitBreakerTest, HalfOpenLetsOneProbeThroughThenCloses) {
  CircuitBreaker breaker(1, 1000);
  EXPECT_TRUE(breaker.onFailure(0));
  EXPECT_FALSE(breaker.allow(999));
  EXPECT_TRUE(breaker.allow(1000));  // the probe
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
  EXPECT_FALSE(breaker.allow(1000));  // only one at a time
  EXPECT_FALSE(breaker.allow(5000));
  breaker.onSuccess();
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.allow(5000));
  EXPECT_TRUE(breaker.allow(5000));
}

TEST(CircuitBreakerTest, FailedProbeOpensAgainForAFullPeriod) {
  CircuitBreaker breaker(2, 1000);
  breaker.onFailure(0);
  EXPECT_TRUE(breaker.onFailure(0));
  EXPECT_TRUE(breaker.allow(1000));
  EXPECT_TRUE(breaker.onFailure(1200));  // the probe failed: open again, counted
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_FALSE(breaker.allow(2199));
  EXPECT_TRUE(breaker.allow(2200));
}

TEST(CircuitBreakerTest, LateOutcomesWhileOpenChangeNothing) {
  CircuitBreaker breaker(1, 1000);
  EXPECT_TRUE(breaker.onFailure(0));
  breaker.onSuccess();                  // a call from before it opened
  EXPECT_FALSE(breaker.onFailure(10));  // likewise: no second open, no new period
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_TRUE(breaker.allow(1000));
}

TEST(CircuitBreakerTest, ZeroFailuresNeverOpens) {
  CircuitBreaker breaker(0, 1000);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(breaker.onFailure(i));
  EXPECT_TRUE(breaker.allow(100));
  EXPECT_EQ(breaker.state(), State::kClosed);
}

}  // namespace
}  // namespace rampart::authz
