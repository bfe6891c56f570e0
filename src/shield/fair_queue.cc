#include "shield/fair_queue.h"

#include <algorithm>

namespace rampart::shield {

FairQueue::FairQueue(const FairQueuePolicy& policy)
    : nodes_(std::max<uint32_t>(policy.capacity, 1)), flows_(nodes_.size()), index_(nodes_.size()) {
  for (uint32_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i].next = i + 1 < nodes_.size() ? i + 1 : kNone;
    flows_[i].next = nodes_[i].next;
  }
  free_node_ = 0;
  free_flow_ = 0;
  setPolicy(policy);
}

void FairQueue::setPolicy(const FairQueuePolicy& policy) {
  policy_ = policy;
  policy_.capacity = static_cast<uint32_t>(nodes_.size());
  policy_.per_flow = std::max<uint32_t>(policy_.per_flow, 1);
  const double reserved = policy_.reserved_authenticated >= 0 && policy_.reserved_authenticated <= 1
                              ? policy_.reserved_authenticated
                              : 0.2;
  shared_capacity_ = static_cast<uint32_t>(policy_.capacity * (1 - reserved));
  for (size_t i = 0; i < kRequestClasses; ++i) {
    stride_[i] = kStride / std::max<uint32_t>(policy_.weights[i], 1);
  }
}

Key FairQueue::laneKey(const Key& flow, size_t lane) {
  Key key{flow.hi ^ (lane * 0x9e3779b97f4a7c15ULL), flow.lo};
  if (key.empty()) key.lo = 1;
  return key;
}

EnqueueResult FairQueue::enqueue(const Key& flow, RequestClass c, uint64_t handle, Nanos now,
                                 Ticket* ticket) {
  const size_t l = static_cast<size_t>(c);
  if (size_ >= policy_.capacity) return EnqueueResult::kFull;
  if (c != RequestClass::kAuthenticated && size_ - lanes_[0].size >= shared_capacity_) {
    return EnqueueResult::kFull;
  }
  const Key key = laneKey(flow, l);
  uint32_t* slot = index_.find(key);
  uint32_t f;
  Lane& lane = lanes_[l];
  if (slot != nullptr) {
    f = *slot;
    if (flows_[f].count >= policy_.per_flow) return EnqueueResult::kFlowFull;
  } else {
    // Active flows never outnumber waiting requests, so neither a free flow
    // nor room in the index can be missing here.
    f = free_flow_;
    free_flow_ = flows_[f].next;
    flows_[f] = Flow{};
    flows_[f].key = key;
    flows_[f].lane = static_cast<uint8_t>(l);
    index_.findOrInsert(key, [](uint32_t) { return Retention::kKeep; }) = f;
    if (lane.size == 0) lane.pass = std::max(lane.pass, vtime_);  // no credit saved while idle
    linkFlow(lane, f);
  }
  const uint32_t n = free_node_;
  Node& node = nodes_[n];
  free_node_ = node.next;
  node.handle = handle;
  node.enqueued_at = now;
  node.flow = f;
  node.next = kNone;
  Flow& fl = flows_[f];
  node.prev = fl.tail;
  if (fl.tail == kNone) {
    fl.head = n;
  } else {
    nodes_[fl.tail].next = n;
  }
  fl.tail = n;
  ++fl.count;
  ++lane.size;
  ++size_;
  if (ticket != nullptr) *ticket = Ticket{n, node.generation};
  return EnqueueResult::kQueued;
}

std::optional<Waiting> FairQueue::dequeue() {
  if (size_ == 0) return std::nullopt;
  size_t best = kRequestClasses;
  for (size_t l = 0; l < kRequestClasses; ++l) {
    if (lanes_[l].size > 0 && (best == kRequestClasses || lanes_[l].pass < lanes_[best].pass)) {
      best = l;
    }
  }
  Lane& lane = lanes_[best];
  vtime_ = lane.pass;
  lane.pass += stride_[best];
  const uint32_t f = lane.head;
  const uint32_t n = flows_[f].head;
  Waiting out{nodes_[n].handle, nodes_[n].enqueued_at, static_cast<RequestClass>(best)};
  unlinkNode(n);
  // Its turn is over: to the back of the ring (unless it just emptied).
  if (flows_[f].count > 0 && lane.head != lane.tail) {
    unlinkFlow(lane, f);
    linkFlow(lane, f);
  }
  return out;
}

bool FairQueue::cancel(Ticket ticket) {
  if (ticket.index >= nodes_.size()) return false;
  const Node& node = nodes_[ticket.index];
  if (node.flow == kNone || node.generation != ticket.generation) return false;
  unlinkNode(ticket.index);
  return true;
}

uint32_t FairQueue::waiting(const Key& flow, RequestClass c) {
  const uint32_t* slot = index_.find(laneKey(flow, static_cast<size_t>(c)));
  return slot == nullptr ? 0 : flows_[*slot].count;
}

// Takes node `n` out of its flow and frees it (and the flow, if now empty).
void FairQueue::unlinkNode(uint32_t n) {
  Node& node = nodes_[n];
  const uint32_t f = node.flow;
  Flow& fl = flows_[f];
  if (node.prev == kNone) {
    fl.head = node.next;
  } else {
    nodes_[node.prev].next = node.next;
  }
  if (node.next == kNone) {
    fl.tail = node.prev;
  } else {
    nodes_[node.next].prev = node.prev;
  }
  --fl.count;
  --lanes_[fl.lane].size;
  --size_;
  node.flow = kNone;
  ++node.generation;
  node.prev = kNone;
  node.next = free_node_;
  free_node_ = n;
  if (fl.count == 0) releaseFlow(f);
}

void FairQueue::linkFlow(Lane& lane, uint32_t f) {
  flows_[f].prev = lane.tail;
  flows_[f].next = kNone;
  if (lane.tail == kNone) {
    lane.head = f;
  } else {
    flows_[lane.tail].next = f;
  }
  lane.tail = f;
}

void FairQueue::unlinkFlow(Lane& lane, uint32_t f) {
  Flow& fl = flows_[f];
  if (fl.prev == kNone) {
    lane.head = fl.next;
  } else {
    flows_[fl.prev].next = fl.next;
  }
  if (fl.next == kNone) {
    lane.tail = fl.prev;
  } else {
    flows_[fl.next].prev = fl.prev;
  }
}

void FairQueue::releaseFlow(uint32_t f) {
  unlinkFlow(lanes_[flows_[f].lane], f);
  index_.erase(flows_[f].key);
  flows_[f].next = free_flow_;
  free_flow_ = f;
}

}  // namespace rampart::shield
