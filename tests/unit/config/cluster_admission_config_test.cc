// A cluster's `adaptive_concurrency:`: what a good section compiles to, the
// defaults, and every mistake refused at its file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace rampart::config {
namespace {

using shield::kSecond;
using ::testing::HasSubstr;

constexpr shield::Nanos kMs = 1'000'000;

LoadResult load(std::string_view section) {
  std::string text =
      "listeners: [{name: main, address: \"127.0.0.1:8080\"}]\n"
      "clusters:\n"
      "  - name: app\n"
      "    endpoints: [\"127.0.0.1:9000\"]\n"
      "    adaptive_concurrency:\n";
  text += section;
  text +=
      "virtual_hosts:\n"
      "  - name: api\n"
      "    domains: [\"*\"]\n"
      "    routes: [{name: all, match: {prefix: /}, cluster: app, public: true}]\n";
  return loadString(text, "admission.yaml");
}

using test_support::all;

TEST(ClusterAdmissionConfigTest, EveryKeyCompiles) {
  LoadResult result = load(
      "      mode: count\n"
      "      min_limit: 5\n"
      "      max_limit: 200\n"
      "      initial_limit: 40\n"
      "      sample_window: 250ms\n"
      "      min_samples: 32\n"
      "      percentile: 0.95\n"
      "      buffer: 0.1\n"
      "      smoothing: 0.5\n"
      "      min_rtt_interval: 30s\n"
      "      min_rtt_samples: 16\n"
      "      probe_limit: 4\n"
      "      probe_timeout: 2s\n"
      "      queue_min: 10\n"
      "      queue_factor: 2.5\n"
      "      retry_after: 3s\n"
      "      queue:\n"
      "        capacity: 500\n"
      "        per_flow: 20\n"
      "        reserved_authenticated: 0.3\n"
      "        weights: {authenticated: 10, anonymous: 3, suspicious: 1}\n"
      "        timeout: 750ms\n");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const auto& admission = result.snapshot->clusters[0].admission;
  ASSERT_TRUE(admission.has_value());
  EXPECT_TRUE(admission->count_only);
  const shield::AdaptiveConcurrencyPolicy& c = admission->concurrency;
  EXPECT_EQ(c.min_limit, 5u);
  EXPECT_EQ(c.max_limit, 200u);
  EXPECT_EQ(c.initial_limit, 40u);
  EXPECT_EQ(c.sample_window, 250 * kMs);
  EXPECT_EQ(c.min_samples, 32u);
  EXPECT_DOUBLE_EQ(c.percentile, 0.95);
  EXPECT_DOUBLE_EQ(c.buffer, 0.1);
  EXPECT_DOUBLE_EQ(c.smoothing, 0.5);
  EXPECT_EQ(c.min_rtt_interval, 30 * kSecond);
  EXPECT_EQ(c.min_rtt_samples, 16u);
  EXPECT_EQ(c.probe_limit, 4u);
  EXPECT_EQ(c.probe_timeout, 2 * kSecond);
  EXPECT_EQ(c.queue_min, 10u);
  EXPECT_DOUBLE_EQ(c.queue_factor, 2.5);
  EXPECT_EQ(admission->retry_after, 3 * kSecond);
  EXPECT_EQ(admission->queue.capacity, 500u);
  EXPECT_EQ(admission->queue.per_flow, 20u);
  EXPECT_DOUBLE_EQ(admission->queue.reserved_authenticated, 0.3);
  EXPECT_EQ(admission->queue.weights, (std::array<uint32_t, 3>{10, 3, 1}));
  EXPECT_EQ(admission->queue_timeout, 750 * kMs);
}

TEST(ClusterAdmissionConfigTest, AnEmptySectionTakesTheEnginesDefaults) {
  LoadResult result = load("      {}\n");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const auto& admission = result.snapshot->clusters[0].admission;
  ASSERT_TRUE(admission.has_value());
  EXPECT_FALSE(admission->count_only);
  shield::AdaptiveConcurrencyPolicy defaults;
  EXPECT_EQ(admission->concurrency.max_limit, defaults.max_limit);
  EXPECT_EQ(admission->concurrency.initial_limit, defaults.initial_limit);
  EXPECT_EQ(admission->queue.capacity, shield::FairQueuePolicy{}.capacity);
  EXPECT_EQ(admission->queue_timeout, kSecond);
}

TEST(ClusterAdmissionConfigTest, AClusterWithoutTheSectionHasNoAdmission) {
  LoadResult result = loadString(
      "listeners: [{name: main, address: \"127.0.0.1:8080\"}]\n"
      "clusters: [{name: app, endpoints: [\"127.0.0.1:9000\"]}]\n",
      "none.yaml");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  EXPECT_FALSE(result.snapshot->clusters[0].admission.has_value());
}

TEST(ClusterAdmissionConfigTest, UnsetLimitsFollowASmallMaxLimit) {
  LoadResult result = load("      max_limit: 2\n");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const shield::AdaptiveConcurrencyPolicy& c = result.snapshot->clusters[0].admission->concurrency;
  EXPECT_EQ(c.min_limit, 2u);
  EXPECT_EQ(c.initial_limit, 2u);
  EXPECT_EQ(c.probe_limit, 2u);
}

TEST(ClusterAdmissionConfigTest, AQueueWithNoPlaceForTheAnonymousIsAWarning) {
  LoadResult result = load("      queue: {capacity: 1}\n");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  EXPECT_THAT(all(result.warnings), HasSubstr("admission.yaml:6:14: queue: capacity 1 leaves no "
                                              "place outside the reserved_authenticated share"));
}

struct BadCase {
  const char* name;
  const char* section;
  const char* where;  // "line:col"
  const char* message;
};

class ClusterAdmissionConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ClusterAdmissionConfigErrorTest, IsRefusedWhereWritten) {
  const BadCase& bad = GetParam();
  LoadResult result = load(bad.section);
  ASSERT_FALSE(result.ok()) << bad.name;
  EXPECT_THAT(all(result.errors),
              HasSubstr(std::string("admission.yaml:") + bad.where + ": " + bad.message))
      << all(result.errors);
}

