// computeImpact: a hand-checked tightening change (4 routes, 5 accounts)
// with its exact gained/lost sets, skipped and paired routes, rollouts,
// request replay, and the caller grouping checked against a brute-force
// sweep of every caller.
#include "policy/impact.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace rampart::policy {
namespace {

RuleSpec allow(std::string name) {
  RuleSpec rule;
  rule.name = std::move(name);
  rule.effect = Effect::kAllow;
  return rule;
}

// Policies and the views into them; stable addresses (deque).
struct Config {
  std::deque<PolicySpec> specs;
  std::deque<Policy> compiled;
  std::deque<std::string> names;
  ImpactConfig view;

  int32_t add(std::string name, PolicySpec spec) {
    specs.push_back(std::move(spec));
    compiled.emplace_back();
    std::string error;
    EXPECT_TRUE(compiled.back().compile(specs.back(), nullptr, &error)) << error;
    names.push_back(std::move(name));
    view.policies.push_back({names.back(), &compiled.back(), &specs.back()});
    return static_cast<int32_t>(view.policies.size() - 1);
  }
  ImpactRoute& route(std::string_view name, RouteKind kind, std::string_view path,
                     std::vector<std::string> methods = {}) {
    ImpactRoute route;
    route.name = name;
    route.kind = kind;
    route.path = path;
    route.methods = std::move(methods);
    view.routes.push_back(route);
    return view.routes.back();
  }
};

ImpactAccount account(std::string name, std::vector<std::string> principals,
                      std::vector<std::string> roles, std::vector<std::string> scopes = {}) {
  ImpactAccount out;
  out.account = std::move(name);
  out.principals = std::move(principals);
  out.roles = std::move(roles);
  out.scopes = std::move(scopes);
  return out;
}

// "acme(alice,bob)", "initech", "(anonymous)": readable expectations.
std::vector<std::string> names(const ImpactReport& report, const CallerSet& set,
                               const std::vector<ImpactAccount>& accounts) {
  std::vector<std::string> out;
  for (const AffectedAccount& affected : listAccounts(report, set)) {
    if (affected.account == kAnonymous) {
      out.push_back("(anonymous)");
      continue;
    }
    std::string text = accounts[affected.account].account;
    if (!affected.principals.empty()) {
      text += "(";
      for (size_t i = 0; i < affected.principals.size(); ++i) {
        if (i != 0) text += ",";
        text += accounts[affected.account].principals[affected.principals[i]];
      }
      text += ")";
    }
    out.push_back(text);
  }
  return out;
}

const RouteImpact& find(const ImpactReport& report, std::string_view name) {
  for (const RouteImpact& route : report.routes) {
    if (route.name == name) return route;
  }
  ADD_FAILURE() << "no route " << name;
  static RouteImpact none;
  return none;
}

const MethodImpact* method(const RouteImpact& route, std::string_view name) {
  for (const MethodImpact& m : route.methods) {
    if (m.method == name) return &m;
  }
  return nullptr;
}

// The fixture: OLD lets users and admins do anything on /orders and anyone
// read /status; NEW lets users only read orders, admins write them, and
// requires a signed-in caller on /status. /health is public in both; the
// reports policy is renamed but written alike.
struct Tightening {
  Config before, after;
  std::vector<ImpactAccount> accounts;

