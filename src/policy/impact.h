// Blast radius of a policy change (`rampart policy impact`): which callers
// gain or lose access to which routes when one config's authorization
// replaces another's. Pure: plain views of the two configs and parsed
// callers in, a report out; no files, YAML or printing (the CLI does those).
// Runs on the calling thread (plus at most `ImpactOptions::threads` helpers
// for one call); the report views the inputs and must not outlive them.
//
// The decision for (route, method, caller) under a config is phase 6's
// (`authorize` in proxy/phases.cc):
//  - a public route allows everyone;
//  - otherwise the enforced policy decides, or, on a route with a rollout,
//    the rollout policy for accounts inRollout(account, percent, seed) (a
//    non-empty account only) and the route's policy for everyone else;
//  - no policy: denied. Shadow policies are never enforced and are ignored.
// A route is found by name in each config; a route absent from a config, or
// a method (or, for --requests, an exact/prefix path) it does not declare
// there, is "not routed": not allowed. So an added route's allowed callers
// are all gained, a removed route's all lost.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/identity.h"
#include "net/address.h"
#include "policy/policy.h"

namespace rampart::policy {

// ------------------------------------------------------------ the inputs

enum class RouteKind : uint8_t { kExact, kPrefix, kRegex };

inline constexpr int32_t kNoPolicy = -1;

// One named policy of a config: the compiled engine and the spec it came from
// (compared rule by rule to find routes whose decision cannot change).
struct ImpactPolicy {
  std::string_view name;
  const Policy* compiled = nullptr;
  const PolicySpec* spec = nullptr;
};

// One route of a config as routing and phase 6 see it.
struct ImpactRoute {
  std::string_view name;
  RouteKind kind = RouteKind::kPrefix;
  std::string_view path;             // exact path, prefix, or RE2 pattern
  std::vector<std::string> methods;  // empty: any method
  bool is_public = false;
  int32_t enforced = kNoPolicy;  // index into ImpactConfig::policies
  int32_t rollout = kNoPolicy;
  uint32_t rollout_percent = 0;
};

// The authorization-relevant part of one config snapshot.
struct ImpactConfig {
  std::vector<ImpactPolicy> policies;
  std::vector<ImpactRoute> routes;
  uint64_t rollout_seed = 0;
};

// One line of the accounts file: an account and the principals acting for
// it, all holding the same roles, scopes and claims.
struct ImpactAccount {
  std::string account;
  std::vector<std::string> principals;  // empty: one caller with an empty principal
  std::vector<std::string> roles;
  std::vector<std::string> scopes;
  std::vector<std::pair<std::string, std::string>> claims;  // arrays joined by ','
};

// One recorded request (the request log format of docs/authorization.md).
struct LoggedRequest {
  std::string method;
  std::string path;   // canonical, no query
  std::string route;  // the route it was logged on, found by name in each config
  std::string request_id;
  std::optional<net::SocketAddress> client;  // absent: `sources` conditions never match
  bool anonymous = true;                     // no principal and no account recorded
  auth::Identity identity;                   // kind kJwt unless anonymous
};

struct ImpactOptions {
  // Threads for the accounts sweep (1: the calling thread only).
  unsigned threads = 2;
};

// ------------------------------------------------------------ the report

// Methods evaluated on a route that declares none.
inline constexpr std::string_view kAllMethods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                                   "PATCH", "DELETE", "OPTIONS"};

inline constexpr uint32_t kAnonymous = UINT32_MAX;  // Caller::account of "(anonymous)"
inline constexpr uint32_t kNoPrincipal =
    UINT32_MAX;  // Caller::principal of a principal-less account

// One caller of the sweep: an account's principal, or the anonymous caller.
struct Caller {
  uint32_t account = kAnonymous;      // index into the accounts, or kAnonymous
  uint32_t principal = kNoPrincipal;  // index into that account's principals
};

// Callers whose decision changed the same way, as groups of callers the two
// configs cannot tell apart (the sweep evaluates one caller per group).
struct CallerSet {
  std::vector<uint32_t> groups;  // indexes into ImpactReport::groups
  uint64_t callers = 0;          // callers in those groups
  uint32_t accounts = 0;         // distinct accounts among them ("(anonymous)" counts one)
};

