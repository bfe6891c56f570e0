// The impact engine. The sweep is callers x routes x methods x 2 evaluations
// done naively (10^9 for 100,000 accounts and 1,000 routes), so it:
//  1. skips routes whose decision function is the same in both configs;
//  2. partitions the callers, per set of attributes the route's policies can
//     look at, into groups the policies cannot tell apart, and evaluates one
//     caller per group (partitions are shared by routes that look at the
//     same attributes);
//  3. spreads the routes over ImpactOptions::threads threads.
// Why grouping is exact: a rule sees a caller only through
//  - principal and account: membership in its lists, or equality with a
//    path segment (param_equals), so a value outside every list and every
//    segment of the declared paths behaves as any other such value;
//  - roles (any of): only the caller's roles some rule names matter;
//  - scopes (all of): only the caller's scopes some rule names matter;
//  - claims: only whether each (claim, wanted value) some rule names holds;
//  - the rollout: whether the account is selected, per (percent, seed).
// Callers equal on all of these get the same decision on every path and
// method. Sources never match in the sweep (no peer).
#include "policy/impact.h"

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <atomic>
#include <queue>
#include <thread>

#include "policy/claims.h"

namespace rampart::policy {

namespace {

constexpr uint32_t kOutside = UINT32_MAX;  // a value no rule or declared path names

// ------------------------------------------------------------ spec equality

bool samePattern(const PathPattern& a, const PathPattern& b) {
  return a.kind == b.kind && a.pattern == b.pattern;
}

bool sameClaim(const ClaimMatch& a, const ClaimMatch& b) {
  return a.name == b.name && a.values == b.values;
}

bool sameParam(const ParamEquals& a, const ParamEquals& b) {
  return a.param == b.param && a.attribute == b.attribute;
}

template <typename T, typename Eq>
bool sameList(const std::vector<T>& a, const std::vector<T>& b, Eq eq) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), eq);
}

template <typename T, typename Eq>
bool sameOptional(const std::optional<std::vector<T>>& a, const std::optional<std::vector<T>>& b,
                  Eq eq) {
  if (a.has_value() != b.has_value()) return false;
  return !a || sameList(*a, *b, eq);
}

bool sameRule(const RuleSpec& a, const RuleSpec& b) {
  auto same = [](const std::string& x, const std::string& y) { return x == y; };
  return a.effect == b.effect && sameOptional(a.principals, b.principals, same) &&
         sameOptional(a.accounts, b.accounts, same) && sameOptional(a.roles, b.roles, same) &&
         sameOptional(a.scopes, b.scopes, same) && sameOptional(a.claims, b.claims, sameClaim) &&
         sameOptional(a.methods, b.methods, same) && sameOptional(a.paths, b.paths, samePattern) &&
         sameList(a.param_equals, b.param_equals, sameParam) &&
         sameOptional(a.sources, b.sources, same) && a.authenticated == b.authenticated;
}

// ------------------------------------------------------------ decisions

bool declaresMethod(const ImpactRoute& route, std::string_view method) {
  return route.methods.empty() ||
         std::find(route.methods.begin(), route.methods.end(), method) != route.methods.end();
}

// The policy phase 6 enforces for this caller (kNoPolicy: denied).
int32_t choosePolicy(const ImpactConfig& config, const ImpactRoute& route,
                     const auth::Identity* identity) {
  if (route.rollout != kNoPolicy && identity != nullptr && !identity->account.empty() &&
      inRollout(identity->account, route.rollout_percent, config.rollout_seed)) {
    return route.rollout;
  }
  return route.enforced;
}

const PolicySpec* specOf(const ImpactConfig& config, int32_t index) {
  return index == kNoPolicy ? nullptr : config.policies[index].spec;
}

bool sameSpec(const PolicySpec* a, const PolicySpec* b) {
  if (a == nullptr || b == nullptr) return a == b;
  return a == b || sameDecisions(*a, *b);
}

