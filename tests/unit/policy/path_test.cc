// Path conditions: exact, prefix on segment boundaries, "*", "**" at the
// start, middle and end, params and param_equals, very long paths.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/path_pattern.h"
#include "policy/policy.h"

namespace rampart::policy {
namespace {

class PathTest : public ::testing::Test {
 protected:
  void compileAllow(PathPatternKind kind, std::string pattern,
                    std::vector<ParamEquals> equals = {}) {
    RuleSpec rule;
    rule.effect = Effect::kAllow;
    rule.paths = {{kind, std::move(pattern)}};
    rule.param_equals = std::move(equals);
    spec_.rules = {rule};
    std::string error;
    ASSERT_TRUE(policy_.compile(spec_, nullptr, &error)) << error;
  }
  bool allowed(std::string_view path, const auth::Identity* id = nullptr) {
    Request request{"GET", path, id, nullptr};
    Verdict fast = policy_.evaluate(request);
    EXPECT_EQ(fast, evaluateNaive(spec_, request)) << path;
    return fast.allowed;
  }

  PolicySpec spec_;
  Policy policy_;
};

TEST_F(PathTest, Exact) {
  compileAllow(PathPatternKind::kExact, "/a/b");
  EXPECT_TRUE(allowed("/a/b"));
  EXPECT_FALSE(allowed("/a/b/"));
  EXPECT_FALSE(allowed("/a/bc"));
  EXPECT_FALSE(allowed("/a"));
  EXPECT_FALSE(allowed("/A/b"));
}

TEST_F(PathTest, ExactRoot) {
  compileAllow(PathPatternKind::kExact, "/");
  EXPECT_TRUE(allowed("/"));
  EXPECT_FALSE(allowed("/a"));
}

TEST_F(PathTest, PrefixOnSegmentBoundary) {
  compileAllow(PathPatternKind::kPrefix, "/api");
  EXPECT_TRUE(allowed("/api"));
  EXPECT_TRUE(allowed("/api/"));
  EXPECT_TRUE(allowed("/api/x/y"));
  EXPECT_FALSE(allowed("/apix"));
  EXPECT_FALSE(allowed("/ap"));
  EXPECT_FALSE(allowed("/"));
}

TEST_F(PathTest, PrefixWithTrailingSlash) {
  compileAllow(PathPatternKind::kPrefix, "/api/");
  EXPECT_TRUE(allowed("/api/"));
  EXPECT_TRUE(allowed("/api/x"));
  EXPECT_FALSE(allowed("/api"));
  EXPECT_FALSE(allowed("/apix"));
}

TEST_F(PathTest, PrefixRootMatchesEverything) {
  compileAllow(PathPatternKind::kPrefix, "/");
  EXPECT_TRUE(allowed("/"));
  EXPECT_TRUE(allowed("/anything/at/all"));
}

TEST_F(PathTest, StarIsExactlyOneNonEmptySegment) {
  compileAllow(PathPatternKind::kGlob, "/users/*/profile");
  EXPECT_TRUE(allowed("/users/42/profile"));
  EXPECT_FALSE(allowed("/users/profile"));
  EXPECT_FALSE(allowed("/users/4/2/profile"));
  EXPECT_FALSE(allowed("/users//profile"));
  EXPECT_FALSE(allowed("/users/42/profile/x"));
}

TEST_F(PathTest, DoubleStarAtEnd) {
  compileAllow(PathPatternKind::kGlob, "/admin/**");
  EXPECT_TRUE(allowed("/admin"));
  EXPECT_TRUE(allowed("/admin/"));
  EXPECT_TRUE(allowed("/admin/x"));
  EXPECT_TRUE(allowed("/admin/x/y"));
  EXPECT_FALSE(allowed("/adminx"));
  EXPECT_FALSE(allowed("/"));
}

TEST_F(PathTest, DoubleStarAtStart) {
  compileAllow(PathPatternKind::kGlob, "/**/secret");
  EXPECT_TRUE(allowed("/secret"));
  EXPECT_TRUE(allowed("/a/secret"));
  EXPECT_TRUE(allowed("/a/b/c/secret"));
  EXPECT_TRUE(allowed("/secret/secret"));
  EXPECT_FALSE(allowed("/secret/x"));
  EXPECT_FALSE(allowed("/a/secrets"));
}

TEST_F(PathTest, DoubleStarInMiddle) {
  compileAllow(PathPatternKind::kGlob, "/a/**/b/*");
  EXPECT_TRUE(allowed("/a/b/x"));
  EXPECT_TRUE(allowed("/a/q/b/x"));
  EXPECT_TRUE(allowed("/a/q/r/b/x"));
  EXPECT_TRUE(allowed("/a/b/b/x"));
  EXPECT_FALSE(allowed("/a/b"));
  EXPECT_FALSE(allowed("/a/q/b/x/y"));
  EXPECT_FALSE(allowed("/x/a/b/x"));
}

TEST_F(PathTest, TwoDoubleStarsNeedBacktracking) {
  compileAllow(PathPatternKind::kGlob, "/**/x/**/y");
  EXPECT_TRUE(allowed("/x/y"));
  EXPECT_TRUE(allowed("/a/x/b/x/c/y"));
  EXPECT_TRUE(allowed("/x/y/y"));
  EXPECT_FALSE(allowed("/y/x"));
  EXPECT_FALSE(allowed("/x/y/z"));
}

TEST_F(PathTest, GlobRootIsZeroSegments) {
  compileAllow(PathPatternKind::kGlob, "/");
  EXPECT_TRUE(allowed("/"));
  EXPECT_FALSE(allowed("/a"));
  compileAllow(PathPatternKind::kGlob, "/**");
  EXPECT_TRUE(allowed("/"));
  EXPECT_TRUE(allowed("/a/b"));
  EXPECT_FALSE(allowed("*"));  // OPTIONS * is not a path
  EXPECT_FALSE(allowed(""));
}

TEST_F(PathTest, UnconstrainedParamMatchesOneSegment) {
  compileAllow(PathPatternKind::kGlob, "/accounts/{account}/orders");
  EXPECT_TRUE(allowed("/accounts/acme/orders"));
  EXPECT_FALSE(allowed("/accounts/orders"));
  EXPECT_FALSE(allowed("/accounts/a/b/orders"));
}

TEST_F(PathTest, ParamEqualsAccount) {
  compileAllow(PathPatternKind::kGlob, "/accounts/{account}/orders/**",
               {{"account", Attribute::kAccount}});
  auth::Identity acme;
  acme.kind = auth::CredentialKind::kApiKey;
  acme.principal = "key-1";
  acme.account = "acme";
  auth::Identity noAccount;
  noAccount.kind = auth::CredentialKind::kApiKey;
  noAccount.principal = "key-2";
  EXPECT_TRUE(allowed("/accounts/acme/orders", &acme));
  EXPECT_TRUE(allowed("/accounts/acme/orders/7", &acme));
  EXPECT_FALSE(allowed("/accounts/globex/orders", &acme));
  EXPECT_FALSE(allowed("/accounts/acmex/orders", &acme));
  EXPECT_FALSE(allowed("/accounts/acme/orders"));  // anonymous
  EXPECT_FALSE(allowed("/accounts/acme/orders", &noAccount));
}

TEST_F(PathTest, ParamEqualsPrincipal) {
  compileAllow(PathPatternKind::kGlob, "/users/{user}/**", {{"user", Attribute::kPrincipal}});
  auth::Identity alice;
  alice.kind = auth::CredentialKind::kJwt;
  alice.principal = "alice";
  alice.account = "acme";
  EXPECT_TRUE(allowed("/users/alice", &alice));
  EXPECT_TRUE(allowed("/users/alice/settings", &alice));
  EXPECT_FALSE(allowed("/users/bob/settings", &alice));
  EXPECT_FALSE(allowed("/users/acme", &alice));
}

TEST_F(PathTest, ParamEqualsAfterDoubleStarTriesEveryAlignment) {
  // The greedy first alignment puts {account} on "a"; the match on "acme"
  // must still be found.
  compileAllow(PathPatternKind::kGlob, "/**/{account}/**", {{"account", Attribute::kAccount}});
  auth::Identity acme;
  acme.kind = auth::CredentialKind::kJwt;
  acme.account = "acme";
  EXPECT_TRUE(allowed("/a/b/acme/c", &acme));
  EXPECT_FALSE(allowed("/a/b/c", &acme));
}

TEST_F(PathTest, TwoParamsBothConstrained) {
  compileAllow(PathPatternKind::kGlob, "/t/{account}/u/{user}",
               {{"account", Attribute::kAccount}, {"user", Attribute::kPrincipal}});
  auth::Identity id;
  id.kind = auth::CredentialKind::kJwt;
  id.account = "acme";
  id.principal = "alice";
  EXPECT_TRUE(allowed("/t/acme/u/alice", &id));
  EXPECT_FALSE(allowed("/t/acme/u/bob", &id));
  EXPECT_FALSE(allowed("/t/globex/u/alice", &id));
}

TEST_F(PathTest, VeryLongPathsMatchPrefixAndDoubleStar) {
  std::string path;
  for (int i = 0; i < 5000; ++i) path += "/s";
  compileAllow(PathPatternKind::kGlob, "/s/**");
  EXPECT_TRUE(allowed(path));
  compileAllow(PathPatternKind::kGlob, "/**/t");
  EXPECT_FALSE(allowed(path));
  EXPECT_TRUE(allowed(path + "/t"));
  compileAllow(PathPatternKind::kPrefix, "/s/s");
  EXPECT_TRUE(allowed(path));
  compileAllow(PathPatternKind::kGlob, "/s/*");
  EXPECT_FALSE(allowed(path));
}

TEST_F(PathTest, SplitBufferBoundaryGivesSameAnswers) {
  // kMaxSegments segments are split into the buffer; one more is walked in place.
  for (size_t extra : {0, 1}) {
    std::string path;
    for (size_t i = 0; i + 1 < kMaxSegments + extra; ++i) path += "/s";
    path += "/acme";
    auth::Identity acme;
    acme.kind = auth::CredentialKind::kJwt;
    acme.account = "acme";
    compileAllow(PathPatternKind::kGlob, "/**/{account}", {{"account", Attribute::kAccount}});
    EXPECT_TRUE(allowed(path, &acme)) << extra;
    compileAllow(PathPatternKind::kGlob, "/s/**/s/acme");
    EXPECT_TRUE(allowed(path)) << extra;
    compileAllow(PathPatternKind::kGlob, "/s/*/**/x");
    EXPECT_FALSE(allowed(path)) << extra;
  }
}

TEST(PathPatternTest, FirstSegments) {
  auto first = [](PathPatternKind kind, std::string text) {
    CompiledPattern out;
    std::string error;
    EXPECT_TRUE(compilePattern({kind, text}, &out, &error)) << error;
    return requiredFirstSegment(out);
  };
  EXPECT_EQ(first(PathPatternKind::kExact, "/api/x"), "api");
  EXPECT_EQ(first(PathPatternKind::kExact, "/"), "");
  EXPECT_EQ(first(PathPatternKind::kPrefix, "/api"), "api");
  EXPECT_EQ(first(PathPatternKind::kPrefix, "/api/"), "api");
  EXPECT_EQ(first(PathPatternKind::kPrefix, "/"), std::nullopt);
  EXPECT_EQ(first(PathPatternKind::kGlob, "/api/**"), "api");
  EXPECT_EQ(first(PathPatternKind::kGlob, "/"), "");
  EXPECT_EQ(first(PathPatternKind::kGlob, "/**/x"), std::nullopt);
  EXPECT_EQ(first(PathPatternKind::kGlob, "/{p}/x"), std::nullopt);
  EXPECT_EQ(firstSegment("/"), "");
  EXPECT_EQ(firstSegment("/a/b"), "a");
  EXPECT_EQ(firstSegment("*"), std::nullopt);
}

}  // namespace
}  // namespace rampart::policy
