// Policy::evaluate as phase 6 runs it once per request: a policy of 1,000
// rules over 10,000 accounts (global denies, account-specific rules spread
// over methods and services, role and scope rules), requests rotating over
// many accounts; the same without the first-segment index; a worst case
// where no index applies and every rule is tried; the naive reference.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "policy/policy.h"

namespace {

using rampart::auth::CredentialKind;
using rampart::auth::Identity;
using rampart::net::SocketAddress;
using rampart::policy::Attribute;
using rampart::policy::CompileOptions;
using rampart::policy::Effect;
using rampart::policy::PathPattern;
using rampart::policy::PathPatternKind;
using rampart::policy::Policy;
using rampart::policy::PolicySpec;
using rampart::policy::Request;
using rampart::policy::RuleSpec;

constexpr int kRules = 1000;
constexpr int kAccounts = 10000;
constexpr int kServices = 50;
constexpr int kAccountRules = 800;  // each names kAccounts / kAccountRules accounts
const char* kMethods[] = {"GET", "POST", "PUT", "DELETE"};

std::string numbered(const char* stem, int i) {
  std::string out = stem;
  out += std::to_string(i);
  return out;
}

std::string service(int i) {
  return numbered("svc", i % kServices);
}

PolicySpec realisticPolicy() {
  PolicySpec spec;
  // 0-49: global denies: internal paths per service, blocked networks.
  for (int i = 0; i < 45; ++i) {
    RuleSpec r;
    r.name = numbered("deny-internal-", i);
    r.effect = Effect::kDeny;
    std::string path = "/";
    path += service(i);
    path += "/internal/**";
    r.paths = {{PathPatternKind::kGlob, path}};
    spec.rules.push_back(r);
  }
  for (int i = 0; i < 5; ++i) {
    RuleSpec r;
    r.name = numbered("deny-net-", i);
    r.effect = Effect::kDeny;
    r.sources = {{numbered("198.51.", i) + ".0/24", "2001:db8:dead::/48"}};
    spec.rules.push_back(r);
  }
  // 50-849: account-specific allows, own-account paths per service.
  const int perRule = kAccounts / kAccountRules;
  for (int i = 0; i < kAccountRules; ++i) {
    RuleSpec r;
    r.name = numbered("tenant-", i);
    r.effect = Effect::kAllow;
    r.accounts.emplace();
    for (int a = 0; a < perRule; ++a) r.accounts->push_back(numbered("acct-", i * perRule + a));
    if (i % 5 != 0) r.methods = {{kMethods[i % 4], "HEAD"}};
    std::string path = "/";
    path += service(i);
    if (i % 2 == 0) {
      path += "/accounts/{account}/**";
      r.paths = {{PathPatternKind::kGlob, path}};
      r.param_equals = {{"account", Attribute::kAccount}};
    } else {
      path += "/v1";
      r.paths = {{PathPatternKind::kPrefix, path}};
    }
    if (i % 7 == 0) r.scopes = {{"read", "write"}};
    spec.rules.push_back(r);
  }
  // 850-999: role- and scope-based rules over service paths, any account.
  for (int i = 0; static_cast<int>(spec.rules.size()) < kRules; ++i) {
    RuleSpec r;
    r.name = numbered("role-", i);
    r.effect = i % 10 == 0 ? Effect::kDeny : Effect::kAllow;
    r.roles = {{numbered("role", i % 20), "admin"}};
    if (i % 3 == 0) r.methods = {{kMethods[i % 4]}};
    std::string path = "/";
    path += service(i);
    path += i % 2 == 0 ? "/reports/*" : "/public";
    r.paths = {{i % 2 == 0 ? PathPatternKind::kGlob : PathPatternKind::kPrefix, path}};
    spec.rules.push_back(r);
  }
  return spec;
}

// A caller per account and a request each, reused as a worker reuses them.
struct Traffic {
  std::vector<Identity> identities;
  std::vector<std::string> paths;
  std::vector<const char*> methods;
  SocketAddress peer = *SocketAddress::parseNumeric("203.0.113.9:40000");

