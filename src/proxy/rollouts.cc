#include "proxy/rollouts.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/clock.h"

namespace rampart::proxy {

std::vector<Rollouts::Entry> Rollouts::entriesOf(const config::Snapshot& snapshot, int64_t now_ms) {
  std::vector<Entry> entries;
  for (size_t route = 0; route < snapshot.route_specs.size(); ++route) {
    const std::shared_ptr<const routing::Split>& split = snapshot.route_specs[route].split;
    if (split == nullptr || !split->spec().ramp.enabled) continue;
    const routing::RampSpec& ramp = split->spec().ramp;
    entries.push_back(Entry{snapshot.route_names[route],
                            snapshot.clusters[split->spec().targets[ramp.from].cluster_index].name,
                            split,
                            routing::RolloutEngine(ramp, now_ms),
                            split->rampCounters()->read(),
                            split->rampOldCounters()->read(),
                            {},
                            routing::GuardBreach::kNone,
                            0});
  }
  return entries;
}

Rollouts::Rollouts(const config::Snapshot& snapshot, int64_t now_ms)
    : entries_(entriesOf(snapshot, now_ms)) {
  for (const Entry& entry : entries_) {
    entry.split->publishRampStep(0);
    tick_ms_ = std::min(tick_ms_, entry.engine.spec().hold_ms / 10);
  }
  tick_ms_ = std::max<int64_t>(tick_ms_, 10);
}

namespace {
bool sameRamp(const routing::RampSpec& a, const routing::RampSpec& b) {
  return a.cluster_name == b.cluster_name && a.steps == b.steps && a.hold_ms == b.hold_ms &&
         a.max_error_rate == b.max_error_rate && a.max_p99_ms == b.max_p99_ms &&
         a.min_requests == b.min_requests && a.max_p99_ratio == b.max_p99_ratio &&
         a.max_error_ratio == b.max_error_ratio;
}
}  // namespace

void Rollouts::adopt(const config::Snapshot& next, int64_t now_ms) {
  stop();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Entry> entries = entriesOf(next, now_ms);
    tick_ms_ = 1000;
    for (Entry& entry : entries) {
      const routing::RampSpec& ramp = entry.split->spec().ramp;
      uint32_t step = 0;
      for (const Entry& old : entries_) {
        if (old.route != entry.route || old.from_cluster != entry.from_cluster ||
            !sameRamp(old.engine.spec(), ramp)) {
          continue;
        }
        entry.engine = old.engine;
        entry.breach = old.breach;
        entry.step_backs = old.step_backs;
        step = old.engine.state() == routing::RolloutState::kSteppedBack
                   ? static_cast<uint32_t>(ramp.steps.size())
                   : old.engine.step();
      }
      entry.split->publishRampStep(step);
      tick_ms_ = std::min(tick_ms_, ramp.hold_ms / 10);
    }
    tick_ms_ = std::max<int64_t>(tick_ms_, 10);
    entries_ = std::move(entries);
  }
  start();
}

Rollouts::~Rollouts() {
  stop();
}

void Rollouts::start() {
  if (entries_.empty()) return;
  for (const Entry& entry : entries_) {
    spdlog::info("rollout on route '{}': cluster '{}' starts at {}% (step 1 of {}, hold {} ms)",
                 entry.route, entry.engine.spec().cluster_name, entry.engine.weight(),
                 entry.engine.spec().steps.size(), entry.engine.spec().hold_ms);
  }
  timer_.start(std::chrono::milliseconds(tick_ms_), [this] { tick(core::monotonicMillis()); });
}

void Rollouts::stop() {
  timer_.stop();
}

routing::GuardFigures Rollouts::figuresOf(const Entry& entry) const {
  routing::GuardFigures figures;
  routing::GuardCounters::between(entry.start_new, entry.split->rampCounters()->read(),
                                  &figures.requests, &figures.failures, &figures.p99_ms);
  routing::GuardCounters::between(entry.start_old, entry.split->rampOldCounters()->read(),
                                  &figures.old_requests, &figures.old_failures,
                                  &figures.old_p99_ms);
  return figures;
}

