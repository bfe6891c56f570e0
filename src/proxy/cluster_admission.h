// Cluster admission: the adaptive concurrency limit and the fair queue in
// front of each upstream cluster that configures `adaptive_concurrency`
// (phase 8, before the cluster's max_requests and the endpoint pick). A thin
// adapter from a request to the pure engines shield/adaptive_concurrency.h
// and shield/fair_queue.h (docs/overload.md). One ClusterAdmissions per
// worker, one ClusterAdmission per configured cluster in it; worker thread
// only, no lock; lives as long as the worker (its snapshot never changes).
//
// A request asks for a slot. Acquired: it is forwarded and gives the slot
// back when it ends, with its latency (from the whole request written
// upstream to the response head). Every slot
// taken: it waits in the fair queue, in the lane of its priority class and
// the flow of its account (else principal, else client address prefix),
// until a release hands it the freed slot or its queue timeout sheds it
// (503). Queue at its bound: shed at once. In count mode the same decisions
// are counted (would_queue, would_shed) and every request goes on at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "auth/identity.h"
#include "net/address.h"
#include "proxy/phases.h"
#include "shield/adaptive_concurrency.h"
#include "shield/cluster_admission_policy.h"
#include "shield/fair_queue.h"
#include "shield/key.h"
#include "upstream/cluster.h"

namespace rampart::proxy {

class ClusterAdmission;

// Monotonic nanoseconds, read precisely (CLOCK_MONOTONIC through the vDSO,
// no syscall): latencies of a fast upstream are well under the event loop's
// coarse millisecond clock, and a limit learned from 0-or-1 ms samples would
// swing at random. Read only for clusters with admission, a few times a request.
shield::Nanos preciseNanos();

// The session side of a queued request.
class SlotWaiter {
 public:
  virtual ~SlotWaiter() = default;
  // Enforce mode: the request left the queue holding a slot; forward it now.
  // Runs inside another request's release (which then goes on waking others).
  virtual void onClusterSlot() = 0;
};

// Where one request stands with its cluster's admission. Owned by the
// session, one per request; only ClusterAdmission changes `state`.
struct ClusterHold {
  enum class State : uint8_t {
    kNone,    // holds nothing (not admitted yet, shed, or done)
    kSlot,    // holds a slot: finish() gives it back
    kQueued,  // in the fair queue (enforce: the session waits; count: forwarded all the same)
  };
  State state = State::kNone;
  ClusterAdmission* cluster = nullptr;  // set by admit(), cleared when the request is done
  SlotWaiter* waiter = nullptr;
  shield::Ticket ticket;        // kQueued: its place in the queue
  shield::Nanos queued_at = 0;  // kQueued: when it entered the queue
  // The latency's origin: when the whole request was written upstream (until
  // then, when it was let through).
  shield::Nanos sent_at = 0;
  shield::Nanos head_at = 0;        // when the response head arrived; 0: not (yet)
  bool upstream_timed_out = false;  // the response never came: the timeout is the latency
};

// What admit() decided for a request.
enum class AdmitVerdict : uint8_t {
  kForward,  // forward it now (a slot is held, or count mode: whatever was decided)
  kWait,     // queued: the session waits for onClusterSlot() or its queue timeout
  kShed,     // refused: answer 503 with Retry-After and `x-rampart-shed: adaptive-concurrency`
};

// Who a request is, for its flow in the fair queue.
struct FlowInput {
  const auth::Identity* identity = nullptr;    // null: anonymous
  const net::SocketAddress* client = nullptr;  // the client address phase 3 settled
};

class ClusterAdmission {
 public:
  ClusterAdmission(const shield::ClusterAdmissionPolicy& policy, const shield::KeyDeriver* keys,
                   shield::Nanos now);
  ClusterAdmission(const ClusterAdmission&) = delete;
  ClusterAdmission& operator=(const ClusterAdmission&) = delete;

  // Asks for a slot for the request `hold` describes, at `now`. The flow
  // key is derived only when the request has to queue.
  AdmitVerdict admit(ClusterHold* hold, const FlowInput& who, shield::RequestClass request_class,
                     SlotWaiter* waiter, shield::Nanos now);

