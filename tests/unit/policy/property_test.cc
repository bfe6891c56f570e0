// Property test: on random policies over small pools of values (so that
// rules match often), Policy::evaluate decides exactly as the naive
// reference evaluator, with and without the first-segment index. Fixed
// seed; a disagreement prints the policy and the request.
#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace rampart::policy {
namespace {

constexpr int kPolicies = 200;
constexpr int kRequestsPerPolicy = 500;

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  uint64_t below(uint64_t n) { return rng_() % n; }
  bool chance(int percent) { return below(100) < static_cast<uint64_t>(percent); }
  template <typename T>
  const T& pick(const std::vector<T>& pool) {
    return pool[below(pool.size())];
  }
  // 1-3 distinct-ish values from `pool`; rarely an empty list.
  std::vector<std::string> list(const std::vector<std::string>& pool) {
    std::vector<std::string> out;
    if (chance(3)) return out;
    size_t n = 1 + below(3);
    for (size_t i = 0; i < n; ++i) out.push_back(pick(pool));
    return out;
  }
  std::optional<std::vector<std::string>> maybeList(int percent,
                                                    const std::vector<std::string>& pool) {
    if (!chance(percent)) return std::nullopt;
    return list(pool);
  }

 private:
  std::mt19937_64 rng_;
};

const std::vector<std::string> kMethods = {"GET", "POST", "PUT", "DELETE"};
const std::vector<std::string> kAccounts = {"a0", "a1", "a2", "a3"};
const std::vector<std::string> kPrincipals = {"p0", "p1", "p2", "p3"};
const std::vector<std::string> kRoles = {"r0", "r1", "r2"};
const std::vector<std::string> kScopes = {"s0", "s1", "s2"};
const std::vector<std::string> kClaimNames = {"c0", "c1"};
const std::vector<std::string> kClaimValues = {"v0", "v1", "v2"};
const std::vector<std::string> kSources = {"10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24",
                                           "2001:db8::/32", "::ffff:10.1.0.0/112"};
const std::vector<std::string> kPeers = {"10.1.2.3:1",          "10.2.0.1:1",      "192.0.2.9:1",
                                         "[::ffff:10.1.0.5]:1", "[2001:db8::1]:1", "8.8.8.8:1"};
const std::vector<std::string> kSegments = {"a", "b", "c", "x", "a0", "a1", "p0", "p1", ""};
const std::vector<PathPattern> kPatterns = {
    {PathPatternKind::kExact, "/a"},      {PathPatternKind::kExact, "/a/b"},
    {PathPatternKind::kExact, "/"},       {PathPatternKind::kExact, "/b/c/x"},
    {PathPatternKind::kPrefix, "/a"},     {PathPatternKind::kPrefix, "/a/"},
    {PathPatternKind::kPrefix, "/b"},     {PathPatternKind::kPrefix, "/"},
    {PathPatternKind::kPrefix, "/a/b"},   {PathPatternKind::kGlob, "/a/*"},
    {PathPatternKind::kGlob, "/**"},      {PathPatternKind::kGlob, "/**/b"},
    {PathPatternKind::kGlob, "/a/**"},    {PathPatternKind::kGlob, "/{x}/b"},
    {PathPatternKind::kGlob, "/*/*/**"},  {PathPatternKind::kGlob, "/a/**/c/*"},
    {PathPatternKind::kGlob, "/"},        {PathPatternKind::kGlob, "/**/x/**/b"},
    {PathPatternKind::kGlob, "/x/{y}/**"}};
// Patterns that all declare {account} (for param_equals: account) or {who}.
const std::vector<std::string> kAccountPatterns = {"/a/{account}/**", "/{account}",
                                                   "/**/{account}/x", "/**/{account}/**"};
const std::vector<std::string> kPrincipalPatterns = {"/{who}/**", "/b/{who}", "/**/{who}"};

