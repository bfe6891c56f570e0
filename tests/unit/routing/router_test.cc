#include "routing/router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rampart::routing {
namespace {

RouteSpec prefix(std::string name, std::string path) {
  RouteSpec spec;
  spec.name = std::move(name);
  spec.kind = PathMatchKind::kPrefix;
  spec.path = std::move(path);
  return spec;
}

RouteSpec exact(std::string name, std::string path) {
  RouteSpec spec = prefix(std::move(name), std::move(path));
  spec.kind = PathMatchKind::kExact;
  return spec;
}

RouteSpec regex(std::string name, std::string pattern) {
  RouteSpec spec = prefix(std::move(name), std::move(pattern));
  spec.kind = PathMatchKind::kRegex;
  return spec;
}

VirtualHostSpec vhost(std::string name, std::vector<std::string> domains,
                      std::vector<RouteSpec> routes) {
  return VirtualHostSpec{std::move(name), std::move(domains), std::move(routes)};
}

RouteTable compileOrDie(const std::vector<VirtualHostSpec>& hosts) {
  RouteTable table;
  std::string error;
  EXPECT_TRUE(table.compile(hosts, &error)) << error;
  return table;
}

std::string compileError(const std::vector<VirtualHostSpec>& hosts) {
  RouteTable table;
  std::string error;
  EXPECT_FALSE(table.compile(hosts, &error));
  return error;
}

// The name of the matched route, or "" when none matches.
std::string routeOf(const RouteTable& table, std::string_view host, std::string_view path,
                    std::string_view method = "GET",
                    const std::vector<http::Header>* headers = nullptr) {
  MatchInput input;
  input.host = host;
  input.path = path;
  input.method = method;
  input.headers = headers;
  const Route* route = table.match(input);
  return route == nullptr ? "" : route->name;
}

// --- virtual hosts ---------------------------------------------------------

TEST(RouterHost, ExactBeatsWildcardBeatsCatchAll) {
  RouteTable table = compileOrDie({
      vhost("any", {"*"}, {prefix("any", "/")}),
      vhost("wild", {"*.example.com"}, {prefix("wild", "/")}),
      vhost("api", {"api.example.com"}, {prefix("api", "/")}),
  });
  EXPECT_EQ(routeOf(table, "api.example.com", "/"), "api");
  EXPECT_EQ(routeOf(table, "www.example.com", "/"), "wild");
  EXPECT_EQ(routeOf(table, "other.org", "/"), "any");
}

TEST(RouterHost, WildcardMatchesAnyDepthButNotTheBareDomain) {
  RouteTable table = compileOrDie({vhost("wild", {"*.example.com"}, {prefix("wild", "/")})});
  EXPECT_EQ(routeOf(table, "a.example.com", "/"), "wild");
  EXPECT_EQ(routeOf(table, "a.b.example.com", "/"), "wild");
  EXPECT_EQ(routeOf(table, "example.com", "/"), "");
  EXPECT_EQ(routeOf(table, ".example.com", "/"), "");
  EXPECT_EQ(routeOf(table, "badexample.com", "/"), "");
  EXPECT_EQ(routeOf(table, "example.com.evil.org", "/"), "");
}

TEST(RouterHost, LongestWildcardSuffixWins) {
  RouteTable table = compileOrDie({
      vhost("short", {"*.example.com"}, {prefix("short", "/")}),
      vhost("long", {"*.api.example.com"}, {prefix("long", "/")}),
      vhost("tld", {"*.com"}, {prefix("tld", "/")}),
  });
  EXPECT_EQ(routeOf(table, "v1.api.example.com", "/"), "long");
  EXPECT_EQ(routeOf(table, "x.v1.api.example.com", "/"), "long");
  EXPECT_EQ(routeOf(table, "api.example.com", "/"), "short");
  EXPECT_EQ(routeOf(table, "www.example.com", "/"), "short");
  EXPECT_EQ(routeOf(table, "example.com", "/"), "tld");
}

TEST(RouterHost, PortIsStripped) {
  RouteTable table = compileOrDie({
      vhost("api", {"api.example.com"}, {prefix("api", "/")}),
      vhost("wild", {"*.example.com"}, {prefix("wild", "/")}),
  });
  EXPECT_EQ(routeOf(table, "api.example.com:8080", "/"), "api");
  EXPECT_EQ(routeOf(table, "api.example.com:", "/"), "api");
  EXPECT_EQ(routeOf(table, "x.example.com:443", "/"), "wild");
}

TEST(RouterHost, CaseAndTrailingDotAreIgnored) {
  RouteTable table = compileOrDie({
      vhost("api", {"API.Example.COM"}, {prefix("api", "/")}),
      vhost("dot", {"dot.example.com."}, {prefix("dot", "/")}),
  });
  EXPECT_EQ(routeOf(table, "api.example.com", "/"), "api");
  EXPECT_EQ(routeOf(table, "Api.EXAMPLE.com", "/"), "api");
  EXPECT_EQ(routeOf(table, "api.example.com.", "/"), "api");
  EXPECT_EQ(routeOf(table, "api.example.com.:80", "/"), "api");
  EXPECT_EQ(routeOf(table, "dot.example.com", "/"), "dot");
  EXPECT_EQ(routeOf(table, "api.example.com..", "/"), "");  // only one dot is dropped
}

TEST(RouterHost, Ipv6Literal) {
  RouteTable table = compileOrDie({
      vhost("local", {"[::1]"}, {prefix("local", "/")}),
      vhost("v6", {"[2001:DB8::1]"}, {prefix("v6", "/")}),
  });
  EXPECT_EQ(routeOf(table, "[::1]", "/"), "local");
  EXPECT_EQ(routeOf(table, "[::1]:8080", "/"), "local");
  EXPECT_EQ(routeOf(table, "[2001:db8::1]:443", "/"), "v6");
  EXPECT_EQ(routeOf(table, "::1", "/"), "");
  EXPECT_EQ(routeOf(table, "[::1", "/"), "");
}

TEST(RouterHost, NoMatchingHost) {
  RouteTable table = compileOrDie({vhost("api", {"api.example.com"}, {prefix("api", "/")})});
  EXPECT_EQ(routeOf(table, "www.example.com", "/"), "");
  EXPECT_EQ(routeOf(table, "", "/"), "");
}

TEST(RouterHost, EmptyHostReachesOnlyTheCatchAll) {
  RouteTable table = compileOrDie({vhost("any", {"*"}, {prefix("any", "/")})});
  EXPECT_EQ(routeOf(table, "", "/"), "any");
  EXPECT_EQ(routeOf(table, std::string(1000, 'a'), "/"), "any");
}

TEST(RouterHost, OverlongHostMatchesNoNamedHost) {
  std::string host(300, 'a');
  RouteTable table = compileOrDie({vhost("a", {"a.example.com"}, {prefix("a", "/")})});
  EXPECT_EQ(routeOf(table, host, "/"), "");
}

// --- routes ----------------------------------------------------------------

TEST(RouterRoute, FirstDeclaredMatchWins) {
  RouteTable table = compileOrDie({vhost("h", {"*"},
                                         {
                                             prefix("general", "/api"),
                                             prefix("specific", "/api/users"),
                                         })});
  EXPECT_EQ(routeOf(table, "h", "/api/users/1"), "general");
}

TEST(RouterRoute, SpecificBeforeGeneral) {
  RouteTable table = compileOrDie({vhost("h", {"*"},
                                         {
                                             exact("health", "/healthz"),
                                             prefix("users", "/api/users"),
                                             prefix("api", "/api"),
                                             prefix("root", "/"),
                                         })});
  EXPECT_EQ(routeOf(table, "h", "/healthz"), "health");
  EXPECT_EQ(routeOf(table, "h", "/healthz/x"), "root");
  EXPECT_EQ(routeOf(table, "h", "/api/users/7"), "users");
  EXPECT_EQ(routeOf(table, "h", "/api/orders"), "api");
  EXPECT_EQ(routeOf(table, "h", "/other"), "root");
}

TEST(RouterRoute, PrefixWithoutTrailingSlashStopsAtSegmentBoundary) {
  RouteTable table = compileOrDie({vhost("h", {"*"}, {prefix("api", "/api")})});
  EXPECT_EQ(routeOf(table, "h", "/api"), "api");
  EXPECT_EQ(routeOf(table, "h", "/api/"), "api");
  EXPECT_EQ(routeOf(table, "h", "/api/x/y"), "api");
  EXPECT_EQ(routeOf(table, "h", "/apix"), "");
  EXPECT_EQ(routeOf(table, "h", "/ap"), "");
  EXPECT_EQ(routeOf(table, "h", "/API"), "");
}

TEST(RouterRoute, PrefixWithTrailingSlash) {
  RouteTable table = compileOrDie({vhost("h", {"*"}, {prefix("api", "/api/")})});
  EXPECT_EQ(routeOf(table, "h", "/api/x"), "api");
  EXPECT_EQ(routeOf(table, "h", "/api/"), "api");
  EXPECT_EQ(routeOf(table, "h", "/api"), "");
  EXPECT_EQ(routeOf(table, "h", "/apix"), "");
}

TEST(RouterRoute, RootPrefixMatchesEverything) {
  RouteTable table = compileOrDie({vhost("h", {"*"}, {prefix("root", "/")})});
  EXPECT_EQ(routeOf(table, "h", "/"), "root");
  EXPECT_EQ(routeOf(table, "h", "/a/b/c"), "root");
}

TEST(RouterRoute, ExactPath) {
  RouteTable table = compileOrDie({vhost("h", {"*"}, {exact("login", "/login")})});
  EXPECT_EQ(routeOf(table, "h", "/login"), "login");
  EXPECT_EQ(routeOf(table, "h", "/login/"), "");
  EXPECT_EQ(routeOf(table, "h", "/logins"), "");
  EXPECT_EQ(routeOf(table, "h", "/Login"), "");
}

TEST(RouterRoute, RegexIsAFullMatch) {
  RouteTable table = compileOrDie(
      {vhost("h", {"*"}, {regex("user", "/users/[0-9]+"), regex("any", "/v[12]/.*")})});
  EXPECT_EQ(routeOf(table, "h", "/users/42"), "user");
  EXPECT_EQ(routeOf(table, "h", "/users/42/x"), "");
  EXPECT_EQ(routeOf(table, "h", "/x/users/42"), "");
  EXPECT_EQ(routeOf(table, "h", "/users/"), "");
  EXPECT_EQ(routeOf(table, "h", "/v2/anything"), "any");
}

// The [min, max] prefilter must never hide a real match.
TEST(RouterRoute, RegexRangePrefilterKeepsEveryMatch) {
  struct Case {
    const char* pattern;
    const char* path;
  };
  for (Case c : std::vector<Case>{{"(?i)/API/v[0-9]+", "/api/V12"},
                                  {"/(zeta|alpha)/x", "/alpha/x"},
                                  {"/(zeta|alpha)/x", "/zeta/x"},
                                  {".*\\.png", "/img/a.png"},
                                  {"/a*", "/"},
                                  {"/a*", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
                                  {"/averyveryveryveryverylongliteralprefixbeyondlimit/.+",
                                   "/averyveryveryveryverylongliteralprefixbeyondlimit/z"},
                                  {"/[^/]+/items", "/~user/items"},
                                  {"/\\C*", "/\xff\xfe"}}) {
    RouteTable table = compileOrDie({vhost("h", {"*"}, {regex("r", c.pattern)})});
    EXPECT_EQ(routeOf(table, "h", c.path), "r") << c.pattern << " on " << c.path;
  }
}

TEST(RouterRoute, Methods) {
  RouteSpec write = prefix("write", "/items");
  write.methods = {"POST", "PUT"};
  RouteSpec read = prefix("read", "/items");
  read.methods = {"GET"};
  RouteTable table = compileOrDie({vhost("h", {"*"}, {write, read, prefix("fallback", "/")})});
  EXPECT_EQ(routeOf(table, "h", "/items", "POST"), "write");
  EXPECT_EQ(routeOf(table, "h", "/items", "PUT"), "write");
  EXPECT_EQ(routeOf(table, "h", "/items", "GET"), "read");
  EXPECT_EQ(routeOf(table, "h", "/items", "DELETE"), "fallback");
  EXPECT_EQ(routeOf(table, "h", "/items", "post"), "fallback");  // methods are case-sensitive
}

TEST(RouterRoute, HeaderExactValue) {
  RouteSpec canary = prefix("canary", "/");
  canary.headers = {{"X-Canary", "yes", false}};
  RouteTable table = compileOrDie({vhost("h", {"*"}, {canary, prefix("stable", "/")})});
  std::vector<http::Header> yes = {{"x-canary", "yes"}};
  std::vector<http::Header> no = {{"X-CANARY", "no"}};
  std::vector<http::Header> upper = {{"X-Canary", "YES"}};
  std::vector<http::Header> none = {{"Other", "yes"}};
  EXPECT_EQ(routeOf(table, "h", "/", "GET", &yes), "canary");
  EXPECT_EQ(routeOf(table, "h", "/", "GET", &no), "stable");
  EXPECT_EQ(routeOf(table, "h", "/", "GET", &upper), "stable");  // values are exact
  EXPECT_EQ(routeOf(table, "h", "/", "GET", &none), "stable");
  EXPECT_EQ(routeOf(table, "h", "/", "GET", nullptr), "stable");
}

TEST(RouterRoute, HeaderPresentOnly) {
  RouteSpec authed = prefix("authed", "/");
  authed.headers = {{"Authorization", "", true}};
  RouteTable table = compileOrDie({vhost("h", {"*"}, {authed, prefix("anon", "/")})});
  std::vector<http::Header> with = {{"authorization", "Bearer x"}};
  std::vector<http::Header> empty = {{"Authorization", ""}};
  std::vector<http::Header> without = {{"Accept", "*/*"}};
  EXPECT_EQ(routeOf(table, "h", "/", "GET", &with), "authed");
  EXPECT_EQ(routeOf(table, "h", "/", "GET", &empty), "authed");
  EXPECT_EQ(routeOf(table, "h", "/", "GET", &without), "anon");
}

TEST(RouterRoute, AnyOfRepeatedHeadersCounts) {
  RouteSpec beta = prefix("beta", "/");
  beta.headers = {{"x-flag", "beta", false}};
  RouteTable table = compileOrDie({vhost("h", {"*"}, {beta})});
  std::vector<http::Header> headers = {{"X-Flag", "alpha"}, {"Accept", "*/*"}, {"x-flag", "beta"}};
  EXPECT_EQ(routeOf(table, "h", "/", "GET", &headers), "beta");
}

TEST(RouterRoute, AllHeaderMatchesAreRequired) {
  RouteSpec both = prefix("both", "/");
  both.headers = {{"a", "1", false}, {"b", "", true}};
  RouteTable table = compileOrDie({vhost("h", {"*"}, {both})});
  std::vector<http::Header> onlyA = {{"A", "1"}};
  std::vector<http::Header> all = {{"B", "anything"}, {"A", "1"}};
  EXPECT_EQ(routeOf(table, "h", "/", "GET", &onlyA), "");
  EXPECT_EQ(routeOf(table, "h", "/", "GET", &all), "both");
}

TEST(RouterRoute, PathMethodAndHeadersMustAllMatch) {
  RouteSpec spec = prefix("admin", "/admin");
  spec.methods = {"POST"};
  spec.headers = {{"x-admin", "1", false}};
  RouteTable table = compileOrDie({vhost("h", {"*"}, {spec})});
  std::vector<http::Header> headers = {{"x-admin", "1"}};
  EXPECT_EQ(routeOf(table, "h", "/admin", "POST", &headers), "admin");
  EXPECT_EQ(routeOf(table, "h", "/admin", "GET", &headers), "");
  EXPECT_EQ(routeOf(table, "h", "/public", "POST", &headers), "");
  EXPECT_EQ(routeOf(table, "h", "/admin", "POST", nullptr), "");
}

TEST(RouterRoute, NoRouteInMatchingHostDoesNotFallThroughToOtherHosts) {
  RouteTable table = compileOrDie({
      vhost("api", {"api.example.com"}, {prefix("api", "/api")}),
      vhost("any", {"*"}, {prefix("any", "/")}),
  });
  EXPECT_EQ(routeOf(table, "api.example.com", "/other"), "");
}

TEST(RouterRoute, FieldsAndGlobalIndex) {
  RouteSpec a = prefix("a", "/a");
  a.cluster_index = 3;
  a.max_body_bytes = 1024;
  RouteSpec b = prefix("b", "/b");
  b.cluster_index = 7;
  RouteSpec c = prefix("c", "/c");
  RouteTable table = compileOrDie({
      vhost("one", {"one"}, {a, b}),
      vhost("two", {"two"}, {c}),
  });
  EXPECT_EQ(table.routeCount(), 3u);
  MatchInput input;
  input.host = "one";
  input.path = "/a";
  const Route* route = table.match(input);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->name, "a");
  EXPECT_EQ(route->index, 0u);
  EXPECT_EQ(route->cluster_index, 3u);
  EXPECT_EQ(route->max_body_bytes, 1024u);
  input.path = "/b";
  route = table.match(input);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->index, 1u);
  EXPECT_EQ(route->cluster_index, 7u);
  input.host = "two";
  input.path = "/c";
  route = table.match(input);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->index, 2u);
}