bool samePathAndMethods(const ImpactRoute& ra, const ImpactRoute& rb) {
  return ra.kind == rb.kind && ra.path == rb.path && ra.methods == rb.methods;
}

// The same decision for every caller, method and path.
bool sameDecisionFunction(const ImpactConfig& a, const ImpactRoute& ra, const ImpactConfig& b,
                          const ImpactRoute& rb) {
  if (ra.is_public != rb.is_public) return false;
  if (ra.is_public) return true;
  if (!sameSpec(specOf(a, ra.enforced), specOf(b, rb.enforced))) return false;
  // A rollout at 0% selects nobody: the same as none.
  bool rollout_a = ra.rollout != kNoPolicy && ra.rollout_percent > 0;
  bool rollout_b = rb.rollout != kNoPolicy && rb.rollout_percent > 0;
  if (rollout_a != rollout_b) return false;
  if (!rollout_a) return true;
  return ra.rollout_percent == rb.rollout_percent && a.rollout_seed == b.rollout_seed &&
         sameSpec(specOf(a, ra.rollout), specOf(b, rb.rollout));
}

// The sweep's decision; counts the policy evaluations it makes.
bool allowedOn(const ImpactConfig& config, const ImpactRoute* route, std::string_view method,
               const auth::Identity* identity, uint64_t* evaluations) {
  if (route == nullptr || !declaresMethod(*route, method)) return false;
  if (route->is_public) return true;
  int32_t chosen = choosePolicy(config, *route, identity);
  if (chosen == kNoPolicy) return false;
  ++*evaluations;
  Request request{method, route->path, identity, nullptr};
  return config.policies[chosen].compiled->evaluate(request).allowed;
}

// ------------------------------------------------------------ references

// What the policies of one route (both configs) can look at. Sorted, unique.
struct References {
  std::vector<std::string> principals;
  std::vector<std::string> accounts;
  std::vector<std::string> roles;
  std::vector<std::string> scopes;
  std::vector<std::pair<std::string, std::string>> claims;  // (name, wanted value)
  std::vector<std::pair<uint32_t, uint64_t>> rollouts;      // (percent, seed)

  // A key equal for equal references.
  std::string key() const {
    std::string out;
    auto add = [&out](std::string_view text) {
      out += std::to_string(text.size());
      out += ':';
      out += text;
    };
    for (const auto* list : {&principals, &accounts, &roles, &scopes}) {
      out += '|';
      for (const std::string& value : *list) add(value);
    }
    out += '|';
    for (const auto& [name, value] : claims) {
      add(name);
      add(value);
    }
    out += '|';
    for (const auto& [percent, seed] : rollouts) {
      out += std::to_string(percent);
      out += '/';
      out += std::to_string(seed);
      out += ',';
    }
    return out;
  }
};

template <typename T>
void sortUnique(std::vector<T>* values) {
  std::sort(values->begin(), values->end());
  values->erase(std::unique(values->begin(), values->end()), values->end());
}

void addSegments(std::string_view path, std::vector<std::string>* out) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    size_t end = slash == std::string_view::npos ? path.size() : slash;
    out->emplace_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
}

void collect(const PolicySpec& spec, References* out, bool* principal_param, bool* account_param) {
  auto append = [](const std::optional<std::vector<std::string>>& list,
                   std::vector<std::string>* to) {
    if (list) to->insert(to->end(), list->begin(), list->end());
  };
  for (const RuleSpec& rule : spec.rules) {
    append(rule.principals, &out->principals);
    append(rule.accounts, &out->accounts);
    append(rule.roles, &out->roles);
    append(rule.scopes, &out->scopes);
    if (rule.claims) {
      for (const ClaimMatch& claim : *rule.claims) {
        for (const std::string& value : claim.values) out->claims.emplace_back(claim.name, value);
      }
    }
    for (const ParamEquals& param : rule.param_equals) {
      if (param.attribute == Attribute::kPrincipal) *principal_param = true;
      if (param.attribute == Attribute::kAccount) *account_param = true;
    }
  }
}