  // Every end of an admitted request (response done, upstream failure or
  // timeout, client gone): gives its slot back, with the latency from
  // sent_at to head_at (or to now when the upstream timed out; none when
  // neither: a client cancel or a refused connect says nothing of the
  // upstream's speed), or takes it out of the queue. Freed slots go to
  // waiting requests at once. The hold is left empty.
  void finish(ClusterHold* hold, shield::Nanos now);

  // A waiting request's queue timeout (enforce mode): out of the queue, counted.
  void timeOut(ClusterHold* hold);

  // The session is destroyed without finishing (the worker is shutting
  // down): leaves the queue or drops the slot without waking anyone.
  void forget(ClusterHold* hold);

  const shield::ClusterAdmissionPolicy& policy() const { return policy_; }
  const shield::AdaptiveConcurrency& limiter() const { return limiter_; }
  uint32_t waiting() const { return queue_.size(); }

  // Counted by the glue (the engines' own stats are in limiter()).
  struct Stats {
    uint64_t forwarded = 0;        // took a slot at once
    uint64_t queued = 0;           // waited in the queue (enforce)
    uint64_t dequeued = 0;         // left the queue holding a slot
    uint64_t shed_limit = 0;       // the queue was at the limiter's bound
    uint64_t shed_flow_full = 0;   // its flow already had per_flow waiting
    uint64_t shed_queue_full = 0;  // the queue (or its class's share) was full
    uint64_t timeouts = 0;         // shed after waiting queue.timeout
    uint64_t cancelled = 0;        // the client left while waiting
    uint64_t would_queue = 0;      // count mode: would have waited
    uint64_t would_shed = 0;  // count mode: would have been refused (at once or at its timeout)
  };
  const Stats& stats() const { return stats_; }

 private:
  // Hands freed slots to waiting requests, in the fair queue's order.
  void pump(shield::Nanos now);
  shield::Key flowKey(const FlowInput& who) const;
  uint32_t waitingAhead(shield::RequestClass request_class) const;

  shield::ClusterAdmissionPolicy policy_;
  const shield::KeyDeriver* keys_;
  shield::AdaptiveConcurrency limiter_;
  shield::FairQueue queue_;
  bool pumping_ = false;  // pump() is on the stack: a release inside it must not recurse
  Stats stats_;
};

// Every cluster's admission on one worker.
class ClusterAdmissions {
 public:
  ClusterAdmissions(const std::vector<upstream::ClusterSpec>& clusters, shield::Seed seed);

  // The admission of cluster `index`, or null when it has none configured.
  ClusterAdmission* find(uint32_t index) {
    return index < by_cluster_.size() ? by_cluster_[index].get() : nullptr;
  }
  const ClusterAdmission* find(uint32_t index) const {
    return index < by_cluster_.size() ? by_cluster_[index].get() : nullptr;
  }

 private:
  std::unique_ptr<shield::KeyDeriver> keys_;  // stable address: each ClusterAdmission points to it
  std::vector<std::unique_ptr<ClusterAdmission>> by_cluster_;
};

// The request's priority class, for the fair queue's lanes: the one place
// cluster admission reads it. Authenticated or anonymous by the identity
// phase 5 proved; when the request path records a class of its own
// (priority shedding: suspicious after a recent refusal), return that here.
shield::RequestClass admissionClassOf(const RequestContext& ctx);

// The 503 of a shed request: its extra header lines (Retry-After,
// x-rampart-shed) into `out` (cleared first).
void appendShedHeaders(std::string& out, const shield::ClusterAdmissionPolicy& policy);

// One log line per cluster with admission, summed over the workers
// (at shutdown; metrics come later): "cluster 'app' admission: ...".
std::vector<std::string> summarizeClusterAdmission(
    const std::vector<upstream::ClusterSpec>& clusters,
    const std::vector<const ClusterAdmissions*>& workers);

}  // namespace rampart::proxy