  Tightening() {
    PolicySpec orders_v1;
    orders_v1.rules.push_back(allow("members"));
    orders_v1.rules.back().roles = std::vector<std::string>{"user", "admin"};
    PolicySpec orders_v2;
    orders_v2.rules.push_back(allow("read"));
    orders_v2.rules.back().methods = std::vector<std::string>{"GET", "HEAD"};
    orders_v2.rules.back().roles = std::vector<std::string>{"user", "admin"};
    orders_v2.rules.push_back(allow("write"));
    orders_v2.rules.back().methods = std::vector<std::string>{"POST", "PUT", "PATCH", "DELETE"};
    orders_v2.rules.back().roles = std::vector<std::string>{"admin"};
    PolicySpec reports;
    reports.rules.push_back(allow("readers"));
    reports.rules.back().scopes = std::vector<std::string>{"reports:read"};
    PolicySpec anyone;
    anyone.rules.push_back(allow("anyone"));
    PolicySpec signed_in;
    signed_in.rules.push_back(allow("signed-in"));
    signed_in.rules.back().authenticated = true;

    int32_t o1 = before.add("orders", orders_v1);
    int32_t r1 = before.add("reports", reports);
    int32_t s1 = before.add("status", anyone);
    int32_t o2 = after.add("orders", orders_v2);
    int32_t r2 = after.add("reports-renamed", reports);
    int32_t s2 = after.add("status", signed_in);
    for (Config* config : {&before, &after}) {
      bool old = config == &before;
      config->route("orders", RouteKind::kPrefix, "/orders", {"GET", "POST", "DELETE"}).enforced =
          old ? o1 : o2;
      config->route("health", RouteKind::kExact, "/health").is_public = true;
      config->route("reports", RouteKind::kPrefix, "/reports").enforced = old ? r1 : r2;
      config->route("status", RouteKind::kExact, "/status").enforced = old ? s1 : s2;
    }
    accounts.push_back(account("acme", {"alice", "bob"}, {"user"}));
    accounts.push_back(account("globex", {"carol"}, {"admin"}));
    accounts.push_back(account("initech", {}, {"user", "auditor"}));
    accounts.push_back(account("umbrella", {"dave"}, {}, {"reports:read"}));
    accounts.push_back(account("hooli", {"erin"}, {"user"}));
    accounts.back().claims.emplace_back("plan", "gold");
  }
};

TEST(ImpactTest, TighteningHandChecked) {
  Tightening t;
  ImpactReport report = computeImpact(t.before.view, t.after.view, t.accounts, {});
  EXPECT_TRUE(report.changed());
  ASSERT_EQ(report.callers.size(), 7u);  // anonymous, alice, bob, carol, initech, dave, erin

  EXPECT_EQ(find(report, "health").status, RouteStatus::kUnchanged);
  EXPECT_EQ(find(report, "reports").status, RouteStatus::kUnchanged);  // renamed, same rules
  EXPECT_TRUE(find(report, "reports").methods.empty());

  const RouteImpact& orders = find(report, "orders");
  EXPECT_EQ(orders.status, RouteStatus::kChanged);
  EXPECT_EQ(method(orders, "GET"), nullptr);  // users and admins still read
  for (std::string_view write : {"POST", "DELETE"}) {
    const MethodImpact* m = method(orders, write);
    ASSERT_NE(m, nullptr) << write;
    EXPECT_TRUE(m->gained.groups.empty());
    EXPECT_EQ(names(report, m->lost, t.accounts),
              (std::vector<std::string>{"acme(alice,bob)", "initech", "hooli(erin)"}));
    EXPECT_EQ(m->lost.callers, 4u);
    EXPECT_EQ(m->lost.accounts, 3u);
  }
  EXPECT_EQ(orders.methods.size(), 2u);
  EXPECT_EQ(orders.lost_accounts, 3u);
  EXPECT_EQ(orders.gained_accounts, 0u);

  const RouteImpact& status = find(report, "status");
  ASSERT_EQ(status.methods.size(), 7u);  // no declared methods: the fixed list
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(status.methods[i].method, kAllMethods[i]);
    EXPECT_EQ(names(report, status.methods[i].lost, t.accounts),
              (std::vector<std::string>{"(anonymous)"}));
  }
  EXPECT_EQ(status.lost_accounts, 1u);
  EXPECT_EQ(report.affected_accounts, 4u);  // acme, initech, hooli, (anonymous)
}

