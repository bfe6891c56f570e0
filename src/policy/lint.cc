#include "policy/lint.h"

#include <algorithm>

#include "net/address.h"
#include "policy/path_pattern.h"

namespace rampart::policy {

namespace {

using StringList = std::optional<std::vector<std::string>>;

bool hasIdentityCondition(const RuleSpec& rule) {
  return rule.principals || rule.accounts || rule.roles || rule.scopes || rule.claims ||
         !rule.param_equals.empty();
}

void warn(std::vector<CompileWarning>* out, size_t index, const RuleSpec& rule,
          std::string_view message) {
  CompileWarning warning;
  warning.rule = static_cast<uint32_t>(index);
  warning.message = "rule ";
  warning.message += std::to_string(index);
  if (!rule.name.empty()) {
    warning.message += " (";
    warning.message += rule.name;
    warning.message += ")";
  }
  warning.message += ": ";
  warning.message += message;
  out->push_back(std::move(warning));
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Every element of `narrow` is in `broad`.
bool subset(const std::vector<std::string>& narrow, const std::vector<std::string>& broad) {
  return std::all_of(narrow.begin(), narrow.end(),
                     [&broad](const std::string& v) { return contains(broad, v); });
}

// An "any of" condition of the earlier rule admits everything the later
// one's does: absent, or a superset of its list.
bool coversAnyOf(const StringList& earlier, const StringList& later) {
  if (!earlier) return true;
  return later && subset(*later, *earlier);
}

// Scopes are "all of": fewer required scopes is broader.
bool coversScopes(const StringList& earlier, const StringList& later) {
  if (!earlier) return true;
  if (!later) return false;
  return subset(*earlier, *later);
}

// Claims are "all of" names, each "any of" values: every claim of the
// earlier rule must appear in the later one with no value it does not allow.
bool coversClaims(const std::optional<std::vector<ClaimMatch>>& earlier,
                  const std::optional<std::vector<ClaimMatch>>& later) {
  if (!earlier) return true;
  if (!later) return false;
  return std::all_of(earlier->begin(), earlier->end(), [&later](const ClaimMatch& broad) {
    return std::any_of(later->begin(), later->end(), [&broad](const ClaimMatch& narrow) {
      return narrow.name == broad.name && !narrow.values.empty() &&
             subset(narrow.values, broad.values);
    });
  });
}

// Normalised CIDR text ("10.1.2.3/8" and "10.0.0.0/8" are one range).
std::vector<std::string> cidrTexts(const std::vector<std::string>& sources) {
  std::vector<std::string> out;
  for (const std::string& text : sources) {
    auto cidr = net::Cidr::parse(text);
    out.push_back(cidr ? cidr->toString() : text);
  }
  return out;
}

bool coversSources(const StringList& earlier, const StringList& later) {
  if (!earlier) return true;
  if (!later) return false;
  return subset(cidrTexts(*later), cidrTexts(*earlier));
}

// A pattern matching every path that starts with '/'.
bool matchesAllRooted(const PathPattern& pattern) {
  if (pattern.kind == PathPatternKind::kPrefix) return pattern.pattern == "/";
  return pattern.kind == PathPatternKind::kGlob && pattern.pattern == "/**";
}

// `broad` matches every path `narrow` matches (parameters aside).
bool patternCovers(const PathPattern& broad, const PathPattern& narrow) {
  if (broad.kind == narrow.kind && broad.pattern == narrow.pattern) return true;
  if (narrow.pattern.empty() || narrow.pattern.front() != '/') return false;
  if (broad.kind == PathPatternKind::kPrefix && broad.pattern.empty()) return true;
  if (matchesAllRooted(broad)) return true;
  // A prefix covers an exact path or a longer prefix under it.
  return broad.kind == PathPatternKind::kPrefix && narrow.kind != PathPatternKind::kGlob &&
         prefixMatches(broad.pattern, narrow.pattern);
}

bool sameParamEquals(const ParamEquals& a, const ParamEquals& b) {
  return a.param == b.param && a.attribute == b.attribute;
}

bool coversPaths(const RuleSpec& earlier, const RuleSpec& later) {
  if (!earlier.paths) return earlier.param_equals.empty();
  if (!later.paths) return false;
  // Each constraint of the earlier rule must also bind the later one; then
  // the later rule's patterns must be ones the earlier admits unchanged
  // (equal patterns share parameter names, so the constraint applies alike).
  for (const ParamEquals& entry : earlier.param_equals) {
    bool bound = std::any_of(later.param_equals.begin(), later.param_equals.end(),
                             [&entry](const ParamEquals& e) { return sameParamEquals(entry, e); });
    if (!bound) return false;
  }
  return std::all_of(later.paths->begin(), later.paths->end(), [&](const PathPattern& narrow) {
    return std::any_of(earlier.paths->begin(), earlier.paths->end(), [&](const PathPattern& broad) {
      if (!earlier.param_equals.empty()) {
        return broad.kind == narrow.kind && broad.pattern == narrow.pattern;
      }
      return patternCovers(broad, narrow);
    });
  });
}

bool coversAuthenticated(const RuleSpec& earlier, const RuleSpec& later) {
  if (!earlier.authenticated) return true;
  if (later.authenticated) return *later.authenticated == *earlier.authenticated;
  // Identity conditions only ever match authenticated callers.
  return *earlier.authenticated && hasIdentityCondition(later);
}

// The earlier rule matches every request the later one matches. Recognised:
// each condition of the earlier rule is absent, or an equal or broader list
// (a superset for "any of" lists and CIDRs compared as normalised text, a
// subset for scopes, claims named alike with a superset of values), and for
// paths: equal patterns, "/**" or prefix "/", or a prefix covering an exact
// path or longer prefix. Anything else is not flagged.
bool coversRule(const RuleSpec& earlier, const RuleSpec& later) {
  return coversAnyOf(earlier.methods, later.methods) &&
         coversAnyOf(earlier.accounts, later.accounts) &&
         coversAnyOf(earlier.principals, later.principals) &&
         coversAnyOf(earlier.roles, later.roles) && coversScopes(earlier.scopes, later.scopes) &&
         coversClaims(earlier.claims, later.claims) &&
         coversSources(earlier.sources, later.sources) && coversPaths(earlier, later) &&
         coversAuthenticated(earlier, later);
}

void lintNeverMatches(size_t index, const RuleSpec& rule, std::vector<CompileWarning>* out) {
  auto empty = [&](const auto& list, std::string_view what) {
    if (list && list->empty()) {
      std::string message = "empty '";
      message += what;
      message += "' list: the rule can never match";
      warn(out, index, rule, message);
    }
  };
  empty(rule.principals, "principals");
  empty(rule.accounts, "accounts");
  empty(rule.roles, "roles");
  empty(rule.scopes, "scopes");
  empty(rule.claims, "claims");
  empty(rule.methods, "methods");
  empty(rule.paths, "paths");
  empty(rule.sources, "sources");
  if (rule.claims) {
    for (const ClaimMatch& claim : *rule.claims) {
      if (!claim.values.empty()) continue;
      std::string message = "claim '";
      message += claim.name;
      message += "' has no values: the rule can never match";
      warn(out, index, rule, message);
    }
  }
  if (rule.authenticated && !*rule.authenticated && hasIdentityCondition(rule)) {
    warn(out, index, rule,
         "'authenticated: false' with an identity condition (principals, accounts, roles, "
         "scopes, claims or param_equals): the rule can never match");
  }
}

void lintPatterns(size_t index, const RuleSpec& rule, std::vector<CompileWarning>* out) {
  if (!rule.paths) return;
  for (const PathPattern& pattern : *rule.paths) {
    const std::string& text = pattern.pattern;
    bool rootedPrefix = pattern.kind == PathPatternKind::kPrefix && text == "/";
    if (!rootedPrefix && !isCanonicalPath(text)) {
      std::string message = "path pattern '";
      message += text;
      message +=
          "' is not canonical (must start with '/', no '//', '/./' or '/../'): it cannot "
          "match as intended";
      warn(out, index, rule, message);
    }
    if (pattern.kind != PathPatternKind::kGlob && text.find_first_of("*{}") != std::string::npos) {
      std::string message = "path pattern '";
      message += text;
      message += "' has '*' or '{' but is not a glob: they are matched literally";
      warn(out, index, rule, message);
    }
  }
}

}  // namespace

bool neverMatches(const RuleSpec& rule) {
  auto empty = [](const auto& list) { return list && list->empty(); };
  if (empty(rule.principals) || empty(rule.accounts) || empty(rule.roles) || empty(rule.scopes) ||
      empty(rule.claims) || empty(rule.methods) || empty(rule.paths) || empty(rule.sources)) {
    return true;
  }
  if (rule.claims) {
    for (const ClaimMatch& claim : *rule.claims) {
      if (claim.values.empty()) return true;
    }
  }
  return rule.authenticated && !*rule.authenticated && hasIdentityCondition(rule);
}

void lintPolicy(const PolicySpec& spec, std::vector<CompileWarning>* warnings) {
  const std::vector<RuleSpec>& rules = spec.rules;
  for (size_t j = 0; j < rules.size(); ++j) {
    const RuleSpec& later = rules[j];
    lintNeverMatches(j, later, warnings);
    lintPatterns(j, later, warnings);
    if (neverMatches(later)) continue;
    for (size_t i = 0; i < j; ++i) {
      const RuleSpec& earlier = rules[i];
      if (earlier.effect != Effect::kDeny && earlier.effect != later.effect) continue;
      if (neverMatches(earlier) || !coversRule(earlier, later)) continue;
      std::string message = "shadowed by rule ";
      message += std::to_string(i);
      if (!earlier.name.empty()) {
        message += " (";
        message += earlier.name;
        message += ")";
      }
      message += earlier.effect == Effect::kDeny ? ", a deny" : ", with the same effect";
      message += " matching every request this rule matches: it never decides";
      warn(warnings, j, later, message);
      break;
    }
  }
}

}  // namespace rampart::policy
