// The server's rollout driver (proxy/rollouts.h) on a real config snapshot,
// with an injected clock: what a tick publishes to the route's Split, what
// it reports for /rollouts, and that each step is judged on its own requests.
#include "proxy/rollouts.h"

#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace rampart::proxy {
namespace {

std::shared_ptr<const config::Snapshot> load(std::string_view ramp) {
  std::string text = R"(listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters: [{name: old, endpoints: ["127.0.0.1:9000"]}, {name: new, endpoints: ["127.0.0.1:9001"]}]
virtual_hosts:
  - routes:
      - name: plain
        match: {prefix: /plain}
        cluster: old
        public: true
      - name: shift
        match: {prefix: /}
        public: true
        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]
        ramp: )" + std::string(ramp) +
                     "\n";
  config::LoadResult result = config::loadString(text, "rollouts.yaml");
  EXPECT_TRUE(result.ok());
  return result.snapshot;
}

const routing::Split& splitOf(const config::Snapshot& snapshot) {
  return *snapshot.route_specs.at(1).split;
}

void serve(const routing::Split& split, uint32_t target, int count, bool failed, uint64_t micros) {
  for (int i = 0; i < count; ++i) split.recordRamp(target, failed, micros);
}

TEST(Rollouts, OnlyRampedRoutesAreDriven) {
  auto snapshot = load("{cluster: new, steps: [10, 100], hold: 1s}");
  Rollouts rollouts(*snapshot, 0);
  EXPECT_FALSE(rollouts.empty());
  std::vector<observe::RolloutRow> rows = rollouts.rows(0);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].route, "shift");
  EXPECT_EQ(rows[0].cluster, "new");
  EXPECT_EQ(rows[0].from_cluster, "old");
  EXPECT_EQ(rows[0].weight, 10u);
  EXPECT_EQ(rows[0].state, "advancing");
  EXPECT_EQ(rows[0].steps, (std::vector<uint32_t>{10, 100}));
}

TEST(Rollouts, ATickAdvancesPublishesAndRestartsTheFigures) {
  auto snapshot = load(
      "{cluster: new, steps: [10, 50, 100], hold: 1s, guard: {min_requests: 20, max_p99: "
      "100ms}}");
  const routing::Split& split = splitOf(*snapshot);
  Rollouts rollouts(*snapshot, 0);
  EXPECT_EQ(split.weightNow(1), 10u);
  serve(split, 1, 30, false, 5'000);
  serve(split, 0, 300, false, 4'000);
  rollouts.tick(500);  // within the hold
  EXPECT_EQ(split.weightNow(1), 10u);
  observe::RolloutRow row = rollouts.rows(500).at(0);
  EXPECT_EQ(row.requests, 30u);
  EXPECT_EQ(row.old_requests, 300u);
  EXPECT_NEAR(row.p99_ms, 5.0, 0.1);
  EXPECT_EQ(row.in_state_ms, 500);
  rollouts.tick(1000);
  EXPECT_EQ(split.weightNow(1), 50u);  // published: the next choose() sees it
  EXPECT_EQ(split.weightNow(0), 50u);
  row = rollouts.rows(1000).at(0);
  EXPECT_EQ(row.step, 1u);
  EXPECT_EQ(row.requests, 0u);  // the new step starts from nothing
  // The slow requests before the advance do not count against step 2.
  serve(split, 1, 20, false, 5'000);
  rollouts.tick(1500);
  EXPECT_EQ(rollouts.rows(1500).at(0).state, "advancing");
  rollouts.tick(2000);
  rollouts.tick(2999);
  EXPECT_EQ(split.weightNow(1), 100u);
  serve(split, 1, 20, false, 5'000);
  rollouts.tick(3000);
  row = rollouts.rows(3100).at(0);
  EXPECT_EQ(row.state, "done");
  EXPECT_EQ(row.weight, 100u);
  EXPECT_EQ(row.step_backs, 0u);
  EXPECT_EQ(row.requests, 20u);  // the figures that decided it
}

TEST(Rollouts, ABrokenGuardStepsBackOnceAndStaysThere) {
  auto snapshot =
      load("{cluster: new, steps: [25, 100], hold: 10s, guard: {min_requests: 10, max_p99: 50ms}}");
  const routing::Split& split = splitOf(*snapshot);
  Rollouts rollouts(*snapshot, 0);
  serve(split, 1, 10, false, 80'000);  // 80 ms each
  rollouts.tick(100);
  EXPECT_TRUE(split.steppedBack());
  EXPECT_EQ(split.weightNow(1), 0u);
  EXPECT_EQ(split.weightNow(0), 100u);
  observe::RolloutRow row = rollouts.rows(200).at(0);
  EXPECT_EQ(row.state, "stepped_back");
  EXPECT_EQ(row.breach, "max_p99");
  EXPECT_EQ(row.step_backs, 1u);
  EXPECT_EQ(row.weight, 0u);
  EXPECT_EQ(row.in_state_ms, 100);
  // Good figures later change nothing: one way until restart.
  serve(split, 1, 1000, false, 1'000);
  rollouts.tick(20000);
  EXPECT_EQ(split.weightNow(1), 0u);
  EXPECT_EQ(rollouts.rows(20000).at(0).step_backs, 1u);
}

TEST(Rollouts, ErrorRateGuardOnTheRequestsOfTheStep) {
  auto snapshot = load(
      "{cluster: new, steps: [5, 100], hold: 1s, guard: {min_requests: 10, max_error_rate: "
      "0.1}}");
  const routing::Split& split = splitOf(*snapshot);
  Rollouts rollouts(*snapshot, 0);
  serve(split, 1, 9, true, 1'000);  // 9 failures: too few requests to judge
  rollouts.tick(50);
  EXPECT_EQ(split.weightNow(1), 5u);
  serve(split, 1, 1, false, 1'000);  // 10 requests, 90% failed
  rollouts.tick(100);
  EXPECT_EQ(split.weightNow(1), 0u);
  EXPECT_EQ(rollouts.rows(100).at(0).breach, "max_error_rate");
}

}  // namespace
}  // namespace rampart::proxy