RuleSpec randomRule(Gen& g, int index) {
  RuleSpec r;
  if (g.chance(50)) {
    r.name = "r";
    r.name += std::to_string(index);
  }
  r.effect = g.chance(35) ? Effect::kDeny : Effect::kAllow;
  r.methods = g.maybeList(40, kMethods);
  r.accounts = g.maybeList(30, kAccounts);
  r.principals = g.maybeList(15, kPrincipals);
  r.roles = g.maybeList(20, kRoles);
  r.scopes = g.maybeList(15, kScopes);
  if (g.chance(15)) {
    r.claims.emplace();
    size_t n = g.below(3);
    for (size_t i = 0; i < n; ++i) r.claims->push_back({g.pick(kClaimNames), g.list(kClaimValues)});
  }
  r.sources = g.maybeList(15, kSources);
  if (g.chance(12)) r.authenticated = g.chance(50);
  uint64_t paths = g.below(100);
  if (paths < 45) {
    r.paths.emplace();
    size_t n = g.chance(3) ? 0 : 1 + g.below(2);
    for (size_t i = 0; i < n; ++i) r.paths->push_back(g.pick(kPatterns));
  } else if (paths < 55) {
    r.paths = {{PathPatternKind::kGlob, g.pick(kAccountPatterns)}};
    if (g.chance(30)) r.paths->push_back({PathPatternKind::kGlob, g.pick(kAccountPatterns)});
    r.param_equals = {{"account", g.chance(80) ? Attribute::kAccount : Attribute::kPrincipal}};
  } else if (paths < 62) {
    r.paths = {{PathPatternKind::kGlob, g.pick(kPrincipalPatterns)}};
    r.param_equals = {{"who", g.chance(80) ? Attribute::kPrincipal : Attribute::kAccount}};
  }
  return r;
}

struct RandomRequest {
  std::string method;
  std::string path;
  std::optional<auth::Identity> identity;
  std::optional<net::SocketAddress> peer;

  Request view() const {
    return Request{method, path, identity ? &*identity : nullptr, peer ? &*peer : nullptr};
  }
};

RandomRequest randomRequest(Gen& g) {
  RandomRequest r;
  r.method = g.chance(95) ? g.pick(kMethods) : "get";
  size_t segments = g.below(6);
  for (size_t i = 0; i < segments; ++i) {
    r.path += "/";
    r.path += g.pick(kSegments);
  }
  if (r.path.empty() || g.chance(5)) r.path += "/";
  if (g.chance(2)) r.path = "*";
  if (g.chance(2)) {  // longer than the split buffer: walked in place
    for (int i = 0; i < 70; ++i) {
      r.path += "/";
      r.path += g.pick(kSegments);
    }
  }
  uint64_t kind = g.below(100);
  if (kind >= 15) {
    auth::Identity id;
    id.kind = kind < 20 ? auth::CredentialKind::kNone : auth::CredentialKind::kJwt;
    id.issuer = "iss";
    id.principal = g.pick(kPrincipals);
    id.account = g.chance(90) ? g.pick(kAccounts) : "";
    if (g.chance(10)) id.account = id.principal;
    for (const std::string& role : kRoles) {
      if (g.chance(40)) id.roles.push_back(role);
    }
    for (const std::string& scope : kScopes) {
      if (g.chance(50)) id.scopes.push_back(scope);
    }
    for (const std::string& name : kClaimNames) {
      if (!g.chance(60)) continue;
      std::string value = g.pick(kClaimValues);
      if (g.chance(30)) {
        value += ",";
        value += g.pick(kClaimValues);
      }
      id.claims.emplace_back(name, value);
    }
    r.identity = std::move(id);
  }
  if (g.chance(90)) r.peer = net::SocketAddress::parseNumeric(g.pick(kPeers));
  return r;
}

std::string listText(const std::optional<std::vector<std::string>>& list) {
  if (!list) return "-";
  std::string out = "[";
  for (const std::string& v : *list) {
    out += v;
    out += " ";
  }
  return out + "]";
}

