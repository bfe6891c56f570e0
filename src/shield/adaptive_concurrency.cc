#include "shield/adaptive_concurrency.h"

#include <algorithm>
#include <cmath>

namespace rampart::shield {

AdaptiveConcurrency::AdaptiveConcurrency(const AdaptiveConcurrencyPolicy& policy, Nanos now)
    : window_start_(now) {
  setPolicy(policy);
  estimate_ = std::clamp<double>(policy_.initial_limit, policy_.min_limit, policy_.max_limit);
  limit_ = static_cast<uint32_t>(estimate_);
  startProbe(now);
}

void AdaptiveConcurrency::setPolicy(const AdaptiveConcurrencyPolicy& policy) {
  policy_ = policy;
  policy_.min_limit = std::max<uint32_t>(policy_.min_limit, 1);
  policy_.max_limit = std::max(policy_.max_limit, policy_.min_limit);
  policy_.sample_window = std::max<Nanos>(policy_.sample_window, 1);
  policy_.min_samples = std::clamp<uint32_t>(policy_.min_samples, 1, kMaxSamples);
  policy_.min_rtt_samples = std::clamp<uint32_t>(policy_.min_rtt_samples, 1, kMaxSamples);
  policy_.probe_limit = std::max<uint32_t>(policy_.probe_limit, 1);
  policy_.min_rtt_interval = std::max<Nanos>(policy_.min_rtt_interval, 1);
  policy_.probe_timeout = std::max<Nanos>(policy_.probe_timeout, 1);
  if (!(policy_.percentile > 0 && policy_.percentile <= 1)) policy_.percentile = 0.9;
  if (!(policy_.smoothing > 0 && policy_.smoothing <= 1)) policy_.smoothing = 0.2;
  if (!(policy_.buffer >= 0)) policy_.buffer = 0;
  if (!(policy_.queue_factor >= 0)) policy_.queue_factor = 0;
  if (estimate_ > 0) setLimit(estimate_);
}

uint32_t AdaptiveConcurrency::queueBound() const {
  const double scaled = static_cast<double>(limit_) * policy_.queue_factor;
  const uint32_t bound = scaled >= 4e9 ? UINT32_MAX : static_cast<uint32_t>(scaled);
  return std::max(bound, policy_.queue_min);
}

ConcurrencyVerdict AdaptiveConcurrency::tryAcquire(Nanos now, uint32_t waiting) {
  if (probing_ && now - probe_start_ >= policy_.probe_timeout) endProbe(now);
  if (waiting == 0 && in_flight_ < limit_) {
    ++in_flight_;
    ++stats_.acquired;
    return ConcurrencyVerdict::kAcquired;
  }
  if (waiting < queueBound()) {
    ++stats_.queued;
    return ConcurrencyVerdict::kQueue;
  }
  ++stats_.shed;
  return ConcurrencyVerdict::kShed;
}

void AdaptiveConcurrency::abandon() {
  if (in_flight_ > 0) --in_flight_;
}

void AdaptiveConcurrency::release(Nanos latency, Nanos now) {
  const uint32_t concurrency = in_flight_;
  if (in_flight_ > 0) --in_flight_;
  if (latency < 1) latency = 1;
  if (probing_) {
    // Only latencies measured at the probe's concurrency describe the idle
    // upstream: skip those of requests still draining from before the probe.
    if (concurrency <= policy_.probe_limit) samples_[count_++] = latency;
    if (count_ >= policy_.min_rtt_samples || now - probe_start_ >= policy_.probe_timeout) {
      endProbe(now);
    }
    return;
  }
  if (count_ < kMaxSamples) samples_[count_++] = latency;
  if (now < window_start_) window_start_ = now;  // a clock that went backwards
  const bool due = now - window_start_ >= policy_.sample_window;
  if ((due && count_ >= policy_.min_samples) || count_ == kMaxSamples) closeWindow(now);
}

Nanos AdaptiveConcurrency::samplePercentile() {
  const uint32_t rank = static_cast<uint32_t>(std::ceil(policy_.percentile * count_)) - 1;
  const uint32_t index = std::min(rank, count_ - 1);
  std::nth_element(samples_.begin(), samples_.begin() + index, samples_.begin() + count_);
  return samples_[index];
}

void AdaptiveConcurrency::closeWindow(Nanos now) {
  const double sample = static_cast<double>(samplePercentile());
  count_ = 0;
  if (min_rtt_ == 0) min_rtt_ = static_cast<Nanos>(sample);  // the probe timed out empty
  window_start_ = now;
  ++stats_.windows;
  const double gradient =
      std::clamp(static_cast<double>(min_rtt_) * (1 + policy_.buffer) / sample, 0.5, 2.0);
  const double scaled = estimate_ * gradient;
  const double target = scaled + std::sqrt(scaled);
  setLimit((1 - policy_.smoothing) * estimate_ + policy_.smoothing * target);
  if (now >= next_probe_) startProbe(now);
}

void AdaptiveConcurrency::setLimit(double limit) {
  estimate_ = std::clamp<double>(limit, policy_.min_limit, policy_.max_limit);
  limit_ = probing_ ? policy_.probe_limit : static_cast<uint32_t>(estimate_);
}

void AdaptiveConcurrency::endProbe(Nanos now) {
  if (count_ > 0) min_rtt_ = samplePercentile();
  probing_ = false;
  ++stats_.probes;
  next_probe_ = now + policy_.min_rtt_interval;
  limit_ = static_cast<uint32_t>(estimate_);
  count_ = 0;
  window_start_ = now;
}

void AdaptiveConcurrency::startProbe(Nanos now) {
  probing_ = true;
  probe_start_ = now;
  count_ = 0;
  window_start_ = now;
  limit_ = policy_.probe_limit;
}

}  // namespace rampart::shield