TEST(ImpactTest, SameConfigChangesNothingAndEvaluatesNothing) {
  Tightening t;
  ImpactReport report = computeImpact(t.before.view, t.before.view, t.accounts, {});
  EXPECT_FALSE(report.changed());
  EXPECT_EQ(report.evaluations, 0u);
  for (const RouteImpact& route : report.routes) {
    EXPECT_EQ(route.status, RouteStatus::kUnchanged) << route.name;
  }
}

TEST(ImpactTest, AddedRemovedAndRegexRoutes) {
  Tightening t;
  t.before.route("legacy", RouteKind::kExact, "/legacy").is_public = true;
  t.after.route("search", RouteKind::kPrefix, "/search", {"GET"}).enforced = 0;  // orders-v2
  t.after.route("files", RouteKind::kRegex, "/files/[0-9]+").is_public = true;
  ImpactReport report = computeImpact(t.before.view, t.after.view, t.accounts, {});

  const RouteImpact& legacy = find(report, "legacy");
  EXPECT_EQ(legacy.status, RouteStatus::kRemoved);
  EXPECT_EQ(legacy.lost_accounts, 6u);  // everyone, anonymous included
  EXPECT_EQ(legacy.methods.size(), 7u);

  const RouteImpact& search = find(report, "search");
  EXPECT_EQ(search.status, RouteStatus::kAdded);
  ASSERT_EQ(search.methods.size(), 1u);
  EXPECT_EQ(
      names(report, search.methods[0].gained, t.accounts),
      (std::vector<std::string>{"acme(alice,bob)", "globex(carol)", "initech", "hooli(erin)"}));

  const RouteImpact& files = find(report, "files");
  EXPECT_EQ(files.status, RouteStatus::kRegex);
  EXPECT_TRUE(files.decision_differs);
  EXPECT_TRUE(files.methods.empty());
}

TEST(ImpactTest, RolloutSelectsAccountsAndShadowIsIgnored) {
  Tightening t;
  // NEW rolls out a deny-all for 100% of accounts on /health's sibling.
  PolicySpec nobody;
  int32_t deny = t.after.add("nobody", nobody);
  int32_t anyone_before = 2, anyone_after = t.after.add("anyone", t.before.specs[2]);
  t.before.route("docs", RouteKind::kPrefix, "/docs", {"GET"}).enforced = anyone_before;
  ImpactRoute& docs = t.after.route("docs", RouteKind::kPrefix, "/docs", {"GET"});
  docs.enforced = anyone_after;
  docs.rollout = deny;
  docs.rollout_percent = 100;
  ImpactReport report = computeImpact(t.before.view, t.after.view, t.accounts, {});
  const RouteImpact& route = find(report, "docs");
  ASSERT_EQ(route.methods.size(), 1u);
  // Every named account is selected; the anonymous caller has no account.
  EXPECT_EQ(route.methods[0].lost.accounts, 5u);
  EXPECT_EQ(route.lost_accounts, 5u);

  // At 0% nobody is selected: the same decision function as no rollout.
  t.after.view.routes.back().rollout_percent = 0;
  report = computeImpact(t.before.view, t.after.view, t.accounts, {});
  EXPECT_EQ(find(report, "docs").status, RouteStatus::kUnchanged);
}

