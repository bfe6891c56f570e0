// The shield's compiled configuration: request limits (listener and route),
// the accept gate, the auth-failure budget and the memory ceiling. Built by
// config/ while loading, owned by the Snapshot, immutable and shared by every
// worker. Plain data: no sockets, no HTTP (header names are just strings).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shield/accept_gate.h"
#include "shield/address_list.h"
#include "shield/gcra.h"
#include "shield/key.h"
#include "shield/overload_settings.h"

namespace rampart::shield {

// The most limits one listener or route may declare (the request path keeps
// their keys in a fixed array).
inline constexpr size_t kMaxLimitsPerScope = 16;

// What a request limit counts by.
enum class LimitKey : uint8_t {
  kAddress,    // the client address (see client_address.h)
  kPrefix,     // the client address cut to its prefix (/24, /56 by default)
  kApiKey,     // the API key that authenticated the request
  kPrincipal,  // the authenticated principal
  kAccount,    // the authenticated account
  kRoute,      // the route: one bucket for every request on it
  kHeader,     // the value of one request header
};

const char* limitKeyName(LimitKey key);

// True for keys that only exist after authentication (route limits only).
constexpr bool needsIdentity(LimitKey key) {
  return key == LimitKey::kApiKey || key == LimitKey::kPrincipal || key == LimitKey::kAccount;
}

enum class LimitAction : uint8_t {
  kReject,  // 429 problem+json with Retry-After and RateLimit headers
  kDrop,    // close the connection without a response
};

// One configured limit, compiled.
struct RequestLimit {
  RequestLimit(std::string limit_name, LimitKey limit_key, const Limit& limit)
      : name(std::move(limit_name)), key(limit_key), rate(limit), gcra(limit) {}

  std::string name;  // as written; unique within its listener or route
  LimitKey key = LimitKey::kAddress;
  std::string header;  // kHeader: the header name, lower case
  PrefixLengths prefix;
  Limit rate;
  Gcra gcra;
  LimitAction action = LimitAction::kReject;
  uint64_t space = 0;  // key namespace: unique across the snapshot, so limits never share state
  // `scope: global` (docs/store.md): enforced across instances with leases of
  // the budget from Redis; the local table is not used for it.
  bool global = false;
  bool fail_open = true;  // on_store_error: open (the local share) or closed (503)
  uint32_t lease = 1;     // tokens asked for per lease
  Gcra share{Limit{}};    // the local share per worker: rate / (instances x workers)
  std::string store_id;   // "route/<route>/<name>": the same on every instance
  // Precomputed reply text: the 429's detail, the name as a quoted
  // sf-string ("\"per-ip\"") and the RateLimit-Policy item ("\"per-ip\";q=100;w=1").
  std::string detail;
  std::string quoted_name;
  std::string policy_item;
};

// The `shield:` section. Absent: no admission caps, no escalation, no
// auth-failure budget; listener and route limits still apply when declared.
struct ShieldSettings {
  // Peers whose X-Forwarded-For names the client (the union of the top-level
  // and the shield's trusted_proxies).
  AddressList trusted_proxies;
  // Keys per table, per worker: the memory ceiling (see docs/shield.md).
  size_t max_tracked_keys = 100000;

  bool gate_enabled = false;  // admission, escalation or a list is configured
  GateConfig gate;            // admission caps, escalation, allow/deny
  std::optional<Limit> auth_failures;
  // Signature verifications per worker for tokens not in the cache (see
  // verify_budget.h); absent: every such token is verified.
  std::optional<Limit> signature_verifications;
  OverloadSettings overload;   // priority classes and shedding (docs/shield.md#overload)
  BaselineSettings baselines;  // learned baselines (docs/shield.md#learned-baselines)

  // Listener limits by listener index (phase 3), route limits by
  // routing::Route::index (phase 7).
  std::vector<std::vector<RequestLimit>> listener_limits;
  std::vector<std::vector<RequestLimit>> route_limits;

  bool anyRequestLimit() const {
    for (const auto& limits : listener_limits) {
      if (!limits.empty()) return true;
    }
    for (const auto& limits : route_limits) {
      if (!limits.empty()) return true;
    }
    return false;
  }
};

}  // namespace rampart::shield
