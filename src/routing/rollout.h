// Progressive rollout of a weighted route (`ramp:`, docs/cutover.md): the
// new cluster's weight climbs through steps, each held for a while, and only
// when its guard rails held over the hold; a broken guard returns all its
// traffic to the old cluster. Two parts, both pure (no clock, no thread):
//  - GuardCounters: cumulative outcome counts and a latency histogram, added
//    to by every worker with relaxed atomic adds (no lock);
//  - RolloutEngine: the state machine, driven by a timer with the time and
//    the guard figures since the current step began. It owns no weight: its
//    caller publishes step() to the route's Split (one atomic store), which
//    the request path reads with one atomic load.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "observe/histogram.h"

namespace rampart::routing {

// `ramp: {cluster, steps, hold, guard: {...}}` on a route with `clusters:`.
struct RampSpec {
  bool enabled = false;
  uint32_t target = 0;          // the ramped cluster's position in SplitSpec::targets
  uint32_t from = 0;            // the position that gives it points: the first other target
  std::string cluster_name;     // the ramped cluster, for logs and the admin listener
  std::vector<uint32_t> steps;  // its weight at each step, percent, strictly ascending
  int64_t hold_ms = 60000;      // how long each step is held before it may advance
  // Guard rails over the current step's requests to the ramped cluster. A
  // failure is a 5xx the client got (upstream or Rampart's own).
  double max_error_rate = 0.01;  // broken when the rate is above it
  int64_t max_p99_ms = 0;        // broken when p99 is above it; 0: no latency guard
  uint32_t min_requests = 100;   // requests in the step before any guard is judged
  // Relative guards against the old (`from`) cluster over the same step;
  // 0: not checked. Broken when the new side's figure is above the old
  // side's times the factor (error rate: plus max_error_rate's slack too,
  // so an old side at 0% does not make every failure a breach).
  double max_p99_ratio = 0;
  double max_error_ratio = 0;
};

// What the state machine judges: the ramped cluster's (and the old side's)
// outcomes since the current step began.
struct GuardFigures {
  uint64_t requests = 0;
  uint64_t failures = 0;
  double p99_ms = 0;  // 0 when no request
  uint64_t old_requests = 0;
  uint64_t old_failures = 0;
  double old_p99_ms = 0;

  double errorRate() const {
    return requests == 0 ? 0 : static_cast<double>(failures) / static_cast<double>(requests);
  }
  double oldErrorRate() const {
    return old_requests == 0
               ? 0
               : static_cast<double>(old_failures) / static_cast<double>(old_requests);
  }
};

// Cumulative outcomes of the requests one cluster of a ramped route served,
// process-wide, never reset: a reader takes a Reading at a step's start and
// subtracts it from a later one (no reset racing the adds). Two relaxed
// atomic adds per request (three with a failure); ~11 KB.
class GuardCounters {
 public:
  struct Reading {
    uint64_t requests = 0;
    uint64_t failures = 0;
    std::vector<uint64_t> latency;  // per observe::HistogramLayout bucket; empty: none yet
  };

  void record(bool failed, uint64_t micros) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    if (failed) failures_.fetch_add(1, std::memory_order_relaxed);
    latency_[observe::HistogramLayout::indexOf(micros)].fetch_add(1, std::memory_order_relaxed);
  }
  Reading read() const;

  // Requests, failures and p99 (ms) between two readings of the same counters.
  static void between(const Reading& start, const Reading& now, uint64_t* requests,
                      uint64_t* failures, double* p99_ms);

 private:
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> failures_{0};
  std::array<std::atomic<uint64_t>, observe::HistogramLayout::kBuckets> latency_{};
};

enum class RolloutState : uint8_t {
  kAdvancing,    // at a step, its hold running, the guards holding so far
  kHolding,      // the hold is over but fewer than min_requests came: kept at this step
  kSteppedBack,  // a guard broke: the ramped cluster's weight is 0 until restart
  kDone,         // the last step held its hold: the rollout is complete
};
std::string_view rolloutStateName(RolloutState state);

enum class GuardBreach : uint8_t { kNone, kErrorRate, kP99, kErrorRatio, kP99Ratio };
std::string_view guardBreachName(GuardBreach breach);

class RolloutEngine {
 public:
  // Starts at the first step at `now_ms`.
  RolloutEngine(RampSpec spec, int64_t now_ms);

  enum class Event : uint8_t {
    kNone,
    kAdvanced,     // moved to the next step: publish step(), restart the figures
    kSteppedBack,  // a guard broke: publish the step-back (once; log and count)
    kDone,         // the last step's hold passed
  };
  struct Decision {
    Event event = Event::kNone;
    GuardBreach breach = GuardBreach::kNone;  // with kSteppedBack: which guard
  };

  // One timer tick: `figures` are the outcomes since the current step began
  // (since the last kAdvanced, or construction). A broken guard steps back at
  // once, whatever the hold; a held one advances when the hold is over.
  Decision evaluate(int64_t now_ms, const GuardFigures& figures);

  // The first guard `figures` break, or kNone (also with too few requests).
  GuardBreach breach(const GuardFigures& figures) const;

  RolloutState state() const { return state_; }
  uint32_t step() const { return step_; }  // index into spec().steps
  // The ramped cluster's weight now: the step's, or 0 after a step-back.
  uint32_t weight() const;
  int64_t since() const { return since_ms_; }  // when the state (or step) began
  const RampSpec& spec() const { return spec_; }

 private:
  RampSpec spec_;
  uint32_t step_ = 0;
  RolloutState state_ = RolloutState::kAdvancing;
  int64_t since_ms_ = 0;       // state_ began
  int64_t step_start_ms_ = 0;  // the hold of step_ began
};

}  // namespace rampart::routing
