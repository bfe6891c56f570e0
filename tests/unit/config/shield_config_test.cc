// The `shield:` section and listener/route `limits:`: what a good config
// compiles to, and every mistake refused at its file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace rampart::config {
namespace {

using ::testing::HasSubstr;

LoadResult load(std::string_view text) {
  return test_support::loadText(text, "shield.yaml");
}

using test_support::all;

net::SocketAddress ip(const char* text) {
  return net::SocketAddress::parseNumeric(std::string(text) + ":1").value();
}

// The agreed syntax (helper-briefs/shield-config.md), verbatim but for the cluster.
constexpr std::string_view kFull = R"(
shield:
  trusted_proxies: ["10.0.0.0/8", "127.0.0.2/32"]
  max_tracked_keys: 1000000
  admission:
    max_connections: 20000
    max_connections_per_address: 256
    accept_rate_per_address: {rate: 200/s, burst: 400}
    allow: ["127.0.0.1/32"]
    deny: ["192.0.2.0/24"]
  escalation:
    after: 50
    within: 10s
    block_for: 30s
    max_block: 1h
  auth_failures: {rate: 20/s, burst: 40}
  signature_verifications: {rate: 2000/s, burst: 20}
  slow_clients:
    head_timeout: 10s
    body_min_rate: 1024
    body_grace: 5s
listeners:
  - name: public
    address: "127.0.0.1:8080"
    limits:
      - {name: per-ip, key: address, rate: 100/s, burst: 50}
clusters: [{name: backend, endpoints: ["127.0.0.1:9000"]}]
virtual_hosts:
  - name: api
    domains: ["*"]
    routes:
      - name: orders
        match: {prefix: /orders}
        cluster: backend
        public: true
        limits:
          - {name: per-account, key: account, rate: 1000/s, burst: 200}
          - {name: per-prefix, key: prefix, rate: 5000/s, burst: 1000}
          - {name: per-key, key: "header:x-api-key", rate: 50/s, burst: 10, action: drop}
)";

TEST(ShieldConfigTest, TheAgreedSyntaxCompiles) {
  LoadResult result = load(kFull);
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const Snapshot& s = *result.snapshot;
  const shield::ShieldSettings& shield = s.shield;
  EXPECT_EQ(shield.max_tracked_keys, 1000000u);
  EXPECT_TRUE(shield.trusted_proxies.contains(ip("10.1.2.3")));
  EXPECT_TRUE(shield.trusted_proxies.contains(ip("127.0.0.2")));
  EXPECT_FALSE(shield.trusted_proxies.contains(ip("127.0.0.1")));
  EXPECT_EQ(s.trusted_proxies.size(), 2u);  // also used for X-Forwarded-* rewriting
  EXPECT_TRUE(shield.gate_enabled);
  EXPECT_EQ(s.max_connections, 20000u);
  EXPECT_EQ(shield.gate.admission.max_concurrent, 256u);
  ASSERT_TRUE(shield.gate.admission.accept_rate.has_value());
  EXPECT_DOUBLE_EQ(shield.gate.admission.accept_rate->rate, 200);
  EXPECT_EQ(shield.gate.admission.accept_rate->burst, 400u);
  ASSERT_TRUE(shield.gate.allow && shield.gate.deny);
  EXPECT_TRUE(shield.gate.allow->contains(ip("127.0.0.1")));
  EXPECT_TRUE(shield.gate.deny->contains(ip("192.0.2.77")));
  EXPECT_TRUE(shield.gate.escalate);
  EXPECT_EQ(shield.gate.escalation.refusals, 50u);
  EXPECT_EQ(shield.gate.escalation.window, 10 * shield::kSecond);
  EXPECT_EQ(shield.gate.escalation.base_block, 30 * shield::kSecond);
  EXPECT_EQ(shield.gate.escalation.max_block, 3600 * shield::kSecond);
  ASSERT_TRUE(shield.auth_failures.has_value());
  EXPECT_DOUBLE_EQ(shield.auth_failures->rate, 20);
  EXPECT_EQ(shield.auth_failures->burst, 40u);
  ASSERT_TRUE(shield.signature_verifications.has_value());
  EXPECT_DOUBLE_EQ(shield.signature_verifications->rate, 2000);
  EXPECT_EQ(shield.signature_verifications->burst, 20u);
  EXPECT_EQ(s.http.head_timeout.count(), 10000);
  EXPECT_EQ(s.http.min_body_rate, 1024u);
  EXPECT_EQ(s.http.body_rate_window.count(), 5000);

  ASSERT_EQ(shield.listener_limits.size(), 1u);
  ASSERT_EQ(shield.listener_limits[0].size(), 1u);
  const shield::RequestLimit& per_ip = shield.listener_limits[0][0];
  EXPECT_EQ(per_ip.name, "per-ip");
  EXPECT_EQ(per_ip.key, shield::LimitKey::kAddress);
  EXPECT_EQ(per_ip.gcra.burst(), 50u);
  EXPECT_EQ(per_ip.gcra.interval(), shield::kSecond / 100);
  EXPECT_EQ(per_ip.policy_item, "\"per-ip\";q=100;w=1");
  EXPECT_EQ(per_ip.action, shield::LimitAction::kReject);

  ASSERT_EQ(shield.route_limits.size(), 1u);
  const auto& route = shield.route_limits[0];
  ASSERT_EQ(route.size(), 3u);
  EXPECT_EQ(route[0].key, shield::LimitKey::kAccount);
  EXPECT_EQ(route[1].key, shield::LimitKey::kPrefix);
  EXPECT_EQ(route[1].prefix.v4, 24);
  EXPECT_EQ(route[1].prefix.v6, 56);
  EXPECT_EQ(route[2].key, shield::LimitKey::kHeader);
  EXPECT_EQ(route[2].header, "x-api-key");
  EXPECT_EQ(route[2].action, shield::LimitAction::kDrop);
  // Every limit has its own key namespace.
  EXPECT_NE(per_ip.space, route[0].space);
  EXPECT_NE(route[0].space, route[1].space);
  EXPECT_NE(route[1].space, route[2].space);
}

