// The `authentication`, `policies` and route `auth`/`policy` sections: every
// mistake refused (or warned about) at its file:line:col, including mistakes
// inside the key and policy files a config names.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config.h"

namespace rampart::config {
namespace {

using ::testing::HasSubstr;

// A scratch directory holding the config's key and policy files.
class SecurityConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/rampart-config-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    // One HS256 key: {"k": base64url of 32 bytes}.
    write(
        "jwks.json",
        R"({"keys":[{"kty":"oct","kid":"k1","alg":"HS256","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]})");
  }
  void TearDown() override {
    std::string command = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }

  void write(const std::string& name, std::string_view text) {
    std::ofstream out(dir_ + "/" + name);
    out << text;
  }
  LoadResult load(std::string_view text) {
    if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
    return loadString(text, dir_ + "/rampart.yaml");
  }
  std::string where(int line, int column) const {
    return dir_ + "/rampart.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  }
  static std::string all(const std::vector<Diagnostic>& diagnostics) {
    std::string out;
    for (const Diagnostic& d : diagnostics) out += format(d) + "\n";
    return out;
  }

  std::string dir_;
};

constexpr std::string_view kBase = R"(
listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
)";

std::string config(std::string_view rest) {
  return std::string(kBase.substr(1)) + std::string(rest);
}

