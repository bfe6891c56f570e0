#include "observe/metrics.h"

namespace rampart::observe {

size_t refusalCauseIndex(std::string_view cause) {
  if (cause.starts_with("upstream")) return kRefusalCauseCount - 1;
  for (size_t i = 0; i + 1 < kRefusalCauseCount; ++i) {
    if (cause == kRefusalCauses[i]) return i;
  }
  return kRefusalCauseCount;
}

WorkerMetrics::WorkerMetrics(size_t routes, size_t listeners,
                             const std::vector<size_t>& cluster_endpoints) {
  routes_.reserve(routes + 1);
  for (size_t i = 0; i < routes + 1; ++i) routes_.push_back(std::make_unique<RouteMetrics>());
  for (size_t i = 0; i < listeners; ++i) listeners_.push_back(std::make_unique<HistogramShard>());
  endpoint_first_.push_back(0);
  for (size_t endpoints : cluster_endpoints) {
    clusters_.push_back(std::make_unique<HistogramShard>());
    for (size_t e = 0; e < endpoints; ++e) endpoints_.push_back(std::make_unique<HistogramShard>());
    endpoint_first_.push_back(endpoints_.size());
  }
}

}  // namespace rampart::observe