TEST(ShieldConfigTest, WithoutAShieldSectionNothingIsEnforcedButTheDefaults) {
  LoadResult result = load(R"(
listeners: [{name: main, address: "127.0.0.1:8080"}]
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const shield::ShieldSettings& shield = result.snapshot->shield;
  EXPECT_FALSE(shield.gate_enabled);
  EXPECT_FALSE(shield.auth_failures.has_value());
  EXPECT_FALSE(shield.signature_verifications.has_value());
  EXPECT_FALSE(shield.anyRequestLimit());
  EXPECT_EQ(shield.max_tracked_keys, 100000u);
  EXPECT_FALSE(shield.trusted_proxies.contains(ip("127.0.0.1")));
}

TEST(ShieldConfigTest, RatesPerMinuteAndHourAndPrefixLengths) {
  LoadResult result = load(R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: slow, key: prefix, rate: 60/m, burst: 5, prefix_v4: 16, prefix_v6: 48}
      - {name: hourly, key: "header:X-Tenant", rate: 7200/h, burst: 1}
      - {name: rare, key: address, rate: 1/h, burst: 1}
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const auto& limits = result.snapshot->shield.listener_limits[0];
  ASSERT_EQ(limits.size(), 3u);
  EXPECT_EQ(limits[0].gcra.interval(), shield::kSecond);
  EXPECT_EQ(limits[0].prefix.v4, 16);
  EXPECT_EQ(limits[0].prefix.v6, 48);
  EXPECT_EQ(limits[1].gcra.interval(), shield::kSecond / 2);
  EXPECT_EQ(limits[1].header, "x-tenant");
  EXPECT_EQ(limits[2].policy_item, "\"rare\";q=1;w=3600");
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* where;  // "line:col"
  const char* message;
};

class ShieldConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ShieldConfigErrorTest, IsRefusedWhereWritten) {
  const BadCase& bad = GetParam();
  LoadResult result = load(bad.yaml);
  ASSERT_FALSE(result.ok()) << bad.name;
  EXPECT_THAT(all(result.errors),
              HasSubstr(std::string("shield.yaml:") + bad.where + ": " + bad.message))
      << all(result.errors);
}

