#include "shield/accept_gate.h"

namespace rampart::shield {

AcceptGate::AcceptGate(const GateConfig& config, const KeyDeriver& keys, uint64_t space,
                       size_t capacity)
    : config_(config),
      keys_(keys),
      space_(space),
      admission_(config.admission, capacity),
      escalation_(config.escalation, capacity) {}

void AcceptGate::setConfig(const GateConfig& config) {
  config_ = config;
  if (!kernelDropOn()) drops_.clear();
  admission_.setLimits(config.admission);
  escalation_.setPolicy(config.escalation);
}

Key AcceptGate::keyOf(const net::SocketAddress& peer) const {
  return config_.by_prefix ? keys_.prefix(space_, peer, config_.prefix)
                           : keys_.address(space_, peer);
}

void AcceptGate::escalate(const net::SocketAddress& peer, const Key& key, Nanos now) {
  if (!config_.escalate) return;
  Escalated escalated = escalation_.noteRefusal(key, now);
  if (!escalated.started) return;
  ++stats_.blocks_started;
  dropInKernel(peer, escalated.until);
}

// The address (or its prefix, when blocks are by prefix), IPv4 only.
std::optional<V4Range> AcceptGate::dropRangeOf(const net::SocketAddress& peer) const {
  std::optional<uint32_t> ip = ipv4Of(peer);
  if (!ip) return std::nullopt;
  return v4Prefix(*ip, config_.by_prefix ? config_.prefix.v4 : 32);
}

void AcceptGate::dropInKernel(const net::SocketAddress& peer, Nanos until) {
  if (!kernelDropOn()) return;
  if (std::optional<V4Range> range = dropRangeOf(peer)) drops_.add(*range, until);
}

void AcceptGate::impose(const net::SocketAddress& peer, Nanos until, Nanos now) {
  const Key key = keyOf(peer);
  escalation_.impose(key, until, now);
  dropInKernel(peer, escalation_.blockedUntil(key, now));
}

bool AcceptGate::forgive(const net::SocketAddress& peer) {
  if (std::optional<V4Range> range = dropRangeOf(peer)) drops_.remove(*range);
  return escalation_.forget(keyOf(peer));
}

GateTicket AcceptGate::admit(const net::SocketAddress& peer, Nanos now) {
  GateTicket ticket;
  if (config_.deny && config_.deny->contains(peer)) {
    ++stats_.deny_listed;
    ticket.verdict = ticket.would = Admission::kDenyListed;
    return ticket;
  }
  if (config_.allow && config_.allow->contains(peer)) {
    ++stats_.allow_listed;
    ++stats_.admitted;
    return ticket;  // not counted: allow-listed peers bypass every per-address cap
  }
  ticket.key = keyOf(peer);
  const bool enforce = !config_.dry_run;
  if (config_.escalate && escalation_.isBlocked(ticket.key, now)) {
    ++stats_.blocked;
    ticket.would = Admission::kBlocked;
    if (enforce) {
      ticket.verdict = Admission::kBlocked;
      return ticket;
    }
  }
  Admission verdict = admission_.admit(ticket.key, now, enforce);
  // (In count mode a blocked key still reaches here; its block is what counts.)
  if (verdict != Admission::kAdmitted && ticket.would == Admission::kAdmitted) {
    if (verdict == Admission::kOverConcurrency) ++stats_.over_concurrency;
    if (verdict == Admission::kOverRate) ++stats_.over_rate;
    escalate(peer, ticket.key, now);
    ticket.would = verdict;
  }
  if (enforce) {
    ticket.verdict = verdict;
    ticket.counted = verdict == Admission::kAdmitted;
  } else {
    ticket.counted = true;  // admit() counted it regardless
    if (ticket.would != Admission::kAdmitted) ++stats_.dry_run_refusals;
  }
  if (ticket.verdict == Admission::kAdmitted) ++stats_.admitted;
  return ticket;
}

void AcceptGate::release(const GateTicket& ticket) {
  if (ticket.counted) admission_.release(ticket.key);
}

bool AcceptGate::noteRefusal(const net::SocketAddress& peer, Nanos now) {
  if (!config_.escalate) return false;
  if (config_.allow && config_.allow->contains(peer)) return false;
  const Key key = keyOf(peer);
  escalate(peer, key, now);
  return escalation_.isBlocked(key, now);
}

}  // namespace rampart::shield