std::string describe(const PolicySpec& spec) {
  std::ostringstream out;
  const char* kinds[] = {"exact", "prefix", "glob"};
  for (size_t i = 0; i < spec.rules.size(); ++i) {
    const RuleSpec& r = spec.rules[i];
    out << "  #" << i << " " << (r.effect == Effect::kDeny ? "deny" : "allow")
        << " methods=" << listText(r.methods) << " accounts=" << listText(r.accounts)
        << " principals=" << listText(r.principals) << " roles=" << listText(r.roles)
        << " scopes=" << listText(r.scopes) << " sources=" << listText(r.sources);
    if (r.authenticated) out << " authenticated=" << *r.authenticated;
    if (r.claims) {
      out << " claims={";
      for (const ClaimMatch& c : *r.claims) out << c.name << ":" << listText(c.values) << " ";
      out << "}";
    }
    if (r.paths) {
      out << " paths=[";
      for (const PathPattern& p : *r.paths) {
        out << kinds[static_cast<int>(p.kind)] << ":" << p.pattern << " ";
      }
      out << "]";
    }
    for (const ParamEquals& e : r.param_equals) {
      out << " param_equals{" << e.param << "=" << static_cast<int>(e.attribute) << "}";
    }
    out << "\n";
  }
  return out.str();
}

std::string describe(const RandomRequest& r) {
  std::ostringstream out;
  out << r.method << " " << r.path << " peer=" << (r.peer ? r.peer->toString() : "none");
  if (!r.identity) {
    out << " identity=null";
  } else {
    const auth::Identity& id = *r.identity;
    out << " kind=" << static_cast<int>(id.kind) << " principal=" << id.principal
        << " account=" << id.account << " roles=" << listText(id.roles)
        << " scopes=" << listText(id.scopes) << " claims={";
    for (const auto& [name, value] : id.claims) out << name << "=" << value << " ";
    out << "}";
  }
  return out.str();
}

TEST(PolicyPropertyTest, CompiledMatchesNaive) {
  Gen g(20240611);
  int ruleAllows = 0;
  int ruleDenies = 0;
  int defaults = 0;
  int failures = 0;
  for (int p = 0; p < kPolicies && failures < 5; ++p) {
    PolicySpec spec;
    int rules = 1 + static_cast<int>(g.below(30));
    for (int i = 0; i < rules; ++i) spec.rules.push_back(randomRule(g, i));
    Policy indexed;
    Policy flat;
    std::string error;
    std::vector<CompileWarning> warnings;
    ASSERT_TRUE(indexed.compile(spec, &warnings, &error)) << error << "\n" << describe(spec);
    ASSERT_TRUE(flat.compile(spec, nullptr, &error, CompileOptions{false})) << error;
    for (int q = 0; q < kRequestsPerPolicy && failures < 5; ++q) {
      RandomRequest request = randomRequest(g);
      Verdict want = evaluateNaive(spec, request.view());
      Verdict got = indexed.evaluate(request.view());
      Verdict gotFlat = flat.evaluate(request.view());
      if (got != want || gotFlat != want || got.rule_name != want.rule_name) {
        ++failures;
        ADD_FAILURE() << "policy " << p << " request " << q << ": naive "
                      << (want.allowed ? "allow" : "deny") << " by " << static_cast<int>(want.rule)
                      << ", compiled " << (got.allowed ? "allow" : "deny") << " by "
                      << static_cast<int>(got.rule) << ", unindexed "
                      << (gotFlat.allowed ? "allow" : "deny") << " by "
                      << static_cast<int>(gotFlat.rule) << "\nrequest: " << describe(request)
                      << "\npolicy:\n"
                      << describe(spec);
      }
      if (want.defaultDeny()) {
        ++defaults;
      } else if (want.allowed) {
        ++ruleAllows;
      } else {
        ++ruleDenies;
      }
    }
  }
  // The pools must make rules decide often, or the test proves little.
  const int total = kPolicies * kRequestsPerPolicy;
  EXPECT_GT(ruleAllows, total / 10) << ruleAllows << " allows by rule";
  EXPECT_GT(ruleDenies, total / 10) << ruleDenies << " denies by rule";
  EXPECT_GT(defaults, total / 20) << defaults << " default denies";
  std::cout << "[ property ] " << ruleAllows << " rule allows, " << ruleDenies << " rule denies, "
            << defaults << " default denies\n";
}

}  // namespace
}  // namespace rampart::policy
