// Policy::evaluate: each condition, deny-overrides, default deny, sources,
// authenticated. Every case is also checked against evaluateNaive.
#include "policy/policy.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>
#include <vector>

// Counts heap allocations, to show that evaluate() makes none. g++ 12 takes
// the malloc/free pair below for a mismatch wherever it inlines them.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
thread_local size_t g_allocations = 0;
}  // namespace

void* operator new(size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}

namespace rampart::policy {
namespace {

auth::Identity user(std::string principal, std::string account) {
  auth::Identity id;
  id.kind = auth::CredentialKind::kJwt;
  id.issuer = "https://issuer";
  id.principal = std::move(principal);
  id.account = std::move(account);
  return id;
}

RuleSpec allow(std::string name = "") {
  RuleSpec rule;
  rule.name = std::move(name);
  rule.effect = Effect::kAllow;
  return rule;
}

RuleSpec deny(std::string name = "") {
  RuleSpec rule;
  rule.name = std::move(name);
  rule.effect = Effect::kDeny;
  return rule;
}

class PolicyTest : public ::testing::Test {
 protected:
  void compile(std::vector<RuleSpec> rules) {
    spec_.rules = std::move(rules);
    std::string error;
    ASSERT_TRUE(policy_.compile(spec_, &warnings_, &error)) << error;
  }
  // Evaluates with both evaluators and checks they agree.
  Verdict eval(std::string_view method, std::string_view path, const auth::Identity* id = nullptr,
               const net::SocketAddress* peer = nullptr) {
    Request request{method, path, id, peer};
    Verdict fast = policy_.evaluate(request);
    Verdict naive = evaluateNaive(spec_, request);
    EXPECT_EQ(fast.allowed, naive.allowed) << method << " " << path;
    EXPECT_EQ(fast.rule, naive.rule) << method << " " << path;
    return fast;
  }
  bool allowed(std::string_view method, std::string_view path, const auth::Identity* id = nullptr,
               const net::SocketAddress* peer = nullptr) {
    return eval(method, path, id, peer).allowed;
  }

  PolicySpec spec_;
  Policy policy_;
  std::vector<CompileWarning> warnings_;
};

TEST_F(PolicyTest, EmptyPolicyDeniesByDefault) {
  compile({});
  Verdict v = eval("GET", "/");
  EXPECT_FALSE(v.allowed);
  EXPECT_TRUE(v.defaultDeny());
  EXPECT_EQ(v.rule, kDefaultDeny);
}

TEST_F(PolicyTest, UncompiledPolicyDenies) {
  Policy empty;
  Verdict v = empty.evaluate(Request{"GET", "/", nullptr, nullptr});
  EXPECT_FALSE(v.allowed);
  EXPECT_TRUE(v.defaultDeny());
}

TEST_F(PolicyTest, UnconditionalAllowNamesRule) {
  compile({allow("everyone")});
  Verdict v = eval("GET", "/x");
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.rule, 0u);
  EXPECT_EQ(v.rule_name, "everyone");
}

TEST_F(PolicyTest, DenyOverridesEarlierAllow) {
  RuleSpec d = deny("no-admin");
  d.paths = {{PathPatternKind::kPrefix, "/admin"}};
  compile({allow("all"), d});
  Verdict v = eval("GET", "/admin/users");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, 1u);
  EXPECT_EQ(v.rule_name, "no-admin");
  EXPECT_TRUE(allowed("GET", "/public"));
}

TEST_F(PolicyTest, DenyOverridesAcrossBuckets) {
  // The allow is account- and method-specific, the deny is in the "any"
  // buckets: the deny must still be found.
  RuleSpec a = allow("acme-get");
  a.methods = {{"GET"}};
  a.accounts = {{"acme"}};
  a.paths = {{PathPatternKind::kPrefix, "/orders"}};
  RuleSpec d = deny("blocked-principal");
  d.principals = {{"mallory"}};
  compile({a, d});
  auth::Identity alice = user("alice", "acme");
  auth::Identity mallory = user("mallory", "acme");
  EXPECT_TRUE(allowed("GET", "/orders/1", &alice));
  Verdict v = eval("GET", "/orders/1", &mallory);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, 1u);
}

