#include <gtest/gtest.h>

#include <vector>

#include "upstream/pool.h"

namespace rampart::upstream {
namespace {

TEST(BalancerTest, RoundRobinCyclesThroughEveryEndpoint) {
  Balancer balancer(BalancePolicy::kRoundRobin, 3, 42);
  uint32_t active[3] = {0, 0, 0};
  std::vector<uint32_t> picks;
  for (int i = 0; i < 6; ++i) picks.push_back(balancer.pick(active));
  EXPECT_EQ(picks, std::vector<uint32_t>({0, 1, 2, 0, 1, 2}));
}

TEST(BalancerTest, LeastRequestAvoidsTheBusiestEndpoint) {
  Balancer balancer(BalancePolicy::kLeastRequest, 2, 7);
  uint32_t active[2] = {10, 0};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(balancer.pick(active), 1u);
}

TEST(BalancerTest, LeastRequestSpreadsEvenLoad) {
  Balancer balancer(BalancePolicy::kLeastRequest, 4, 99);
  uint32_t active[4] = {0, 0, 0, 0};
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4000; ++i) ++counts[balancer.pick(active)];
  for (int c : counts) EXPECT_GT(c, 500);  // each endpoint gets a fair share
}

TEST(BalancerTest, SingleEndpointAlwaysZero) {
  Balancer balancer(BalancePolicy::kLeastRequest, 1, 1);
  uint32_t active[1] = {5};
  EXPECT_EQ(balancer.pick(active), 0u);
}

}  // namespace
}  // namespace rampart::upstream
