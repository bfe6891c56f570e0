#include "upstream/breakers.h"

#include <gtest/gtest.h>

namespace rampart::upstream {
namespace {

TEST(BreakersTest, EachCapTripsOnItsOwnAndCountsTrips) {
  BreakerLimits limits;
  limits.max_requests = 2;
  limits.max_pending = 1;
  limits.max_connections = 3;
  limits.max_retries = 1;
  ClusterBreakers breakers(limits);
  EXPECT_EQ(breakers.admitRequest(), Breaker::kNone);
  EXPECT_EQ(breakers.admitRequest(), Breaker::kNone);
  EXPECT_TRUE(breakers.open(Breaker::kRequests));
  EXPECT_EQ(breakers.admitRequest(), Breaker::kRequests);
  EXPECT_EQ(breakers.trips(Breaker::kRequests), 1u);
  EXPECT_EQ(breakers.active(Breaker::kRequests), 2u);  // a trip holds nothing
  EXPECT_EQ(breakers.admitPending(), Breaker::kNone);
  EXPECT_EQ(breakers.admitPending(), Breaker::kPending);
  EXPECT_EQ(breakers.admitRetry(), Breaker::kNone);
  EXPECT_EQ(breakers.admitRetry(), Breaker::kRetries);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(breakers.admitConnection(), Breaker::kNone);
  EXPECT_EQ(breakers.admitConnection(), Breaker::kConnections);
  breakers.endRequest();
  EXPECT_FALSE(breakers.open(Breaker::kRequests));
  EXPECT_EQ(breakers.admitRequest(), Breaker::kNone);
  breakers.endPending();
  EXPECT_EQ(breakers.admitPending(), Breaker::kNone);
}

TEST(BreakersTest, ZeroMeansNoCapAndEndNeverUnderflows) {
  ClusterBreakers breakers(BreakerLimits{});
  for (int i = 0; i < 100000; ++i) ASSERT_EQ(breakers.admitRequest(), Breaker::kNone);
  EXPECT_FALSE(breakers.open(Breaker::kRequests));
  ClusterBreakers empty(BreakerLimits{});
  empty.endRequest();
  empty.endRetry();
  EXPECT_EQ(empty.active(Breaker::kRequests), 0u);
  EXPECT_EQ(empty.active(Breaker::kRetries), 0u);
}

TEST(BreakersTest, NamesAreStable) {
  EXPECT_EQ(breakerName(Breaker::kConnections), "max_connections");
  EXPECT_EQ(breakerName(Breaker::kPending), "max_pending");
  EXPECT_EQ(breakerName(Breaker::kRequests), "max_requests");
  EXPECT_EQ(breakerName(Breaker::kRetries), "max_retries");
}

}  // namespace
}  // namespace rampart::upstream
