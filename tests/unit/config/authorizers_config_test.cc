// The `authorizers` section, route `ext_authz` and listener `shadow_policy`:
// a good config compiles, every mistake is refused at its file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace rampart::config {
namespace {

using ::testing::HasSubstr;

using test_support::all;

constexpr std::string_view kBase =
    "listeners: [{name: main, address: \"127.0.0.1:8080\"}]\n"
    "clusters: [{name: app, endpoints: [\"127.0.0.1:9000\"]}]\n"
    "policies: [{name: p, rules: [{effect: allow}]}]\n";

LoadResult load(std::string_view rest) {
  return loadString(std::string(kBase) + std::string(rest), "rampart.yaml");
}

TEST(AuthorizersConfigTest, AGoodConfigCompiles) {
  LoadResult result = load(R"(authorizers:
  - name: opa
    url: http://127.0.0.1:9001/v1/check?x=1
    timeout: 150ms
    send_headers: [Authorization, x-tenant]
    upstream_headers: [X-User-Plan]
    cache: {key: [principal, route, "header:x-tenant"], ttl: 30s, stale_if_error: 5m, max_entries: 500}
    circuit_breaker: {failures: 4, open_for: 2s}
    max_pending: 50
virtual_hosts:
  - name: v
    routes:
      - {name: a, match: {prefix: /a}, cluster: app, policy: p, ext_authz: {authorizer: opa}}
      - {name: b, match: {prefix: /b}, cluster: app, ext_authz: {authorizer: opa, failure_mode: allow}}
      - {name: c, match: {prefix: /}, cluster: app, public: true}
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const Snapshot& s = *result.snapshot;
  ASSERT_EQ(s.ext_authz.authorizers.size(), 1u);
  const authz::AuthorizerSpec& a = s.ext_authz.authorizers[0];
  EXPECT_EQ(a.host_header, "127.0.0.1:9001");
  EXPECT_EQ(a.path, "/v1/check?x=1");
  EXPECT_EQ(a.timeout.count(), 150);
  EXPECT_EQ(a.send_headers, (std::vector<std::string>{"authorization", "x-tenant"}));
  EXPECT_EQ(a.upstream_headers, (std::vector<std::string>{"x-user-plan"}));
  EXPECT_TRUE(a.cache.enabled);
  ASSERT_EQ(a.cache.key.size(), 3u);
  EXPECT_EQ(a.cache.key[2].kind, authz::KeyPart::Kind::kHeader);
  EXPECT_EQ(a.cache.key[2].header, "x-tenant");
  EXPECT_EQ(a.cache.ttl.count(), 30000);
  EXPECT_EQ(a.cache.stale_if_error.count(), 300000);
  EXPECT_EQ(a.cache.max_entries, 500u);
  EXPECT_EQ(a.breaker_failures, 4u);
  EXPECT_EQ(a.breaker_open_for.count(), 2000);
  EXPECT_EQ(a.cluster.max_requests, 50u);
  EXPECT_EQ(s.ext_authz.upstream_header_names, (std::vector<std::string>{"x-user-plan"}));
  ASSERT_EQ(s.ext_authz.routes.size(), 3u);
  EXPECT_EQ(s.ext_authz.routes[0].authorizer, 0);
  EXPECT_FALSE(s.ext_authz.routes[0].allow_on_error);
  EXPECT_TRUE(s.ext_authz.routes[1].allow_on_error);
  EXPECT_EQ(s.ext_authz.routes[2].authorizer, -1);
  // A route with ext_authz and no policy is covered: its authorizer decides.
  EXPECT_TRUE(s.authorization.routes[1].external);
  EXPECT_THAT(all(result.warnings), ::testing::Not(HasSubstr("route 'b' has no policy")));
}

TEST(AuthorizersConfigTest, MistakesAreRefusedWhereWritten) {
  LoadResult result = load(R"(authorizers:
  - name: opa
    url: https://127.0.0.1:9001/check
    timeout: 0
    send_headers: [host, x-auth-subject, "bad name"]
    upstream_headers: [content-length, x-auth-account, x-ok, x-ok]
    cache: {key: [principal, colour], ttl: 0}
    bogus: 1
  - name: opa
    url: http://127.0.0.1:9002/
virtual_hosts:
  - name: v
    routes:
      - {name: a, match: {prefix: /a}, cluster: app, policy: p, ext_authz: {authorizer: nope}}
      - {name: b, match: {prefix: /b}, cluster: app, policy: p, ext_authz: {authorizer: opa, failure_mode: maybe}}
      - {name: c, match: {prefix: /}, cluster: app, public: true, ext_authz: {authorizer: opa}}
)");
  ASSERT_FALSE(result.ok());
  std::string errors = all(result.errors);
  EXPECT_THAT(errors, HasSubstr("rampart.yaml:6:10: url: "));
  EXPECT_THAT(errors, HasSubstr("rampart.yaml:7:5: timeout: must be more than 0"));
  EXPECT_THAT(errors, HasSubstr("rampart.yaml:8:20: send_headers: 'host' is set by Rampart"));
  EXPECT_THAT(errors, HasSubstr("send_headers: 'x-auth-subject' is an identity header"));
  EXPECT_THAT(errors, HasSubstr("send_headers: expected a header name"));
  EXPECT_THAT(errors, HasSubstr("upstream_headers: 'content-length' is set by Rampart"));
  EXPECT_THAT(errors, HasSubstr("upstream_headers: 'x-auth-account' is an identity header"));
  EXPECT_THAT(errors, HasSubstr("upstream_headers: 'x-ok' is listed twice"));
  EXPECT_THAT(errors, HasSubstr("key: expected principal, account, route, method, path or "
                                "header:<name>, got 'colour'"));
  EXPECT_THAT(errors, HasSubstr("ttl: must be more than 0"));
  EXPECT_THAT(errors, HasSubstr("unknown key 'bogus'"));
  EXPECT_THAT(errors, HasSubstr("rampart.yaml:12:11: name: duplicate authorizer name 'opa'"));
  EXPECT_THAT(errors, HasSubstr("authorizer: undefined authorizer 'nope' (defined: opa, opa)"));
  EXPECT_THAT(errors, HasSubstr("failure_mode: expected one of"));
  EXPECT_THAT(errors, HasSubstr("route 'c': public: true and ext_authz contradict each other"));
}

TEST(AuthorizersConfigTest, CacheWithoutKeyOrWithUnkeyedSentHeader) {
  LoadResult missing = load(R"(authorizers:
  - {name: opa, url: "http://127.0.0.1:9001/", cache: {ttl: 5s}}
)");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(all(missing.errors), HasSubstr("missing required key 'key'"));
  LoadResult unkeyed = load(R"(authorizers:
  - {name: opa, url: "http://127.0.0.1:9001/", send_headers: [x-tenant], cache: {key: [route], ttl: 5s}}
)");
  ASSERT_TRUE(unkeyed.ok()) << all(unkeyed.errors);
  EXPECT_THAT(all(unkeyed.warnings), HasSubstr("header 'x-tenant' is sent to the authorizer but is "
                                               "not in cache.key"));
}

TEST(AuthorizersConfigTest, AClusterCanBeTheAuthorizer) {
  LoadResult good = load(R"(authorizers:
  - {name: opa, cluster: app, path: /v1/data/allow, timeout: 100ms, max_pending: 7}
)");
  ASSERT_TRUE(good.ok()) << all(good.errors);
  const authz::AuthorizerSpec& a = good.snapshot->ext_authz.authorizers[0];
  EXPECT_EQ(a.path, "/v1/data/allow");
  EXPECT_EQ(a.host_header, "127.0.0.1:9000");
  ASSERT_EQ(a.cluster.endpoints.size(), 1u);
  EXPECT_EQ(a.cluster.max_requests, 7u);
  EXPECT_EQ(a.cluster.connect_timeout.count(), 100);
  LoadResult bad = load(R"(authorizers:
  - {name: a, cluster: nope}
  - {name: b, url: "http://127.0.0.1:1/", cluster: app}
  - {name: c}
  - {name: d, cluster: app, path: "no slash"}
  - {name: e, url: "http://127.0.0.1:1/", path: /x}
  - {name: f, url: "http://127.0.0.1:1/a b"}
)");
  ASSERT_FALSE(bad.ok());
  std::string errors = all(bad.errors);
  EXPECT_THAT(errors, HasSubstr("rampart.yaml:5:24: cluster: undefined cluster 'nope'"));
  EXPECT_THAT(errors,
              HasSubstr("rampart.yaml:6:5: authorizer 'b': needs exactly one of url, cluster"));
  EXPECT_THAT(errors,
              HasSubstr("rampart.yaml:7:5: authorizer 'c': needs exactly one of url, cluster"));
  EXPECT_THAT(errors, HasSubstr("rampart.yaml:8:35: path: expected a path like /check"));
  EXPECT_THAT(errors, HasSubstr("path: goes with cluster"));
  EXPECT_THAT(errors, HasSubstr("rampart.yaml:10:20: url: the path must not contain spaces"));
}

TEST(AuthorizersConfigTest, ListenerShadowPolicyIsResolvedByName) {
  LoadResult good = loadString(R"(listeners:
  - {name: a, address: "127.0.0.1:8080", shadow_policy: p}
  - {name: b, address: "127.0.0.1:8081"}
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
policies: [{name: p, rules: [{effect: allow}]}]
)",
                               "rampart.yaml");
  ASSERT_TRUE(good.ok()) << all(good.errors);
  EXPECT_EQ(good.snapshot->listeners[0].shadow_policy, 0);
  EXPECT_EQ(good.snapshot->listeners[1].shadow_policy, -1);
  LoadResult bad = loadString(R"(listeners:
  - {name: a, address: "127.0.0.1:8080", shadow_policy: nope}
policies: [{name: p, rules: [{effect: allow}]}]
)",
                              "rampart.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(all(bad.errors),
              HasSubstr("rampart.yaml:2:57: shadow_policy: undefined policy 'nope' (defined: p)"));
}

}  // namespace
}  // namespace rampart::config