void Rollouts::tick(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Entry& entry : entries_) {
    routing::RolloutState before = entry.engine.state();
    if (before == routing::RolloutState::kSteppedBack || before == routing::RolloutState::kDone)
      continue;
    entry.figures = figuresOf(entry);
    routing::RolloutEngine::Decision decision = entry.engine.evaluate(now_ms, entry.figures);
    const routing::RampSpec& ramp = entry.engine.spec();
    const routing::GuardFigures& f = entry.figures;
    switch (decision.event) {
      case routing::RolloutEngine::Event::kNone:
        break;
      case routing::RolloutEngine::Event::kSteppedBack:
        entry.split->publishRampStep(static_cast<uint32_t>(ramp.steps.size()));
        entry.breach = decision.breach;
        ++entry.step_backs;
        // Once per rollout: a stepped-back rollout is never evaluated again.
        spdlog::warn(
            "rollout step-back on route '{}': cluster '{}' broke {} at {}% (step {} of {}): {} of "
            "{} requests failed (max_error_rate {}), p99 {:.1f} ms ({}; old cluster '{}': {} of {} "
            "failed, p99 {:.1f} ms); all its traffic is back on '{}' until restart",
            entry.route, ramp.cluster_name, routing::guardBreachName(decision.breach),
            ramp.steps[entry.engine.step()], entry.engine.step() + 1, ramp.steps.size(), f.failures,
            f.requests, ramp.max_error_rate, f.p99_ms,
            ramp.max_p99_ms > 0 ? fmt::format("max_p99 {} ms", ramp.max_p99_ms) : "no max_p99",
            entry.from_cluster, f.old_failures, f.old_requests, f.old_p99_ms, entry.from_cluster);
        break;
      case routing::RolloutEngine::Event::kAdvanced:
        entry.split->publishRampStep(entry.engine.step());
        // The next step is judged on its own requests only.
        entry.start_new = entry.split->rampCounters()->read();
        entry.start_old = entry.split->rampOldCounters()->read();
        spdlog::info(
            "rollout on route '{}': cluster '{}' advances to {}% (step {} of {}) after {} "
            "requests, {} failed, p99 {:.1f} ms",
            entry.route, ramp.cluster_name, entry.engine.weight(), entry.engine.step() + 1,
            ramp.steps.size(), f.requests, f.failures, f.p99_ms);
        entry.figures = {};
        break;
      case routing::RolloutEngine::Event::kDone:
        spdlog::info(
            "rollout on route '{}' done: cluster '{}' holds {}% ({} requests in the last step, {} "
            "failed, p99 {:.1f} ms)",
            entry.route, ramp.cluster_name, entry.engine.weight(), f.requests, f.failures,
            f.p99_ms);
        break;
    }
  }
}

std::vector<observe::RolloutRow> Rollouts::rows(int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<observe::RolloutRow> out;
  for (const Entry& entry : entries_) {
    const routing::RampSpec& ramp = entry.engine.spec();
    observe::RolloutRow row;
    row.route = entry.route;
    row.cluster = ramp.cluster_name;
    row.from_cluster = entry.from_cluster;
    row.step = entry.engine.step();
    row.steps = ramp.steps;
    row.weight = entry.engine.weight();
    row.state = routing::rolloutStateName(entry.engine.state());
    row.in_state_ms = std::max<int64_t>(0, now_ms - entry.engine.since());
    row.hold_ms = ramp.hold_ms;
    row.max_error_rate = ramp.max_error_rate;
    row.max_p99_ms = ramp.max_p99_ms;
    row.min_requests = ramp.min_requests;
    // Live figures while it moves; the ones that decided once it stopped.
    bool moving = entry.engine.state() == routing::RolloutState::kAdvancing ||
                  entry.engine.state() == routing::RolloutState::kHolding;
    const routing::GuardFigures f = moving ? figuresOf(entry) : entry.figures;
    row.requests = f.requests;
    row.failures = f.failures;
    row.error_rate = f.errorRate();
    row.p99_ms = f.p99_ms;
    row.old_requests = f.old_requests;
    row.old_failures = f.old_failures;
    row.old_p99_ms = f.old_p99_ms;
    row.breach = routing::guardBreachName(entry.breach);
    row.step_backs = entry.step_backs;
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace rampart::proxy