void collectSide(const ImpactConfig& config, const ImpactRoute* route, References* out,
                 bool* principal_param, bool* account_param) {
  if (route == nullptr || route->is_public) return;
  if (const PolicySpec* spec = specOf(config, route->enforced)) {
    collect(*spec, out, principal_param, account_param);
  }
  if (route->rollout != kNoPolicy) {
    if (const PolicySpec* spec = specOf(config, route->rollout)) {
      collect(*spec, out, principal_param, account_param);
    }
    out->rollouts.emplace_back(route->rollout_percent, config.rollout_seed);
  }
}

References referencesOf(const ImpactConfig& before, const ImpactRoute* old_route,
                        const ImpactConfig& after, const ImpactRoute* new_route) {
  References refs;
  bool principal_param = false;
  bool account_param = false;
  collectSide(before, old_route, &refs, &principal_param, &account_param);
  collectSide(after, new_route, &refs, &principal_param, &account_param);
  // A captured segment comes from the declared path: only values equal to
  // one of its segments can satisfy param_equals.
  for (const ImpactRoute* route : {old_route, new_route}) {
    if (route == nullptr) continue;
    if (principal_param) addSegments(route->path, &refs.principals);
    if (account_param) addSegments(route->path, &refs.accounts);
  }
  sortUnique(&refs.principals);
  sortUnique(&refs.accounts);
  sortUnique(&refs.roles);
  sortUnique(&refs.scopes);
  sortUnique(&refs.claims);
  sortUnique(&refs.rollouts);
  return refs;
}

uint32_t indexIn(const std::vector<std::string>& sorted, std::string_view value) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), value,
                             [](const std::string& a, std::string_view b) { return a < b; });
  if (it == sorted.end() || *it != value) return kOutside;
  return static_cast<uint32_t>(it - sorted.begin());
}

// ------------------------------------------------------------ partitions

// Callers split into groups for one References; lives for one computeImpact.
struct Partition {
  uint32_t first_group = 0;  // index into ImpactReport::groups
  uint32_t group_count = 0;
  std::vector<auth::Identity> representatives;  // one per group (group 0: anonymous, unused)
  std::vector<uint32_t> group_accounts;         // distinct accounts per group
  std::vector<std::vector<uint32_t>> members;   // callers per group, until moved to the report
  // Every account's callers are in one group, so distinct accounts add up.
  bool accounts_whole = true;
};

// Identity-free attributes of an account, deduplicated once for all
// partitions: the roles, scopes and claims, sorted.
struct AttributeClasses {
  std::vector<uint32_t> of_account;      // account -> class
  std::vector<uint32_t> representative;  // class -> an account
};

AttributeClasses classifyAttributes(const std::vector<ImpactAccount>& accounts) {
  AttributeClasses out;
  absl::flat_hash_map<std::string, uint32_t> seen;
  out.of_account.reserve(accounts.size());
  std::string key;
  std::vector<std::string_view> sorted;
  for (size_t i = 0; i < accounts.size(); ++i) {
    const ImpactAccount& account = accounts[i];
    key.clear();
    for (const auto* list : {&account.roles, &account.scopes}) {
      sorted.assign(list->begin(), list->end());
      std::sort(sorted.begin(), sorted.end());
      for (std::string_view value : sorted) {
        key += value;
        key += '\0';
      }
      key += '\1';
    }
    std::vector<std::pair<std::string_view, std::string_view>> claims(account.claims.begin(),
                                                                      account.claims.end());
    std::sort(claims.begin(), claims.end());
    for (const auto& [name, value] : claims) {
      key += name;
      key += '\0';
      key += value;
      key += '\0';
    }
    auto [it, inserted] = seen.try_emplace(key, static_cast<uint32_t>(out.representative.size()));
    if (inserted) out.representative.push_back(static_cast<uint32_t>(i));
    out.of_account.push_back(it->second);
  }
  return out;
}

