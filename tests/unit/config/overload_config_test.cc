// `shield.overload` and `shield.baselines`: what a good config compiles to,
// the defaults, and every mistake refused at its file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace rampart::config {
namespace {

using shield::kSecond;
using shield::RequestClass;
using shield::ShedAction;
using ::testing::HasSubstr;

LoadResult load(std::string_view text) {
  return test_support::loadText(text, "/etc/rampart/overload.yaml");
}

using test_support::all;

constexpr std::string_view kFull = R"(
shield:
  overload:
    mode: count
    capacity: 500
    reserved_authenticated: 30%
    suspicious_share: 0.1
    lag_target: 50ms
    min_capacity_share: 0.25
    retry_after: 2s
    suspicious_for: 30s
    action: {authenticated: reject, anonymous: drop}
  baselines:
    mode: enforce
    key: principal
    window: 10s
    horizon: 360
    min_windows: 5
    factor: 2.5
    default_rate: 30/m
    floor_rate: 0
    retry_after: 3s
    state_file: state/baselines.bin
    prefix_v4: 16
listeners: [{name: main, address: "127.0.0.1:8080"}]
)";

TEST(OverloadConfigTest, EveryKeyCompiles) {
  LoadResult result = load(kFull);
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const shield::OverloadSettings& overload = result.snapshot->shield.overload;
  EXPECT_TRUE(overload.enabled);
  EXPECT_TRUE(overload.policy.count_only);
  EXPECT_EQ(overload.policy.capacity, 500u);
  EXPECT_DOUBLE_EQ(overload.policy.reserved_authenticated, 0.3);
  EXPECT_DOUBLE_EQ(overload.policy.suspicious_share, 0.1);
  EXPECT_EQ(overload.policy.lag_target, 50'000'000);
  EXPECT_DOUBLE_EQ(overload.policy.min_capacity_share, 0.25);
  EXPECT_EQ(overload.policy.retry_after, 2 * kSecond);
  EXPECT_EQ(overload.suspicious_for, 30 * kSecond);
  EXPECT_EQ(overload.policy.action[0], ShedAction::kRespond);
  EXPECT_EQ(overload.policy.action[1], ShedAction::kDrop);
  EXPECT_EQ(overload.policy.action[2], ShedAction::kDrop);  // the default for suspicious

  const shield::BaselineSettings& baselines = result.snapshot->shield.baselines;
  EXPECT_TRUE(baselines.enabled);
  EXPECT_FALSE(baselines.policy.count_only);
  EXPECT_EQ(baselines.key, shield::BaselineKey::kPrincipal);
  EXPECT_EQ(baselines.policy.window, 10 * kSecond);
  EXPECT_EQ(baselines.policy.horizon, 360u);
  EXPECT_EQ(baselines.policy.min_windows, 5u);
  EXPECT_DOUBLE_EQ(baselines.policy.factor, 2.5);
  EXPECT_DOUBLE_EQ(baselines.policy.default_rate, 0.5);
  EXPECT_DOUBLE_EQ(baselines.policy.floor_rate, 0);
  EXPECT_EQ(baselines.policy.retry_after, 3 * kSecond);
  // Relative to the config file, like key files.
  EXPECT_EQ(baselines.state_file, "/etc/rampart/state/baselines.bin");
  EXPECT_EQ(baselines.prefix.v4, 16);
  EXPECT_EQ(baselines.prefix.v6, 56);
}

