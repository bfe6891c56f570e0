// Per-route metrics across a reload: a route that keeps its name keeps its
// counters (shared by both generations), a new one starts at zero, and the
// unmatched slot carries on.
#include "observe/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rampart::observe {
namespace {

TEST(WorkerMetricsTest, ARouteKeepingItsNameKeepsItsCountersAcrossAReload) {
  const std::vector<std::string> before = {"orders", "users"};
  WorkerMetrics old_metrics(before.size());
  old_metrics.recordResponse(0, 200, 10);  // orders
  old_metrics.recordResponse(1, 404, 10);  // users
  old_metrics.recordResponse(old_metrics.unmatchedSlot(), 400, 10);

  // Reordered, one removed, one added.
  const std::vector<std::string> after = {"billing", "orders"};
  WorkerMetrics new_metrics(after, old_metrics, before);
  ASSERT_EQ(new_metrics.slots(), 3u);
  EXPECT_EQ(new_metrics.route(1).by_class[1].get(), 1u);  // orders' 2xx, now at index 1
  EXPECT_EQ(new_metrics.route(0).by_class[1].get(), 0u);  // billing: new
  EXPECT_EQ(new_metrics.route(new_metrics.unmatchedSlot()).by_class[3].get(), 1u);

  // Both generations write the same counters: a request that started before
  // the reload and ends after it is counted once, where the new one reads.
  old_metrics.recordResponse(0, 500, 10);
  EXPECT_EQ(new_metrics.route(1).by_class[4].get(), 1u);
  new_metrics.recordResponse(1, 200, 10);
  EXPECT_EQ(old_metrics.route(0).by_class[1].get(), 2u);
}

}  // namespace
}  // namespace rampart::observe