struct GroupKey {
  uint32_t attributes;
  uint32_t principal;
  uint32_t account;
  uint32_t rollouts;
  bool operator==(const GroupKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const GroupKey& k) {
    return H::combine(std::move(h), k.attributes, k.principal, k.account, k.rollouts);
  }
};

// Lookups shared by every partition, built once before them and read-only
// while they are built in parallel.
struct CallerIndex {
  absl::flat_hash_map<std::string_view, std::vector<uint32_t>> accounts;    // name -> accounts
  absl::flat_hash_map<std::string_view, std::vector<uint32_t>> principals;  // name -> callers
  // (percent, seed) -> by account: selected by that rollout.
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, std::vector<uint8_t>> rollouts;
};

CallerIndex indexCallers(const std::vector<ImpactAccount>& accounts,
                         const std::vector<Caller>& callers,
                         const std::vector<References>& all_refs) {
  CallerIndex index;
  for (uint32_t a = 0; a < accounts.size(); ++a) index.accounts[accounts[a].account].push_back(a);
  for (uint32_t c = 1; c < callers.size(); ++c) {
    const Caller& caller = callers[c];
    std::string_view name =
        caller.principal == kNoPrincipal
            ? std::string_view()
            : std::string_view(accounts[caller.account].principals[caller.principal]);
    index.principals[name].push_back(c);
  }
  for (const References& refs : all_refs) {
    for (const auto& rollout : refs.rollouts) {
      auto [it, inserted] = index.rollouts.try_emplace(rollout);
      if (!inserted) continue;
      it->second.resize(accounts.size());
      for (size_t a = 0; a < accounts.size(); ++a) {
        const std::string& name = accounts[a].account;
        it->second[a] = !name.empty() && inRollout(name, rollout.first, rollout.second);
      }
    }
  }
  return index;
}