TEST(OverloadConfigTest, AbsentMeansOffAndEmptyMeansTheDefaults) {
  LoadResult off = load(R"(
listeners: [{name: main, address: "127.0.0.1:8080"}]
)");
  ASSERT_TRUE(off.ok()) << all(off.errors);
  EXPECT_FALSE(off.snapshot->shield.overload.enabled);
  EXPECT_FALSE(off.snapshot->shield.baselines.enabled);

  LoadResult defaults = load(R"(
shield:
  overload: {}
  baselines: {action: drop}
listeners: [{name: main, address: "127.0.0.1:8080"}]
)");
  ASSERT_FALSE(defaults.ok());
  EXPECT_THAT(all(defaults.errors),
              HasSubstr("overload.yaml:3:15: unknown key 'action' in baselines"));

  LoadResult empty = load(R"(
shield:
  overload: {action: drop}
  baselines: {}
listeners: [{name: main, address: "127.0.0.1:8080"}]
)");
  ASSERT_TRUE(empty.ok()) << all(empty.errors);
  const shield::OverloadSettings& overload = empty.snapshot->shield.overload;
  EXPECT_TRUE(overload.enabled);
  EXPECT_FALSE(overload.policy.count_only);
  EXPECT_EQ(overload.policy.capacity, 1000u);
  EXPECT_EQ(overload.suspicious_for, 60 * kSecond);
  for (ShedAction action : overload.policy.action) EXPECT_EQ(action, ShedAction::kDrop);
  const shield::BaselineSettings& baselines = empty.snapshot->shield.baselines;
  EXPECT_TRUE(baselines.enabled);
  EXPECT_EQ(baselines.key, shield::BaselineKey::kAccount);
  EXPECT_EQ(baselines.policy.window, 60 * kSecond);
  EXPECT_TRUE(baselines.state_file.empty());
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* where;  // "line:col"
  const char* message;
};

class OverloadConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(OverloadConfigErrorTest, IsRefusedWhereWritten) {
  const BadCase& bad = GetParam();
  LoadResult result =
      load(std::string(bad.yaml) + "listeners: [{name: main, address: \"127.0.0.1:8080\"}]\n");
  ASSERT_FALSE(result.ok()) << bad.name;
  EXPECT_THAT(all(result.errors),
              HasSubstr(std::string("overload.yaml:") + bad.where + ": " + bad.message))
      << all(result.errors);
}

INSTANTIATE_TEST_SUITE_P(
    Mistakes, OverloadConfigErrorTest,
    ::testing::Values(
        BadCase{"UnknownKey", "shield:\n  overload: {capacity: 5, share: 1}\n", "2:27",
                "unknown key 'share' in overload"},
        BadCase{"ZeroCapacity", "shield:\n  overload: {capacity: 0}\n", "2:24",
                "capacity: expected an integer from 1 to 10000000, got 0"},
        BadCase{"ShareAboveOne", "shield:\n  overload: {reserved_authenticated: 1.5}\n", "2:38",
                "reserved_authenticated: expected a share from 0 to 1 like 0.2 or 20%, got "
                "'1.5'"},
        BadCase{"NegativeShare", "shield:\n  overload: {suspicious_share: -0.1}\n", "2:32",
                "suspicious_share: expected a share"},
        BadCase{"ZeroMinShare", "shield:\n  overload: {min_capacity_share: 0}\n", "2:34",
                "min_capacity_share: expected a share above 0 and at most 1"},
        BadCase{"ZeroLagTarget", "shield:\n  overload: {lag_target: 0}\n", "2:26",
                "lag_target: must be more than 0"},
        BadCase{"BadMode", "shield:\n  overload: {mode: dry}\n", "2:20",
                "mode: expected one of enforce, count"},
        BadCase{"BadAction", "shield:\n  overload: {action: close}\n", "2:22",
                "action: expected one of reject, drop"},
        BadCase{"BadClass", "shield:\n  overload: {action: {vip: drop}}\n", "2:23",
                "unknown key 'vip' in action"},
        BadCase{"BadKey", "shield:\n  baselines: {key: address}\n", "2:20",
                "key: expected one of account, principal, prefix"},
        BadCase{"FactorOne", "shield:\n  baselines: {factor: 1}\n", "2:23",
                "factor: expected a number above 1"},
        BadCase{"BadRate", "shield:\n  baselines: {default_rate: 5}\n", "2:29",
                "default_rate: expected a rate like 1/s, 30/m or 100/h, got '5'"},
        BadCase{"ZeroWindow", "shield:\n  baselines: {window: 0s}\n", "2:23",
                "window: must be more than 0"},
        BadCase{"EmptyStateFile", "shield:\n  baselines: {state_file: ''}\n", "2:27",
                "state_file: expected a file path"},
        BadCase{"BadPrefix", "shield:\n  baselines: {prefix_v4: 33}\n", "2:26",
                "prefix_v4: expected an integer from 1 to 32"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

}  // namespace
}  // namespace rampart::config
