#include "observe/metrics.h"

namespace rampart::observe {

WorkerMetrics::WorkerMetrics(size_t routes) {
  routes_.reserve(routes + 1);
  for (size_t i = 0; i < routes + 1; ++i) routes_.push_back(std::make_unique<RouteMetrics>());
}

}  // namespace rampart::observe