Partition buildPartition(const References& refs, const std::vector<ImpactAccount>& accounts,
                         const AttributeClasses& classes, const std::vector<Caller>& callers,
                         const CallerIndex& index) {
  // Project each attribute class onto what the policies name.
  std::vector<uint32_t> projected(classes.representative.size());
  {
    absl::flat_hash_map<std::string, uint32_t> seen;
    std::string key;
    std::vector<uint32_t> held;
    for (size_t c = 0; c < classes.representative.size(); ++c) {
      const ImpactAccount& account = accounts[classes.representative[c]];
      key.clear();
      for (auto [list, names] :
           {std::pair{&account.roles, &refs.roles}, std::pair{&account.scopes, &refs.scopes}}) {
        held.clear();
        for (const std::string& value : *list) {
          uint32_t found = indexIn(*names, value);
          if (found != kOutside) held.push_back(found);
        }
        sortUnique(&held);
        for (uint32_t found : held) {
          key += std::to_string(found);
          key += ',';
        }
        key += '|';
      }
      for (const auto& claim : refs.claims) {
        // Not a structured binding: clang 14 cannot capture those in a lambda.
        const auto& name = claim.first;
        const auto& wanted = claim.second;
        bool holds = std::any_of(account.claims.begin(), account.claims.end(), [&](const auto& c) {
          return c.first == name && claimValueMatches(c.second, wanted);
        });
        key += holds ? '1' : '0';
      }
      projected[c] = seen.try_emplace(key, static_cast<uint32_t>(seen.size())).first->second;
    }
  }
  // Principal and account values the policies name, by caller and account.
  std::vector<uint32_t> principal_of;
  if (!refs.principals.empty()) {
    principal_of.assign(callers.size(), kOutside);
    for (uint32_t k = 0; k < refs.principals.size(); ++k) {
      if (auto it = index.principals.find(refs.principals[k]); it != index.principals.end()) {
        for (uint32_t c : it->second) principal_of[c] = k;
      }
    }
  }
  std::vector<uint32_t> account_of(accounts.size(), kOutside);
  for (uint32_t k = 0; k < refs.accounts.size(); ++k) {
    if (auto it = index.accounts.find(refs.accounts[k]); it != index.accounts.end()) {
      for (uint32_t a : it->second) account_of[a] = k;
    }
  }
  std::vector<const std::vector<uint8_t>*> rollouts;
  for (size_t r = 0; r < refs.rollouts.size() && r < 32; ++r) {
    rollouts.push_back(&index.rollouts.at(refs.rollouts[r]));
  }

  Partition out;
  out.accounts_whole = refs.principals.empty();
  absl::flat_hash_map<GroupKey, uint32_t> groups;
  out.members.resize(1);
  out.members[0].push_back(0);  // the anonymous caller is a group of its own
  out.representatives.emplace_back();
  out.group_accounts.push_back(1);
  size_t next = 1;
  std::vector<uint32_t> joined;  // the groups one account's callers went to
  for (uint32_t a = 0; a < accounts.size(); ++a) {
    const ImpactAccount& account = accounts[a];
    GroupKey key{projected[classes.of_account[a]], kOutside, account_of[a], 0};
    for (size_t r = 0; r < rollouts.size(); ++r) {
      if ((*rollouts[r])[a]) key.rollouts |= 1u << r;
    }
    // Callers of one account are consecutive, starting at `next`.
    size_t count = std::max<size_t>(1, account.principals.size());
    joined.clear();
    for (size_t p = 0; p < count; ++p, ++next) {
      const Caller& caller = callers[next];
      if (!principal_of.empty()) key.principal = principal_of[next];
      auto [it, inserted] = groups.try_emplace(key, static_cast<uint32_t>(out.members.size()));
      if (inserted) {
        out.members.emplace_back();
        auth::Identity identity;
        identity.kind = auth::CredentialKind::kJwt;
        if (caller.principal != kNoPrincipal) identity.principal = account.principals[p];
        identity.account = account.account;
        identity.roles = account.roles;
        identity.scopes = account.scopes;
        identity.claims = account.claims;
        out.representatives.push_back(std::move(identity));
        out.group_accounts.push_back(0);
      }
      out.members[it->second].push_back(static_cast<uint32_t>(next));
      joined.push_back(it->second);
    }
    sortUnique(&joined);
    for (uint32_t g : joined) ++out.group_accounts[g];
  }
  out.group_count = static_cast<uint32_t>(out.members.size());
  return out;
}

// Runs fn(i, thread) for i in [0, count) on up to `threads` threads.
template <typename Fn>
void parallelFor(size_t count, unsigned threads, Fn fn) {
  unsigned n = std::max(1u, static_cast<unsigned>(std::min<size_t>(threads, count)));
  std::atomic<size_t> next{0};
  auto work = [&](unsigned thread) {
    for (size_t i = next++; i < count; i = next++) fn(i, thread);
  };
  std::vector<std::thread> helpers;
  for (unsigned t = 1; t < n; ++t) helpers.emplace_back(work, t);
  work(0);
  for (std::thread& helper : helpers) helper.join();
}

// ------------------------------------------------------------ the sweep

struct Task {
  size_t route;  // index into ImpactReport::routes
  size_t partition;
};

// Per-thread scratch for distinct-account counting.
struct Scratch {
  std::vector<uint32_t> stamp;  // by account slot (the anonymous caller is the last)
  uint32_t token = 0;
  std::vector<uint8_t> touched;  // accounts with any change
  uint64_t evaluations = 0;
};

uint32_t slotOf(const Caller& caller, size_t accounts) {
  return caller.account == kAnonymous ? static_cast<uint32_t>(accounts) : caller.account;
}

