// Authorization policy engine (phase 6, "authorize"): an ordered list of
// allow/deny rules compiled once per config snapshot into an indexed,
// immutable Policy that every worker reads concurrently without locking.
// Pure: no sockets, HTTP parsing or YAML; the config loader fills PolicySpec.
//
// Decision (deny-overrides, default deny):
//  - if any deny rule matches, the request is denied by the FIRST such rule;
//  - else if any allow rule matches, it is allowed by the FIRST such rule;
//  - else it is denied by default (Verdict::rule == kDefaultDeny).
//
// A rule matches when every condition it gives holds; an absent condition
// (std::nullopt) matches anything, a condition given as an empty list never
// matches (and the compiler warns). Identity conditions (principals,
// accounts, roles, scopes, claims, param_equals) never match an anonymous
// caller (Request::identity null or of kind kNone).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/identity.h"
#include "net/address.h"

namespace rampart::policy {

enum class Effect : uint8_t { kAllow, kDeny };

enum class PathPatternKind : uint8_t {
  // The canonical path equals the pattern, byte for byte.
  kExact,
  // Prefix on a segment boundary, as the router: "/api" matches "/api" and
  // "/api/x", not "/apix"; "/api/" matches "/api/" and "/api/x", not "/api".
  kPrefix,
  // Segment glob: a literal segment matches itself; "*" any one non-empty
  // segment; "**" zero or more segments ("/admin/**" matches "/admin",
  // "/admin/x/y"); "{name}" any one non-empty segment, captured as `name`
  // for param_equals. Wildcards and params must be whole segments. "/" is
  // zero segments, a trailing "/" adds one empty segment.
  kGlob,
};

struct PathPattern {
  PathPatternKind kind = PathPatternKind::kPrefix;
  std::string pattern;
};

// An attribute of the verified caller a captured path parameter can be
// compared to.
enum class Attribute : uint8_t { kPrincipal, kAccount, kIssuer };

// "principal", "account", "issuer" -> the attribute; nullopt otherwise. For
// the config loader.
std::optional<Attribute> parseAttribute(std::string_view name);

// param_equals entry: the segment captured by `{param}` must equal the
// caller's `attribute` (byte for byte, and the attribute must be non-empty).
// In YAML: `param_equals: {account: account}`.
struct ParamEquals {
  std::string param;
  Attribute attribute = Attribute::kAccount;
};

// The caller holds claim `name` with one of `values`. Identity::claims joins
// array claims with ','; a value matches the whole claim value or any one of
// its ','-separated elements.
struct ClaimMatch {
  std::string name;
  std::vector<std::string> values;
};

// One rule as written in the config. Lists are "any of" except `scopes`
// (all listed scopes must be held: a rule narrows by adding scopes) and
// `claims` (every listed claim must hold, each with any of its values).
struct RuleSpec {
  std::string name;  // optional, for the verdict, logs and warnings
  Effect effect = Effect::kDeny;
  std::optional<std::vector<std::string>> principals;
  std::optional<std::vector<std::string>> accounts;
  std::optional<std::vector<std::string>> roles;    // any of the caller's roles
  std::optional<std::vector<std::string>> scopes;   // all of them
  std::optional<std::vector<ClaimMatch>> claims;    // all of them
  std::optional<std::vector<std::string>> methods;  // exact, case-sensitive
  std::optional<std::vector<PathPattern>> paths;
  // Every param named here must be declared by every pattern in `paths`.
  std::vector<ParamEquals> param_equals;
  std::optional<std::vector<std::string>> sources;  // CIDRs; IPv4-mapped peers match IPv4 ranges
  std::optional<bool> authenticated;
};

struct PolicySpec {
  std::vector<RuleSpec> rules;
};

// A rule that compiled but is probably a mistake; the policy still works.
struct CompileWarning {
  uint32_t rule = 0;  // index into PolicySpec::rules
  std::string message;
};

struct CompileOptions {
  // Index rules by the first path segment too (on by default; off only to
  // measure what it buys).
  bool index_first_segment = true;
};

// What authorize looks at: views into the current request, valid for the
// call only.
struct Request {
  std::string_view method;
  std::string_view path;                     // canonical, no query
  const auth::Identity* identity = nullptr;  // null or kind kNone: anonymous
  const net::SocketAddress* peer = nullptr;  // null: source conditions never match
};

inline constexpr uint32_t kDefaultDeny = UINT32_MAX;

struct Verdict {
  bool allowed = false;
  // Index of the deciding rule in PolicySpec::rules, or kDefaultDeny.
  uint32_t rule = kDefaultDeny;
  // The deciding rule's name (empty if unnamed or default deny). Views the
  // Policy (or, for evaluateNaive, the PolicySpec) it came from.
  std::string_view rule_name;

  bool defaultDeny() const { return rule == kDefaultDeny; }
  bool operator==(const Verdict& other) const {
    return allowed == other.allowed && rule == other.rule;
  }
};

class Policy {
 public:
  Policy();
  ~Policy();
  Policy(Policy&&) noexcept;
  Policy& operator=(Policy&&) noexcept;

  // Compiles `spec` while loading config. Returns false with `error` set
  // (naming the rule index) on bad pattern syntax, a duplicate or unknown
  // path parameter, or a bad CIDR; the Policy is then empty (denies all).
  // Appends probable mistakes to `warnings` (may be null).
  bool compile(const PolicySpec& spec, std::vector<CompileWarning>* warnings, std::string* error,
               const CompileOptions& options = {});

  // The decision for one request. Thread-safe, no allocation; looks only at
  // the rules the method, account and first path segment can select. An
  // uncompiled Policy denies everything by default.
  Verdict evaluate(const Request& request) const;

  size_t ruleCount() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// REFERENCE ONLY, for tests (the property test checks evaluate() against
// it): walks every rule of a spec that compiled, in order, with no index and
// its own (allocating, slow) matching code. Never call on the request path.
Verdict evaluateNaive(const PolicySpec& spec, const Request& request);

// Stable rollout selector: true for about `percent`% of accounts, always the
// same answer for the same (account, seed). percent 0 selects none, 100 (or
// more) all. FNV-1a 64 over the seed and the account with a final avalanche
// mix: fixed across builds and platforms (std::hash is not).
bool inRollout(std::string_view account, uint32_t percent, uint64_t seed);

}  // namespace rampart::policy
