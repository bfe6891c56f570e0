#include "shield/escalation.h"

#include <algorithm>

namespace rampart::shield {

Escalation::Escalation(const EscalationPolicy& policy, size_t capacity) : table_(capacity) {
  setPolicy(policy);
}

void Escalation::setPolicy(const EscalationPolicy& policy) {
  policy_ = policy;
  policy_.refusals = std::max<uint32_t>(policy_.refusals, 1);
  policy_.window = std::max<Nanos>(policy_.window, 1);
  policy_.base_block = std::max<Nanos>(policy_.base_block, 1);
  policy_.max_block = std::max(policy_.max_block, policy_.base_block);
  policy_.quiet_period = std::max<Nanos>(policy_.quiet_period, 1);
}

Nanos Escalation::blockFor(uint32_t offences) const {
  Nanos block = policy_.base_block;
  for (uint32_t i = 1; i < offences && block < policy_.max_block; ++i) {
    block = block > policy_.max_block / 2 ? policy_.max_block : block * 2;
  }
  return std::min(block, policy_.max_block);
}

void Escalation::settle(State& state, Nanos now) const {
  // A clock that went backwards must neither block forever nor freeze decay.
  if (state.blocked_until > now && state.blocked_until - now > policy_.max_block) {
    state.blocked_until = now + policy_.max_block;
    state.quiet_since = state.blocked_until;
  }
  if (state.quiet_since > now && state.quiet_since > state.blocked_until) state.quiet_since = now;
  if (state.window_start > now) state.window_count = 0;
  if (state.offences > 0 && now > state.quiet_since) {
    const Nanos periods = (now - state.quiet_since) / policy_.quiet_period;
    if (periods >= state.offences) {
      state.offences = 0;
    } else if (periods > 0) {
      state.offences -= static_cast<uint32_t>(periods);
      state.quiet_since += periods * policy_.quiet_period;
    }
  }
}

Retention Escalation::retention(const State& state, Nanos now) const {
  // Blocks and offences on record outlast a flood of single refusals.
  if (state.blocked_until > now) return Retention::kKeep;
  const bool forgiven =
      state.offences == 0 || (now > state.quiet_since &&
                              (now - state.quiet_since) / policy_.quiet_period >= state.offences);
  if (!forgiven) return Retention::kKeep;
  const bool window_over = state.window_count == 0 || now - state.window_start >= policy_.window;
  return window_over ? Retention::kIdle : Retention::kNormal;
}

void Escalation::impose(const Key& key, Nanos until, Nanos now) {
  if (until <= now) return;
  State& state =
      table_.findOrInsert(key, [this, now](const State& s) { return retention(s, now); });
  settle(state, now);
  until = std::min(until, now + policy_.max_block);
  if (until > state.blocked_until) {
    state.blocked_until = until;
    state.quiet_since = until;
  }
}

Escalated Escalation::noteRefusal(const Key& key, Nanos now) {
  State& state =
      table_.findOrInsert(key, [this, now](const State& s) { return retention(s, now); });
  settle(state, now);
  Escalated out;
  if (state.blocked_until > now) {
    out.verdict = EscalationVerdict::kBlocked;
    out.until = state.blocked_until;
    out.offences = state.offences;
    return out;
  }
  if (state.window_count == 0 || now - state.window_start >= policy_.window) {
    state.window_start = now;
    state.window_count = 0;
  }
  ++state.window_count;
  state.quiet_since = now;
  if (state.window_count >= policy_.refusals) {
    if (state.offences != UINT32_MAX) ++state.offences;
    state.blocked_until = now + blockFor(state.offences);
    state.quiet_since = state.blocked_until;
    state.window_count = 0;
    out.verdict = EscalationVerdict::kBlocked;
    out.until = state.blocked_until;
    out.started = true;
  }
  out.offences = state.offences;
  return out;
}

Nanos Escalation::blockedUntil(const Key& key, Nanos now) {
  State* state = table_.find(key);
  if (state == nullptr) return 0;
  settle(*state, now);
  return state->blocked_until > now ? state->blocked_until : 0;
}

uint32_t Escalation::offences(const Key& key, Nanos now) {
  State* state = table_.find(key);
  if (state == nullptr) return 0;
  settle(*state, now);
  return state->offences;
}

}  // namespace rampart::shield
