#include "routing/weighted.h"

#include <algorithm>

namespace rampart::routing {

namespace {

// Cumulative upper bounds in points; the last is always kPoints so that every
// point lands somewhere whatever rounding did.
std::vector<uint32_t> cumulativeOf(const std::vector<uint32_t>& weights) {
  std::vector<uint32_t> out;
  out.reserve(weights.size());
  uint32_t sum = 0;
  for (uint32_t weight : weights) {
    sum += weight * (kPoints / 100);
    out.push_back(std::min(sum, kPoints));
  }
  if (!out.empty()) out.back() = kPoints;
  return out;
}

}  // namespace

uint32_t cohortPoint(std::string_view key) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a offset basis
  for (unsigned char c : key) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  // FNV's low bits are weak on short keys ("acct-1", "acct-2"): the
  // splitmix64 finalizer spreads them before the modulo.
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ull;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebull;
  hash ^= hash >> 31;
  return static_cast<uint32_t>(hash % kPoints);
}

std::string_view cookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t end = header.find(';');
    std::string_view pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    std::string_view value = pair.substr(eq + 1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);  // RFC 6265: a value may be quoted
    }
    return value;
  }
  return {};
}

FailureWindow::FailureWindow(int64_t window_ms)
    : bucket_ms_(std::max<int64_t>(window_ms / kBuckets, 1)) {}

FailureWindow::Totals FailureWindow::record(int64_t now_ms, bool failed) {
  int64_t epoch = now_ms / bucket_ms_;
  Bucket& bucket = buckets_[static_cast<size_t>(epoch % kBuckets)];
  int64_t seen = bucket.epoch.load(std::memory_order_acquire);
  if (seen != epoch && bucket.epoch.compare_exchange_strong(seen, epoch)) {
    // This caller moved the bucket to the new epoch: the counts are stale.
    bucket.requests.store(0, std::memory_order_relaxed);
    bucket.failures.store(0, std::memory_order_relaxed);
  }
  bucket.requests.fetch_add(1, std::memory_order_relaxed);
  if (!failed) return {};
  bucket.failures.fetch_add(1, std::memory_order_relaxed);
  return totals(now_ms);
}

FailureWindow::Totals FailureWindow::totals(int64_t now_ms) const {
  int64_t epoch = now_ms / bucket_ms_;
  Totals out;
  for (const Bucket& bucket : buckets_) {
    int64_t held = bucket.epoch.load(std::memory_order_acquire);
    if (held < 0 || held > epoch || epoch - held >= kBuckets) continue;  // outside the window
    out.requests += bucket.requests.load(std::memory_order_relaxed);
    out.failures += bucket.failures.load(std::memory_order_relaxed);
  }
  return out;
}

Split::Split(SplitSpec spec) : spec_(std::move(spec)), window_(spec_.step_back.window_ms) {
  std::vector<uint32_t> weights;
  for (const SplitTarget& target : spec_.targets) weights.push_back(target.weight);
  const RampSpec& ramp = spec_.ramp;
  if (ramp.enabled && ramp.target < weights.size() && ramp.from < weights.size()) {
    // One table per step: the ramped target takes its step's weight from the
    // old side (the loader checked the old side has enough). Its configured
    // weight is 0, so the configured table is the stepped-back one.
    for (uint32_t step : ramp.steps) {
      std::vector<uint32_t> at = weights;
      uint32_t moved = std::min(step, at[ramp.from]);
      at[ramp.from] -= moved;
      at[ramp.target] += moved;
      tables_.push_back(cumulativeOf(at));
    }
    stepped_table_ = static_cast<uint32_t>(tables_.size());
    tables_.push_back(cumulativeOf(weights));
    ramp_new_ = std::make_unique<GuardCounters>();
    ramp_old_ = std::make_unique<GuardCounters>();
    return;
  }
  tables_.push_back(cumulativeOf(weights));
  if (spec_.step_back.enabled && spec_.step_back.watch < weights.size()) {
    uint32_t watch = spec_.step_back.watch;
    uint32_t freed = weights[watch] > spec_.step_back.to ? weights[watch] - spec_.step_back.to : 0;
    weights[watch] -= freed;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (i != watch) {  // the first other target takes what the watched one gave up
        weights[i] += freed;
        break;
      }
    }
    stepped_table_ = 1;
    tables_.push_back(cumulativeOf(weights));
  }
}

uint32_t Split::choose(uint32_t point) const {
  uint32_t which = table();
  const std::vector<uint32_t>& bounds = tables_[which < tables_.size() ? which : 0];
  // A handful of targets: a linear scan beats a binary search.
  for (uint32_t i = 0; i < bounds.size(); ++i) {
    if (point < bounds[i]) return i;
  }
  return bounds.empty() ? 0 : static_cast<uint32_t>(bounds.size() - 1);
}

uint32_t Split::weightNow(uint32_t target) const {
  uint32_t which = table();
  const std::vector<uint32_t>& bounds = tables_[which < tables_.size() ? which : 0];
  if (target >= bounds.size()) return 0;
  return (bounds[target] - (target == 0 ? 0 : bounds[target - 1])) / (kPoints / 100);
}

void Split::publishRampStep(uint32_t step) const {
  if (!spec_.ramp.enabled || step >= tables_.size()) return;
  table_.store(step, std::memory_order_relaxed);
}

Split::Recorded Split::record(uint32_t target, bool failed, int64_t now_ms) const {
  const StepBackSpec& rule = spec_.step_back;
  if (!rule.enabled || target != rule.watch) return {};
  if (steppedBack()) return {StepBackVerdict::kAlready, {}};
  FailureWindow::Totals totals = window_.record(now_ms, failed);
  if (totals.requests < rule.min_requests || totals.requests == 0) return {};
  double rate = static_cast<double>(totals.failures) / static_cast<double>(totals.requests);
  if (rate <= rule.max_error_rate) return {};
  uint32_t expected = 0;
  if (!table_.compare_exchange_strong(expected, stepped_table_))
    return {StepBackVerdict::kAlready, {}};
  return {StepBackVerdict::kSteppedBack, totals};
}

}  // namespace rampart::routing
