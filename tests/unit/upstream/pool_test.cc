// Endpoint choice in a worker's pool: active health, outlier ejection and
// panic mode together, and the per-cluster failure counters.
#include "upstream/pool.h"

#include <gtest/gtest.h>

#include <set>

namespace rampart::upstream {
namespace {

ClusterSpec threeEndpoints() {
  ClusterSpec spec;
  spec.name = "app";
  for (const char* address : {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}) {
    spec.endpoints.push_back(net::SocketAddress::parseNumeric(address).value());
    spec.endpoint_names.push_back(address);
  }
  spec.health = std::make_shared<ClusterHealth>(3);
  return spec;
}

std::multiset<uint32_t> picks(ClusterPool& pool, int n) {
  std::multiset<uint32_t> out;
  for (int i = 0; i < n; ++i) {
    EndpointChoice choice = pool.pickEndpoint();
    EXPECT_TRUE(choice.found());
    EXPECT_FALSE(choice.panic);
    out.insert(choice.endpoint);
  }
  return out;
}

TEST(ClusterPoolTest, UnhealthyEndpointsGetNoTraffic) {
  ClusterSpec spec = threeEndpoints();
  core::EventLoop loop;
  ClusterPool pool(&spec, &loop, 1);
  EXPECT_EQ(picks(pool, 30).count(1), 10u);
  spec.health->publish(1, false);
  std::multiset<uint32_t> seen = picks(pool, 30);
  EXPECT_EQ(seen.count(1), 0u);
  EXPECT_EQ(seen.count(0), 15u);
  EXPECT_EQ(seen.count(2), 15u);
  spec.health->publish(1, true);
  EXPECT_EQ(picks(pool, 30).count(1), 10u);
}

TEST(ClusterPoolTest, NothingHealthyWithoutPanicIsNoHealthy) {
  ClusterSpec spec = threeEndpoints();
  core::EventLoop loop;
  ClusterPool pool(&spec, &loop, 1);
  for (uint32_t i = 0; i < 3; ++i) spec.health->publish(i, false);
  EXPECT_EQ(pool.pickEndpoint().kind, EndpointChoice::Kind::kNoHealthy);
  pool.recordFailure(FailureCause::kNoHealthyUpstream, ClusterPool::kNoEndpoint);
  EXPECT_EQ(pool.stats().failure(FailureCause::kNoHealthyUpstream).get(), 1u);
  EXPECT_EQ(pool.stats().failure(FailureCause::kReset).get(), 0u);
}

TEST(ClusterPoolTest, PanicSpreadsOverEveryEndpoint) {
  ClusterSpec spec = threeEndpoints();
  spec.panic_threshold = 50;
  core::EventLoop loop;
  ClusterPool pool(&spec, &loop, 1);
  spec.health->publish(0, false);
  spec.health->publish(1, false);  // 1 of 3 usable: below 50%
  std::multiset<uint32_t> seen;
  for (int i = 0; i < 30; ++i) {
    EndpointChoice choice = pool.pickEndpoint();
    ASSERT_TRUE(choice.found());
    EXPECT_TRUE(choice.panic);
    seen.insert(choice.endpoint);
  }
  EXPECT_EQ(seen.count(0), 10u);
  EXPECT_EQ(seen.count(1), 10u);
  EXPECT_EQ(pool.stats().panic_picks.get(), 30u);
  spec.health->publish(1, true);  // 2 of 3: no panic, the unhealthy one skipped
  EXPECT_EQ(picks(pool, 10).count(0), 0u);
}

TEST(ClusterPoolTest, ConsecutiveServerErrorsEjectFromThisWorkersPicks) {
  ClusterSpec spec = threeEndpoints();
  spec.health.reset();  // passive detection only
  spec.outlier.enabled = true;
  spec.outlier.consecutive_5xx = 2;
  spec.outlier.max_ejection_percent = 50;
  core::EventLoop loop;
  ClusterPool pool(&spec, &loop, 1);
  pool.recordResponse(2, 500);
  pool.recordResponse(2, 404);  // not a server error: the run ends
  pool.recordResponse(2, 503);
  EXPECT_EQ(picks(pool, 9).count(2), 3u);
  pool.recordFailure(FailureCause::kTimeout, 2);  // a timeout counts as a 5xx
  EXPECT_EQ(pool.stats().ejections.get(), 1u);
  EXPECT_EQ(pool.stats().failure(FailureCause::kTimeout).get(), 1u);
  EXPECT_EQ(picks(pool, 10).count(2), 0u);
  // A second one would be over 50% of three: refused, still picked.
  pool.recordFailure(FailureCause::kConnectFailure, 0);
  pool.recordFailure(FailureCause::kConnectFailure, 0);
  pool.recordFailure(FailureCause::kConnectFailure, 0);
  pool.recordFailure(FailureCause::kConnectFailure, 0);
  pool.recordFailure(FailureCause::kConnectFailure, 0);
  EXPECT_EQ(pool.stats().ejections_refused.get(), 1u);
  EXPECT_GT(picks(pool, 10).count(0), 0u);
}

}  // namespace
}  // namespace rampart::upstream
