// A route's `retry`, a cluster's `retry_budget` and `circuit_breakers`:
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
  return test_support::loadText(text, "retry.yaml");
}

using test_support::all;

TEST(RetryConfigTest, EveryKeyCompiles) {
  LoadResult result = load(R"(
listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters:
  - name: app
    endpoints: ["127.0.0.1:9000", "127.0.0.1:9001"]
    retry_budget: {percent: 10, min_retries: 1}
    circuit_breakers: {max_connections: 5, max_pending: 6, max_requests: 7, max_retries: 8}
virtual_hosts:
  - routes:
      - name: plain
        match: {prefix: /plain}
        cluster: app
        public: true
      - name: api
        match: {prefix: /}
        cluster: app
        public: true
        retry:
          attempts: 4
          on: [connect-failure, reset, timeout, 503, 429]
          per_try_timeout: 300ms
          backoff: {base: 10ms, max: 40ms}
          honor_retry_after: false
          max_retry_after: 2s
          idempotent: true
          max_buffered_body: 1KiB
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const upstream::ClusterSpec& app = result.snapshot->clusters.at(0);
  EXPECT_EQ(app.retry_budget_percent, 10u);
  EXPECT_EQ(app.retry_budget_min, 1u);
  EXPECT_EQ(app.breakers.max_connections, 5u);
  EXPECT_EQ(app.breakers.max_pending, 6u);
  EXPECT_EQ(app.max_requests, 7u);  // circuit_breakers.max_requests is the cluster's max_requests
  EXPECT_EQ(app.breakers.max_retries, 8u);
  const auto& retries = result.snapshot->route_retries;
  ASSERT_EQ(retries.size(), 2u);
  EXPECT_EQ(retries[0].max_attempts, 1u);  // no `retry`: never retried
  const upstream::RetryPolicy& api = retries[1];
  EXPECT_EQ(api.max_attempts, 4u);
  EXPECT_TRUE(api.on_connect_failure);
  EXPECT_TRUE(api.on_reset);
  EXPECT_TRUE(api.on_timeout);
  EXPECT_EQ(api.on_statuses, (std::vector<uint16_t>{503, 429}));
  EXPECT_EQ(api.per_try_timeout.count(), 300);
  EXPECT_EQ(api.backoff_base.count(), 10);
  EXPECT_EQ(api.backoff_max.count(), 40);
  EXPECT_FALSE(api.honor_retry_after);
  EXPECT_EQ(api.max_retry_after.count(), 2000);
  EXPECT_TRUE(api.idempotent);
  EXPECT_EQ(api.max_buffered_body, 1024u);
}

TEST(RetryConfigTest, AnEmptyRetryBlockRetriesTheUsualFailuresOnce) {
  LoadResult result = load(R"(
listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters:
  - name: app
    endpoints: ["127.0.0.1:9000"]
    max_requests: 3
virtual_hosts:
  - routes:
      - {name: api, match: {prefix: /}, cluster: app, public: true, retry: {}}
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const upstream::ClusterSpec& app = result.snapshot->clusters.at(0);
  EXPECT_EQ(app.max_requests, 3u);  // the older key still works
  EXPECT_EQ(app.retry_budget_percent, 20u);
  EXPECT_EQ(app.retry_budget_min, 3u);
  const upstream::RetryPolicy& api = result.snapshot->route_retries.at(0);
  EXPECT_EQ(api.max_attempts, 2u);
  EXPECT_TRUE(api.on_connect_failure);
  EXPECT_FALSE(api.on_reset);
  EXPECT_EQ(api.on_statuses, (std::vector<uint16_t>{502, 503, 504}));
  EXPECT_FALSE(api.idempotent);
}

struct BadCase {
  const char* name;
  const char* text;   // appended after the cluster, from line 4
  const char* where;  // "line:col"
  const char* message;
};

class RetryConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(RetryConfigErrorTest, IsRefusedWhereWritten) {
  const BadCase& bad = GetParam();
  std::string text = std::string(R"(listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters:
  - name: app
    endpoints: ["127.0.0.1:9000"]
)") + bad.text;
  LoadResult result = load(text);
  ASSERT_FALSE(result.ok()) << bad.name;
  EXPECT_THAT(all(result.errors),
              HasSubstr(std::string("retry.yaml:") + bad.where + ": " + bad.message))
      << all(result.errors);
}

#define ROUTE_WITH(retry)                                                        \
  "virtual_hosts:\n  - routes:\n      - name: api\n        match: {prefix: /}\n" \
  "        cluster: app\n        public: true\n        retry: " retry "\n"

INSTANTIATE_TEST_SUITE_P(
    Mistakes, RetryConfigErrorTest,
    ::testing::Values(
        BadCase{"ZeroAttempts", ROUTE_WITH("{attempts: 0}"), "11:27", "attempts"},
        BadCase{"TooManyAttempts", ROUTE_WITH("{attempts: 11}"), "11:27", "attempts"},
        BadCase{"UnknownFailure", ROUTE_WITH("{on: [connect-failure, gone]}"), "11:39",
                "on: expected connect-failure, reset, timeout or a status from 200 to 599"},
        BadCase{"StatusOutOfRange", ROUTE_WITH("{on: [600]}"), "11:22",
                "on: expected connect-failure"},
        BadCase{"EmptyOn", ROUTE_WITH("{on: []}"), "11:21", "on: list at least one failure"},
        BadCase{"BackoffMaxBelowBase", ROUTE_WITH("{backoff: {base: 50ms, max: 10ms}}"), "11:44",
                "backoff: max must not be below base"},
        BadCase{"UnknownRetryKey", ROUTE_WITH("{tries: 3}"), "11:17",
                "unknown key 'tries' in retry"},
        BadCase{"BadDuration", ROUTE_WITH("{per_try_timeout: soon}"), "11:34", "per_try_timeout"},
        BadCase{"BudgetOver100", "    retry_budget: {percent: 150}\n", "5:29", "percent"},
        BadCase{"UnknownBreaker", "    circuit_breakers: {max_streams: 3}\n", "5:24",
                "unknown key 'max_streams' in circuit_breakers"},
        BadCase{"MaxRequestsTwice",
                "    max_requests: 3\n    circuit_breakers: {max_requests: 4}\n", "6:38",
                "circuit_breakers.max_requests: the cluster sets max_requests already"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

}  // namespace
}  // namespace rampart::config
