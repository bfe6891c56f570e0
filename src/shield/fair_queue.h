// A bounded fair queue of requests waiting for an upstream slot (see
// adaptive_concurrency.h): requests are grouped in flows (an account,
// principal or API key for the authenticated, an address prefix for the
// anonymous), and dequeued so that every waiting flow gets an equal turn: a
// flood from one flow, however long its backlog, delays another flow's
// request by at most one turn of each flow waiting. Owned by one worker and
// used on its thread only (no lock); lives as long as the worker. All memory
// is allocated in the constructor.
//
// Layout: three lanes, one per RequestClass. Within a lane, flows take turns
// round robin, one request per turn (deficit round robin with a quantum of
// one request, since every request costs one slot). Between lanes, stride
// scheduling by weight (default 8:2:1): while several lanes wait, each is
// served in proportion to its weight, and a lane alone gets every turn.
// Bounds: `per_flow` waiting per flow, `capacity` in all, and a share of the
// capacity that only the authenticated lane may fill.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "shield/gcra.h"
#include "shield/key.h"
#include "shield/keyed_table.h"
#include "shield/priority.h"

namespace rampart::shield {

// Filled by the config loader; out-of-range values are clamped.
struct FairQueuePolicy {
  uint32_t capacity = 1024;             // requests waiting at most, all flows (>= 1)
  uint32_t per_flow = 64;               // requests waiting at most per flow (>= 1)
  double reserved_authenticated = 0.2;  // share of capacity the other lanes may not fill: [0, 1]
  std::array<uint32_t, kRequestClasses> weights = {8, 2, 1};  // turns per lane (>= 1)
};

enum class EnqueueResult : uint8_t {
  kQueued,    // waiting: it comes out of dequeue(), or cancel() it
  kFlowFull,  // its flow already has per_flow requests waiting: refuse it (503 / 429)
  kFull,      // the queue (or the share open to its class) is full: refuse it (503)
};

// Names one waiting request, for cancel(); stale tickets are recognised.
struct Ticket {
  uint32_t index = UINT32_MAX;
  uint32_t generation = 0;
};

struct Waiting {
  uint64_t handle = 0;  // the caller's: what enqueue() was given
  Nanos enqueued_at = 0;
  RequestClass request_class = RequestClass::kAnonymous;
};

class FairQueue {
 public:
  explicit FairQueue(const FairQueuePolicy& policy);
  FairQueue(const FairQueue&) = delete;
  FairQueue& operator=(const FairQueue&) = delete;

  // Puts request `handle` of class `c` at the back of flow `flow`. The same
  // flow key in two classes is two flows.
  EnqueueResult enqueue(const Key& flow, RequestClass c, uint64_t handle, Nanos now,
                        Ticket* ticket = nullptr);

  // The next request to serve, or none when nothing waits. The caller sheds
  // one that has waited too long (now - enqueued_at) instead of serving it.
  std::optional<Waiting> dequeue();

  // Removes a waiting request (its client went away or its deadline passed);
  // false when the ticket is stale (already dequeued or cancelled).
  bool cancel(Ticket ticket);

  uint32_t size() const { return size_; }
  uint32_t size(RequestClass c) const { return lanes_[static_cast<size_t>(c)].size; }
  uint32_t flows() const { return static_cast<uint32_t>(index_.size()); }
  // Requests waiting in flow `flow` of class `c`.
  uint32_t waiting(const Key& flow, RequestClass c);

  // A reloaded policy; `capacity` is fixed at construction, the rest applies.
  void setPolicy(const FairQueuePolicy& policy);

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint64_t kStride = uint64_t{1} << 20;

  struct Node {
    uint64_t handle = 0;
    Nanos enqueued_at = 0;
    uint32_t prev = kNone;
    uint32_t next = kNone;  // also the free list
    uint32_t flow = kNone;  // kNone: free
    uint32_t generation = 0;
  };
  struct Flow {
    Key key;  // as stored in index_ (lane mixed in)
    uint32_t head = kNone;
    uint32_t tail = kNone;
    uint32_t count = 0;
    uint32_t prev = kNone;  // the lane's ring of active flows
    uint32_t next = kNone;  // also the free list
    uint8_t lane = 0;
  };
  struct Lane {
    uint32_t head = kNone;  // the flow whose turn it is
    uint32_t tail = kNone;
    uint32_t size = 0;
    uint64_t pass = 0;  // stride scheduling
  };

  static Key laneKey(const Key& flow, size_t lane);
  void unlinkNode(uint32_t n);
  void linkFlow(Lane& lane, uint32_t f);
  void unlinkFlow(Lane& lane, uint32_t f);
  void releaseFlow(uint32_t f);

  FairQueuePolicy policy_;
  uint32_t shared_capacity_ = 0;  // what the anonymous and suspicious lanes may fill
  std::vector<Node> nodes_;
  std::vector<Flow> flows_;
  uint32_t free_node_ = kNone;
  uint32_t free_flow_ = kNone;
  KeyedTable<uint32_t> index_;  // lane key -> flow index
  std::array<Lane, kRequestClasses> lanes_{};
  std::array<uint64_t, kRequestClasses> stride_{};
  uint64_t vtime_ = 0;  // the pass of the lane served last
  uint32_t size_ = 0;
};

}  // namespace rampart::shield
