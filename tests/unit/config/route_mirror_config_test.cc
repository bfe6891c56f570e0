// A route's `mirror:`: what a good config compiles to, and every mistake
// refused at its file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace rampart::config {
namespace {

using ::testing::HasSubstr;

using test_support::all;

// Lines 1-7; the mirror is on line 8.
constexpr std::string_view kHead = R"(listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}, {name: shadow, endpoints: ["127.0.0.1:9001"]}]
virtual_hosts:
  - routes:
      - name: r
        match: {prefix: /}
        cluster: app
)";

LoadResult route(std::string_view keys) {
  return loadString(std::string(kHead) + std::string(keys) + "        public: true\n",
                    "mirror.yaml");
}

TEST(RouteMirrorConfigTest, EveryKeyCompiles) {
  LoadResult result = route(
      "        mirror: {cluster: shadow, percent: 12.5, diff: true, max_body_bytes: 8KiB, "
      "max_active: 4, timeout: 750ms,\n                 compare_headers: [Content-Type, ETag], "
      "ignore_json_fields: [ts, id]}\n");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const routing::Mirror* mirror = result.snapshot->route_specs.at(0).mirror.get();
  ASSERT_NE(mirror, nullptr);
  const routing::MirrorSpec& spec = mirror->spec();
  EXPECT_EQ(spec.cluster_index, 1u);
  EXPECT_EQ(spec.cluster_name, "shadow");
  EXPECT_EQ(spec.points, 1250u);
  EXPECT_TRUE(spec.diff);
  EXPECT_EQ(spec.max_body_bytes, 8192u);
  EXPECT_EQ(spec.max_active, 4u);
  EXPECT_EQ(spec.timeout_ms, 750);
  EXPECT_EQ(spec.compare_headers, (std::vector<std::string>{"content-type", "etag"}));
  EXPECT_EQ(spec.ignore_json_fields, (std::vector<std::string>{"ts", "id"}));
}

TEST(RouteMirrorConfigTest, DefaultsAndAWeightedRoute) {
  LoadResult result = route("        mirror: {cluster: shadow, percent: \"100%\"}\n");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const routing::MirrorSpec& spec = result.snapshot->route_specs.at(0).mirror->spec();
  EXPECT_EQ(spec.points, 10000u);
  EXPECT_FALSE(spec.diff);
  EXPECT_EQ(spec.max_body_bytes, 64u * 1024);
  EXPECT_EQ(spec.max_active, 32u);
  EXPECT_EQ(spec.timeout_ms, 5000);
  LoadResult none = route("");
  ASSERT_TRUE(none.ok()) << all(none.errors);
  EXPECT_EQ(none.snapshot->route_specs.at(0).mirror, nullptr);
}

struct Bad {
  const char* keys;
  const char* where;  // line:col
  const char* message;
};

class RouteMirrorErrorTest : public ::testing::TestWithParam<Bad> {};

TEST_P(RouteMirrorErrorTest, IsRefusedWhereItIsWritten) {
  const Bad& bad = GetParam();
  LoadResult result = route(bad.keys);
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(all(result.errors),
              HasSubstr(std::string("mirror.yaml:") + bad.where + ": " + bad.message))
      << bad.keys;
}

INSTANTIATE_TEST_SUITE_P(
    Mistakes, RouteMirrorErrorTest,
    ::testing::Values(
        Bad{"        mirror: {cluster: nope, percent: 10}\n", "8:27",
            "cluster: undefined cluster 'nope' (defined clusters: app, shadow)"},
        Bad{"        mirror: {cluster: app, percent: 10}\n", "8:27",
            "cluster: 'app' already serves this route; a mirror goes to another cluster"},
        Bad{"        mirror: {percent: 10}\n", "8:17", "missing required key 'cluster' in mirror"},
        Bad{"        mirror: {cluster: shadow}\n", "8:17",
            "missing required key 'percent' in mirror"},
        Bad{"        mirror: {cluster: shadow, percent: 0}\n", "8:44",
            "percent: expected a percentage above 0 and at most 100"},
        Bad{"        mirror: {cluster: shadow, percent: 101}\n", "8:44",
            "percent: expected a percentage above 0 and at most 100"},
        Bad{"        mirror: {cluster: shadow, percent: 0.125}\n", "8:44",
            "percent: expected a percentage above 0 and at most 100 (two decimals at most)"},
        Bad{"        mirror: {cluster: shadow, percent: 10, diff: maybe}\n", "8:54", "diff:"},
        Bad{"        mirror: {cluster: shadow, percent: 10, max_active: 0}\n", "8:60",
            "max_active:"},
        Bad{"        mirror: {cluster: shadow, percent: 10, timeout: 0}\n", "8:48",
            "timeout: must be at least 1ms"},
        Bad{"        mirror: {cluster: shadow, percent: 10, max_body_bytes: 1GiB}\n", "8:64",
            "max_body_bytes:"},
        Bad{"        mirror: {cluster: shadow, percent: 10, compare_headers: [\"a b\"]}\n", "8:66",
            "compare_headers: expected a header name, got 'a b'"},
        Bad{"        mirror: {cluster: shadow, percent: 10, compare_headers: etag}\n", "8:65",
            "compare_headers:"},
        Bad{"        mirror: {cluster: shadow, percent: 10, ignore_json_fields: [\"\"]}\n", "8:69",
            "ignore_json_fields: expected a member name, got ''"},
        Bad{"        mirror: {cluster: shadow, percent: 10, headers: [a]}\n", "8:48",
            "unknown key 'headers' in mirror"}));

}  // namespace
}  // namespace rampart::config
