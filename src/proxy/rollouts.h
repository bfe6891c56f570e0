// The progressive rollouts of the running config (`ramp:` on a weighted
// route, docs/cutover.md): one RolloutEngine per ramped route, keyed by
// route name, stepped by a timer thread of its own. Owned by the Server, not
// by the config snapshot, so that a later route reload can carry a
// rollout's step and state over to the new snapshot's route of the same
// name. The request path never touches this object: workers add to the
// route's GuardCounters and read its published weight table (weighted.h).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/periodic_thread.h"
#include "observe/export.h"
#include "routing/rollout.h"

namespace rampart::proxy {

class Rollouts {
 public:
  // One rollout per route of `snapshot` with a ramp, each at its first step
  // at `now_ms` (monotonic).
  Rollouts(const config::Snapshot& snapshot, int64_t now_ms);
  ~Rollouts();

  bool empty() const { return entries_.empty(); }
  // Ticks every tenth of the shortest hold (10 ms to 1 s) on its own thread.
  void start();
  void stop();

  // One evaluation of every rollout: advance, step back or nothing; publishes
  // the new step to the route's Split and logs the change. The timer's work;
  // public for tests.
  void tick(int64_t now_ms);

  // A reload (docs/operations.md): the rollouts of `next`'s ramped routes.
  // A route of the same name, with the same ramped and old clusters and the
  // same ramp, keeps its step and state (published to its new Split before
  // any worker serves on it); its guard figures start again from the reload.
  // Any other ramp starts at its first step. Stops and restarts the timer.
  void adopt(const config::Snapshot& next, int64_t now_ms);
  // Every rollout's state and current figures, for /rollouts and /metrics.
  std::vector<observe::RolloutRow> rows(int64_t now_ms) const;

 private:
  struct Entry {
    std::string route;
    std::string from_cluster;
    std::shared_ptr<const routing::Split> split;
    routing::RolloutEngine engine;
    routing::GuardCounters::Reading start_new;  // the counters when the current step began
    routing::GuardCounters::Reading start_old;
    routing::GuardFigures figures;  // since the step began, as of the last tick
    routing::GuardBreach breach = routing::GuardBreach::kNone;  // why it stepped back
    uint64_t step_backs = 0;
  };
  routing::GuardFigures figuresOf(const Entry& entry) const;
  static std::vector<Entry> entriesOf(const config::Snapshot& snapshot, int64_t now_ms);

  // Between the timer and the admin thread only; the request path never
  // takes it.
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  int64_t tick_ms_ = 1000;
  core::PeriodicThread timer_;
};

}  // namespace rampart::proxy