struct MethodImpact {
  std::string_view method;
  CallerSet gained;  // allowed under NEW, not under OLD
  CallerSet lost;    // allowed under OLD, not under NEW
};

enum class RouteStatus : uint8_t {
  kUnchanged,  // same path, methods and decision function: not evaluated
  kChanged,    // in both configs and evaluated (the changes may be none)
  kAdded,      // only in NEW
  kRemoved,    // only in OLD
  kRegex,      // a regex path (in either config): no representative path, not swept
};

std::string_view describe(RouteStatus status);

struct RouteImpact {
  std::string_view name;
  RouteStatus status = RouteStatus::kUnchanged;
  const ImpactRoute* before = nullptr;  // null: not in OLD
  const ImpactRoute* after = nullptr;   // null: not in NEW
  // kRegex only: the decision function differs, so --requests should judge it.
  bool decision_differs = false;
  std::vector<MethodImpact> methods;  // only methods with a change, in evaluation order
  uint32_t gained_accounts = 0;       // distinct accounts gaining any method
  uint32_t lost_accounts = 0;

  bool changed() const { return gained_accounts != 0 || lost_accounts != 0; }
};

// Why a config decided what it did about one request.
enum class DecisionReason : uint8_t {
  kNoRoute,    // the route is not in this config
  kNotRouted,  // the route does not declare this method, or its exact/prefix path misses
  kPublic,     // `public: true`
  kNoPolicy,   // neither a policy nor public: denied
  kPolicy,     // the policy decided (policy, rule)
};

std::string_view describe(DecisionReason reason);

struct Decision {
  bool allowed = false;
  DecisionReason reason = DecisionReason::kNoRoute;
  int32_t policy = kNoPolicy;    // index into that config's policies (kPolicy)
  uint32_t rule = kDefaultDeny;  // the deciding rule (kPolicy)
  std::string_view rule_name;    // views the compiled Policy
};

struct RequestImpact {
  uint32_t index = 0;  // into the requests given
  Decision before;
  Decision after;
};

struct ImpactReport {
  std::vector<Caller> callers;                // callers[0] is the anonymous caller
  std::vector<std::vector<uint32_t>> groups;  // caller indexes, ascending
  std::vector<RouteImpact> routes;            // NEW's routes in order, then those only in OLD
  std::vector<RequestImpact> requests;        // only the requests whose decision changes
  uint32_t requests_gained = 0;
  uint32_t requests_lost = 0;
  uint32_t affected_accounts = 0;  // distinct accounts gaining or losing anything
  uint64_t evaluations = 0;        // Policy::evaluate calls the sweep made

  bool changed() const;
};

// Compares `before` and `after` over every caller of `accounts` (plus the
// anonymous caller) on every non-regex route's declared path (exact: the
// path; prefix: the prefix) and methods, and over every request of
// `requests` on its recorded path. Routes whose path, methods and decision
// function are the same in both (policy specs equal rule for rule, names
// aside) are not evaluated. Rules with path parameters are exercised only as
// far as a declared path reaches them: real paths come only from requests.
ImpactReport computeImpact(const ImpactConfig& before, const ImpactConfig& after,
                           const std::vector<ImpactAccount>& accounts,
                           const std::vector<LoggedRequest>& requests,
                           const ImpactOptions& options = {});

// The decision one config makes about one logged request.
Decision decideRequest(const ImpactConfig& config, const LoggedRequest& request);

// The accounts of `set` in input order ("(anonymous)", kAnonymous, first),
// each with its affected principal indexes (empty for a principal-less
// account), at most `limit` accounts (0: all).
struct AffectedAccount {
  uint32_t account = kAnonymous;
  std::vector<uint32_t> principals;
};
std::vector<AffectedAccount> listAccounts(const ImpactReport& report, const CallerSet& set,
                                          size_t limit = 0);

// True when two specs decide every request alike because they are written
// alike, rule for rule (rule names aside).
bool sameDecisions(const PolicySpec& a, const PolicySpec& b);

}  // namespace rampart::policy