TEST_F(PolicyTest, FirstMatchingDenyAndFirstMatchingAllowDecide) {
  RuleSpec a1 = allow("a1");
  a1.methods = {{"GET"}};
  RuleSpec a2 = allow("a2");
  RuleSpec d1 = deny("d1");
  d1.paths = {{PathPatternKind::kExact, "/x"}};
  RuleSpec d2 = deny("d2");
  d2.methods = {{"GET"}};
  d2.paths = {{PathPatternKind::kExact, "/x"}};
  compile({a2, a1, d2, d1});
  EXPECT_EQ(eval("GET", "/y").rule, 0u);
  EXPECT_EQ(eval("GET", "/x").rule, 2u);
  EXPECT_EQ(eval("POST", "/x").rule, 3u);
}

TEST_F(PolicyTest, DefaultDenyWhenNothingMatches) {
  RuleSpec a = allow();
  a.methods = {{"GET"}};
  compile({a});
  Verdict v = eval("POST", "/");
  EXPECT_FALSE(v.allowed);
  EXPECT_TRUE(v.defaultDeny());
  EXPECT_TRUE(v.rule_name.empty());
}

TEST_F(PolicyTest, MethodIsExactAndCaseSensitive) {
  RuleSpec a = allow();
  a.methods = {{"GET", "HEAD"}};
  compile({a});
  EXPECT_TRUE(allowed("GET", "/"));
  EXPECT_TRUE(allowed("HEAD", "/"));
  EXPECT_FALSE(allowed("get", "/"));
  EXPECT_FALSE(allowed("GETX", "/"));
  EXPECT_FALSE(allowed("POST", "/"));
}

TEST_F(PolicyTest, PrincipalAnyOf) {
  RuleSpec a = allow();
  a.principals = {{"alice", "bob"}};
  compile({a});
  auth::Identity alice = user("alice", "");
  auth::Identity bob = user("bob", "");
  auth::Identity eve = user("eve", "");
  EXPECT_TRUE(allowed("GET", "/", &alice));
  EXPECT_TRUE(allowed("GET", "/", &bob));
  EXPECT_FALSE(allowed("GET", "/", &eve));
  EXPECT_FALSE(allowed("GET", "/"));
}

TEST_F(PolicyTest, PrincipalLargeListIsHashed) {
  RuleSpec a = allow();
  a.principals.emplace();
  for (int i = 0; i < 100; ++i) {
    std::string p = "user";
    p += std::to_string(i);
    a.principals->push_back(p);
  }
  compile({a});
  auth::Identity in = user("user42", "");
  auth::Identity out = user("user100", "");
  EXPECT_TRUE(allowed("GET", "/", &in));
  EXPECT_FALSE(allowed("GET", "/", &out));
}

TEST_F(PolicyTest, AccountAnyOf) {
  RuleSpec a = allow("acme-or-globex");
  a.accounts = {{"acme", "globex"}};
  compile({a});
  auth::Identity acme = user("u", "acme");
  auth::Identity globex = user("u", "globex");
  auth::Identity initech = user("u", "initech");
  EXPECT_TRUE(allowed("GET", "/", &acme));
  EXPECT_TRUE(allowed("GET", "/", &globex));
  EXPECT_FALSE(allowed("GET", "/", &initech));
  EXPECT_FALSE(allowed("GET", "/"));
}

TEST_F(PolicyTest, RoleAnyOfCallersRoles) {
  RuleSpec a = allow();
  a.roles = {{"admin", "ops"}};
  compile({a});
  auth::Identity ops = user("u", "");
  ops.roles = {"reader", "ops"};
  auth::Identity reader = user("u", "");
  reader.roles = {"reader"};
  auth::Identity none = user("u", "");
  EXPECT_TRUE(allowed("GET", "/", &ops));
  EXPECT_FALSE(allowed("GET", "/", &reader));
  EXPECT_FALSE(allowed("GET", "/", &none));
}

TEST_F(PolicyTest, ScopesAllRequired) {
  RuleSpec a = allow();
  a.scopes = {{"orders:read", "orders:write"}};
  compile({a});
  auth::Identity both = user("u", "");
  both.scopes = {"orders:write", "x", "orders:read"};
  auth::Identity one = user("u", "");
  one.scopes = {"orders:read"};
  EXPECT_TRUE(allowed("GET", "/", &both));
  EXPECT_FALSE(allowed("GET", "/", &one));
}

