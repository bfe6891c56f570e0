// An adaptive concurrency limit for one upstream cluster: a gradient
// controller on observed latency, after Envoy's adaptive_concurrency filter
// and Netflix's concurrency-limits. Owned by one worker, one per cluster, and
// used on its thread only (no lock); lives as long as the worker (the policy
// can change on reload). Fixed memory; no allocation after construction.
//
// How it works. Requests acquire a slot (tryAcquire) and give it back with
// their latency (release). Latencies are gathered per sample window; when a
// window closes, its `percentile` latency S is compared with the cluster's
// min-RTT M (its latency when lightly loaded):
//
//   gradient = clamp(M * (1 + buffer) / S, 0.5, 2)
//   target   = limit * gradient + sqrt(limit * gradient)   (headroom)
//   limit    = clamp((1 - smoothing) * limit + smoothing * target, min, max)
//
// So the limit grows while latency stays within `buffer` of M and shrinks
// when requests start to queue in the upstream. M is measured in a probe
// every `min_rtt_interval`: the limit is pinned at `probe_limit` until
// `min_rtt_samples` latencies at that concurrency are in, and M is their
// `percentile`. The controller starts with a probe. Should a probe time out
// with no latency at all, the first window after it supplies M.
#pragma once

#include <array>
#include <cstdint>

#include "shield/gcra.h"

namespace rampart::shield {

// Filled by the config loader; out-of-range values are clamped.
struct AdaptiveConcurrencyPolicy {
  uint32_t min_limit = 3;                 // never fewer slots than this (>= 1)
  uint32_t max_limit = 1000;              // never more (>= min_limit)
  uint32_t initial_limit = 20;            // limit before the first window closes
  Nanos sample_window = 100'000'000;      // a window closes after this long ...
  uint32_t min_samples = 16;              // ... once it has this many latencies
  double percentile = 0.9;                // of a window's latencies: (0, 1]
  double buffer = 0.25;                   // latency above M tolerated before shrinking
  double smoothing = 0.2;                 // weight of the new target: (0, 1]
  Nanos min_rtt_interval = 60 * kSecond;  // a min-RTT probe this often
  uint32_t min_rtt_samples = 32;          // latencies a probe collects
  uint32_t probe_limit = 3;               // concurrency during a probe (>= 1)
  // A probe that has not collected its samples after this long ends with
  // what it has (requests stuck above probe_limit must not pin the limit).
  Nanos probe_timeout = 5 * kSecond;
  // Queue bound: requests that find every slot taken may wait while fewer
  // than max(queue_min, limit * queue_factor) already wait; beyond, shed.
  uint32_t queue_min = 0;
  double queue_factor = 1.0;
};

enum class ConcurrencyVerdict : uint8_t {
  kAcquired,  // a slot was taken: call release() (or abandon()) exactly once
  kQueue,     // every slot is taken: wait (e.g. in a FairQueue) and try again on a release
  kShed,      // every slot is taken and the queue is at its bound: refuse (503)
};

class AdaptiveConcurrency {
 public:
  static constexpr uint32_t kMaxSamples = 256;  // latencies kept per window

  AdaptiveConcurrency(const AdaptiveConcurrencyPolicy& policy, Nanos now);

  // Asks for a slot at `now` for a request going to the cluster. `waiting` is the
  // number of requests already queued for it (so a newcomer does not jump
  // the queue): with any waiting, the answer is kQueue or kShed. A request
  // taken out of the queue asks again with waiting 0.
  ConcurrencyVerdict tryAcquire(Nanos now, uint32_t waiting = 0);

  // The request that held a slot finished after `latency` (first byte of the
  // upstream's response, or the whole exchange, consistently); `now` is the
  // time it finished. May close a window and move the limit.
  void release(Nanos latency, Nanos now);
  // The request gave its slot back without a latency worth learning from
  // (cancelled by the client, refused by connect: not the upstream's speed).
  void abandon();

  uint32_t limit() const { return limit_; }
  uint32_t inFlight() const { return in_flight_; }
  Nanos minRtt() const { return min_rtt_; }  // 0 until the first probe ends
  bool probing() const { return probing_; }
  uint32_t queueBound() const;

  // A reloaded policy; the learned limit and min-RTT are kept (clamped).
  void setPolicy(const AdaptiveConcurrencyPolicy& policy);

  struct Stats {
    uint64_t acquired = 0;
    uint64_t queued = 0;
    uint64_t shed = 0;
    uint64_t windows = 0;  // limit updates
    uint64_t probes = 0;   // min-RTT probes completed
  };
  const Stats& stats() const { return stats_; }

 private:
  Nanos samplePercentile();
  void closeWindow(Nanos now);
  void startProbe(Nanos now);
  void endProbe(Nanos now);
  void setLimit(double limit);

  AdaptiveConcurrencyPolicy policy_;
  double estimate_ = 0;  // the controller's limit, unrounded
  uint32_t limit_;       // slots handed out at most (probe_limit while probing)
  uint32_t in_flight_ = 0;
  Nanos min_rtt_ = 0;
  bool probing_ = false;
  Nanos window_start_;
  Nanos next_probe_ = 0;
  Nanos probe_start_ = 0;
  uint32_t count_ = 0;
  std::array<Nanos, kMaxSamples> samples_{};
  Stats stats_;
};

}  // namespace rampart::shield
