#include "shield/admission.h"

namespace rampart::shield {

const char* admissionName(Admission admission) {
  switch (admission) {
    case Admission::kAdmitted:
      return "admitted";
    case Admission::kOverConcurrency:
      return "over_concurrency";
    case Admission::kOverRate:
      return "over_rate";
    case Admission::kBlocked:
      return "blocked";
    case Admission::kDenyListed:
      return "deny_listed";
  }
  return "unknown";
}

ConnectionAdmission::ConnectionAdmission(const AdmissionLimits& limits, size_t capacity)
    : table_(capacity) {
  setLimits(limits);
}

void ConnectionAdmission::setLimits(const AdmissionLimits& limits) {
  max_concurrent_ = limits.max_concurrent;
  rate_.reset();
  if (limits.accept_rate) rate_.emplace(*limits.accept_rate);
}

Admission ConnectionAdmission::admit(const Key& key, Nanos now, bool enforce) {
  // An open connection is worth keeping over a mere accept-rate state.
  State& state = table_.findOrInsert(key, [now](const State& s) {
    if (s.open > 0) return Retention::kKeep;
    return s.tat <= now ? Retention::kIdle : Retention::kNormal;
  });
  Admission verdict = Admission::kAdmitted;
  if (max_concurrent_ != 0 && state.open >= max_concurrent_) {
    verdict = Admission::kOverConcurrency;
    if (enforce) return verdict;
  }
  if (rate_ && verdict == Admission::kAdmitted) {
    if (!rate_->check(state.tat, now).allowed()) verdict = Admission::kOverRate;
    if (enforce && verdict != Admission::kAdmitted) return verdict;
  }
  if (state.open != UINT32_MAX) ++state.open;
  return verdict;
}

void ConnectionAdmission::release(const Key& key) {
  State* state = table_.find(key);
  if (state != nullptr && state->open > 0) --state->open;
}

uint32_t ConnectionAdmission::open(const Key& key) {
  const State* state = table_.find(key);
  return state == nullptr ? 0 : state->open;
}

}  // namespace rampart::shield
