// The compiled `adaptive_concurrency:` of one upstream cluster: the policies of
// its two engines (adaptive_concurrency.h, fair_queue.h) and what the glue
// around them needs (queue timeout, Retry-After, count mode). Built by the
// config loader, part of the immutable snapshot (in the cluster's spec);
// plain data.
#pragma once

#include "shield/adaptive_concurrency.h"
#include "shield/fair_queue.h"
#include "shield/gcra.h"

namespace rampart::shield {

struct ClusterAdmissionPolicy {
  AdaptiveConcurrencyPolicy concurrency;
  FairQueuePolicy queue;
  Nanos queue_timeout = kSecond;  // a request waits at most this long for a slot, then 503
  Nanos retry_after = kSecond;    // Retry-After of the 503
  // Count mode: every decision is made and counted (would_queue, would_shed)
  // and latencies still teach the limit, but every request is forwarded at once.
  bool count_only = false;
};

}  // namespace rampart::shield