  explicit Traffic(int count) {
    identities.resize(count);
    for (int k = 0; k < count; ++k) {
      int account = (k * 7919) % kAccounts;  // spread over the accounts
      int rule = account / (kAccounts / kAccountRules);
      Identity& id = identities[k];
      id.kind = CredentialKind::kJwt;
      id.principal = numbered("user-", account);
      id.account = numbered("acct-", account);
      id.roles = {"member", numbered("role", k % 25)};
      id.scopes = {"read", "write"};
      std::string path = "/";
      path += service(rule);
      if (rule % 2 == 0) {
        path += "/accounts/";
        path += id.account;
        path += "/orders/42";
      } else {
        path += "/v1/items/42";
      }
      paths.push_back(path);
      methods.push_back(rule % 5 != 0 ? kMethods[rule % 4] : "GET");
    }
  }
  Request request(size_t k) const { return Request{methods[k], paths[k], &identities[k], &peer}; }
};

void runDecisions(benchmark::State& state, const Policy& policy) {
  static const Traffic traffic(1024);
  size_t k = 0;
  int64_t allowed = 0;
  for (auto _ : state) {
    auto verdict = policy.evaluate(traffic.request(k));
    allowed += verdict.allowed ? 1 : 0;
    benchmark::DoNotOptimize(verdict);
    k = (k + 1) & 1023;
  }
  state.counters["allowed%"] =
      100.0 * static_cast<double>(allowed) / static_cast<double>(state.iterations());
}

void BM_Decision1000Rules10kAccounts(benchmark::State& state) {
  static const PolicySpec spec = realisticPolicy();
  static Policy policy;
  static bool compiled = [] {
    std::string error;
    return policy.compile(spec, nullptr, &error);
  }();
  if (!compiled) state.SkipWithError("compile failed");
  runDecisions(state, policy);
}
BENCHMARK(BM_Decision1000Rules10kAccounts);

void BM_Decision1000Rules10kAccountsNoSegmentIndex(benchmark::State& state) {
  static const PolicySpec spec = realisticPolicy();
  static Policy policy;
  static bool compiled = [] {
    std::string error;
    return policy.compile(spec, nullptr, &error, CompileOptions{false});
  }();
  if (!compiled) state.SkipWithError("compile failed");
  runDecisions(state, policy);
}
BENCHMARK(BM_Decision1000Rules10kAccountsNoSegmentIndex);

// Worst case: 1,000 rules no index can set aside (no method, no account,
// globs starting with "**", role conditions), none of which matches, so
// every rule is tried before the default deny.
void BM_DecisionWorstCaseAllRulesTried(benchmark::State& state) {
  static Policy policy;
  static bool compiled = [] {
    PolicySpec spec;
    for (int i = 0; i < kRules; ++i) {
      RuleSpec r;
      r.effect = i % 2 == 0 ? Effect::kDeny : Effect::kAllow;
      std::string path = "/**/";
      path += numbered("x", i);
      path += "/**";
      r.paths = {{PathPatternKind::kGlob, path}};
      if (i % 4 == 1) r.roles = {{"nobody"}};
      spec.rules.push_back(r);
    }
    std::string error;
    return policy.compile(spec, nullptr, &error);
  }();
  if (!compiled) state.SkipWithError("compile failed");
  static const Traffic traffic(1);
  Request request = traffic.request(0);
  request.path = "/svc1/accounts/acct-0/orders/42";
  for (auto _ : state) {
    auto verdict = policy.evaluate(request);
    benchmark::DoNotOptimize(verdict);
  }
}
BENCHMARK(BM_DecisionWorstCaseAllRulesTried);

// The reference evaluator on the realistic policy: what the index saves.
void BM_NaiveReference1000Rules(benchmark::State& state) {
  static const PolicySpec spec = realisticPolicy();
  static const Traffic traffic(1024);
  size_t k = 0;
  for (auto _ : state) {
    auto verdict = rampart::policy::evaluateNaive(spec, traffic.request(k));
    benchmark::DoNotOptimize(verdict);
    k = (k + 1) & 1023;
  }
}
BENCHMARK(BM_NaiveReference1000Rules);

}  // namespace
