// A route's weighted split (`clusters`, `sticky`, `step_back`): what a good
// config compiles to, and every mistake refused at its file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace rampart::config {
namespace {

using ::testing::HasSubstr;

using test_support::all;

// Lines 1-5; the route's own keys start on line 6.
constexpr std::string_view kHead = R"(listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters: [{name: old, endpoints: ["127.0.0.1:9000"]}, {name: new, endpoints: ["127.0.0.1:9001"]}]
virtual_hosts:
  - routes:
      - name: r
)";

LoadResult route(std::string_view keys) {
  return loadString(
      std::string(kHead) + "        match: {prefix: /}\n        public: true\n" + std::string(keys),
      "split.yaml");
}

TEST(RouteSplitConfigTest, EveryKeyCompiles) {
  LoadResult result =
      route(R"(        clusters: [{cluster: old, weight: 90}, {cluster: new, weight: 10}]
        sticky: {key: "header:X-Account"}
        step_back: {watch: new, max_error_rate: 0.1, min_requests: 20, window: 10s, to: 0}
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const routing::RouteSpec& spec = result.snapshot->route_specs.at(0);
  ASSERT_TRUE(spec.split != nullptr);
  EXPECT_EQ(spec.cluster_index, 0u);  // the first listed cluster stands for the route
  const routing::SplitSpec& split = spec.split->spec();
  ASSERT_EQ(split.targets.size(), 2u);
  EXPECT_EQ(split.targets[0].cluster_index, 0u);
  EXPECT_EQ(split.targets[0].weight, 90u);
  EXPECT_EQ(split.targets[1].cluster_index, 1u);
  EXPECT_EQ(split.targets[1].weight, 10u);
  EXPECT_EQ(split.sticky.kind, routing::StickyKind::kHeader);
  EXPECT_EQ(split.sticky.name, "x-account");
  EXPECT_TRUE(split.step_back.enabled);
  EXPECT_EQ(split.step_back.watch, 1u);
  EXPECT_EQ(split.step_back.watch_name, "new");
  EXPECT_DOUBLE_EQ(split.step_back.max_error_rate, 0.1);
  EXPECT_EQ(split.step_back.min_requests, 20u);
  EXPECT_EQ(split.step_back.window_ms, 10000);
  EXPECT_EQ(split.step_back.to, 0u);
}

TEST(RouteSplitConfigTest, DefaultsAndOtherStickyKeys) {
  LoadResult result =
      route(R"(        clusters: [{cluster: new, weight: 50}, {cluster: old, weight: 50}]
        sticky: {key: "cookie:Session"}
        step_back: {watch: new, max_error_rate: "5%"}
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const routing::SplitSpec& split = result.snapshot->route_specs.at(0).split->spec();
  EXPECT_EQ(result.snapshot->route_specs.at(0).cluster_index, 1u);
  EXPECT_EQ(split.sticky.kind, routing::StickyKind::kCookie);
  EXPECT_EQ(split.sticky.name, "Session");  // cookie names are case-sensitive
  EXPECT_EQ(split.step_back.watch, 0u);
  EXPECT_DOUBLE_EQ(split.step_back.max_error_rate, 0.05);
  EXPECT_EQ(split.step_back.min_requests, 50u);
  EXPECT_EQ(split.step_back.window_ms, 30000);
  for (std::string_view key : {"account", "principal"}) {
    LoadResult other =
        route(R"(        clusters: [{cluster: new, weight: 50}, {cluster: old, weight: 50}]
        sticky: {key: )" +
              std::string(key) + "}\n");
    ASSERT_TRUE(other.ok()) << all(other.errors);
    EXPECT_EQ(other.snapshot->route_specs.at(0).split->spec().sticky.kind,
              key == "account" ? routing::StickyKind::kAccount : routing::StickyKind::kPrincipal);
  }
}

TEST(RouteSplitConfigTest, APlainClusterRouteHasNoSplit) {
  LoadResult result = route("        cluster: new\n");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  EXPECT_EQ(result.snapshot->route_specs.at(0).split, nullptr);
  EXPECT_EQ(result.snapshot->route_specs.at(0).cluster_index, 1u);
}

struct Bad {
  const char* keys;
  const char* where;  // line:col
  const char* message;
};

class RouteSplitErrorTest : public ::testing::TestWithParam<Bad> {};

TEST_P(RouteSplitErrorTest, IsRefusedWhereItIsWritten) {
  const Bad& bad = GetParam();
  LoadResult result = route(bad.keys);
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(all(result.errors),
              HasSubstr(std::string("split.yaml:") + bad.where + ": " + bad.message))
      << bad.keys;
}

INSTANTIATE_TEST_SUITE_P(
    Mistakes, RouteSplitErrorTest,
    ::testing::Values(
        Bad{"        cluster: old\n        clusters: [{cluster: old, weight: 90}, {cluster: new, "
            "weight: 10}]\n",
            "9:9", "route 'r': cluster and clusters both given"},
        Bad{"        clusters: [{cluster: old, weight: 90}, {cluster: nope, weight: 10}]\n", "8:58",
            "cluster: undefined cluster 'nope' (defined clusters: old, new)"},
        Bad{"        clusters: [{cluster: old, weight: 90}, {cluster: new, weight: 20}]\n", "8:19",
            "clusters: weights are percentages and must sum to 100, these sum to 110"},
        Bad{"        clusters: [{cluster: old, weight: 90}, {cluster: new, weight: 101}]\n", "8:71",
            "weight: expected an integer from 0 to 100, got 101"},
        Bad{"        clusters: [{cluster: old, weight: 100}]\n", "8:19",
            "clusters: a weighted split needs at least two clusters"},
        Bad{"        clusters: [{cluster: old, weight: 50}, {cluster: old, weight: 50}]\n", "8:58",
            "cluster: 'old' is listed twice"},
        Bad{"        clusters: [{cluster: old, weight: 50}, {cluster: new}]\n", "8:48",
            "missing required key 'weight' in clusters entry"},
        Bad{"        cluster: old\n        sticky: {key: account}\n", "9:9",
            "sticky: only a route with a weighted `clusters:` split"},
        Bad{"        cluster: old\n        step_back: {watch: old}\n", "9:9",
            "step_back: only a route with a weighted `clusters:` split"},
        Bad{"        clusters: [{cluster: old, weight: 50}, {cluster: new, weight: 50}]\n"
            "        sticky: {key: ip}\n",
            "9:23", "key: expected account, principal, cookie:<name> or header:<name>, got 'ip'"},
        Bad{"        clusters: [{cluster: old, weight: 50}, {cluster: new, weight: 50}]\n"
            "        sticky: {key: \"header:\"}\n",
            "9:23", "key: expected header:<name> with a token name"},
        Bad{"        clusters: [{cluster: old, weight: 50}, {cluster: new, weight: 50}]\n"
            "        step_back: {max_error_rate: 0.1}\n",
            "9:20", "missing required key 'watch' in step_back"},
        Bad{"        clusters: [{cluster: old, weight: 50}, {cluster: new, weight: 50}]\n"
            "        step_back: {watch: other}\n",
            "9:28", "watch: undefined cluster 'other'"},
        Bad{"        clusters: [{cluster: old, weight: 50}, {cluster: new, weight: 50}]\n"
            "        step_back: {watch: new, max_error_rate: 2}\n",
            "9:49", "max_error_rate: expected a fraction between 0 and 1"},
        Bad{"        clusters: [{cluster: old, weight: 50}, {cluster: new, weight: 50}]\n"
            "        step_back: {watch: new, window: 10ms}\n",
            "9:33", "window: must be at least 100ms"},
        Bad{"        clusters: [{cluster: old, weight: 50}, {cluster: new, weight: 50}]\n"
            "        step_back: {watch: new, to: 50}\n",
            "9:37", "to: 50 is not below the watched cluster's weight (50)"},
        Bad{"        clusters: [{cluster: old, weight: 50}, {cluster: new, weight: 50}]\n"
            "        step_back: {watch: new, min_requests: 0}\n",
            "9:47", "min_requests:"}));

TEST(RouteSplitConfigTest, WatchMustBeOneOfTheRoutesClusters) {
  LoadResult result = loadString(
      R"(listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters: [{name: old, endpoints: ["127.0.0.1:9000"]}, {name: new, endpoints: ["127.0.0.1:9001"]},
           {name: third, endpoints: ["127.0.0.1:9002"]}]
virtual_hosts:
  - routes:
      - name: r
        match: {prefix: /}
        public: true
        clusters: [{cluster: old, weight: 50}, {cluster: new, weight: 50}]
        step_back: {watch: third}
)",
      "split.yaml");
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(all(result.errors),
              HasSubstr("split.yaml:10:28: watch: cluster 'third' is not one of this route's "
                        "clusters"));
}