uint32_t countAccounts(const ImpactReport& report, const Partition& partition,
                       const std::vector<const std::vector<uint32_t>*>& sets, size_t accounts,
                       Scratch* scratch) {
  uint32_t count = 0;
  if (partition.accounts_whole) {
    // Groups of one partition are disjoint and never split an account.
    std::vector<uint32_t> all;
    for (const auto* set : sets) all.insert(all.end(), set->begin(), set->end());
    sortUnique(&all);
    for (uint32_t g : all) count += partition.group_accounts[g - partition.first_group];
    return count;
  }
  ++scratch->token;
  for (const auto* set : sets) {
    for (uint32_t g : *set) {
      for (uint32_t c : report.groups[g]) {
        uint32_t slot = slotOf(report.callers[c], accounts);
        if (scratch->stamp[slot] != scratch->token) {
          scratch->stamp[slot] = scratch->token;
          ++count;
        }
      }
    }
  }
  return count;
}

std::vector<std::string_view> methodsOf(const ImpactRoute* a, const ImpactRoute* b) {
  std::vector<std::string_view> out;
  auto add = [&out](std::string_view method) {
    if (std::find(out.begin(), out.end(), method) == out.end()) out.push_back(method);
  };
  for (const ImpactRoute* route : {a, b}) {
    if (route != nullptr && route->methods.empty()) {
      for (std::string_view method : kAllMethods) add(method);
    }
  }
  for (const ImpactRoute* route : {a, b}) {
    if (route == nullptr) continue;
    for (const std::string& method : route->methods) add(method);
  }
  return out;
}

void sweepRoute(const ImpactConfig& before, const ImpactConfig& after, const Partition& partition,
                size_t accounts, const ImpactReport& report, RouteImpact* route, Scratch* scratch) {
  for (std::string_view method : methodsOf(route->before, route->after)) {
    MethodImpact impact;
    impact.method = method;
    for (uint32_t g = 0; g < partition.group_count; ++g) {
      const auth::Identity* identity = g == 0 ? nullptr : &partition.representatives[g];
      bool was = allowedOn(before, route->before, method, identity, &scratch->evaluations);
      bool is = allowedOn(after, route->after, method, identity, &scratch->evaluations);
      if (was == is) continue;
      CallerSet& set = is ? impact.gained : impact.lost;
      uint32_t id = partition.first_group + g;
      set.groups.push_back(id);
      set.callers += report.groups[id].size();
    }
    if (impact.gained.groups.empty() && impact.lost.groups.empty()) continue;
    for (CallerSet* set : {&impact.gained, &impact.lost}) {
      set->accounts = countAccounts(report, partition, {&set->groups}, accounts, scratch);
      for (uint32_t g : set->groups) {
        for (uint32_t c : report.groups[g])
          scratch->touched[slotOf(report.callers[c], accounts)] = 1;
      }
    }
    route->methods.push_back(std::move(impact));
  }
  for (bool gained : {true, false}) {
    std::vector<const std::vector<uint32_t>*> sets;
    for (const MethodImpact& method : route->methods) {
      sets.push_back(gained ? &method.gained.groups : &method.lost.groups);
    }
    uint32_t count = countAccounts(report, partition, sets, accounts, scratch);
    (gained ? route->gained_accounts : route->lost_accounts) = count;
  }
}

// Path check of the router for --requests: regex routes are assumed to match.
bool routeTakes(const ImpactRoute& route, std::string_view path) {
  switch (route.kind) {
    case RouteKind::kExact:
      return path == route.path;
    case RouteKind::kPrefix: {
      if (path.substr(0, route.path.size()) != route.path) return false;
      return path.size() == route.path.size() || route.path.empty() || route.path.back() == '/' ||
             path[route.path.size()] == '/';
    }
    case RouteKind::kRegex:
      return true;
  }
  return false;
}

}  // namespace

std::string_view describe(RouteStatus status) {
  switch (status) {
    case RouteStatus::kUnchanged:
      return "unchanged";
    case RouteStatus::kChanged:
      return "changed";
    case RouteStatus::kAdded:
      return "added";
    case RouteStatus::kRemoved:
      return "removed";
    case RouteStatus::kRegex:
      return "regex";
  }
  return "unknown";
}

