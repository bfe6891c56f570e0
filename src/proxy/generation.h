// One worker's view of one config snapshot: the snapshot and the per-worker
// state indexed by its clusters and routes (pools, cluster admission,
// external authorizers, per-route metrics and shadow counts). Built by the
// Server on the main thread when a snapshot is published (at start and at
// each reload), then owned and used by one worker's thread only. Lives while
// it is its worker's current generation or a session pins it: a request
// keeps the generation it started on until it ends (docs/operations.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "authz/authorizer.h"
#include "config/config.h"
#include "observe/metrics.h"
#include "observe/stats.h"
#include "proxy/cluster_admission.h"
#include "upstream/pool.h"

namespace rampart::proxy {

// Shadow-policy disagreements of one route (read at shutdown, later by metrics).
struct ShadowCounts {
  observe::Counter would_allow;
  observe::Counter would_deny;
};

struct Generation {
  uint64_t number = 0;  // 1 at start, +1 per published reload
  std::shared_ptr<const config::Snapshot> snapshot;
  // By cluster index. Owned by the worker's pool registry, which keeps one
  // pool per cluster fingerprint: a cluster a reload left unchanged keeps its
  // pool (idle connections, outlier, breaker and retry-budget state).
  std::vector<upstream::ClusterPool*> pools;
  std::unique_ptr<ClusterAdmissions> admissions;  // adaptive concurrency per cluster
  std::unique_ptr<authz::WorkerAuthz> authz;      // external authorizers: calls, caches
  // Per-route latency and status classes, by route index; a route whose name
  // the previous generation had shares its counters (observe/metrics.h).
  std::shared_ptr<observe::WorkerMetrics> metrics;
  std::vector<ShadowCounts> shadow;  // by routing::Route::index
  // Sessions pinned to it. Worker thread only: a plain count, no atomics.
  uint32_t pins = 0;

  upstream::ClusterPool& pool(uint32_t cluster) const { return *pools[cluster]; }
};

}  // namespace rampart::proxy