TEST(ImpactTest, RequestsAreReplayedOnTheirRecordedPath) {
  Tightening t;
  // NEW also lets an account's principals write their own orders.
  PolicySpec& v2 = t.after.specs[0];
  v2.rules.push_back(allow("own"));
  v2.rules.back().paths =
      std::vector<PathPattern>{{PathPatternKind::kGlob, "/orders/{account}/**"}};
  v2.rules.back().param_equals.push_back({"account", Attribute::kAccount});
  std::string error;
  ASSERT_TRUE(t.after.compiled[0].compile(v2, nullptr, &error)) << error;

  auto logged = [](std::string method, std::string path, std::string route, std::string principal,
                   std::string account) {
    LoggedRequest out;
    out.method = std::move(method);
    out.path = std::move(path);
    out.route = std::move(route);
    out.anonymous = principal.empty() && account.empty();
    out.identity.kind = out.anonymous ? auth::CredentialKind::kNone : auth::CredentialKind::kJwt;
    out.identity.principal = std::move(principal);
    out.identity.account = std::move(account);
    out.identity.roles = {"user"};
    return out;
  };
  std::vector<LoggedRequest> requests = {
      logged("GET", "/orders/7", "orders", "alice", "acme"),        // unchanged
      logged("POST", "/orders/7", "orders", "alice", "acme"),       // lost
      logged("POST", "/orders/acme/7", "orders", "alice", "acme"),  // own orders: kept
      logged("GET", "/status", "status", "", ""),                   // anonymous: lost
      logged("PUT", "/orders/7", "orders", "alice", "acme"),        // not routed in both
      logged("GET", "/nowhere", "nowhere", "alice", "acme"),        // no such route
  };
  ImpactReport report = computeImpact(t.before.view, t.after.view, {}, requests);
  ASSERT_EQ(report.requests.size(), 2u);
  EXPECT_EQ(report.requests[0].index, 1u);
  EXPECT_TRUE(report.requests[0].before.allowed);
  EXPECT_EQ(report.requests[0].before.rule_name, "members");
  EXPECT_FALSE(report.requests[0].after.allowed);
  EXPECT_EQ(report.requests[0].after.rule, kDefaultDeny);
  EXPECT_EQ(report.requests[1].index, 3u);
  EXPECT_EQ(report.requests_lost, 2u);
  EXPECT_EQ(report.requests_gained, 0u);
  EXPECT_EQ(decideRequest(t.after.view, requests[4]).reason, DecisionReason::kNotRouted);
  EXPECT_EQ(decideRequest(t.after.view, requests[5]).reason, DecisionReason::kNoRoute);
}