std::string_view describe(DecisionReason reason) {
  switch (reason) {
    case DecisionReason::kNoRoute:
      return "no such route";
    case DecisionReason::kNotRouted:
      return "not routed";
    case DecisionReason::kPublic:
      return "public";
    case DecisionReason::kNoPolicy:
      return "no policy";
    case DecisionReason::kPolicy:
      return "policy";
  }
  return "unknown";
}

bool sameDecisions(const PolicySpec& a, const PolicySpec& b) {
  return sameList(a.rules, b.rules, sameRule);
}

bool ImpactReport::changed() const {
  if (!requests.empty()) return true;
  return std::any_of(routes.begin(), routes.end(),
                     [](const RouteImpact& route) { return route.changed(); });
}

Decision decideRequest(const ImpactConfig& config, const LoggedRequest& request) {
  Decision out;
  auto it = std::find_if(config.routes.begin(), config.routes.end(),
                         [&](const ImpactRoute& route) { return route.name == request.route; });
  if (it == config.routes.end()) return out;
  const ImpactRoute& route = *it;
  if (!declaresMethod(route, request.method) || !routeTakes(route, request.path)) {
    out.reason = DecisionReason::kNotRouted;
    return out;
  }
  if (route.is_public) {
    out.allowed = true;
    out.reason = DecisionReason::kPublic;
    return out;
  }
  const auth::Identity* identity = request.anonymous ? nullptr : &request.identity;
  out.policy = choosePolicy(config, route, identity);
  if (out.policy == kNoPolicy) {
    out.reason = DecisionReason::kNoPolicy;
    return out;
  }
  out.reason = DecisionReason::kPolicy;
  Request input{request.method, request.path, identity,
                request.client ? &*request.client : nullptr};
  Verdict verdict = config.policies[out.policy].compiled->evaluate(input);
  out.allowed = verdict.allowed;
  out.rule = verdict.rule;
  out.rule_name = verdict.rule_name;
  return out;
}