TEST(RouterRoute, AsteriskTargetMatchesOnlyARegexForIt) {
  RouteTable table = compileOrDie({vhost("h", {"*"}, {prefix("root", "/"), regex("star", "\\*")})});
  EXPECT_EQ(routeOf(table, "h", "*", "OPTIONS"), "star");
}

// --- compile ---------------------------------------------------------------

TEST(RouterCompile, BadRegexNamesTheRoute) {
  std::string error = compileError({vhost("h", {"*"}, {regex("broken", "/a(")})});
  EXPECT_NE(error.find("broken"), std::string::npos) << error;
  EXPECT_NE(error.find("regex"), std::string::npos) << error;
}

TEST(RouterCompile, DomainInTwoHostsIsAnError) {
  std::string error = compileError({
      vhost("first", {"api.example.com"}, {}),
      vhost("second", {"API.example.com"}, {}),
  });
  EXPECT_NE(error.find("first"), std::string::npos) << error;
  EXPECT_NE(error.find("second"), std::string::npos) << error;
  compileError({vhost("a", {"*.x.com"}, {}), vhost("b", {"*.x.com"}, {})});
  compileError({vhost("a", {"*"}, {}), vhost("b", {"*"}, {})});
}

TEST(RouterCompile, SameDomainTwiceInOneHostIsHarmless) {
  compileOrDie({vhost("a", {"x.com", "X.com", "*", "*"}, {})});
}

