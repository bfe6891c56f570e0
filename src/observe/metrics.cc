#include "observe/metrics.h"

namespace rampart::observe {

WorkerMetrics::WorkerMetrics(size_t routes) {
  routes_.reserve(routes + 1);
  for (size_t i = 0; i < routes + 1; ++i) routes_.push_back(std::make_shared<RouteMetrics>());
}

WorkerMetrics::WorkerMetrics(const std::vector<std::string>& names, const WorkerMetrics& previous,
                             const std::vector<std::string>& previous_names) {
  routes_.reserve(names.size() + 1);
  for (const std::string& name : names) {
    std::shared_ptr<RouteMetrics> kept;
    for (size_t i = 0; i < previous_names.size() && i + 1 < previous.routes_.size(); ++i) {
      if (previous_names[i] == name) kept = previous.routes_[i];
    }
    routes_.push_back(kept ? std::move(kept) : std::make_shared<RouteMetrics>());
  }
  routes_.push_back(previous.routes_.back());  // unmatched
}

}  // namespace rampart::observe