INSTANTIATE_TEST_SUITE_P(
    Mistakes, ClusterAdmissionConfigErrorTest,
    ::testing::Values(
        BadCase{"UnknownKey", "      max_limt: 10\n", "6:7",
                "unknown key 'max_limt' in adaptive_concurrency"},
        BadCase{"BadMode", "      mode: shadow\n", "6:13", "mode: expected one of enforce, count"},
        BadCase{"ZeroLimit", "      max_limit: 0\n", "6:18",
                "max_limit: expected an integer from 1"},
        BadCase{"MinOverMax", "      min_limit: 10\n      max_limit: 5\n", "6:7",
                "min_limit: 10 is more than max_limit 5"},
        BadCase{"InitialOutside", "      max_limit: 10\n      initial_limit: 11\n", "7:7",
                "initial_limit: 11 is outside [min_limit 3, max_limit 10]"},
        BadCase{"ProbeOverMax", "      max_limit: 10\n      probe_limit: 20\n", "7:7",
                "probe_limit: 20 is more than max_limit 10"},
        BadCase{"PercentileZero", "      percentile: 0\n", "6:19",
                "percentile: expected a number in (0, 1], got '0'"},
        BadCase{"PercentileText", "      percentile: high\n", "6:19",
                "percentile: expected a number in (0, 1]"},
        BadCase{"SmoothingOver", "      smoothing: 1.5\n", "6:18",
                "smoothing: expected a number in (0, 1]"},
        BadCase{"NegativeBuffer", "      buffer: -0.1\n", "6:15",
                "buffer: expected a number in [0, 100]"},
        BadCase{"ZeroWindow", "      sample_window: 0\n", "6:22",
                "sample_window: must be more than 0"},
        BadCase{"TooManySamples", "      min_samples: 1000\n", "6:20",
                "min_samples: expected an integer from 1 to 256"},
        BadCase{"BadDuration", "      probe_timeout: soon\n", "6:22",
                "probe_timeout: expected a duration"},
        BadCase{"NotAMap", "      [1, 2]\n", "6:7", "adaptive_concurrency: expected a mapping"},
        BadCase{"UnknownQueueKey", "      queue: {size: 10}\n", "6:15",
                "unknown key 'size' in queue"},
        BadCase{"ZeroCapacity", "      queue: {capacity: 0}\n", "6:25",
                "capacity: expected an integer from 1"},
        BadCase{"PerFlowOverCapacity", "      queue: {capacity: 10, per_flow: 20}\n", "6:29",
                "per_flow: 20 is more than the queue's capacity 10"},
        BadCase{"ReservedOver", "      queue: {reserved_authenticated: 2}\n", "6:39",
                "reserved_authenticated: expected a number in [0, 1]"},
        BadCase{"ZeroWeight", "      queue: {weights: {anonymous: 0}}\n", "6:36",
                "anonymous: expected an integer from 1 to 1000"},
        BadCase{"UnknownLane", "      queue: {weights: {vip: 3}}\n", "6:25",
                "unknown key 'vip' in weights"},
        BadCase{"ZeroTimeout", "      queue: {timeout: 0}\n", "6:24",
                "timeout: must be more than 0"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

}  // namespace
}  // namespace rampart::config