TEST(RouterCompile, MalformedDomains) {
  for (std::string bad :
       {"", " ", "a b.com", "a.*.com", "*a.com", "a*.com", "*.", "*.*.com", "a..com", ".a.com",
        "a.com:80", "**", "*.[::1]", "[::1", "[]", "[xyz]", "a/b"}) {
    std::string error = compileError({vhost("h", {bad}, {})});
    EXPECT_NE(error.find("domain"), std::string::npos) << "'" << bad << "': " << error;
  }
}

TEST(RouterCompile, PathsMustStartWithSlash) {
  std::string error = compileError({vhost("h", {"*"}, {prefix("rel", "api")})});
  EXPECT_NE(error.find("rel"), std::string::npos) << error;
  compileError({vhost("h", {"*"}, {exact("empty", "")})});
}

TEST(RouterCompile, FailedCompileKeepsThePreviousTable) {
  RouteTable table = compileOrDie({vhost("h", {"*"}, {prefix("root", "/")})});
  std::string error;
  EXPECT_FALSE(table.compile({vhost("h", {"*"}, {regex("bad", "(")})}, &error));
  EXPECT_EQ(routeOf(table, "h", "/x"), "root");
}

TEST(RouterCompile, EmptyTableMatchesNothing) {
  RouteTable table;
  EXPECT_EQ(table.routeCount(), 0u);
  EXPECT_EQ(routeOf(table, "h", "/"), "");
  RouteTable compiled = compileOrDie({});
  EXPECT_EQ(routeOf(compiled, "h", "/"), "");
}

TEST(RouterCompile, MovedTableKeepsItsRoutes) {
  RouteTable table = compileOrDie({vhost("h", {"*"}, {prefix("root", "/")})});
  RouteTable moved = std::move(table);
  EXPECT_EQ(routeOf(moved, "h", "/x"), "root");
}

}  // namespace
}  // namespace rampart::routing
