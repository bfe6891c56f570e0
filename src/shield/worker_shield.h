// One worker's shield: the accept gate, the request-limit table, the
// auth-failure table and the key deriver, built from the snapshot's
// ShieldSettings. Owned by one Worker and used on its thread only (no lock);
// lives as long as the worker. Tables exist only for what is configured, and
// each holds at most max_tracked_keys keys whatever the traffic (the memory
// ceiling). Knows nothing of HTTP: the caller derives the keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "net/address.h"
#include "shield/accept_gate.h"
#include "shield/key.h"
#include "shield/rate_limiter.h"
#include "shield/settings.h"
#include "shield/verify_budget.h"

namespace rampart::shield {

// Counters of the request-path checks (the gate keeps its own, GateStats).
struct RequestShieldStats {
  uint64_t limited = 0;        // requests refused by a listener or route limit
  uint64_t auth_limited = 0;   // requests refused for too many failed credentials
  uint64_t auth_failures = 0;  // failed credentials charged
  uint64_t blocked = 0;        // requests refused because the client is blocked
  uint64_t escalations = 0;    // blocks started by request-path refusals
};

// What the limits of one scope decided.
struct LimitOutcome {
  const RequestLimit* denied = nullptr;  // null: every limit passed (and was charged)
  Decision decision;                     // the denying limit's decision
};

class WorkerShield {
 public:
  // `seed`: random per process (randomSeed()); tests pass a fixed one.
  WorkerShield(const ShieldSettings& settings, Seed seed);

  const ShieldSettings& settings() const { return *settings_; }
  const KeyDeriver& keys() const { return keys_; }

  // --- Accept (phase "admit") ---
  bool gateEnabled() const { return gate_on_; }
  // Deny list, allow list, escalation block, per-address caps. Without a
  // gate every connection is admitted.
  GateTicket admit(const net::SocketAddress& peer, Nanos now);
  void release(const GateTicket& ticket);
  const GateStats* gateStats() const { return gate_ ? &gate_->stats() : nullptr; }
  // The gate while it is on (its kernel drop set), or null.
  AcceptGate* gate() { return gate_on_ ? gate_.get() : nullptr; }
  // A reloaded config's gate (lists, per-address caps, escalation policy):
  // swapped in, keeping open-connection counts, rate state and blocks. A
  // gate enabled only now is created here (its tables allocated once, on the
  // worker thread, never on the request path). Disabled: every connection
  // is admitted from now on (and a gate kept for the ones still counted).
  void reloadGate(bool enabled, const GateConfig& gate);
  // A reloaded snapshot's shield settings (worker thread, off the request
  // path; `settings` must outlive this shield or the next rebind). The
  // tables, with their state, are kept: a request limit left unchanged keeps
  // its key namespace (config/shield.cc), so its counts carry over. Tables a
  // new setting needs are allocated here; the gate takes reloadGate's path;
  // the signature budget restarts when its rate changed.
  void rebind(const ShieldSettings& settings);

  // --- Request path ---
  // The key for `limit` from a client address (kAddress, kPrefix).
  Key addressKey(const RequestLimit& limit, const net::SocketAddress& client) const;
  // The key for `limit` from a string value (every other kind).
  Key stringKey(const RequestLimit& limit, std::string_view value) const {
    return keys_.string(limit.space, value);
  }

  // Checks `count` limits with their keys (an empty key: the request lacks
  // that value and is not counted by that limit). All must pass. With more
  // than one counted limit every one is peeked first, so a refused request
  // charges none of them; the refusal reported is the one with the longest
  // wait, so its Retry-After is true for all of them.
  LimitOutcome check(const RequestLimit* limits, const Key* keys, size_t count, Nanos now);

  // A refusal (429, drop) for `client`: feeds escalation (unless the client
  // is allow-listed or escalation is off). True when the client is now blocked.
  bool noteRefusal(const net::SocketAddress& client, Nanos now);
  // When a block on `client` ends, or 0. Requests on connections opened
  // before the block, or arriving through a trusted proxy, are refused too.
  Nanos blockedUntil(const net::SocketAddress& client, Nanos now);
  // An operator's unblock (admin API): the escalation record of `client`'s
  // key (its address, or its prefix with `by_prefix`) is dropped, ending
  // its block. False when there was none (or no gate).
  bool forgive(const net::SocketAddress& client);

  // A block another instance decided (docs/store.md): applied by the gate's
  // escalation table, so the accept gate and phase 3 refuse `client` until
  // `until`. False when this worker has no gate with escalation on.
  bool imposeBlock(const net::SocketAddress& client, Nanos until, Nanos now);

  // The deny list, for a client named by X-Forwarded-For (a direct peer was
  // already checked at accept).
  bool denyListed(const net::SocketAddress& client) const;

  // Failed credentials (401s) per client address. exhausted(): the next
  // failure would be over the budget, so the request is refused before its
  // credential is even looked at; the decision carries the wait.
  bool authBudgetExhausted(const net::SocketAddress& client, Nanos now, Decision* out);
  void noteAuthFailure(const net::SocketAddress& client, Nanos now);

  // The worker's budget of signature verifications for tokens not in the
  // cache (`signature_verifications`), or null when not configured.
  VerifyBudget* verifyBudget() { return verify_budget_ ? &*verify_budget_ : nullptr; }

  RequestShieldStats& stats() { return stats_; }
  const RequestShieldStats& stats() const { return stats_; }

  // Bytes held by the tables (fixed at construction).
  size_t memoryBytes() const;
  const RateLimiter* limiter() const { return limiter_.get(); }

 private:
  const ShieldSettings* settings_;  // the current snapshot's (rebind)
  bool gate_on_ = false;  // admit() consults the gate (false after a reload turned it off)
  KeyDeriver keys_;
  uint64_t gate_space_;
  uint64_t auth_space_;
  std::optional<Gcra> auth_gcra_;
  std::unique_ptr<AcceptGate> gate_;
  std::unique_ptr<RateLimiter> limiter_;       // listener and route limits
  std::unique_ptr<RateLimiter> auth_limiter_;  // auth failures
  std::optional<VerifyBudget> verify_budget_;  // signature verifications (whole worker)
  RequestShieldStats stats_;
};

}  // namespace rampart::shield
