// Weighted routes for cutover (docs/cutover.md): which of a route's clusters
// serves a request, sticky cohorts, and the automatic step-back of a watched
// cluster. Pure: no clock, no random, no HTTP; the proxy passes a point in
// [0, kPoints) (a key's hash or a per-worker random) and the time.
// A Split is built once per config snapshot and shared by every worker: its
// step-back state is process-wide (atomics) and lives as long as the snapshot.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "routing/rollout.h"

namespace rampart::routing {

// Points of the cohort space: a weight of 1% is 100 points.
inline constexpr uint32_t kPoints = 10000;

// Where a request's sticky key comes from (`sticky: {key: ...}`).
enum class StickyKind : uint8_t {
  kNone,       // no sticky key: a per-worker random point per request
  kAccount,    // the verified identity's account (phase 5)
  kPrincipal,  // the verified identity's principal
  kCookie,     // the value of cookie `name`
  kHeader,     // the value of request header `name` (lowercase)
};

struct StickySpec {
  StickyKind kind = StickyKind::kNone;
  std::string name;  // the cookie or header name; empty otherwise
};

struct SplitTarget {
  uint32_t cluster_index = 0;  // index into Snapshot::clusters
  uint32_t weight = 0;         // percent, 0..100; a split's weights sum to 100
};

// `step_back:`: when the watched cluster's failure rate over the window
// exceeds max_error_rate (with at least min_requests in the window), its
// weight drops to `to` and the points it gives up go to the first other
// target in the list. One way, until the process restarts.
struct StepBackSpec {
  bool enabled = false;
  uint32_t watch = 0;      // position in SplitSpec::targets
  std::string watch_name;  // the watched cluster's name, for the log
  double max_error_rate = 0.05;
  uint32_t min_requests = 50;
  int64_t window_ms = 30000;
  uint32_t to = 0;  // the watched target's weight after the step-back, percent
};

struct SplitSpec {
  std::vector<SplitTarget> targets;  // in the order written: the cohort order
  StickySpec sticky;
  StepBackSpec step_back;
  RampSpec ramp;  // `ramp:` (rollout.h); exclusive with step_back
};

// The cohort point of a sticky key: a fixed hash (FNV-1a, then a 64-bit
// finalizer) into [0, kPoints). The same key has the same point in every
// process and every release, so a restart with new weights keeps cohorts.
uint32_t cohortPoint(std::string_view key);

// The value of cookie `name` in one Cookie header value ("a=1; b=2"), or
// empty when it is absent.
std::string_view cookieValue(std::string_view cookie_header, std::string_view name);

// Failures and requests over a sliding window of kBuckets buckets, shared by
// every worker: relaxed atomic adds, no lock. A bucket's reset when its time
// comes round again races with adds from other workers; a few counts can be
// lost at bucket edges, which a rate over many requests tolerates.
class FailureWindow {
 public:
  static constexpr int kBuckets = 10;
  explicit FailureWindow(int64_t window_ms);

  struct Totals {
    uint64_t requests = 0;
    uint64_t failures = 0;
  };
  // Counts one outcome at `now_ms` (monotonic); returns the totals over the
  // window when `failed` (the only outcome that can raise the rate), else {}.
  Totals record(int64_t now_ms, bool failed);
  Totals totals(int64_t now_ms) const;

 private:
  struct Bucket {
    std::atomic<int64_t> epoch{-1};  // now_ms / bucket_ms of the counts held
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> failures{0};
  };
  int64_t bucket_ms_;
  std::array<Bucket, kBuckets> buckets_;
};

// What recording one outcome did.
enum class StepBackVerdict : uint8_t {
  kNone,         // not watched, within the threshold, or too few requests yet
  kSteppedBack,  // this outcome tripped the step-back (exactly one caller sees it: log and count)
  kAlready,      // stepped back before
};

class Split {
 public:
  explicit Split(SplitSpec spec);

  // The position in spec().targets for a cohort point in [0, kPoints):
  // the first target whose cumulative weight, in list order, exceeds the
  // point. Raising one target's weight at the expense of the next ones only
  // moves points onto it, never off it. After a step-back the stepped-back
  // weights apply. One relaxed atomic load; no allocation.
  uint32_t choose(uint32_t point) const;

  struct Recorded {
    StepBackVerdict verdict = StepBackVerdict::kNone;
    FailureWindow::Totals window;  // with kSteppedBack: the window that tripped it (for the log)
  };
  // Counts the outcome of a request sent to target `target` at `now_ms`
  // (`failed`: a 5xx or a failure to get any response). Only the watched
  // target is counted. Runs on any worker, concurrently.
  Recorded record(uint32_t target, bool failed, int64_t now_ms) const;

  bool steppedBack() const { return table() == stepped_table_; }
  // The percent of points target `target` gets now: its configured weight,
  // its ramp step's, or its weight after the step-back (for /metrics and /stats).
  uint32_t weightNow(uint32_t target) const;
  const SplitSpec& spec() const { return spec_; }

  // `ramp:` only. The ramped and old targets' outcomes for the guard rails
  // (relaxed atomic adds, any worker); other targets are not counted.
  void recordRamp(uint32_t target, bool failed, uint64_t micros) const {
    if (ramp_new_ && target == spec_.ramp.target) ramp_new_->record(failed, micros);
    if (ramp_old_ && target == spec_.ramp.from) ramp_old_->record(failed, micros);
  }
  const GuardCounters* rampCounters() const { return ramp_new_.get(); }
  const GuardCounters* rampOldCounters() const { return ramp_old_.get(); }
  // Publishes the ramp's step (its weights from the next choose() on), or
  // the step-back (`step` == spec().ramp.steps.size()). Called by the
  // rollout's timer only; one relaxed atomic store.
  void publishRampStep(uint32_t step) const;

 private:
  uint32_t table() const { return table_.load(std::memory_order_relaxed); }

  SplitSpec spec_;
  // Weight tables as cumulative upper bounds (exclusive) in points, one per
  // state: without a ramp [configured, stepped back]; with one [step 0 ..
  // step n-1, stepped back]. The request path reads which one applies with
  // one relaxed load of table_.
  std::vector<std::vector<uint32_t>> tables_;
  uint32_t stepped_table_ = UINT32_MAX;  // the stepped-back table; none without step_back or ramp
  mutable std::atomic<uint32_t> table_{0};
  mutable FailureWindow window_;
  std::unique_ptr<GuardCounters> ramp_new_;  // null without a ramp
  std::unique_ptr<GuardCounters> ramp_old_;
};

}  // namespace rampart::routing
