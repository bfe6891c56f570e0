#include "routing/rollout.h"

#include <algorithm>
#include <utility>

namespace rampart::routing {

GuardCounters::Reading GuardCounters::read() const {
  Reading out;
  out.requests = requests_.load(std::memory_order_relaxed);
  out.failures = failures_.load(std::memory_order_relaxed);
  out.latency.resize(latency_.size());
  for (size_t i = 0; i < latency_.size(); ++i)
    out.latency[i] = latency_[i].load(std::memory_order_relaxed);
  return out;
}

void GuardCounters::between(const Reading& start, const Reading& now, uint64_t* requests,
                            uint64_t* failures, double* p99_ms) {
  // Relaxed loads of separate counters can be a request apart: clamp.
  auto minus = [](uint64_t a, uint64_t b) { return a > b ? a - b : 0; };
  *requests = minus(now.requests, start.requests);
  *failures = std::min(*requests, minus(now.failures, start.failures));
  *p99_ms = 0;
  uint64_t total = 0;
  for (size_t i = 0; i < now.latency.size(); ++i)
    total += minus(now.latency[i], i < start.latency.size() ? start.latency[i] : 0);
  if (total == 0) return;
  // The ceil(0.99 * total)-th smallest, as observe::HistogramSnapshot does.
  uint64_t rank = (total * 99 + 99) / 100;
  uint64_t seen = 0;
  for (size_t i = 0; i < now.latency.size(); ++i) {
    seen += minus(now.latency[i], i < start.latency.size() ? start.latency[i] : 0);
    if (seen >= rank) {
      *p99_ms = observe::HistogramLayout::representative(static_cast<uint32_t>(i)) / 1000.0;
      return;
    }
  }
}

std::string_view rolloutStateName(RolloutState state) {
  switch (state) {
    case RolloutState::kAdvancing:
      return "advancing";
    case RolloutState::kHolding:
      return "holding";
    case RolloutState::kSteppedBack:
      return "stepped_back";
    case RolloutState::kDone:
      return "done";
  }
  return "advancing";
}

std::string_view guardBreachName(GuardBreach breach) {
  switch (breach) {
    case GuardBreach::kNone:
      return "none";
    case GuardBreach::kErrorRate:
      return "max_error_rate";
    case GuardBreach::kP99:
      return "max_p99";
    case GuardBreach::kErrorRatio:
      return "max_error_ratio";
    case GuardBreach::kP99Ratio:
      return "max_p99_ratio";
  }
  return "none";
}

RolloutEngine::RolloutEngine(RampSpec spec, int64_t now_ms)
    : spec_(std::move(spec)), since_ms_(now_ms), step_start_ms_(now_ms) {}

uint32_t RolloutEngine::weight() const {
  if (state_ == RolloutState::kSteppedBack || spec_.steps.empty()) return 0;
  return spec_.steps[step_];
}

GuardBreach RolloutEngine::breach(const GuardFigures& figures) const {
  if (figures.requests < spec_.min_requests || figures.requests == 0) return GuardBreach::kNone;
  double rate = figures.errorRate();
  if (rate > spec_.max_error_rate) return GuardBreach::kErrorRate;
  if (spec_.max_p99_ms > 0 && figures.p99_ms > static_cast<double>(spec_.max_p99_ms))
    return GuardBreach::kP99;
  // Relative guards need the old side judged on enough requests too.
  bool old_judged = figures.old_requests >= spec_.min_requests;
  if (old_judged && spec_.max_error_ratio > 0 &&
      rate > figures.oldErrorRate() * spec_.max_error_ratio + spec_.max_error_rate)
    return GuardBreach::kErrorRatio;
  if (old_judged && spec_.max_p99_ratio > 0 && figures.old_p99_ms > 0 &&
      figures.p99_ms > figures.old_p99_ms * spec_.max_p99_ratio)
    return GuardBreach::kP99Ratio;
  return GuardBreach::kNone;
}

RolloutEngine::Decision RolloutEngine::evaluate(int64_t now_ms, const GuardFigures& figures) {
  if (state_ == RolloutState::kSteppedBack || state_ == RolloutState::kDone) return {};
  if (GuardBreach broken = breach(figures); broken != GuardBreach::kNone) {
    state_ = RolloutState::kSteppedBack;
    since_ms_ = now_ms;
    return {Event::kSteppedBack, broken};
  }
  if (now_ms - step_start_ms_ < spec_.hold_ms) return {};
  // A step of weight 0 (a dark launch with a mirror) sends the cluster
  // nothing to judge: it only waits out its hold.
  if (figures.requests < spec_.min_requests && spec_.steps[step_] > 0) {
    // The hold is over, but the guards cannot be judged yet: stay here.
    if (state_ != RolloutState::kHolding) {
      state_ = RolloutState::kHolding;
      since_ms_ = now_ms;
    }
    return {};
  }
  if (step_ + 1 >= spec_.steps.size()) {
    state_ = RolloutState::kDone;
    since_ms_ = now_ms;
    return {Event::kDone, GuardBreach::kNone};
  }
  ++step_;
  state_ = RolloutState::kAdvancing;
  since_ms_ = step_start_ms_ = now_ms;
  return {Event::kAdvanced, GuardBreach::kNone};
}

}  // namespace rampart::routing
