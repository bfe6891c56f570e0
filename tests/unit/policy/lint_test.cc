// Compile errors (each names the rule index) and warnings: never-matching
// rules, non-canonical patterns, shadowed rules.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/policy.h"

namespace rampart::policy {
namespace {

RuleSpec rule(Effect effect) {
  RuleSpec r;
  r.effect = effect;
  return r;
}

RuleSpec globRule(std::string pattern) {
  RuleSpec r = rule(Effect::kAllow);
  r.paths = {{PathPatternKind::kGlob, std::move(pattern)}};
  return r;
}

// Compiles `rules` after an unconditioned-free first rule so that indexes
// in messages are not all 0; returns the error ("" when it compiled).
std::string compileError(std::vector<RuleSpec> rules) {
  RuleSpec first = rule(Effect::kAllow);
  first.methods = {{"GET"}};
  rules.insert(rules.begin(), first);
  PolicySpec spec{rules};
  Policy policy;
  std::string error;
  bool ok = policy.compile(spec, nullptr, &error);
  EXPECT_EQ(ok, error.empty());
  if (!ok) {
    EXPECT_FALSE(policy.evaluate(Request{"GET", "/", nullptr, nullptr}).allowed)
        << "a failed compile leaves a deny-all policy";
  }
  return error;
}

std::vector<CompileWarning> warningsOf(std::vector<RuleSpec> rules) {
  PolicySpec spec{std::move(rules)};
  Policy policy;
  std::string error;
  std::vector<CompileWarning> warnings;
  EXPECT_TRUE(policy.compile(spec, &warnings, &error)) << error;
  return warnings;
}

bool hasWarning(const std::vector<CompileWarning>& warnings, uint32_t index,
                std::string_view text) {
  for (const CompileWarning& w : warnings) {
    if (w.rule == index && w.message.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string dump(const std::vector<CompileWarning>& warnings) {
  std::string out;
  for (const CompileWarning& w : warnings) {
    out += w.message;
    out += "\n";
  }
  return out;
}

TEST(PolicyCompileErrorTest, DoubleStarNotWholeSegment) {
  std::string error = compileError({globRule("/a/**b")});
  EXPECT_NE(error.find("rule 1"), std::string::npos) << error;
  EXPECT_NE(error.find("'**' must be a whole segment"), std::string::npos) << error;
  EXPECT_NE(compileError({globRule("/a**/b")}), "");
}

TEST(PolicyCompileErrorTest, StarNotWholeSegment) {
  std::string error = compileError({globRule("/files/*.txt")});
  EXPECT_NE(error.find("'*' must be a whole segment"), std::string::npos) << error;
}

TEST(PolicyCompileErrorTest, UnclosedBrace) {
  std::string error = compileError({globRule("/accounts/{account/orders")});
  EXPECT_NE(error.find("rule 1"), std::string::npos) << error;
  EXPECT_NE(error.find("unclosed '{'"), std::string::npos) << error;
}

TEST(PolicyCompileErrorTest, BraceInsideSegmentAndBadName) {
  EXPECT_NE(compileError({globRule("/a/x{id}")}).find("whole segment"), std::string::npos);
  EXPECT_NE(compileError({globRule("/a/{}")}).find("bad parameter name"), std::string::npos);
  EXPECT_NE(compileError({globRule("/a/{a-b}")}).find("bad parameter name"), std::string::npos);
}

TEST(PolicyCompileErrorTest, DuplicateParamName) {
  std::string error = compileError({globRule("/{id}/x/{id}")});
  EXPECT_NE(error.find("rule 1"), std::string::npos) << error;
  EXPECT_NE(error.find("duplicate parameter '{id}'"), std::string::npos) << error;
}

TEST(PolicyCompileErrorTest, UnknownParamInParamEquals) {
  RuleSpec r = globRule("/accounts/{account}/orders");
  r.param_equals = {{"acct", Attribute::kAccount}};
  std::string error = compileError({r});
  EXPECT_NE(error.find("rule 1"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown parameter 'acct'"), std::string::npos) << error;
}

TEST(PolicyCompileErrorTest, ParamMissingFromOnePattern) {
  RuleSpec r = globRule("/accounts/{account}/orders");
  r.paths->push_back({PathPatternKind::kPrefix, "/public"});
  r.param_equals = {{"account", Attribute::kAccount}};
  EXPECT_NE(compileError({r}).find("unknown parameter 'account'"), std::string::npos);
}

TEST(PolicyCompileErrorTest, ParamEqualsWithoutPaths) {
  RuleSpec r = rule(Effect::kAllow);
  r.param_equals = {{"account", Attribute::kAccount}};
  EXPECT_NE(compileError({r}).find("no path pattern"), std::string::npos);
}

TEST(PolicyCompileErrorTest, DuplicateParamEquals) {
  RuleSpec r = globRule("/a/{account}");
  r.param_equals = {{"account", Attribute::kAccount}, {"account", Attribute::kPrincipal}};
  EXPECT_NE(compileError({r}).find("twice"), std::string::npos);
}

TEST(PolicyCompileErrorTest, BadCidr) {
  RuleSpec r = rule(Effect::kDeny);
  r.sources = {{"10.0.0.0/33"}};
  std::string error = compileError({r});
  EXPECT_NE(error.find("rule 1"), std::string::npos) << error;
  EXPECT_NE(error.find("bad CIDR"), std::string::npos) << error;
}

TEST(PolicyCompileErrorTest, ErrorNamesRuleName) {
  RuleSpec r = globRule("/{");
  r.name = "broken";
  EXPECT_NE(compileError({r}).find("rule 1 (broken)"), std::string::npos);
}

TEST(PolicyWarningTest, CleanPolicyHasNoWarnings) {
  RuleSpec a = rule(Effect::kAllow);
  a.methods = {{"GET"}};
  a.paths = {{PathPatternKind::kPrefix, "/api"}};
  RuleSpec b = rule(Effect::kAllow);
  b.methods = {{"POST"}};
  b.paths = {{PathPatternKind::kPrefix, "/api"}};
  RuleSpec d = rule(Effect::kDeny);
  d.paths = {{PathPatternKind::kGlob, "/api/*/internal/**"}};
  auto warnings = warningsOf({a, b, d});
  EXPECT_TRUE(warnings.empty()) << dump(warnings);
}

TEST(PolicyWarningTest, AuthenticatedFalseWithIdentityConditions) {
  std::vector<RuleSpec> rules;
  for (int which = 0; which < 6; ++which) {
    RuleSpec r = rule(Effect::kAllow);
    r.authenticated = false;
    r.methods = {{std::string(1, static_cast<char>('A' + which))}};  // keep them unshadowed
    if (which == 0) r.principals = {{"p"}};
    if (which == 1) r.accounts = {{"a"}};
    if (which == 2) r.roles = {{"r"}};
    if (which == 3) r.scopes = {{"s"}};
    if (which == 4) r.claims = {{{"c", {"v"}}}};
    if (which == 5) {
      r.paths = {{PathPatternKind::kGlob, "/a/{account}"}};
      r.param_equals = {{"account", Attribute::kAccount}};
    }
    rules.push_back(r);
  }
  auto warnings = warningsOf(rules);
  for (uint32_t i = 0; i < 6; ++i) {
    EXPECT_TRUE(hasWarning(warnings, i, "'authenticated: false' with an identity condition"))
        << i << "\n"
        << dump(warnings);
  }
  RuleSpec fine = rule(Effect::kAllow);
  fine.authenticated = false;
  fine.methods = {{"GET"}};
  EXPECT_TRUE(warningsOf({fine}).empty());
}

TEST(PolicyWarningTest, EmptyListsNeverMatch) {
  const char* names[] = {"principals", "accounts", "roles", "scopes",
                         "claims",     "methods",  "paths", "sources"};
  for (int which = 0; which < 8; ++which) {
    RuleSpec r = rule(Effect::kAllow);
    if (which == 0) r.principals.emplace();
    if (which == 1) r.accounts.emplace();
    if (which == 2) r.roles.emplace();
    if (which == 3) r.scopes.emplace();
    if (which == 4) r.claims.emplace();
    if (which == 5) r.methods.emplace();
    if (which == 6) r.paths.emplace();
    if (which == 7) r.sources.emplace();
    PolicySpec spec{{r}};
    Policy policy;
    std::string error;
    std::vector<CompileWarning> warnings;
    ASSERT_TRUE(policy.compile(spec, &warnings, &error)) << error;
    std::string want = "empty '";
    want += names[which];
    want += "' list";
    EXPECT_TRUE(hasWarning(warnings, 0, want)) << names[which] << "\n" << dump(warnings);
    // ...and it really never matches, even for a caller holding everything.
    auth::Identity id;
    id.kind = auth::CredentialKind::kJwt;
    id.principal = "p";
    auto peer = net::SocketAddress::parseNumeric("10.0.0.1:1");
    Request request{"GET", "/", &id, &*peer};
    EXPECT_FALSE(policy.evaluate(request).allowed) << names[which];
    EXPECT_FALSE(evaluateNaive(spec, request).allowed) << names[which];
  }
}

TEST(PolicyWarningTest, ClaimWithoutValues) {
  RuleSpec r = rule(Effect::kAllow);
  r.claims = {{{"tier", {}}}};
  EXPECT_TRUE(hasWarning(warningsOf({r}), 0, "claim 'tier' has no values"));
}

TEST(PolicyWarningTest, NonCanonicalPatterns) {
  const char* bad[] = {"api/x", "/a//b", "/a/./b", "/a/../b", "/a/..", ""};
  for (PathPatternKind kind :
       {PathPatternKind::kExact, PathPatternKind::kPrefix, PathPatternKind::kGlob}) {
    for (const char* text : bad) {
      RuleSpec r = rule(Effect::kAllow);
      r.paths = {{kind, text}};
      auto warnings = warningsOf({r});
      EXPECT_TRUE(hasWarning(warnings, 0, "is not canonical"))
          << static_cast<int>(kind) << " '" << text << "'\n"
          << dump(warnings);
    }
  }
  RuleSpec root = rule(Effect::kAllow);
  root.paths = {{PathPatternKind::kPrefix, "/"}, {PathPatternKind::kExact, "/a/b/"}};
  EXPECT_TRUE(warningsOf({root}).empty());
}

TEST(PolicyWarningTest, LiteralWildcardInExactPattern) {
  RuleSpec r = rule(Effect::kAllow);
  r.paths = {{PathPatternKind::kExact, "/a/*"}};
  EXPECT_TRUE(hasWarning(warningsOf({r}), 0, "matched literally"));
}

TEST(PolicyWarningTest, ShadowedByUnconditionedEarlierRule) {
  RuleSpec all = rule(Effect::kAllow);
  RuleSpec later = rule(Effect::kAllow);
  later.methods = {{"GET"}};
  later.paths = {{PathPatternKind::kExact, "/x"}};
  auto warnings = warningsOf({all, later});
  EXPECT_TRUE(hasWarning(warnings, 1, "shadowed by rule 0")) << dump(warnings);
}

TEST(PolicyWarningTest, ShadowedByEarlierDenyWithBroaderConditions) {
  RuleSpec d = rule(Effect::kDeny);
  d.name = "no-admin";
  d.paths = {{PathPatternKind::kGlob, "/admin/**"}, {PathPatternKind::kPrefix, "/internal"}};
  d.methods = {{"GET", "POST"}};
  RuleSpec a = rule(Effect::kAllow);
  a.paths = {{PathPatternKind::kGlob, "/admin/**"}, {PathPatternKind::kExact, "/internal/x"}};
  a.methods = {{"GET"}};
  a.accounts = {{"acme"}};
  a.roles = {{"admin"}};
  auto warnings = warningsOf({d, a});
  EXPECT_TRUE(hasWarning(warnings, 1, "shadowed by rule 0 (no-admin), a deny")) << dump(warnings);
}

TEST(PolicyWarningTest, ShadowingCases) {
  auto shadowed = [](RuleSpec earlier, RuleSpec later) {
    return hasWarning(warningsOf({earlier, later}), 1, "shadowed");
  };
  RuleSpec base = rule(Effect::kAllow);
  // Same lists.
  RuleSpec a = base;
  RuleSpec b = base;
  a.roles = {{"x", "y"}};
  b.roles = {{"y"}};
  EXPECT_TRUE(shadowed(a, b));
  EXPECT_FALSE(shadowed(b, a));
  // Scopes: fewer required is broader.
  a = base;
  b = base;
  a.scopes = {{"s1"}};
  b.scopes = {{"s1", "s2"}};
  EXPECT_TRUE(shadowed(a, b));
  EXPECT_FALSE(shadowed(b, a));
  // Claims.
  a = base;
  b = base;
  a.claims = {{{"tier", {"gold", "silver"}}}};
  b.claims = {{{"tier", {"gold"}}, {"region", {"eu"}}}};
  EXPECT_TRUE(shadowed(a, b));
  EXPECT_FALSE(shadowed(b, a));
  // CIDRs compared normalised.
  a = base;
  b = base;
  a.sources = {{"10.1.2.3/8", "192.0.2.0/24"}};
  b.sources = {{"10.0.0.0/8"}};
  EXPECT_TRUE(shadowed(a, b));
  b.sources = {{"10.1.0.0/16"}};  // inside, but not recognised: conservative
  EXPECT_FALSE(shadowed(a, b));
  // "/**" and prefix "/" cover any rooted pattern; a prefix covers longer ones.
  a = base;
  b = base;
  a.paths = {{PathPatternKind::kGlob, "/**"}};
  b.paths = {{PathPatternKind::kGlob, "/x/{id}"}};
  EXPECT_TRUE(shadowed(a, b));
  a.paths = {{PathPatternKind::kPrefix, "/api"}};
  b.paths = {{PathPatternKind::kPrefix, "/api/v1"}, {PathPatternKind::kExact, "/api"}};
  EXPECT_TRUE(shadowed(a, b));
  b.paths = {{PathPatternKind::kPrefix, "/apix"}};
  EXPECT_FALSE(shadowed(a, b));
  // A path condition never covers a rule without one.
  b = base;
  EXPECT_FALSE(shadowed(a, b));
  // authenticated: true covers a rule with identity conditions.
  a = base;
  b = base;
  a.authenticated = true;
  b.principals = {{"p"}};
  EXPECT_TRUE(shadowed(a, b));
  a.authenticated = false;
  EXPECT_FALSE(shadowed(a, b));
  // An earlier allow never shadows a later deny (deny overrides)...
  a = base;
  b = rule(Effect::kDeny);
  EXPECT_FALSE(shadowed(a, b));
  // ...but an earlier deny shadows a later deny or allow.
  a = rule(Effect::kDeny);
  EXPECT_TRUE(shadowed(a, rule(Effect::kDeny)));
  EXPECT_TRUE(shadowed(a, base));
  // param_equals: the earlier rule's constraints must bind the later too.
  a = base;
  b = base;
  a.paths = {{PathPatternKind::kGlob, "/t/{account}/**"}};
  a.param_equals = {{"account", Attribute::kAccount}};
  b.paths = a.paths;
  EXPECT_FALSE(shadowed(a, b));
  b.param_equals = a.param_equals;
  EXPECT_TRUE(shadowed(a, b));
  // A rule that never matches shadows nothing.
  a = base;
  a.methods.emplace();
  EXPECT_FALSE(shadowed(a, base));
}

}  // namespace
}  // namespace rampart::policy
