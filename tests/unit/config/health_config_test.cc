// A cluster's `health_check`, `outlier_detection` and `panic_threshold`:
// what a good config compiles to, and every mistake refused at its
// file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace rampart::config {
namespace {

using ::testing::HasSubstr;

LoadResult load(std::string_view text) {
  return test_support::loadText(text, "health.yaml");
}

using test_support::all;

TEST(HealthConfigTest, EveryKeyCompiles) {
  LoadResult result = load(R"(
listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters:
  - name: app
    endpoints: ["127.0.0.1:9000", "127.0.0.1:9001"]
    health_check:
      path: /healthz?deep=1
      expected_statuses: [200-299, 304, "418"]
      interval: 2s
      timeout: 250ms
      healthy_threshold: 1
      unhealthy_threshold: 4
      host: health.internal:8080
    outlier_detection:
      consecutive_5xx: 3
      consecutive_connect_failures: 0
      base_ejection_time: 10s
      max_ejection_time: 1m
      max_ejection_percent: 100
    panic_threshold: 30
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const upstream::ClusterSpec& spec = result.snapshot->clusters.at(0);
  ASSERT_TRUE(spec.health_check.has_value());
  const upstream::HealthCheckSpec& check = *spec.health_check;
  EXPECT_EQ(check.path, "/healthz?deep=1");
  ASSERT_EQ(check.expected.size(), 3u);
  EXPECT_EQ(check.expected[0].low, 200);
  EXPECT_EQ(check.expected[0].high, 299);
  EXPECT_EQ(check.expected[1].low, 304);
  EXPECT_EQ(check.expected[1].high, 304);
  EXPECT_EQ(check.expected[2].low, 418);
  EXPECT_EQ(check.interval.count(), 2000);
  EXPECT_EQ(check.timeout.count(), 250);
  EXPECT_EQ(check.healthy_threshold, 1u);
  EXPECT_EQ(check.unhealthy_threshold, 4u);
  EXPECT_EQ(check.host, "health.internal:8080");
  ASSERT_TRUE(spec.health != nullptr);
  EXPECT_EQ(spec.health->size(), 2u);
  EXPECT_EQ(spec.health->unhealthyCount(), 0u);
  EXPECT_TRUE(spec.outlier.enabled);
  EXPECT_EQ(spec.outlier.consecutive_5xx, 3u);
  EXPECT_EQ(spec.outlier.consecutive_connect_failures, 0u);
  EXPECT_EQ(spec.outlier.base_ejection_time.count(), 10000);
  EXPECT_EQ(spec.outlier.max_ejection_time.count(), 60000);
  EXPECT_EQ(spec.outlier.max_ejection_percent, 100u);
  EXPECT_EQ(spec.panic_threshold, 30u);
}

TEST(HealthConfigTest, DefaultsWithOnlyAPathAndAnEmptyOutlierBlock) {
  LoadResult result = load(R"(
listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters:
  - name: app
    endpoints: ["127.0.0.1:9000"]
    health_check: {path: /health, expected_statuses: 200-399}
    outlier_detection: {}
  - name: plain
    endpoints: ["127.0.0.1:9001"]
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const upstream::ClusterSpec& app = result.snapshot->clusters.at(0);
  ASSERT_TRUE(app.health_check.has_value());
  EXPECT_EQ(app.health_check->interval.count(), 5000);
  EXPECT_EQ(app.health_check->timeout.count(), 1000);
  EXPECT_EQ(app.health_check->healthy_threshold, 2u);
  EXPECT_EQ(app.health_check->unhealthy_threshold, 3u);
  EXPECT_TRUE(app.health_check->host.empty());
  ASSERT_EQ(app.health_check->expected.size(), 1u);
  EXPECT_EQ(app.health_check->expected[0].high, 399);
  EXPECT_TRUE(app.outlier.enabled);
  EXPECT_EQ(app.outlier.consecutive_5xx, 5u);
  EXPECT_EQ(app.outlier.consecutive_connect_failures, 5u);
  EXPECT_EQ(app.outlier.base_ejection_time.count(), 30000);
  EXPECT_EQ(app.outlier.max_ejection_time.count(), 300000);
  EXPECT_EQ(app.outlier.max_ejection_percent, 50u);
  EXPECT_EQ(app.panic_threshold, 0u);
  const upstream::ClusterSpec& plain = result.snapshot->clusters.at(1);
  EXPECT_FALSE(plain.health_check.has_value());
  EXPECT_EQ(plain.health, nullptr);
  EXPECT_FALSE(plain.outlier.enabled);
}

struct BadCase {
  const char* name;
  const char* cluster_keys;  // indented under a cluster at column 5, from line 4
  const char* where;         // "line:col"
  const char* message;
};

class HealthConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(HealthConfigErrorTest, IsRefusedWhereWritten) {
  const BadCase& bad = GetParam();
  std::string text = std::string(R"(listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters:
  - name: app
    endpoints: ["127.0.0.1:9000"]
)") + bad.cluster_keys;
  LoadResult result = load(text);
  ASSERT_FALSE(result.ok()) << bad.name;
  EXPECT_THAT(all(result.errors),
              HasSubstr(std::string("health.yaml:") + bad.where + ": " + bad.message))
      << all(result.errors);
}

INSTANTIATE_TEST_SUITE_P(
    Mistakes, HealthConfigErrorTest,
    ::testing::Values(
        BadCase{"MissingPath", "    health_check: {interval: 1s}\n", "5:19",
                "missing required key 'path' in health_check"},
        BadCase{"PathWithoutSlash", "    health_check: {path: health}\n", "5:26",
                "path: expected a path from '/'"},
        BadCase{"PathWithSpace", "    health_check: {path: \"/a b\"}\n", "5:26",
                "path: expected a path from '/'"},
        BadCase{"UnknownKey", "    health_check: {path: /h, port: 81}\n", "5:30",
                "unknown key 'port' in health_check"},
        BadCase{"StatusOutOfRange", "    health_check: {path: /h, expected_statuses: [200, 600]}\n",
                "5:55", "expected_statuses: expected a status from 100 to 599"},
        BadCase{"BackwardsRange", "    health_check: {path: /h, expected_statuses: [399-200]}\n",
                "5:50", "expected_statuses: expected a status from 100 to 599 or a range"},
        BadCase{"NotAStatus", "    health_check: {path: /h, expected_statuses: ok}\n", "5:49",
                "expected_statuses: expected a status"},
        BadCase{"EmptyStatuses", "    health_check: {path: /h, expected_statuses: []}\n", "5:49",
                "expected_statuses: give at least one"},
        BadCase{"ZeroInterval", "    health_check: {path: /h, interval: 0}\n", "5:40",
                "interval: must be at least 10ms"},
        BadCase{"ZeroTimeout", "    health_check: {path: /h, timeout: 0}\n", "5:39",
                "timeout: must be at least 1ms"},
        BadCase{"ZeroThreshold", "    health_check: {path: /h, healthy_threshold: 0}\n", "5:49",
                "healthy_threshold: expected an integer from 1 to 1000, got 0"},
        BadCase{"BadHost", "    health_check: {path: /h, host: \"a b\"}\n", "5:36",
                "host: expected a host name"},
        BadCase{"NotAMap", "    health_check: /h\n", "5:19", "health_check: expected a mapping"},
        BadCase{"BothTriggersOff",
                "    outlier_detection: {consecutive_5xx: 0, consecutive_connect_failures: 0}\n",
                "5:24",
                "outlier_detection: consecutive_5xx and consecutive_connect_failures are "
                "both 0"},
        BadCase{"MaxBelowBase",
                "    outlier_detection: {base_ejection_time: 30s, max_ejection_time: 10s}\n",
                "5:69", "max_ejection_time: must be at least base_ejection_time (30000ms)"},
        BadCase{"PercentOver100", "    outlier_detection: {max_ejection_percent: 101}\n", "5:47",
                "max_ejection_percent: expected an integer from 0 to 100, got 101"},
        BadCase{"ZeroBaseTime", "    outlier_detection: {base_ejection_time: 0}\n", "5:45",
                "base_ejection_time: must be at least 1ms"},
        BadCase{"UnknownOutlierKey", "    outlier_detection: {interval: 1s}\n", "5:25",
                "unknown key 'interval' in outlier_detection"},
        BadCase{"PanicOver100", "    panic_threshold: 150\n", "5:22",
                "panic_threshold: expected an integer from 0 to 100, got 150"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace rampart::config
