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

TEST(BalancerTest, RoundRobinSkipsWhatIsNotACandidateWithoutShiftingTheRest) {
  Balancer balancer(BalancePolicy::kRoundRobin, 4, 1);
  uint32_t active[4] = {0, 0, 0, 0};
  uint32_t all[4] = {0, 1, 2, 3};
  uint32_t without_two[3] = {0, 1, 3};
  std::vector<uint32_t> picks;
  picks.push_back(balancer.pick(active, all, 4));          // 0
  picks.push_back(balancer.pick(active, without_two, 3));  // 1
  picks.push_back(balancer.pick(active, without_two, 3));  // 3 (2 skipped)
  picks.push_back(balancer.pick(active, without_two, 3));  // 0 (wrapped)
  picks.push_back(balancer.pick(active, all, 4));          // 1: back in step
  picks.push_back(balancer.pick(active, all, 4));          // 2
  EXPECT_EQ(picks, std::vector<uint32_t>({0, 1, 3, 0, 1, 2}));
}

TEST(BalancerTest, LeastRequestPicksOnlyCandidates) {
  Balancer balancer(BalancePolicy::kLeastRequest, 5, 3);
  uint32_t active[5] = {0, 9, 0, 9, 0};
  uint32_t candidates[2] = {1, 3};  // the idle ones are excluded
  int counts[5] = {};
  for (int i = 0; i < 1000; ++i) ++counts[balancer.pick(active, candidates, 2)];
  EXPECT_EQ(counts[0] + counts[2] + counts[4], 0);
  EXPECT_GT(counts[1], 300);
  EXPECT_GT(counts[3], 300);
  uint32_t one[1] = {4};
  EXPECT_EQ(balancer.pick(active, one, 1), 4u);
}

TEST(SpreadTest, UsableAllNoneAndPanic) {
  // No panic threshold: the usable ones, or none at all.
  EXPECT_EQ(spreadFor(4, 4, 0), Spread::kAll);
  EXPECT_EQ(spreadFor(1, 4, 0), Spread::kUsable);
  EXPECT_EQ(spreadFor(0, 4, 0), Spread::kNone);
  // 50%: panic below half usable, including when none is.
  EXPECT_EQ(spreadFor(2, 4, 50), Spread::kUsable);
  EXPECT_EQ(spreadFor(1, 4, 50), Spread::kPanic);
  EXPECT_EQ(spreadFor(0, 4, 50), Spread::kPanic);
  // 100%: any endpoint out means panic.
  EXPECT_EQ(spreadFor(3, 4, 100), Spread::kPanic);
  EXPECT_EQ(spreadFor(4, 4, 100), Spread::kAll);
  // 1%: panics only when nothing is usable.
  EXPECT_EQ(spreadFor(1, 100, 1), Spread::kUsable);
  EXPECT_EQ(spreadFor(0, 100, 1), Spread::kPanic);
}

}  // namespace
}  // namespace rampart::upstream