TEST_F(SecurityConfigTest, AGoodConfigCompilesProvidersPoliciesAndRoutes) {
  write("keys.yaml",
        "keys:\n  - sha256: " + std::string(64, 'a') + "\n    principal: svc\n    account: acme\n");
  LoadResult result = load(config(R"(authentication:
  providers:
    - name: users
      jwt:
        issuers:
          - {issuer: "https://id.test", algorithms: [HS256], jwks_file: jwks.json}
    - name: partners
      api_keys: {file: keys.yaml}
policies:
  - name: p
    rules: [{effect: allow, roles: [admin]}]
virtual_hosts:
  - name: v
    routes:
      - {name: a, match: {prefix: /a}, cluster: app, auth: {providers: [users, partners]}, policy: p}
      - {name: b, match: {prefix: /}, cluster: app, public: true}
)"));
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const Snapshot& s = *result.snapshot;
  ASSERT_EQ(s.auth.providers.size(), 2u);
  EXPECT_EQ(s.auth.providers[0].kind, auth::Provider::Kind::kJwt);
  EXPECT_EQ(s.auth.providers[1].api_keys->store.load()->size(), 1u);
  ASSERT_EQ(s.auth.routes.size(), 2u);
  EXPECT_EQ(s.auth.routes[0].providers, (std::vector<uint32_t>{0, 1}));
  EXPECT_TRUE(s.auth.routes[1].providers.empty());
  ASSERT_EQ(s.authorization.routes.size(), 2u);
  EXPECT_EQ(s.authorization.routes[0].enforced, 0);
  EXPECT_TRUE(s.authorization.routes[1].is_public);
  EXPECT_THAT(all(result.warnings), HasSubstr("route 'b' is public"));
}

TEST_F(SecurityConfigTest, AlgNoneAndUnknownAlgorithmsAreRefusedWhereWritten) {
  LoadResult result = load(config(R"(authentication:
  providers:
    - name: users
      jwt:
        issuers:
          - issuer: "https://id.test"
            algorithms: [NONE, HS257]
            jwks_file: jwks.json
)"));
  ASSERT_FALSE(result.ok());
  std::string errors = all(result.errors);
  EXPECT_THAT(errors, HasSubstr(where(9, 26) + "algorithms: 'none' can never be accepted"));
  EXPECT_THAT(errors, HasSubstr(where(9, 32) + "algorithms: unknown algorithm 'HS257'"));
}

TEST_F(SecurityConfigTest, MissingOrBadJwksFilesAreRefused) {
  write("bad.json", R"({"keys":[{"kty":"oct","alg":"none","k":"AAAA"}]})");
  LoadResult result = load(config(R"(authentication:
  providers:
    - name: a
      jwt: {issuers: [{issuer: a, algorithms: [HS256], jwks_file: nowhere.json}]}
    - name: b
      jwt: {issuers: [{issuer: b, algorithms: [HS256], jwks_file: bad.json}]}
    - name: c
      jwt: {issuers: [{issuer: c, algorithms: [HS256]}]}
)"));
  ASSERT_FALSE(result.ok());
  std::string errors = all(result.errors);
  EXPECT_THAT(errors, HasSubstr("jwks_file: cannot open '" + dir_ + "/nowhere.json'"));
  EXPECT_THAT(errors, HasSubstr("jwks_file: '" + dir_ + "/bad.json': "));
  EXPECT_THAT(errors, HasSubstr("issuer: expected exactly one of jwks_file or jwks_url"));
}

TEST_F(SecurityConfigTest, JwksUrlMustBeHttpAndScheduleKeysOnlyWithIt) {
  LoadResult result = load(config(R"(authentication:
  providers:
    - name: a
      jwt: {issuers: [{issuer: a, algorithms: [ES256], jwks_url: "ftp://x/jwks"}]}
    - name: b
      jwt: {issuers: [{issuer: b, algorithms: [HS256], jwks_file: jwks.json, stale_after: 1h}]}
)"));
  ASSERT_FALSE(result.ok());
  std::string errors = all(result.errors);
  EXPECT_THAT(errors, HasSubstr("jwks_url: expected an http:// URL"));
  EXPECT_THAT(errors, HasSubstr("stale_after: only with jwks_url"));
}

TEST_F(SecurityConfigTest, ApiKeyFileProblemsAreReportedAtTheKeyFilesOwnLines) {
  write("keys.yaml",
        "keys:\n  - sha256: not-a-digest\n    principal: a\n  - principal: b\n"
        "  - sha256: " +
            std::string(64, 'b') +
            "\n    principal: c\n"
            "  - sha256: " +
            std::string(64, 'B') + "\n    principal: d\n");
  LoadResult result = load(config(R"(authentication:
  providers:
    - name: partners
      api_keys: {file: keys.yaml}
)"));
  ASSERT_FALSE(result.ok());
  std::string errors = all(result.errors);
  std::string file = dir_ + "/keys.yaml:";
  EXPECT_THAT(errors, HasSubstr(file + "2:13: sha256: expected the key's SHA-256 digest"));
  EXPECT_THAT(errors, HasSubstr(file + "4:5: "));  // the key without sha256
  EXPECT_THAT(errors, HasSubstr(file + "7:13: sha256: the same key is already listed at line 5"));
}

TEST_F(SecurityConfigTest, RouteAuthNamesOnlyDefinedProvidersAndConsistentOptions) {
  LoadResult result = load(config(R"(authentication:
  providers:
    - name: users
      jwt: {issuers: [{issuer: a, algorithms: [HS256], jwks_file: jwks.json}]}
virtual_hosts:
  - name: v
    routes:
      - name: r
        match: {prefix: /}
        cluster: app
        public: true
        auth: {providers: [users, nobody], allow_anonymous: true, required_scopes: [x]}
)"));
  ASSERT_FALSE(result.ok());
  std::string errors = all(result.errors);
  EXPECT_THAT(errors, HasSubstr("providers: undefined provider 'nobody' (defined: users)"));
  EXPECT_THAT(errors, HasSubstr("required_scopes: an anonymous caller has no scopes"));
}

TEST_F(SecurityConfigTest, IdentityHeadersMustBeDistinctHeaderNames) {
  LoadResult result = load(config(R"(authentication:
  identity_headers: {principal: x-who, account: X-Who, scopes: "bad header"}
)"));
  ASSERT_FALSE(result.ok());
  std::string errors = all(result.errors);
  EXPECT_THAT(errors, HasSubstr("scopes: expected a header name"));
  EXPECT_THAT(errors, HasSubstr("principal and account use the same header 'x-who'"));
}

TEST_F(SecurityConfigTest, RoutePoliciesResolveByNameAndContradictionsAreRefused) {
  LoadResult result = load(config(R"(policies:
  - name: p
    rules: [{effect: allow}]
virtual_hosts:
  - name: v
    routes:
      - {name: a, match: {prefix: /a}, cluster: app, policy: q}
      - {name: b, match: {prefix: /b}, cluster: app, policy: p, public: true}
      - {name: c, match: {prefix: /c}, cluster: app, rollout: {policy: p, percent: 10}}
      - {name: d, match: {prefix: /d}, cluster: app, policy: p, rollout: {policy: p, percent: 101}}
)"));
  ASSERT_FALSE(result.ok());
  std::string errors = all(result.errors);
  EXPECT_THAT(errors, HasSubstr("policy: undefined policy 'q' (defined: p)"));
  EXPECT_THAT(errors, HasSubstr("route 'b': public: true and a policy contradict each other"));
  EXPECT_THAT(errors, HasSubstr("route 'c': rollout needs a policy"));
  EXPECT_THAT(errors, HasSubstr("percent: expected an integer from 0 to 100"));
}

TEST_F(SecurityConfigTest, AnUncoveredRouteLoadsWithAWarningAndIsDeniedAtRunTime) {
  LoadResult result = load(config(R"(virtual_hosts:
  - name: v
    routes:
      - {name: forgotten, match: {prefix: /}, cluster: app}
)"));
  ASSERT_TRUE(result.ok()) << all(result.errors);
  EXPECT_THAT(all(result.warnings),
              HasSubstr("route 'forgotten' has no policy: every request to it "
                        "is denied (403)"));
  const RoutePolicy& route = result.snapshot->authorization.routes.at(0);
  EXPECT_FALSE(route.is_public);
  EXPECT_EQ(route.enforced, RoutePolicy::kNone);
}

TEST_F(SecurityConfigTest, PolicyRuleMistakesAndWarnings) {
  LoadResult result = load(config(R"(policies:
  - name: p
    rules:
      - {name: everyone, effect: allow}
      - {name: later, effect: allow, roles: [admin]}
      - {name: never, effect: deny, authenticated: false, roles: [x]}
virtual_hosts:
  - name: v
    routes: [{name: a, match: {prefix: /}, cluster: app, policy: p}]
)"));
  ASSERT_TRUE(result.ok()) << all(result.errors);
  std::string warnings = all(result.warnings);
  EXPECT_THAT(warnings, HasSubstr(where(7, 9) + "policy 'p': rule 1 (later): shadowed by rule 0"));
  EXPECT_THAT(warnings, HasSubstr(where(8, 9) + "policy 'p': rule 2 (never)"));

  LoadResult bad = load(config(R"(policies:
  - name: p
    rules:
      - {effect: maybe}
      - {effect: allow, paths: ["/a/**x"], sources: [not-a-cidr]}
)"));
  ASSERT_FALSE(bad.ok());
  std::string errors = all(bad.errors);
  EXPECT_THAT(errors, HasSubstr("effect: expected one of"));
  EXPECT_THAT(errors, HasSubstr("sources: bad CIDR 'not-a-cidr'"));
}

TEST_F(SecurityConfigTest, PolicyFilesReportAtTheirOwnPositions) {
  write("policies.yaml", "policies:\n  - name: from-file\n    rules:\n      - {effect: perhaps}\n");
  LoadResult result = load(config("policy_files: [policies.yaml]\n"));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(all(result.errors), HasSubstr(dir_ + "/policies.yaml:4:"));
  write("policies.yaml", "policies:\n  - name: from-file\n    rules: [{effect: allow}]\n");
  LoadResult ok = load(config(R"(policy_files: [policies.yaml]
virtual_hosts:
  - name: v
    routes: [{name: a, match: {prefix: /}, cluster: app, policy: from-file}]
)"));
  ASSERT_TRUE(ok.ok()) << all(ok.errors);
  EXPECT_EQ(ok.snapshot->authorization.names, (std::vector<std::string>{"from-file"}));
}

}  // namespace
}  // namespace rampart::config
