// evaluateNaive: the deliberately simple reference evaluator the property
// test compares Policy::evaluate against. REFERENCE ONLY: it allocates,
// parses CIDRs per call and tries every alignment of a glob recursively.
// Written apart from the compiled matcher so one bug is not in both.
#include <map>
#include <string>
#include <vector>

#include "net/address.h"
#include "policy/policy.h"

namespace rampart::policy {

namespace {

using Captures = std::map<std::string, std::string>;

bool inList(const std::vector<std::string>& list, std::string_view value) {
  for (const std::string& item : list) {
    if (item == value) return true;
  }
  return false;
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> out;
  std::string current;
  for (char c : text) {
    if (c == separator) {
      out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  out.push_back(current);
  return out;
}

// Segments of a path or glob after its leading '/'; "/" has none.
std::vector<std::string> segmentsOf(std::string_view path) {
  if (path.size() == 1) return {};
  return split(path.substr(1), '/');
}

std::string attribute(const auth::Identity& identity, Attribute which) {
  if (which == Attribute::kPrincipal) return identity.principal;
  if (which == Attribute::kAccount) return identity.account;
  return identity.issuer;
}

bool constraintsHold(const RuleSpec& rule, const Captures& captures, const auth::Identity* caller) {
  for (const ParamEquals& entry : rule.param_equals) {
    auto it = captures.find(entry.param);
    if (it == captures.end() || caller == nullptr) return false;
    std::string wanted = attribute(*caller, entry.attribute);
    if (wanted.empty() || it->second != wanted) return false;
  }
  return true;
}

// Tries every way the glob can align with the path.
bool globAt(const std::vector<std::string>& glob, size_t gi, const std::vector<std::string>& path,
            size_t pi, Captures& captures, const RuleSpec& rule, const auth::Identity* caller) {
  if (gi == glob.size()) {
    return pi == path.size() && constraintsHold(rule, captures, caller);
  }
  const std::string& g = glob[gi];
  if (g == "**") {
    for (size_t take = pi; take <= path.size(); ++take) {
      if (globAt(glob, gi + 1, path, take, captures, rule, caller)) return true;
    }
    return false;
  }
  if (pi == path.size()) return false;
  const std::string& segment = path[pi];
  if (g == "*") {
    return !segment.empty() && globAt(glob, gi + 1, path, pi + 1, captures, rule, caller);
  }
  if (g.size() >= 2 && g.front() == '{' && g.back() == '}') {
    if (segment.empty()) return false;
    std::string name = g.substr(1, g.size() - 2);
    captures[name] = segment;
    bool ok = globAt(glob, gi + 1, path, pi + 1, captures, rule, caller);
    captures.erase(name);
    return ok;
  }
  return g == segment && globAt(glob, gi + 1, path, pi + 1, captures, rule, caller);
}

bool patternMatches(const PathPattern& pattern, std::string_view path, const RuleSpec& rule,
                    const auth::Identity* caller) {
  const std::string& p = pattern.pattern;
  if (pattern.kind == PathPatternKind::kExact) return path == p;
  if (pattern.kind == PathPatternKind::kPrefix) {
    if (path.substr(0, p.size()) != p) return false;
    if (p.empty() || path.size() == p.size() || p.back() == '/') return true;
    return path[p.size()] == '/';
  }
  if (p.empty() || p[0] != '/' || path.empty() || path[0] != '/') return false;
  Captures captures;
  return globAt(segmentsOf(p), 0, segmentsOf(path), 0, captures, rule, caller);
}

bool claimMatches(const ClaimMatch& match, const auth::Identity& identity) {
  for (const auto& [name, value] : identity.claims) {
    if (name != match.name) continue;
    for (const std::string& wanted : match.values) {
      if (value == wanted || inList(split(value, ','), wanted)) return true;
    }
  }
  return false;
}

bool ruleMatches(const RuleSpec& rule, const Request& request, const auth::Identity* caller) {
  // An empty list never matches (even "all of" scopes and claims).
  auto emptyList = [](const auto& list) { return list.has_value() && list->empty(); };
  if (emptyList(rule.principals) || emptyList(rule.accounts) || emptyList(rule.roles) ||
      emptyList(rule.scopes) || emptyList(rule.claims) || emptyList(rule.methods) ||
      emptyList(rule.paths) || emptyList(rule.sources)) {
    return false;
  }
  if (rule.methods && !inList(*rule.methods, request.method)) return false;
  if (rule.authenticated && *rule.authenticated != (caller != nullptr)) return false;
  bool identityCondition = rule.principals || rule.accounts || rule.roles || rule.scopes ||
                           rule.claims || !rule.param_equals.empty();
  if (identityCondition && caller == nullptr) return false;
  if (rule.principals && !inList(*rule.principals, caller->principal)) return false;
  if (rule.accounts && !inList(*rule.accounts, caller->account)) return false;
  if (rule.roles) {
    bool any = false;
    for (const std::string& role : caller->roles) any = any || inList(*rule.roles, role);
    if (!any) return false;
  }
  if (rule.scopes) {
    for (const std::string& scope : *rule.scopes) {
      if (!inList(caller->scopes, scope)) return false;
    }
  }
  if (rule.claims) {
    for (const ClaimMatch& claim : *rule.claims) {
      if (!claimMatches(claim, *caller)) return false;
    }
  }
  if (rule.sources) {
    if (request.peer == nullptr) return false;
    bool any = false;
    for (const std::string& text : *rule.sources) {
      auto cidr = net::Cidr::parse(text);
      any = any || (cidr && cidr->contains(*request.peer));
    }
    if (!any) return false;
  }
  if (rule.paths) {
    bool any = false;
    for (const PathPattern& pattern : *rule.paths) {
      any = any || patternMatches(pattern, request.path, rule, caller);
    }
    if (!any) return false;
  }
  return true;
}

}  // namespace

Verdict evaluateNaive(const PolicySpec& spec, const Request& request) {
  const auth::Identity* caller =
      request.identity != nullptr && request.identity->authenticated() ? request.identity : nullptr;
  Verdict allow;
  for (size_t i = 0; i < spec.rules.size(); ++i) {
    const RuleSpec& rule = spec.rules[i];
    if (!ruleMatches(rule, request, caller)) continue;
    if (rule.effect == Effect::kDeny) return Verdict{false, static_cast<uint32_t>(i), rule.name};
    if (allow.defaultDeny()) allow = Verdict{true, static_cast<uint32_t>(i), rule.name};
  }
  return allow;
}

}  // namespace rampart::policy