// The grouping must give exactly what evaluating every caller gives.
TEST(ImpactTest, GroupingMatchesBruteForce) {
  std::mt19937 rng(7);
  auto pick = [&](const std::vector<std::string>& from, size_t most) {
    std::vector<std::string> out;
    for (const std::string& value : from) {
      if (rng() % 3 == 0 && out.size() < most) out.push_back(value);
    }
    return out;
  };
  const std::vector<std::string> roles = {"user", "admin", "auditor", "ops", "guest"};
  const std::vector<std::string> scopes = {"read", "write", "export"};
  std::vector<ImpactAccount> accounts;
  for (int i = 0; i < 300; ++i) {
    std::string name = "acct";
    name += std::to_string(i);
    std::vector<std::string> principals;
    for (int p = 0; p < static_cast<int>(rng() % 3); ++p) {
      std::string principal = "p";
      principal += std::to_string(rng() % 40);
      principals.push_back(principal);
    }
    accounts.push_back(account(name, principals, pick(roles, 2), pick(scopes, 3)));
    if (rng() % 2) accounts.back().claims.emplace_back("plan", rng() % 2 ? "gold" : "free,trial");
  }
  Config before, after;
  before.view.rollout_seed = 1;
  after.view.rollout_seed = 2;
  PolicySpec a;
  a.rules.push_back(allow("users"));
  a.rules.back().roles = std::vector<std::string>{"user", "ops"};
  a.rules.push_back(allow("p1"));
  a.rules.back().principals = std::vector<std::string>{"p1", "p2"};
  PolicySpec b;
  b.rules.push_back(allow("scoped"));
  b.rules.back().scopes = std::vector<std::string>{"read", "write"};
  b.rules.push_back(allow("trial"));
  b.rules.back().claims = std::vector<ClaimMatch>{{"plan", {"trial"}}};
  b.rules.back().methods = std::vector<std::string>{"GET"};
  b.rules.push_back(RuleSpec{});
  b.rules.back().name = "no-acct3";
  b.rules.back().accounts = std::vector<std::string>{"acct3", "acct5"};
  b.rules.push_back(allow("own"));
  b.rules.back().paths = std::vector<PathPattern>{{PathPatternKind::kGlob, "/t/{who}/**"}};
  b.rules.back().param_equals.push_back({"who", Attribute::kPrincipal});
  int32_t a1 = before.add("a", a), b1 = before.add("b", b);
  int32_t a2 = after.add("a", a), b2 = after.add("b", b);
  before.route("r1", RouteKind::kPrefix, "/r1").enforced = a1;
  after.route("r1", RouteKind::kPrefix, "/r1").enforced = b2;
  before.route("r2", RouteKind::kExact, "/t/p3/x", {"GET", "PUT"}).enforced = a1;
  ImpactRoute& r2 = after.route("r2", RouteKind::kExact, "/t/p3/x", {"GET", "PUT"});
  r2.enforced = a2;
  r2.rollout = b2;
  r2.rollout_percent = 50;
  ImpactRoute& r3 = before.route("r3", RouteKind::kPrefix, "/r3");
  r3.enforced = b1;
  r3.rollout = a1;
  r3.rollout_percent = 30;
  after.route("r3", RouteKind::kPrefix, "/r3").enforced = b2;

  for (unsigned threads : {1u, 2u}) {
    ImpactReport report = computeImpact(before.view, after.view, accounts, {}, {threads});
    // (route, method, gained?) -> "account/principal" strings.
    std::map<std::string, std::set<std::string>> got, want;
    for (const RouteImpact& route : report.routes) {
      for (const MethodImpact& m : route.methods) {
        for (bool gained : {true, false}) {
          std::string key(route.name);
          key += ' ';
          key += m.method;
          key += gained ? " +" : " -";
          for (uint32_t g : (gained ? m.gained : m.lost).groups) {
            for (uint32_t c : report.groups[g]) {
              const Caller& caller = report.callers[c];
              std::string who =
                  caller.account == kAnonymous ? "-" : accounts[caller.account].account;
              who += '/';
              if (caller.principal != kNoPrincipal) {
                who += accounts[caller.account].principals[caller.principal];
              }
              got[key].insert(who);
            }
          }
        }
      }
    }
    for (size_t r = 0; r < before.view.routes.size(); ++r) {
      const ImpactRoute& old_route = before.view.routes[r];
      const ImpactRoute& new_route = after.view.routes[r];
      std::vector<std::string> methods = old_route.methods;
      if (methods.empty()) methods.assign(std::begin(kAllMethods), std::end(kAllMethods));
      for (const std::string& m : methods) {
        auto decide = [&](const Config& config, const ImpactRoute& route,
                          const auth::Identity* identity) {
          LoggedRequest request;
          request.method = m;
          request.path = std::string(route.path);
          request.route = std::string(route.name);
          request.anonymous = identity == nullptr;
          if (identity != nullptr) request.identity = *identity;
          return decideRequest(config.view, request).allowed;
        };
        auto check = [&](const auth::Identity* identity, std::string who) {
          bool was = decide(before, old_route, identity);
          bool is = decide(after, new_route, identity);
          if (was == is) return;
          std::string key(old_route.name);
          key += ' ';
          key += m;
          key += is ? " +" : " -";
          want[key].insert(who);
        };
        check(nullptr, "-/");
        for (const ImpactAccount& acc : accounts) {
          std::vector<std::string> principals = acc.principals;
          if (principals.empty()) principals.push_back("");
          for (const std::string& principal : principals) {
            auth::Identity identity;
            identity.kind = auth::CredentialKind::kJwt;
            identity.principal = principal;
            identity.account = acc.account;
            identity.roles = acc.roles;
            identity.scopes = acc.scopes;
            identity.claims = acc.claims;
            check(&identity, acc.account + "/" + principal);
          }
        }
      }
    }
    EXPECT_FALSE(want.empty());
    EXPECT_EQ(got, want) << "threads " << threads;
    EXPECT_LT(report.groups.size(), 3 * accounts.size());
  }
}

}  // namespace
}  // namespace rampart::policy
