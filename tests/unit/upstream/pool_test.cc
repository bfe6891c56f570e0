// Endpoint choice in a worker's pool: active health, outlier ejection and
// panic mode together, and the per-cluster failure counters.
#include "upstream/pool.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>

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

// A retry avoids the endpoint that just failed when another is usable.
TEST(ClusterPoolTest, ARetryAvoidsTheFailedEndpoint) {
  ClusterSpec spec = threeEndpoints();
  core::EventLoop loop;
  ClusterPool pool(&spec, &loop, 1);
  for (uint32_t avoid = 0; avoid < 3; ++avoid) {
    for (int i = 0; i < 10; ++i) EXPECT_NE(pool.pickEndpoint(avoid).endpoint, avoid);
  }
  spec.health->publish(0, false);
  spec.health->publish(2, false);
  EXPECT_EQ(pool.pickEndpoint(1).endpoint, 1u);  // the only usable one: tried again
}

// The budget first (a refusal is not a breaker trip), then max_retries.
TEST(ClusterPoolTest, RetriesPassTheBudgetThenTheMaxRetriesBreaker) {
  ClusterSpec spec = threeEndpoints();
  spec.retry_budget_percent = 100;
  spec.retry_budget_min = 0;
  spec.breakers.max_retries = 1;
  core::EventLoop loop;
  ClusterPool pool(&spec, &loop, 1);
  bool by_budget = false;
  EXPECT_EQ(pool.tryStartRetry(&by_budget), Breaker::kRetries);  // nothing in flight: no budget
  EXPECT_TRUE(by_budget);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(pool.tryBeginRequest());
  EXPECT_EQ(pool.tryStartRetry(&by_budget), Breaker::kNone);  // 100% of 4 first attempts
  EXPECT_FALSE(by_budget);
  EXPECT_EQ(pool.tryStartRetry(&by_budget), Breaker::kRetries);  // the breaker's cap of 1
  EXPECT_FALSE(by_budget);
  EXPECT_EQ(pool.breakers().trips(Breaker::kRetries), 1u);
  EXPECT_EQ(pool.stats().retries.get(), 1u);
  EXPECT_EQ(pool.stats().retries_budget_refused.get(), 1u);
  pool.endRetry();
  EXPECT_EQ(pool.tryStartRetry(&by_budget), Breaker::kNone);
}

// The cluster's max_requests is the max_requests breaker, trips counted.
TEST(ClusterPoolTest, MaxRequestsIsTheRequestsBreaker) {
  ClusterSpec spec = threeEndpoints();
  spec.max_requests = 2;
  core::EventLoop loop;
  ClusterPool pool(&spec, &loop, 1);
  EXPECT_TRUE(pool.tryBeginRequest());
  EXPECT_TRUE(pool.tryBeginRequest());
  EXPECT_FALSE(pool.tryBeginRequest());
  EXPECT_EQ(pool.breakers().trips(Breaker::kRequests), 1u);
  pool.endRequest();
  EXPECT_TRUE(pool.tryBeginRequest());
  EXPECT_EQ(pool.activeRequests(), 2u);
}

// New connections pass max_connections and max_pending; a finished connect
// frees its pending place, a closed connection its connection place.
TEST(ClusterPoolTest, ConnectionBreakersCountConnectsAndOpenConnections) {
  // A real loopback listener, so that every connect is made (never accepted:
  // the backlog holds them).
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in bound{};
  bound.sin_family = AF_INET;
  bound.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&bound), sizeof(bound)), 0);
  ASSERT_EQ(::listen(listener, 16), 0);
  socklen_t length = sizeof(bound);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &length), 0);
  std::string address = "127.0.0.1:" + std::to_string(ntohs(bound.sin_port));
  ClusterSpec spec;
  spec.name = "app";
  for (int i = 0; i < 3; ++i) {
    spec.endpoints.push_back(net::SocketAddress::parseNumeric(address).value());
    spec.endpoint_names.push_back(address);
  }
  spec.breakers.max_connections = 2;
  spec.breakers.max_pending = 1;
  core::EventLoop loop;
  ClusterPool pool(&spec, &loop, 1);
  struct User : ConnectionUser {
    void onUpstreamEvents(uint32_t) override {}
    void onUpstreamTimeout() override {}
  } user;
  Breaker tripped = Breaker::kNone;
  Connection* first = pool.acquire(0, &user, &tripped);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(pool.acquire(1, &user, &tripped), nullptr);  // the first is still connecting
  EXPECT_EQ(tripped, Breaker::kPending);
  first->setConnected();
  tripped = Breaker::kNone;
  Connection* second = pool.acquire(1, &user, &tripped);
  ASSERT_NE(second, nullptr);
  second->setConnected();
  EXPECT_EQ(pool.acquire(2, &user, &tripped), nullptr);
  EXPECT_EQ(tripped, Breaker::kConnections);
  pool.release(first, false);  // closed: its place is free
  tripped = Breaker::kNone;
  Connection* third = pool.acquire(2, &user, &tripped);
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(tripped, Breaker::kNone);
  EXPECT_EQ(pool.breakers().trips(Breaker::kPending), 1u);
  EXPECT_EQ(pool.breakers().trips(Breaker::kConnections), 1u);
  pool.release(second, false);
  pool.release(third, false);
  ::close(listener);
}

}  // namespace
}  // namespace rampart::upstream
