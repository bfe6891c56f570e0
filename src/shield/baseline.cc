#include "shield/baseline.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "shield/bytes.h"

namespace rampart::shield {

namespace {

constexpr char kMagic[4] = {'R', 'B', 'L', '1'};
constexpr size_t kHeaderBytes = 32;
constexpr size_t kEntryBytes = 24;

using bytes::get;
using bytes::put;

int64_t floorDiv(Nanos a, Nanos b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

}  // namespace

Baselines::Baselines(const BaselinePolicy& policy, size_t capacity) : table_(capacity) {
  setPolicy(policy);
}

void Baselines::setPolicy(const BaselinePolicy& policy) {
  policy_ = policy;
  policy_.window = std::max<Nanos>(policy_.window, 1'000'000);
  policy_.horizon = std::max<uint32_t>(policy_.horizon, 1);
  policy_.min_windows = std::clamp<uint32_t>(policy_.min_windows, 1, UINT16_MAX);
  if (!(policy_.factor > 1)) policy_.factor = 3;
  if (!(policy_.default_rate > 0)) policy_.default_rate = 1;
  if (!(policy_.floor_rate >= 0)) policy_.floor_rate = 0;
  policy_.retry_after = std::max<Nanos>(policy_.retry_after, 0);
  window_seconds_ = static_cast<double>(policy_.window) / kSecond;
  alpha_ = 2.0 / (policy_.horizon + 1.0);
}

void Baselines::rollTotal(int64_t index) {
  if (!total_.started) {  // the first request since construction or import
    total_.started = true;
    total_.window = index;
    return;
  }
  if (index == total_.window) return;
  if (index < total_.window) {  // a clock that went backwards: keep counting where we are
    total_.window = index;
    return;
  }
  const double rate = static_cast<double>(total_.offered) / window_seconds_;
  const bool anomalous = totalKnown() && rate > policy_.factor * total_.baseline;
  if (!anomalous) {
    total_.baseline =
        total_.windows == 0 ? rate : total_.baseline + alpha_ * (rate - total_.baseline);
    ++total_.windows;
  }
  const int64_t idle = index - total_.window - 1;
  if (idle > 0) {
    // Windows without a request: each pulls the average towards zero.
    total_.baseline *=
        std::pow(1 - alpha_, static_cast<double>(std::min<int64_t>(idle, 1'000'000)));
    total_.windows =
        static_cast<uint32_t>(std::min<int64_t>(int64_t{total_.windows} + idle, UINT32_MAX));
  }
  total_.offered_prev = idle == 0 ? total_.offered : 0;
  total_.offered = 0;
  total_.window = index;
}

void Baselines::rollClient(State& state, int64_t index, bool frozen) const {
  if (index <= state.window) {
    if (index < state.window) state.window = index;
    return;
  }
  if (state.offered > 0 && !frozen) {
    double rate = static_cast<double>(state.offered) / window_seconds_;
    if (state.windows == 0) {
      state.baseline = static_cast<float>(rate);
    } else {
      // A window far above the baseline teaches at most factor * baseline.
      const double ceiling = policy_.factor * std::max<double>(state.baseline, policy_.floor_rate);
      rate = std::min(rate, ceiling);
      state.baseline = static_cast<float>(state.baseline + alpha_ * (rate - state.baseline));
    }
    if (state.windows != UINT16_MAX) ++state.windows;
  }
  const bool adjacent = index == state.window + 1;
  state.offered_prev = adjacent ? state.offered : 0;
  state.admitted_prev = adjacent ? state.admitted : 0;
  state.offered = 0;
  state.admitted = 0;
  state.window = index;
}

Retention Baselines::retention(const State& state, int64_t index) const {
  if (state.windows >= policy_.min_windows) return Retention::kKeep;
  return state.window + 1 < index ? Retention::kIdle : Retention::kNormal;
}

BaselineDecision Baselines::check(const Key& key, Nanos now) {
  ++stats_.checked;
  const int64_t index = floorDiv(now, policy_.window);
  // The share of the previous window still inside a sliding window ending now.
  const double previous =
      1 - static_cast<double>(now - index * policy_.window) / static_cast<double>(policy_.window);
  rollTotal(index);
  ++total_.offered;
  const double total_rate =
      (static_cast<double>(total_.offered_prev) * previous + static_cast<double>(total_.offered)) /
      window_seconds_;
  BaselineDecision out;
  out.overloaded = totalKnown() && total_rate > policy_.factor * total_.baseline;
  total_overloaded_ = out.overloaded;
  if (out.overloaded) ++stats_.overloaded;

  State& state =
      table_.findOrInsert(key, [this, index](const State& s) { return retention(s, index); });
  rollClient(state, index, out.overloaded);
  if (state.offered != UINT32_MAX) ++state.offered;
  out.rate = (state.offered_prev * previous + state.offered) / window_seconds_;
  out.known = state.windows >= policy_.min_windows;
  out.baseline =
      out.known ? std::max<double>(state.baseline, policy_.floor_rate) : policy_.default_rate;
  if (out.overloaded && out.rate > policy_.factor * out.baseline) {
    const double admitted = state.admitted_prev * previous + state.admitted + 1;
    out.would_throttle = admitted > out.baseline * window_seconds_;
  }
  if (out.would_throttle) {
    ++stats_.would_throttle;
    if (!policy_.count_only) {
      ++stats_.throttled;
      out.verdict = BaselineVerdict::kThrottle;
      out.retry_after = policy_.retry_after;
    }
  } else if (state.admitted != UINT32_MAX) {
    // In count mode a would-be throttled request is not counted as admitted,
    // so the report follows what enforcing would have done.
    ++state.admitted;
  }
  return out;
}

double Baselines::baseline(const Key& key) {
  const State* state = table_.find(key);
  return state == nullptr ? 0 : state->baseline;
}

bool Baselines::known(const Key& key) {
  const State* state = table_.find(key);
  return state != nullptr && state->windows >= policy_.min_windows;
}

std::string Baselines::exportState() const {
  size_t count = 0;
  table_.forEach([&count](const Key&, const State& s) { count += s.windows > 0; });
  std::string out;
  out.reserve(kHeaderBytes + count * kEntryBytes);
  out.append(kMagic, sizeof(kMagic));
  put<uint32_t>(out, static_cast<uint32_t>(count));
  put<int64_t>(out, policy_.window);
  put<double>(out, total_.baseline);
  put<uint32_t>(out, total_.windows);
  put<uint32_t>(out, 0);
  table_.forEach([&out](const Key& key, const State& s) {
    if (s.windows == 0) return;
    put<uint64_t>(out, key.hi);
    put<uint64_t>(out, key.lo);
    put<float>(out, s.baseline);
    put<uint16_t>(out, s.windows);
    put<uint16_t>(out, 0);
  });
  return out;
}

bool Baselines::importState(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return false;
  }
  const char* p = bytes.data();
  const uint32_t count = get<uint32_t>(p + 4);
  if (bytes.size() != kHeaderBytes + size_t{count} * kEntryBytes) return false;
  const double total = get<double>(p + 16);
  if (!(total >= 0) || !std::isfinite(total)) return false;
  for (uint32_t i = 0; i < count; ++i) {
    const char* e = p + kHeaderBytes + size_t{i} * kEntryBytes;
    const float b = get<float>(e + 16);
    if (!(b >= 0) || !std::isfinite(b) || (get<uint64_t>(e) == 0 && get<uint64_t>(e + 8) == 0)) {
      return false;
    }
  }
  total_ = Total{};
  total_.baseline = total;
  total_.windows = get<uint32_t>(p + 24);
  for (uint32_t i = 0; i < count; ++i) {
    const char* e = p + kHeaderBytes + size_t{i} * kEntryBytes;
    const Key key{get<uint64_t>(e), get<uint64_t>(e + 8)};
    State& state = table_.findOrInsert(key, [this](const State& s) {
      return s.windows >= policy_.min_windows ? Retention::kKeep : Retention::kNormal;
    });
    state.baseline = get<float>(e + 16);
    state.windows = get<uint16_t>(e + 20);
  }
  return true;
}

}  // namespace rampart::shield
