#include "upstream/health.h"

namespace rampart::upstream {

bool statusExpected(const std::vector<StatusRange>& ranges, uint16_t status) {
  for (const StatusRange& range : ranges) {
    if (status >= range.low && status <= range.high) return true;
  }
  return false;
}

HealthTracker::HealthTracker(uint32_t healthy_threshold, uint32_t unhealthy_threshold)
    : healthy_threshold_(healthy_threshold == 0 ? 1 : healthy_threshold),
      unhealthy_threshold_(unhealthy_threshold == 0 ? 1 : unhealthy_threshold) {}

HealthTracker::Change HealthTracker::record(bool passed) {
  if (passed == healthy_) {
    streak_ = 0;  // a result that agrees with the state breaks the other side's run
    return Change::kNone;
  }
  ++streak_;
  if (streak_ < (healthy_ ? unhealthy_threshold_ : healthy_threshold_)) return Change::kNone;
  streak_ = 0;
  healthy_ = passed;
  return healthy_ ? Change::kBecameHealthy : Change::kBecameUnhealthy;
}

ClusterHealth::ClusterHealth(size_t endpoints)
    : size_(endpoints), flags_(std::make_unique<std::atomic<uint8_t>[]>(endpoints)) {
  for (size_t i = 0; i < endpoints; ++i) flags_[i].store(1, std::memory_order_relaxed);
}

void ClusterHealth::publish(uint32_t endpoint, bool healthy) {
  if (endpoint >= size_) return;
  uint8_t before = flags_[endpoint].exchange(healthy ? 1 : 0, std::memory_order_relaxed);
  if ((before != 0) == healthy) return;
  // Only the cluster's one checker writes, so the count moves in step with the flags.
  if (healthy) {
    unhealthy_.fetch_sub(1, std::memory_order_release);
  } else {
    unhealthy_.fetch_add(1, std::memory_order_release);
  }
}

}  // namespace rampart::upstream
