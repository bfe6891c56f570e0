// Phase 8's first step on a route with a weighted split (docs/cutover.md):
// which of its clusters serves this request, and the outcome fed back to the
// split's step-back. Thin glue around routing/weighted.h; runs on a worker
// thread, per request; keeps nothing but a per-worker random state.
#pragma once

#include <cstdint>

#include "auth/identity.h"
#include "http/message.h"
#include "observe/stats.h"
#include "routing/router.h"

namespace rampart::proxy {

struct ClusterChoice {
  uint32_t cluster_index = 0;  // into Snapshot::clusters
  int32_t target = -1;         // position in the route's split; -1: the route has none
};

// The route's cluster, or on a split the one the sticky key's cohort point
// picks (account, principal, cookie, header). With no sticky key, or a
// request that lacks it (anonymous, no such cookie), a per-worker random
// point: the weight holds over requests, not over users. No allocation.
ClusterChoice chooseCluster(const routing::Route& route, const http::RequestHead& request,
                            const auth::Identity* identity);

// Feeds the status the client got for a request sent by `target` of the
// route's split (5xx, Rampart's own 502/503/504 included, is a failure) to
// its step-back, or with a `ramp:` with its latency to the rollout's guard
// counters. The one call that trips a step-back logs a warning and counts
// cutover_step_backs; the others cost two or three relaxed atomic adds.
void recordSplitOutcome(const routing::Route& route, int32_t target, uint16_t status,
                        uint64_t micros, observe::WorkerStats& stats);

}  // namespace rampart::proxy