ImpactReport computeImpact(const ImpactConfig& before, const ImpactConfig& after,
                           const std::vector<ImpactAccount>& accounts,
                           const std::vector<LoggedRequest>& requests,
                           const ImpactOptions& options) {
  ImpactReport report;
  report.callers.push_back(Caller{});
  for (uint32_t a = 0; a < accounts.size(); ++a) {
    if (accounts[a].principals.empty()) report.callers.push_back(Caller{a, kNoPrincipal});
    for (uint32_t p = 0; p < accounts[a].principals.size(); ++p) {
      report.callers.push_back(Caller{a, p});
    }
  }

  // Pair the routes by name: NEW's order, then those only in OLD.
  absl::flat_hash_map<std::string_view, const ImpactRoute*> old_routes;
  for (const ImpactRoute& route : before.routes) old_routes.emplace(route.name, &route);
  absl::flat_hash_map<std::string_view, bool> in_new;
  for (const ImpactRoute& route : after.routes) {
    RouteImpact impact;
    impact.name = route.name;
    impact.after = &route;
    if (auto it = old_routes.find(route.name); it != old_routes.end()) impact.before = it->second;
    in_new.emplace(route.name, true);
    report.routes.push_back(std::move(impact));
  }
  for (const ImpactRoute& route : before.routes) {
    if (in_new.contains(route.name)) continue;
    RouteImpact impact;
    impact.name = route.name;
    impact.before = &route;
    report.routes.push_back(std::move(impact));
  }

  // Collect what to sweep, with one partition per distinct References.
  AttributeClasses classes = classifyAttributes(accounts);
  std::vector<References> all_refs;
  absl::flat_hash_map<std::string, size_t> partition_of;
  std::vector<Task> tasks;
  for (size_t r = 0; r < report.routes.size(); ++r) {
    RouteImpact& route = report.routes[r];
    bool same = route.before != nullptr && route.after != nullptr &&
                samePathAndMethods(*route.before, *route.after) &&
                sameDecisionFunction(before, *route.before, after, *route.after);
    bool regex = (route.before != nullptr && route.before->kind == RouteKind::kRegex) ||
                 (route.after != nullptr && route.after->kind == RouteKind::kRegex);
    if (regex) {
      route.status = RouteStatus::kRegex;
      route.decision_differs = !same;
      continue;
    }
    if (route.before == nullptr || route.after == nullptr) {
      route.status = route.before == nullptr ? RouteStatus::kAdded : RouteStatus::kRemoved;
    } else {
      route.status = same ? RouteStatus::kUnchanged : RouteStatus::kChanged;
      if (same) continue;
    }
    References refs = referencesOf(before, route.before, after, route.after);
    auto [it, inserted] = partition_of.try_emplace(refs.key(), all_refs.size());
    if (inserted) all_refs.push_back(std::move(refs));
    tasks.push_back(Task{r, it->second});
  }

  // Partition (in parallel), then number the groups.
  CallerIndex index = indexCallers(accounts, report.callers, all_refs);
  std::vector<Partition> partitions(all_refs.size());
  parallelFor(all_refs.size(), options.threads, [&](size_t i, unsigned) {
    partitions[i] = buildPartition(all_refs[i], accounts, classes, report.callers, index);
  });
  for (Partition& partition : partitions) {
    partition.first_group = static_cast<uint32_t>(report.groups.size());
    for (auto& list : partition.members) report.groups.push_back(std::move(list));
    partition.members.clear();
  }

  // Sweep, spreading the routes over the threads.
  unsigned thread_count = std::max(1u, std::min<unsigned>(options.threads, tasks.size()));
  std::vector<Scratch> scratch(thread_count);
  for (Scratch& mine : scratch) {
    mine.stamp.assign(accounts.size() + 1, 0);
    mine.touched.assign(accounts.size() + 1, 0);
  }
  parallelFor(tasks.size(), thread_count, [&](size_t t, unsigned thread) {
    const Task& task = tasks[t];
    sweepRoute(before, after, partitions[task.partition], accounts.size(), report,
               &report.routes[task.route], &scratch[thread]);
  });
  for (size_t slot = 0; slot <= accounts.size(); ++slot) {
    bool any = std::any_of(scratch.begin(), scratch.end(),
                           [slot](const Scratch& s) { return s.touched[slot] != 0; });
    if (any) ++report.affected_accounts;
  }
  for (const Scratch& s : scratch) report.evaluations += s.evaluations;

  // Replay the log.
  for (uint32_t i = 0; i < requests.size(); ++i) {
    Decision was = decideRequest(before, requests[i]);
    Decision is = decideRequest(after, requests[i]);
    if (was.allowed == is.allowed) continue;
    ++(is.allowed ? report.requests_gained : report.requests_lost);
    report.requests.push_back(RequestImpact{i, was, is});
  }
  return report;
}

std::vector<AffectedAccount> listAccounts(const ImpactReport& report, const CallerSet& set,
                                          size_t limit) {
  // Merge the groups' ascending caller lists: callers are numbered in account
  // order, so an account's callers come out together.
  using Head = std::pair<uint32_t, std::pair<uint32_t, uint32_t>>;  // caller, (group, position)
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
  for (uint32_t g : set.groups) {
    if (!report.groups[g].empty()) heads.push({report.groups[g][0], {g, 0}});
  }
  std::vector<AffectedAccount> out;
  while (!heads.empty()) {
    auto [caller_id, where] = heads.top();
    heads.pop();
    const Caller& caller = report.callers[caller_id];
    if (out.empty() || out.back().account != caller.account) {
      if (limit != 0 && out.size() == limit) break;
      out.push_back(AffectedAccount{caller.account, {}});
    }
    if (caller.principal != kNoPrincipal) out.back().principals.push_back(caller.principal);
    const std::vector<uint32_t>& group = report.groups[where.first];
    if (where.second + 1 < group.size()) {
      heads.push({group[where.second + 1], {where.first, where.second + 1}});
    }
  }
  return out;
}

}  // namespace rampart::policy
