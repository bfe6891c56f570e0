// The shield at accept: deny list, allow list, escalation blocks, then the
// per-address concurrency and accept-rate caps, in that order, with counters
// and a count (dry-run) mode. One per worker, used on its thread only; lives
// as long as the worker (setConfig() swaps in a reloaded config and keeps
// the per-address state). The lists are shared, immutable snapshot data.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "net/address.h"
#include "shield/address_list.h"
#include "shield/admission.h"
#include "shield/escalation.h"
#include "shield/kernel_drop.h"
#include "shield/key.h"

namespace rampart::shield {

// Filled by the config loader.
struct GateConfig {
  AdmissionLimits admission;
  bool escalate = true;  // refusals feed escalation; blocked keys are refused
  EscalationPolicy escalation;
  // Keys per full address by default; per prefix (e.g. a /24 or a /56) when set.
  bool by_prefix = false;
  PrefixLengths prefix;
  // Count mode: verdicts and counters as if enforcing, but every connection
  // that is not deny-listed is admitted (and counted as open).
  bool dry_run = false;
  std::shared_ptr<const AddressList> allow;  // bypass escalation and caps; may be null
  std::shared_ptr<const AddressList> deny;   // refused at accept; may be null
  // Blocked (and deny-listed) IPv4 sources are also dropped by the kernel
  // before the handshake (shield/kernel_drop.h); never in count mode.
  bool kernel_drop = true;
};

// Counters, asserted in tests and exported by the caller.
struct GateStats {
  uint64_t admitted = 0;  // including allow-listed and dry-run admissions
  uint64_t allow_listed = 0;
  uint64_t deny_listed = 0;
  uint64_t blocked = 0;
  uint64_t over_concurrency = 0;
  uint64_t over_rate = 0;
  uint64_t blocks_started = 0;    // escalations
  uint64_t dry_run_refusals = 0;  // refusals not enforced in count mode
};

// The outcome for one connection; keep it with the connection and hand it
// back to release() at close.
struct GateTicket {
  Admission verdict = Admission::kAdmitted;  // what to do: refuse unless kAdmitted
  Admission would = Admission::kAdmitted;    // what enforcing would have done
  Key key;
  bool counted = false;  // counted as open: release() will uncount it
};

class AcceptGate {
 public:
  // `capacity` bounds each of the two tables (admission, escalation); see
  // their headers for bytes per key. `space` is this gate's key namespace.
  AcceptGate(const GateConfig& config, const KeyDeriver& keys, uint64_t space, size_t capacity);

  // Decides on a connection from `peer` at `now`.
  GateTicket admit(const net::SocketAddress& peer, Nanos now);
  // The connection `ticket` was issued for closed.
  void release(const GateTicket& ticket);

  // A request-path refusal (429) for this peer, so request floods escalate
  // too. Allow-listed peers are ignored. True when the peer is now blocked.
  bool noteRefusal(const net::SocketAddress& peer, Nanos now);
  // A block decided elsewhere (the store, an operator): `peer`'s key is
  // blocked until `until`, in the kernel's drop set too.
  void impose(const net::SocketAddress& peer, Nanos until, Nanos now);
  // An operator's unblock: the escalation record and the kernel drop of
  // `peer`'s key go. False when there was no record.
  bool forgive(const net::SocketAddress& peer);

  // The blocks to drop in the kernel (the worker compiles and attaches them).
  KernelDrops& kernelDrops() { return drops_; }
  bool kernelDropOn() const { return config_.kernel_drop && !config_.dry_run; }

  void setConfig(const GateConfig& config);
  const GateConfig& config() const { return config_; }
  const GateStats& stats() const { return stats_; }
  ConnectionAdmission& admission() { return admission_; }
  Escalation& escalation() { return escalation_; }
  // When the escalation block on `peer`'s key (its address, or its prefix
  // with by_prefix) ends; 0 when it has none.
  Nanos blockedUntil(const net::SocketAddress& peer, Nanos now) {
    return escalation_.blockedUntil(keyOf(peer), now);
  }

 private:
  Key keyOf(const net::SocketAddress& peer) const;
  void escalate(const net::SocketAddress& peer, const Key& key, Nanos now);
  std::optional<V4Range> dropRangeOf(const net::SocketAddress& peer) const;
  void dropInKernel(const net::SocketAddress& peer, Nanos until);

  GateConfig config_;
  KeyDeriver keys_;
  uint64_t space_;
  ConnectionAdmission admission_;
  Escalation escalation_;
  KernelDrops drops_;
  GateStats stats_;
};

}  // namespace rampart::shield
