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
  WorkerMetrics::Shape before_shape{before, 0, {}, {}};
  WorkerMetrics::Shape after_shape{after, 0, {}, {}};
  WorkerMetrics new_metrics(after_shape, old_metrics, before_shape);
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

TEST(WorkerMetricsTest, ClustersListenersAndRefusalsCarryOverByNameAndPosition) {
  WorkerMetrics::Shape before{{"r"}, 1, {"old", "shared", "resized"}, {1, 2, 1}};
  WorkerMetrics old_metrics(1, 1, before.cluster_endpoints);
  old_metrics.recordCluster(1, 1, 100);  // shared, endpoint 1
  old_metrics.recordCluster(2, 0, 100);  // resized
  old_metrics.recordListener(0, 100);
  old_metrics.recordRefusal("auth");

  // "old" removed, "shared" moved to index 0, "resized" gains an endpoint.
  WorkerMetrics::Shape after{{"r"}, 2, {"shared", "resized", "new"}, {2, 2, 1}};
  WorkerMetrics new_metrics(after, old_metrics, before);
  EXPECT_EQ(new_metrics.cluster(0).sumMicros(), 100u);
  EXPECT_EQ(new_metrics.endpoint(0, 1).sumMicros(), 100u);
  EXPECT_EQ(new_metrics.cluster(1).sumMicros(), 0u);  // other endpoints: a new series
  EXPECT_EQ(new_metrics.cluster(2).sumMicros(), 0u);
  EXPECT_EQ(new_metrics.listener(0).sumMicros(), 100u);
  EXPECT_EQ(new_metrics.listener(1).sumMicros(), 0u);
  EXPECT_EQ(new_metrics.refusals(refusalCauseIndex("auth")), 1u);
  old_metrics.recordRefusal("auth");  // a request of the old generation ends
  EXPECT_EQ(new_metrics.refusals(refusalCauseIndex("auth")), 2u);
}

}  // namespace
}  // namespace rampart::observe