TEST_F(PolicyTest, ClaimsAllNamesAnyValue) {
  RuleSpec a = allow();
  a.claims = {{{"tier", {"gold", "silver"}}, {"region", {"eu"}}}};
  compile({a});
  auth::Identity ok = user("u", "");
  ok.claims = {{"tier", "silver"}, {"region", "eu"}};
  auth::Identity array = user("u", "");
  array.claims = {{"tier", "bronze,gold"}, {"region", "us,eu"}};
  auth::Identity wrongTier = user("u", "");
  wrongTier.claims = {{"tier", "bronze"}, {"region", "eu"}};
  auth::Identity missing = user("u", "");
  missing.claims = {{"tier", "gold"}};
  auth::Identity substring = user("u", "");
  substring.claims = {{"tier", "golden"}, {"region", "eu"}};
  EXPECT_TRUE(allowed("GET", "/", &ok));
  EXPECT_TRUE(allowed("GET", "/", &array));
  EXPECT_FALSE(allowed("GET", "/", &wrongTier));
  EXPECT_FALSE(allowed("GET", "/", &missing));
  EXPECT_FALSE(allowed("GET", "/", &substring));
}

TEST_F(PolicyTest, AllConditionsMustHold) {
  RuleSpec a = allow();
  a.methods = {{"POST"}};
  a.accounts = {{"acme"}};
  a.roles = {{"writer"}};
  a.paths = {{PathPatternKind::kPrefix, "/orders"}};
  compile({a});
  auth::Identity writer = user("u", "acme");
  writer.roles = {"writer"};
  auth::Identity other = user("u", "globex");
  other.roles = {"writer"};
  EXPECT_TRUE(allowed("POST", "/orders", &writer));
  EXPECT_FALSE(allowed("GET", "/orders", &writer));
  EXPECT_FALSE(allowed("POST", "/invoices", &writer));
  EXPECT_FALSE(allowed("POST", "/orders", &other));
}

TEST_F(PolicyTest, AuthenticatedTrueAndFalse) {
  RuleSpec anon = allow("anonymous-health");
  anon.authenticated = false;
  anon.paths = {{PathPatternKind::kExact, "/health"}};
  RuleSpec authed = allow("any-authenticated");
  authed.authenticated = true;
  authed.paths = {{PathPatternKind::kPrefix, "/api"}};
  compile({anon, authed});
  auth::Identity u = user("u", "a");
  auth::Identity none;  // kind kNone: anonymous even when not null
  none.principal = "ghost";
  EXPECT_TRUE(allowed("GET", "/health"));
  EXPECT_TRUE(allowed("GET", "/health", &none));
  EXPECT_FALSE(allowed("GET", "/health", &u));
  EXPECT_TRUE(allowed("GET", "/api/x", &u));
  EXPECT_FALSE(allowed("GET", "/api/x"));
  EXPECT_FALSE(allowed("GET", "/api/x", &none));
}

TEST_F(PolicyTest, IdentityConditionsNeverMatchAnonymousKindNone) {
  RuleSpec a = allow();
  a.principals = {{"ghost"}};
  RuleSpec b = allow();
  b.accounts = {{""}};
  compile({a, b});
  auth::Identity none;
  none.principal = "ghost";
  EXPECT_FALSE(allowed("GET", "/", &none));
}

TEST_F(PolicyTest, SourceCidrAnyOf) {
  RuleSpec a = allow();
  a.sources = {{"10.0.0.0/8", "2001:db8::/32"}};
  compile({a});
  auto in4 = net::SocketAddress::parseNumeric("10.1.2.3:5000");
  auto out4 = net::SocketAddress::parseNumeric("11.1.2.3:5000");
  auto in6 = net::SocketAddress::parseNumeric("[2001:db8::1]:5000");
  auto out6 = net::SocketAddress::parseNumeric("[2001:db9::1]:5000");
  ASSERT_TRUE(in4 && out4 && in6 && out6);
  EXPECT_TRUE(allowed("GET", "/", nullptr, &*in4));
  EXPECT_FALSE(allowed("GET", "/", nullptr, &*out4));
  EXPECT_TRUE(allowed("GET", "/", nullptr, &*in6));
  EXPECT_FALSE(allowed("GET", "/", nullptr, &*out6));
  EXPECT_FALSE(allowed("GET", "/"));  // no peer: a source condition cannot hold
}

