#include "shield/worker_shield.h"

namespace rampart::shield {

namespace {
// Namespaces of the per-address tables; request limits use 1..n (their index).
constexpr uint64_t kGateSpace = 0x6761746500000000ULL;
constexpr uint64_t kAuthSpace = 0x6175746800000000ULL;
}  // namespace

const char* limitKeyName(LimitKey key) {
  switch (key) {
    case LimitKey::kAddress:
      return "address";
    case LimitKey::kPrefix:
      return "prefix";
    case LimitKey::kApiKey:
      return "api_key";
    case LimitKey::kPrincipal:
      return "principal";
    case LimitKey::kAccount:
      return "account";
    case LimitKey::kRoute:
      return "route";
    case LimitKey::kHeader:
      return "header";
  }
  return "unknown";
}

WorkerShield::WorkerShield(const ShieldSettings& settings, Seed seed)
    : settings_(&settings), keys_(seed), gate_space_(kGateSpace), auth_space_(kAuthSpace) {
  const size_t capacity = settings.max_tracked_keys;
  if (settings.gate_enabled) {
    gate_ = std::make_unique<AcceptGate>(settings.gate, keys_, gate_space_, capacity);
    gate_on_ = true;
  }
  if (settings.anyRequestLimit()) limiter_ = std::make_unique<RateLimiter>(capacity);
  if (settings.auth_failures) {
    auth_gcra_.emplace(*settings.auth_failures);
    auth_limiter_ = std::make_unique<RateLimiter>(capacity);
  }
  if (settings.signature_verifications) verify_budget_.emplace(*settings.signature_verifications);
}

void WorkerShield::reloadGate(bool enabled, const GateConfig& gate) {
  gate_on_ = enabled;
  if (!enabled) return;
  if (gate_) {
    gate_->setConfig(gate);
  } else {
    gate_ = std::make_unique<AcceptGate>(gate, keys_, gate_space_, settings_->max_tracked_keys);
  }
}

void WorkerShield::rebind(const ShieldSettings& settings) {
  const ShieldSettings& before = *settings_;
  settings_ = &settings;
  // Table sizes are fixed at start (the memory ceiling): a changed
  // max_tracked_keys applies to tables allocated from now on.
  const size_t capacity = settings.max_tracked_keys;
  reloadGate(settings.gate_enabled, settings.gate);
  if (settings.anyRequestLimit() && !limiter_) limiter_ = std::make_unique<RateLimiter>(capacity);
  if (settings.auth_failures) {
    auth_gcra_.emplace(*settings.auth_failures);
    if (!auth_limiter_) auth_limiter_ = std::make_unique<RateLimiter>(capacity);
  } else {
    auth_gcra_.reset();
  }
  const bool same_budget =
      before.signature_verifications.has_value() == settings.signature_verifications.has_value() &&
      (!settings.signature_verifications ||
       (before.signature_verifications->rate == settings.signature_verifications->rate &&
        before.signature_verifications->burst == settings.signature_verifications->burst));
  if (!same_budget) {
    verify_budget_.reset();
    if (settings.signature_verifications) verify_budget_.emplace(*settings.signature_verifications);
  }
}

GateTicket WorkerShield::admit(const net::SocketAddress& peer, Nanos now) {
  if (!gate_on_) return GateTicket{};
  return gate_->admit(peer, now);
}

void WorkerShield::release(const GateTicket& ticket) {
  if (gate_) gate_->release(ticket);
}

Key WorkerShield::addressKey(const RequestLimit& limit, const net::SocketAddress& client) const {
  return limit.key == LimitKey::kPrefix ? keys_.prefix(limit.space, client, limit.prefix)
                                        : keys_.address(limit.space, client);
}

LimitOutcome WorkerShield::check(const RequestLimit* limits, const Key* keys, size_t count,
                                 Nanos now) {
  LimitOutcome out;
  if (!limiter_) return out;
  size_t counted = 0;
  size_t only = 0;
  for (size_t i = 0; i < count; ++i) {
    if (!keys[i].empty()) {
      ++counted;
      only = i;
    }
  }
  if (counted == 0) return out;
  if (counted == 1) {
    // One limit: check() charges only when it allows, so no peek is needed.
    Decision decision = limiter_->check(keys[only], limits[only].gcra, now);
    if (!decision.allowed()) {
      out.denied = &limits[only];
      out.decision = decision;
      ++stats_.limited;
    }
    return out;
  }
  for (size_t i = 0; i < count; ++i) {
    if (keys[i].empty()) continue;
    Decision decision = limiter_->peek(keys[i], limits[i].gcra, now);
    if (!decision.allowed() &&
        (out.denied == nullptr || decision.retry_after > out.decision.retry_after)) {
      out.denied = &limits[i];
      out.decision = decision;
    }
  }
  if (out.denied != nullptr) {
    ++stats_.limited;
    return out;
  }
  for (size_t i = 0; i < count; ++i) {
    if (!keys[i].empty()) limiter_->check(keys[i], limits[i].gcra, now);
  }
  return out;
}

bool WorkerShield::noteRefusal(const net::SocketAddress& client, Nanos now) {
  if (!gate_on_) return false;
  const uint64_t before = gate_->stats().blocks_started;
  const bool blocked = gate_->noteRefusal(client, now);
  if (gate_->stats().blocks_started != before) ++stats_.escalations;
  return blocked;
}

bool WorkerShield::forgive(const net::SocketAddress& client) {
  if (!gate_) return false;
  return gate_->forgive(client);
}

Nanos WorkerShield::blockedUntil(const net::SocketAddress& client, Nanos now) {
  if (!gate_on_) return 0;
  const GateConfig& gate = gate_->config();
  if (!gate.escalate) return 0;
  if (gate.allow && gate.allow->contains(client)) return 0;
  return gate_->blockedUntil(client, now);
}

bool WorkerShield::imposeBlock(const net::SocketAddress& client, Nanos until, Nanos now) {
  if (!gate_on_ || !gate_->config().escalate) return false;
  gate_->impose(client, until, now);
  return true;
}

bool WorkerShield::denyListed(const net::SocketAddress& client) const {
  if (!gate_on_) return false;
  const GateConfig& gate = gate_->config();
  return gate.deny && gate.deny->contains(client);
}

bool WorkerShield::authBudgetExhausted(const net::SocketAddress& client, Nanos now, Decision* out) {
  if (!auth_limiter_ || !auth_gcra_) return false;  // off (or turned off by a reload)
  *out = auth_limiter_->peek(keys_.address(auth_space_, client), *auth_gcra_, now);
  if (out->allowed()) return false;
  ++stats_.auth_limited;
  return true;
}

void WorkerShield::noteAuthFailure(const net::SocketAddress& client, Nanos now) {
  if (!auth_limiter_ || !auth_gcra_) return;
  ++stats_.auth_failures;
  auth_limiter_->check(keys_.address(auth_space_, client), *auth_gcra_, now);
}

size_t WorkerShield::memoryBytes() const {
  size_t bytes = 0;
  if (gate_) {
    bytes += gate_->admission().memoryBytes();
    bytes += gate_->escalation().memoryBytes();
  }
  if (limiter_) bytes += limiter_->memoryBytes();
  if (auth_limiter_) bytes += auth_limiter_->memoryBytes();
  return bytes;
}

}  // namespace rampart::shield
