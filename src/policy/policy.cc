#include "policy/policy.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <array>

#include "policy/claims.h"
#include "policy/lint.h"
#include "policy/path_pattern.h"

namespace rampart::policy {

namespace {

// Lists longer than this are hashed; shorter ones are scanned (faster for
// the two or three values rules usually give).
constexpr size_t kLinearLimit = 8;

absl::string_view key(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

class StringSet {
 public:
  void assign(const std::vector<std::string>& values) {
    if (values.size() <= kLinearLimit) {
      small_ = values;
    } else {
      large_.insert(values.begin(), values.end());
    }
  }
  bool contains(std::string_view value) const {
    if (!large_.empty()) return large_.contains(key(value));
    return std::find(small_.begin(), small_.end(), value) != small_.end();
  }

 private:
  std::vector<std::string> small_;
  absl::flat_hash_set<std::string> large_;
};

// Method and account are implied by the index bucket a rule is found in, so
// they are not stored here.
struct CompiledRule {
  std::string name;
  Effect effect = Effect::kDeny;
  bool needs_identity = false;
  std::optional<bool> authenticated;
  bool has_principals = false;
  StringSet principals;
  std::vector<std::string> roles;  // empty: absent
  std::vector<std::string> scopes;
  std::vector<ClaimMatch> claims;
  bool has_sources = false;
  std::vector<net::Cidr> sources;
  bool has_paths = false;
  std::vector<CompiledPattern> paths;
};

// Rule indexes in ascending order, split by effect.
struct Lists {
  std::vector<uint32_t> deny;
  std::vector<uint32_t> allow;
};

struct PathLevel {
  absl::flat_hash_map<std::string, Lists> by_segment;
  Lists any;  // no path condition, or a pattern that can start anywhere
};

struct AccountLevel {
  absl::flat_hash_map<std::string, PathLevel> by_account;
  PathLevel any;  // no account condition
};

bool hasValue(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool claimHolds(const ClaimMatch& match, const auth::Identity& identity) {
  for (const auto& [name, value] : identity.claims) {
    if (name != match.name) continue;
    for (const std::string& wanted : match.values) {
      if (claimValueMatches(value, wanted)) return true;
    }
  }
  return false;
}

// `caller` is the identity when authenticated, else null.
bool ruleMatches(const CompiledRule& rule, const Request& request, const SplitPath& path,
                 const auth::Identity* caller) {
  if (rule.authenticated && *rule.authenticated != (caller != nullptr)) return false;
  if (rule.needs_identity && caller == nullptr) return false;
  if (rule.has_principals && !rule.principals.contains(caller->principal)) return false;
  if (!rule.roles.empty()) {
    bool any = std::any_of(caller->roles.begin(), caller->roles.end(),
                           [&rule](const std::string& r) { return hasValue(rule.roles, r); });
    if (!any) return false;
  }
  for (const std::string& scope : rule.scopes) {
    if (!hasValue(caller->scopes, scope)) return false;
  }
  for (const ClaimMatch& claim : rule.claims) {
    if (!claimHolds(claim, *caller)) return false;
  }
  if (rule.has_sources) {
    if (request.peer == nullptr || !net::containsAny(rule.sources, *request.peer)) return false;
  }
  if (rule.has_paths) {
    bool any = std::any_of(rule.paths.begin(), rule.paths.end(),
                           [&](const CompiledPattern& p) { return matchPattern(p, path, caller); });
    if (!any) return false;
  }
  return true;
}

std::string ruleError(size_t index, const RuleSpec& rule, std::string_view message) {
  std::string out = "rule ";
  out += std::to_string(index);
  if (!rule.name.empty()) {
    out += " (";
    out += rule.name;
    out += ")";
  }
  out += ": ";
  out += message;
  return out;
}

// Sorted, without duplicates.
std::vector<std::string> uniqueKeys(std::vector<std::string> keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

}  // namespace

bool claimValueMatches(std::string_view claim, std::string_view wanted) {
  if (claim == wanted) return true;
  size_t start = 0;
  while (start <= claim.size()) {
    size_t comma = claim.find(',', start);
    size_t end = comma == std::string_view::npos ? claim.size() : comma;
    if (claim.substr(start, end - start) == wanted) return true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return false;
}

struct Policy::Impl {
  std::vector<CompiledRule> rules;
  absl::flat_hash_map<std::string, AccountLevel> by_method;
  AccountLevel any_method;

  bool compileRule(size_t index, const RuleSpec& spec, CompiledRule* out, std::string* error);
  void insert(uint32_t index, const RuleSpec& spec,
              const std::optional<std::vector<std::string>>& segments);
  Verdict decide(uint32_t index, bool allowed) const {
    return Verdict{allowed, index, rules[index].name};
  }
};

bool Policy::Impl::compileRule(size_t index, const RuleSpec& spec, CompiledRule* out,
                               std::string* error) {
  out->name = spec.name;
  out->effect = spec.effect;
  out->authenticated = spec.authenticated;
  out->needs_identity = spec.principals || spec.accounts || spec.roles || spec.scopes ||
                        spec.claims || !spec.param_equals.empty();
  if (spec.principals) {
    out->has_principals = true;
    out->principals.assign(*spec.principals);
  }
  if (spec.roles) out->roles = *spec.roles;
  if (spec.scopes) out->scopes = *spec.scopes;
  if (spec.claims) out->claims = *spec.claims;
  if (spec.sources) {
    out->has_sources = true;
    for (const std::string& text : *spec.sources) {
      auto cidr = net::Cidr::parse(text);
      if (!cidr) {
        std::string message = "bad CIDR '";
        message += text;
        message += "' in sources";
        *error = ruleError(index, spec, message);
        return false;
      }
      out->sources.push_back(*cidr);
    }
  }
  for (size_t i = 0; i < spec.param_equals.size(); ++i) {
    for (size_t k = 0; k < i; ++k) {
      if (spec.param_equals[k].param == spec.param_equals[i].param) {
        std::string message = "param_equals names '";
        message += spec.param_equals[i].param;
        message += "' twice";
        *error = ruleError(index, spec, message);
        return false;
      }
    }
  }
  if (!spec.param_equals.empty() && (!spec.paths || spec.paths->empty())) {
    std::string message = "param_equals names '";
    message += spec.param_equals.front().param;
    message += "' but the rule has no path pattern to capture it";
    *error = ruleError(index, spec, message);
    return false;
  }
  if (spec.paths) {
    out->has_paths = true;
    for (const PathPattern& pattern : *spec.paths) {
      CompiledPattern compiled;
      std::string message;
      if (!compilePattern(pattern, &compiled, &message)) {
        std::string full = "path pattern '";
        full += pattern.pattern;
        full += "': ";
        full += message;
        *error = ruleError(index, spec, full);
        return false;
      }
      std::vector<std::string> unknown = bindParams(spec.param_equals, &compiled);
      if (!unknown.empty()) {
        std::string full = "param_equals names unknown parameter '";
        full += unknown.front();
        full += "': path pattern '";
        full += pattern.pattern;
        full += "' does not declare '{";
        full += unknown.front();
        full += "}' (every pattern of the rule must)";
        *error = ruleError(index, spec, full);
        return false;
      }
      out->paths.push_back(std::move(compiled));
    }
  }
  return true;
}

void Policy::Impl::insert(uint32_t index, const RuleSpec& spec,
                          const std::optional<std::vector<std::string>>& segments) {
  auto addToLists = [&](Lists& lists) {
    (spec.effect == Effect::kDeny ? lists.deny : lists.allow).push_back(index);
  };
  auto addToPath = [&](PathLevel& level) {
    if (!segments) {
      addToLists(level.any);
      return;
    }
    for (const std::string& segment : *segments) addToLists(level.by_segment[segment]);
  };
  auto addToAccount = [&](AccountLevel& level) {
    if (!spec.accounts) {
      addToPath(level.any);
      return;
    }
    for (const std::string& account : uniqueKeys(*spec.accounts)) {
      addToPath(level.by_account[account]);
    }
  };
  if (!spec.methods) {
    addToAccount(any_method);
    return;
  }
  for (const std::string& method : uniqueKeys(*spec.methods)) addToAccount(by_method[method]);
}

Policy::Policy() : impl_(std::make_unique<Impl>()) {}
Policy::~Policy() = default;
Policy::Policy(Policy&&) noexcept = default;
Policy& Policy::operator=(Policy&&) noexcept = default;

bool Policy::compile(const PolicySpec& spec, std::vector<CompileWarning>* warnings,
                     std::string* error, const CompileOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->rules.resize(spec.rules.size());
  for (size_t i = 0; i < spec.rules.size(); ++i) {
    if (!impl->compileRule(i, spec.rules[i], &impl->rules[i], error)) {
      impl_ = std::make_unique<Impl>();
      return false;
    }
  }
  for (size_t i = 0; i < spec.rules.size(); ++i) {
    const RuleSpec& rule = spec.rules[i];
    if (neverMatches(rule)) continue;  // nothing to find
    // The first segments every pattern requires, or nullopt (any).
    std::optional<std::vector<std::string>> segments;
    if (options.index_first_segment && rule.paths) {
      segments.emplace();
      for (const CompiledPattern& pattern : impl->rules[i].paths) {
        std::optional<std::string> first = requiredFirstSegment(pattern);
        if (!first) {
          segments.reset();
          break;
        }
        segments->push_back(std::move(*first));
      }
      if (segments) segments = uniqueKeys(std::move(*segments));
    }
    impl->insert(static_cast<uint32_t>(i), rule, segments);
  }
  if (warnings != nullptr) lintPolicy(spec, warnings);
  impl_ = std::move(impl);
  return true;
}

size_t Policy::ruleCount() const {
  return impl_ ? impl_->rules.size() : 0;
}

Verdict Policy::evaluate(const Request& request) const {
  if (!impl_) return Verdict{};  // moved from
  const Impl& impl = *impl_;
  const auth::Identity* caller =
      request.identity != nullptr && request.identity->authenticated() ? request.identity : nullptr;
  std::optional<std::string_view> segment = firstSegment(request.path);
  const SplitPath path(request.path);

  // At most 2 (method) x 2 (account) x 2 (path) candidate lists.
  std::array<const Lists*, 8> lists;
  size_t count = 0;
  auto addPath = [&](const PathLevel& level) {
    if (segment) {
      if (auto it = level.by_segment.find(key(*segment)); it != level.by_segment.end()) {
        lists[count++] = &it->second;
      }
    }
    lists[count++] = &level.any;
  };
  auto addAccount = [&](const AccountLevel& level) {
    // Account conditions never match an anonymous caller.
    if (caller != nullptr && !level.by_account.empty()) {
      if (auto it = level.by_account.find(key(caller->account)); it != level.by_account.end()) {
        addPath(it->second);
      }
    }
    addPath(level.any);
  };
  if (auto it = impl.by_method.find(key(request.method)); it != impl.by_method.end()) {
    addAccount(it->second);
  }
  addAccount(impl.any_method);

  // The first matching deny, over every list: each list is ascending, so
  // its scan stops at its first match or past the best found so far.
  auto firstMatch = [&](std::vector<uint32_t> Lists::*member) {
    uint32_t best = kDefaultDeny;
    for (size_t l = 0; l < count; ++l) {
      for (uint32_t index : lists[l]->*member) {
        if (index >= best) break;
        if (ruleMatches(impl.rules[index], request, path, caller)) {
          best = index;
          break;
        }
      }
    }
    return best;
  };
  if (uint32_t deny = firstMatch(&Lists::deny); deny != kDefaultDeny) {
    return impl.decide(deny, false);
  }
  if (uint32_t allow = firstMatch(&Lists::allow); allow != kDefaultDeny) {
    return impl.decide(allow, true);
  }
  return Verdict{};
}

std::optional<Attribute> parseAttribute(std::string_view name) {
  if (name == "principal") return Attribute::kPrincipal;
  if (name == "account") return Attribute::kAccount;
  if (name == "issuer") return Attribute::kIssuer;
  return std::nullopt;
}

}  // namespace rampart::policy