TEST_F(PolicyTest, SourceIpv4MappedPeerMatchesIpv4Range) {
  RuleSpec d = deny("blocked-net");
  d.sources = {{"192.0.2.0/24"}};
  compile({d, allow("rest")});
  auto mapped = net::SocketAddress::parseNumeric("[::ffff:192.0.2.7]:443");
  auto other = net::SocketAddress::parseNumeric("[::ffff:198.51.100.7]:443");
  ASSERT_TRUE(mapped && other);
  Verdict v = eval("GET", "/", nullptr, &*mapped);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, 0u);
  EXPECT_TRUE(allowed("GET", "/", nullptr, &*other));
}

TEST_F(PolicyTest, ParseAttribute) {
  EXPECT_EQ(parseAttribute("account"), Attribute::kAccount);
  EXPECT_EQ(parseAttribute("principal"), Attribute::kPrincipal);
  EXPECT_EQ(parseAttribute("issuer"), Attribute::kIssuer);
  EXPECT_FALSE(parseAttribute("Account").has_value());
}

TEST_F(PolicyTest, FirstSegmentIndexOffGivesSameDecisions) {
  RuleSpec a = allow("orders");
  a.paths = {{PathPatternKind::kPrefix, "/orders"}};
  RuleSpec d = deny("glob");
  d.paths = {{PathPatternKind::kGlob, "/**/secret"}};
  spec_.rules = {a, d};
  Policy unindexed;
  std::string error;
  ASSERT_TRUE(unindexed.compile(spec_, nullptr, &error, CompileOptions{false}));
  ASSERT_TRUE(policy_.compile(spec_, nullptr, &error));
  for (std::string_view path : {"/orders", "/orders/secret", "/x/secret", "/ordersx", "/"}) {
    Request r{"GET", path, nullptr, nullptr};
    EXPECT_EQ(unindexed.evaluate(r), policy_.evaluate(r)) << path;
    EXPECT_EQ(evaluateNaive(spec_, r), policy_.evaluate(r)) << path;
  }
}

TEST_F(PolicyTest, EvaluateDoesNotAllocate) {
  RuleSpec d = deny("internal");
  d.paths = {{PathPatternKind::kGlob, "/**/internal/**"}};
  d.sources = {{"192.0.2.0/24"}};
  RuleSpec a = allow("own-account");
  a.methods = {{"GET"}};
  a.accounts = {{"acme", "globex"}};
  a.paths = {{PathPatternKind::kGlob, "/t/{account}/**"}};
  a.param_equals = {{"account", Attribute::kAccount}};
  a.claims = {{{"tier", {"gold"}}}};
  a.scopes = {{"read"}};
  RuleSpec many = allow("many");
  many.principals.emplace();
  for (int i = 0; i < 50; ++i) many.principals->push_back(std::to_string(i));
  compile({d, a, many});
  auth::Identity id = user("alice", "acme");
  id.scopes = {"read"};
  id.claims = {{"tier", "silver,gold"}};
  auto peer = net::SocketAddress::parseNumeric("[::ffff:198.51.100.1]:1");
  std::string longPath;
  for (int i = 0; i < 100; ++i) longPath += "/t/acme";
  const char* paths[] = {"/t/acme/x", "/t/globex/x", "/a/internal/b", "/", "*"};
  size_t before = g_allocations;
  int allowedCount = 0;
  for (int round = 0; round < 100; ++round) {
    for (const char* path : paths) {
      allowedCount += policy_.evaluate(Request{"GET", path, &id, &*peer}).allowed ? 1 : 0;
    }
    allowedCount += policy_.evaluate(Request{"GET", longPath, &id, &*peer}).allowed ? 1 : 0;
    allowedCount += policy_.evaluate(Request{"GET", "/t/acme", nullptr, nullptr}).allowed ? 1 : 0;
  }
  EXPECT_EQ(g_allocations, before);
  EXPECT_EQ(allowedCount, 200);
}

TEST_F(PolicyTest, MoveKeepsRules) {
  compile({allow("a")});
  Policy moved = std::move(policy_);
  EXPECT_EQ(moved.ruleCount(), 1u);
  EXPECT_TRUE(moved.evaluate(Request{"GET", "/", nullptr, nullptr}).allowed);
}

}  // namespace
}  // namespace rampart::policy