TEST(RouteSplitConfigTest, RampCompilesWithEveryKey) {
  LoadResult result =
      route(R"(        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]
        sticky: {key: "header:X-Account"}
        ramp:
          cluster: new
          steps: [0, 1, 5, 25, 50, 100]
          hold: 2m
          guard: {max_error_rate: "2%", max_p99: 250ms, min_requests: 30, max_error_ratio: 2,
                  max_p99_ratio: 1.5}
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const routing::Split& split = *result.snapshot->route_specs.at(0).split;
  const routing::RampSpec& ramp = split.spec().ramp;
  EXPECT_TRUE(ramp.enabled);
  EXPECT_EQ(ramp.target, 1u);
  EXPECT_EQ(ramp.from, 0u);
  EXPECT_EQ(ramp.cluster_name, "new");
  EXPECT_EQ(ramp.steps, (std::vector<uint32_t>{0, 1, 5, 25, 50, 100}));
  EXPECT_EQ(ramp.hold_ms, 120000);
  EXPECT_DOUBLE_EQ(ramp.max_error_rate, 0.02);
  EXPECT_EQ(ramp.max_p99_ms, 250);
  EXPECT_EQ(ramp.min_requests, 30u);
  EXPECT_DOUBLE_EQ(ramp.max_error_ratio, 2);
  EXPECT_DOUBLE_EQ(ramp.max_p99_ratio, 1.5);
  EXPECT_EQ(split.weightNow(1), 0u);  // the first step, published before any request
  EXPECT_FALSE(split.spec().step_back.enabled);
}

TEST(RouteSplitConfigTest, RampDefaultsAndAFirstListedNewCluster) {
  LoadResult result =
      route(R"(        clusters: [{cluster: new, weight: 0}, {cluster: old, weight: 100}]
        ramp: {cluster: new, steps: [10, 100]}
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const routing::Split& split = *result.snapshot->route_specs.at(0).split;
  const routing::RampSpec& ramp = split.spec().ramp;
  EXPECT_EQ(ramp.target, 0u);
  EXPECT_EQ(ramp.from, 1u);
  EXPECT_EQ(ramp.hold_ms, 60000);
  EXPECT_DOUBLE_EQ(ramp.max_error_rate, 0.01);
  EXPECT_EQ(ramp.max_p99_ms, 0);
  EXPECT_EQ(ramp.min_requests, 100u);
  EXPECT_EQ(split.weightNow(0), 10u);
  EXPECT_EQ(split.weightNow(1), 90u);
}

class RampErrorTest : public ::testing::TestWithParam<Bad> {};

TEST_P(RampErrorTest, IsRefusedWhereItIsWritten) {
  const Bad& bad = GetParam();
  LoadResult result = route(bad.keys);
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(all(result.errors),
              HasSubstr(std::string("split.yaml:") + bad.where + ": " + bad.message))
      << bad.keys;
}

INSTANTIATE_TEST_SUITE_P(
    Mistakes, RampErrorTest,
    ::testing::Values(
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {cluster: new, steps: [1, 5, 5], hold: 1s}\n",
            "9:44",
            "steps: 5 follows 5; steps are the new cluster's weights in strictly ascending order"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {cluster: new, steps: [10, 5], hold: 1s}\n",
            "9:42", "steps: 5 follows 10"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {cluster: new, steps: [1, 101]}\n",
            "9:41", "steps: expected an integer from 0 to 100, got 101"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {cluster: new, steps: []}\n",
            "9:37", "steps: list at least one weight"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {cluster: nope, steps: [1]}\n",
            "9:25", "cluster: undefined cluster 'nope' (defined clusters: old, new)"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {steps: [1]}\n",
            "9:15", "missing required key 'cluster' in ramp"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {cluster: new, steps: [1], hold: 50ms}\n",
            "9:42", "hold: must be at least 100ms"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {cluster: new, steps: [1], guard: {max_error_rate: 1.5}}\n",
            "9:66", "max_error_rate: expected a fraction between 0 and 1 like 0.01"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {cluster: new, steps: [1], guard: {max_p99: fast}}\n",
            "9:59", "max_p99:"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {cluster: new, steps: [1], guard: {max_p99: 0}}\n",
            "9:59", "max_p99: must be at least 1ms"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {cluster: new, steps: [1], guard: {min_requests: 0}}\n",
            "9:64", "min_requests:"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {cluster: new, steps: [1], guard: {max_p99_ratio: 0.5}}\n",
            "9:65", "max_p99_ratio: expected a factor of the old cluster's figure from 1 to 1000"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        ramp: {cluster: new, steps: [1], guard: {p99: 1s}}\n",
            "9:50", "unknown key 'p99'"},
        Bad{"        clusters: [{cluster: old, weight: 90}, {cluster: new, weight: 10}]\n"
            "        ramp: {cluster: new, steps: [20]}\n",
            "9:25",
            "cluster: 'new' has weight 10 in clusters; a ramped cluster is listed with weight 0"},
        Bad{"        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]\n"
            "        step_back: {watch: new}\n        ramp: {cluster: new, steps: [1]}\n",
            "10:9", "ramp: a ramped route steps back by its guard; remove step_back"},
        Bad{"        cluster: old\n        ramp: {cluster: new, steps: [1]}\n", "9:9",
            "ramp: only a route with a weighted `clusters:` split"}));

TEST(RouteSplitConfigTest, RampLastStepIsWhatTheOldClusterCanGive) {
  constexpr std::string_view kThree = R"(listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters: [{name: old, endpoints: ["127.0.0.1:9000"]}, {name: new, endpoints: ["127.0.0.1:9001"]},
           {name: third, endpoints: ["127.0.0.1:9002"]}]
virtual_hosts:
  - routes:
      - name: r
        match: {prefix: /}
        public: true
        clusters: [{cluster: old, weight: 80}, {cluster: new, weight: 0}, {cluster: third, weight: 20}]
)";
  LoadResult too_far = loadString(
      std::string(kThree) + "        ramp: {cluster: new, steps: [10, 90]}\n", "split.yaml");
  EXPECT_FALSE(too_far.ok());
  EXPECT_THAT(
      all(too_far.errors),
      HasSubstr("split.yaml:10:37: steps: the last step (90) is more than cluster 'old' has "
                "to give (weight 80)"));
  LoadResult ok = loadString(
      std::string(kThree) + "        ramp: {cluster: new, steps: [10, 80]}\n", "split.yaml");
  ASSERT_TRUE(ok.ok()) << all(ok.errors);
  LoadResult other = loadString(
      R"(listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters: [{name: old, endpoints: ["127.0.0.1:9000"]}, {name: new, endpoints: ["127.0.0.1:9001"]},
           {name: third, endpoints: ["127.0.0.1:9002"]}]
virtual_hosts:
  - routes:
      - name: r
        match: {prefix: /}
        public: true
        clusters: [{cluster: old, weight: 100}, {cluster: new, weight: 0}]
        ramp: {cluster: third, steps: [1]}
)",
      "split.yaml");
  EXPECT_FALSE(other.ok());
  EXPECT_THAT(all(other.errors),
              HasSubstr("split.yaml:10:25: cluster: cluster 'third' is not one of this route's "
                        "clusters"));
}

}  // namespace
}  // namespace rampart::config
