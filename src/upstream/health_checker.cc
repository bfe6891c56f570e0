#include "upstream/health_checker.h"

#include "core/log.h"
#include "http/fetch.h"

namespace rampart::upstream {

namespace {
// A health endpoint answers a status, not a document: a larger body fails the check.
constexpr size_t kMaxCheckBodyBytes = 64 * 1024;
}  // namespace

CheckResult judgeCheck(const HealthCheckSpec& spec, bool response_complete, uint16_t status,
                       const std::string& error) {
  if (!response_complete) return {false, error};
  if (!statusExpected(spec.expected, status)) return {false, "status " + std::to_string(status)};
  return {true, {}};
}

HealthChecker::HealthChecker(const std::vector<ClusterSpec>& clusters) {
  for (const ClusterSpec& spec : clusters) {
    if (!spec.health_check || !spec.health) continue;
    auto checked = std::make_unique<Checked>();
    checked->spec = &spec;
    checked->trackers.assign(spec.endpoints.size(),
                             HealthTracker(spec.health_check->healthy_threshold,
                                           spec.health_check->unhealthy_threshold));
    clusters_.push_back(std::move(checked));
  }
}

HealthChecker::~HealthChecker() {
  stop();
}

void HealthChecker::start() {
  for (size_t i = 0; i < clusters_.size(); ++i) {
    clusters_[i]->thread.start(clusters_[i]->spec->health_check->interval,
                               [this, i] { runRound(i); });
  }
}

void HealthChecker::stop() {
  stopping_.store(true, std::memory_order_relaxed);
  for (auto& checked : clusters_) checked->thread.stop();
}

// Endpoints are checked one after another: a round lasts at most
// endpoints x timeout, and the next starts `interval` after it ends. Checks
// are rare and small, so one blocking socket at a time is plenty, and a
// hanging endpoint delays only its own cluster's round.
void HealthChecker::runRound(size_t cluster) {
  Checked& checked = *clusters_[cluster];
  const ClusterSpec& spec = *checked.spec;
  const HealthCheckSpec& check = *spec.health_check;
  ClusterHealth& health = *spec.health;
  for (uint32_t i = 0; i < spec.endpoints.size(); ++i) {
    if (stopping_.load(std::memory_order_relaxed)) return;
    const std::string& host = check.host.empty() ? spec.endpoint_names[i] : check.host;
    http::FetchResult fetched =
        http::fetchFrom(spec.endpoints[i], host, check.path, check.timeout, kMaxCheckBodyBytes);
    CheckResult result = judgeCheck(check, fetched.ok, fetched.status, fetched.error);
    health.checks.fetch_add(1, std::memory_order_relaxed);
    if (!result.passed) health.failed_checks.fetch_add(1, std::memory_order_relaxed);
    switch (checked.trackers[i].record(result.passed)) {
      case HealthTracker::Change::kNone:
        break;
      case HealthTracker::Change::kBecameUnhealthy:
        health.publish(i, false);
        health.marked_unhealthy.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("cluster '{}': endpoint {} unhealthy after {} failed checks: {}", spec.name,
                     endpointLabel(spec, i), check.unhealthy_threshold, result.reason);
        break;
      case HealthTracker::Change::kBecameHealthy:
        health.publish(i, true);
        health.marked_healthy.fetch_add(1, std::memory_order_relaxed);
        spdlog::info("cluster '{}': endpoint {} healthy again after {} passed checks", spec.name,
                     endpointLabel(spec, i), check.healthy_threshold);
        break;
    }
  }
}

}  // namespace rampart::upstream