INSTANTIATE_TEST_SUITE_P(
    Mistakes, ShieldConfigErrorTest,
    ::testing::Values(
        BadCase{"UnknownShieldKey", R"(
shield:
  max_keys: 10
listeners: [{name: main, address: "127.0.0.1:8080"}]
)",
                "2:3", "unknown key 'max_keys' in shield"},
        BadCase{"BadRate", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: a, key: address, rate: 100/d, burst: 5}
)",
                "5:39", "rate: expected a rate like 100/s"},
        BadCase{"ZeroRate", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: a, key: address, rate: 0/s, burst: 5}
)",
                "5:39", "rate: expected a rate like 100/s"},
        BadCase{"BurstZero", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: a, key: address, rate: 10/s, burst: 0}
)",
                "5:52", "burst: expected an integer from 1 to 1000000, got 0"},
        BadCase{"MissingBurst", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: a, key: address, rate: 10/s}
)",
                "5:9", "missing required key 'burst' in limit 'a'"},
        BadCase{"UnknownKey", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: a, key: cookie, rate: 10/s, burst: 1}
)",
                "5:24", "key: expected one of address, prefix, api_key"},
        BadCase{"BadHeaderName", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: a, key: "header:x y", rate: 10/s, burst: 1}
)",
                "5:24", "key: expected a header name after 'header:'"},
        BadCase{"IdentityKeyOnAListener", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: a, key: account, rate: 10/s, burst: 1}
)",
                "5:24", "key: 'account' is not known before routing and authentication"},
        BadCase{"RouteKeyOnAListener", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: a, key: route, rate: 10/s, burst: 1}
)",
                "5:24", "key: 'route' is not known before routing"},
        BadCase{"BadAction", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: a, key: address, rate: 10/s, burst: 1, action: tarpit}
)",
                "5:63", "action: expected one of reject, drop"},
        BadCase{"PrefixLengthOnAnAddressLimit", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: a, key: address, rate: 10/s, burst: 1, prefix_v4: 16}
)",
                "5:55", "prefix_v4: only for `key: prefix` limits"},
        BadCase{"PrefixTooLong", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: a, key: prefix, rate: 10/s, burst: 1, prefix_v4: 33}
)",
                "5:65", "prefix_v4: expected an integer from 1 to 32, got 33"},
        BadCase{"DuplicateLimitName", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: a, key: address, rate: 10/s, burst: 1}
      - {name: a, key: prefix, rate: 10/s, burst: 1}
)",
                "6:16", "name: duplicate limit name 'a' in listener 'main' (first at line 5)"},
        BadCase{"LimitsNotASequence", R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits: {name: a}
)",
                "4:13", "limits: expected a sequence"},
        BadCase{"RouteLimitBadRate", R"(
listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
virtual_hosts:
  - name: api
    routes:
      - name: r
        match: {prefix: /}
        cluster: app
        public: true
        limits:
          - {name: a, key: principal, rate: fast, burst: 1}
)",
                "11:45", "rate: expected a rate like 100/s"},
        BadCase{"BadDenyCidr", R"(
shield:
  admission:
    deny: ["192.0.2.0/33"]
listeners: [{name: main, address: "127.0.0.1:8080"}]
)",
                "3:12", "deny: expected a CIDR like 192.0.2.0/24"},
        BadCase{"BadTrustedProxy", R"(
shield:
  trusted_proxies: ["proxy.internal"]
listeners: [{name: main, address: "127.0.0.1:8080"}]
)",
                "2:21", "trusted_proxies: expected a CIDR"},
        BadCase{"EscalationMaxBelowBlock", R"(
shield:
  escalation: {after: 5, within: 10s, block_for: 1m, max_block: 30s}
listeners: [{name: main, address: "127.0.0.1:8080"}]
)",
                "2:54", "max_block: must be at least block_for"},
        BadCase{"EscalationZeroWindow", R"(
shield:
  escalation: {after: 5, within: 0, block_for: 1m}
listeners: [{name: main, address: "127.0.0.1:8080"}]
)",
                "2:34", "within: must be more than 0"},
        BadCase{"EscalationAfterZero", R"(
shield:
  escalation: {after: 0}
listeners: [{name: main, address: "127.0.0.1:8080"}]
)",
                "2:23", "after: expected an integer from 1 to 4294967295, got 0"},
        BadCase{"AuthFailuresWithoutRate", R"(
shield:
  auth_failures: {burst: 5}
listeners: [{name: main, address: "127.0.0.1:8080"}]
)",
                "2:18", "missing required key 'rate' in auth_failures"},
        BadCase{"SignatureVerificationsBurstZero", R"(
shield:
  signature_verifications: {rate: 100/s, burst: 0}
listeners: [{name: main, address: "127.0.0.1:8080"}]
)",
                "2:49", "burst: expected an integer from 1 to 1000000"},
        BadCase{"AcceptRateBadKey", R"(
shield:
  admission:
    accept_rate_per_address: {rate: 10/s, burst: 5, every: 1s}
listeners: [{name: main, address: "127.0.0.1:8080"}]
)",
                "3:53", "unknown key 'every' in accept_rate_per_address"},
        BadCase{"SlowClientsBadDuration", R"(
shield:
  slow_clients: {head_timeout: soon}
listeners: [{name: main, address: "127.0.0.1:8080"}]
)",
                "2:32", "head_timeout: expected a duration"},
        BadCase{"MaxTrackedKeysZero", R"(
shield:
  max_tracked_keys: 0
listeners: [{name: main, address: "127.0.0.1:8080"}]
)",
                "2:21", "max_tracked_keys: expected an integer from 1 to 50000000, got 0"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(ShieldConfigTest, AnIdentityLimitOnARouteWithoutAuthIsAWarning) {
  LoadResult result = load(R"(
listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
virtual_hosts:
  - name: api
    routes:
      - name: r
        match: {prefix: /}
        cluster: app
        public: true
        limits:
          - {name: a, key: principal, rate: 10/s, burst: 1}
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  EXPECT_THAT(all(result.warnings),
              HasSubstr("shield.yaml:11:28: key: route 'r' has no auth, so no request "
                        "has a principal: this limit never counts"));
}

TEST(ShieldConfigTest, TheShieldsNamesWinOverTheCoresWithAWarning) {
  LoadResult result = load(R"(
max_connections: 500
http: {head_timeout: 30s}
shield:
  admission: {max_connections: 100}
  slow_clients: {head_timeout: 2s}
listeners: [{name: main, address: "127.0.0.1:8080"}]
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  EXPECT_EQ(result.snapshot->max_connections, 100u);
  EXPECT_EQ(result.snapshot->http.head_timeout.count(), 2000);
  std::string warnings = all(result.warnings);
  EXPECT_THAT(warnings, HasSubstr("shield.yaml:4:32: max_connections: also set at the "
                                  "top level (line 1)"));
  EXPECT_THAT(warnings, HasSubstr("shield.yaml:5:18: head_timeout: http.head_timeout is "
                                  "also set"));
}

TEST(ShieldConfigTest, ALimitNameIsQuotedForTheRateLimitHeaders) {
  LoadResult result = load(R"(
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: 'odd";name\x', key: address, rate: 5/s, burst: 1}
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const shield::RequestLimit& limit = result.snapshot->shield.listener_limits[0][0];
  EXPECT_EQ(limit.quoted_name, R"("odd\";name\\x")");
  EXPECT_EQ(limit.policy_item, R"("odd\";name\\x";q=5;w=1)");
}

TEST(ShieldConfigTest, TooManyLimitsInOneScopeAreRefused) {
  std::string text = "listeners:\n  - name: main\n    address: \"127.0.0.1:8080\"\n    limits:\n";
  for (int i = 0; i < 17; ++i) {
    text += std::string("      - {name: l") + std::to_string(i) +
            ", key: address, rate: 10/s, burst: 1}\n";
  }
  LoadResult result = load(text);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(all(result.errors), HasSubstr("shield.yaml:5:7: limits: at most 16 limits per "
                                            "listener, got 17"));
}

TEST(ShieldConfigTest, KernelDropIsOnByDefaultAndCanBeTurnedOff) {
  LoadResult on = load(R"(
shield:
  escalation: {after: 5}
listeners: [{name: main, address: "127.0.0.1:8080"}]
)");
  ASSERT_TRUE(on.ok()) << all(on.errors);
  EXPECT_TRUE(on.snapshot->shield.gate.kernel_drop);
  LoadResult off = load(R"(
shield:
  kernel_drop: false
  escalation: {after: 5}
listeners: [{name: main, address: "127.0.0.1:8080"}]
)");
  ASSERT_TRUE(off.ok()) << all(off.errors);
  EXPECT_FALSE(off.snapshot->shield.gate.kernel_drop);
  LoadResult bad = load(R"(
shield:
  kernel_drop: sometimes
listeners: [{name: main, address: "127.0.0.1:8080"}]
)");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(all(bad.errors), HasSubstr("shield.yaml:2:16: kernel_drop: expected a boolean"));
}

}  // namespace
}  // namespace rampart::config
