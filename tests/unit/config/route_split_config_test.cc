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

}  // namespace
}  // namespace rampart::config
