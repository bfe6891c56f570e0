// The active health-check state machine and the published per-endpoint view.
#include "upstream/health.h"

#include <gtest/gtest.h>

#include "upstream/health_checker.h"

namespace rampart::upstream {
namespace {

using Change = HealthTracker::Change;

TEST(HealthTrackerTest, StartsHealthyAndFallsAfterUnhealthyThresholdFailuresInARow) {
  HealthTracker tracker(2, 3);
  EXPECT_TRUE(tracker.healthy());
  EXPECT_EQ(tracker.record(false), Change::kNone);
  EXPECT_EQ(tracker.record(false), Change::kNone);
  EXPECT_TRUE(tracker.healthy());
  EXPECT_EQ(tracker.record(false), Change::kBecameUnhealthy);
  EXPECT_FALSE(tracker.healthy());
  EXPECT_EQ(tracker.record(false), Change::kNone);  // already down: no second change
}

TEST(HealthTrackerTest, APassBreaksARunOfFailures) {
  HealthTracker tracker(2, 3);
  tracker.record(false);
  tracker.record(false);
  EXPECT_EQ(tracker.record(true), Change::kNone);
  EXPECT_EQ(tracker.record(false), Change::kNone);
  EXPECT_EQ(tracker.record(false), Change::kNone);
  EXPECT_TRUE(tracker.healthy());
  EXPECT_EQ(tracker.record(false), Change::kBecameUnhealthy);
}

TEST(HealthTrackerTest, ComesBackAfterHealthyThresholdPassesInARow) {
  HealthTracker tracker(2, 1);
  EXPECT_EQ(tracker.record(false), Change::kBecameUnhealthy);
  EXPECT_EQ(tracker.record(true), Change::kNone);
  EXPECT_EQ(tracker.record(false), Change::kNone);  // the run of passes starts over
  EXPECT_EQ(tracker.record(true), Change::kNone);
  EXPECT_FALSE(tracker.healthy());
  EXPECT_EQ(tracker.record(true), Change::kBecameHealthy);
  EXPECT_TRUE(tracker.healthy());
}

TEST(HealthTrackerTest, ThresholdsOfOneFlipOnEachResult) {
  HealthTracker tracker(1, 1);
  EXPECT_EQ(tracker.record(false), Change::kBecameUnhealthy);
  EXPECT_EQ(tracker.record(true), Change::kBecameHealthy);
  EXPECT_EQ(tracker.record(false), Change::kBecameUnhealthy);
}

TEST(StatusRangeTest, InclusiveRanges) {
  std::vector<StatusRange> ranges{{200, 299}, {304, 304}};
  EXPECT_TRUE(statusExpected(ranges, 200));
  EXPECT_TRUE(statusExpected(ranges, 299));
  EXPECT_TRUE(statusExpected(ranges, 304));
  EXPECT_FALSE(statusExpected(ranges, 300));
  EXPECT_FALSE(statusExpected(ranges, 503));
  EXPECT_FALSE(statusExpected({}, 200));
}

TEST(JudgeCheckTest, StatusAndTransportFailures) {
  HealthCheckSpec spec;
  spec.expected = {{200, 399}};
  EXPECT_TRUE(judgeCheck(spec, true, 204, "").passed);
  CheckResult bad_status = judgeCheck(spec, true, 503, "");
  EXPECT_FALSE(bad_status.passed);
  EXPECT_EQ(bad_status.reason, "status 503");
  CheckResult refused = judgeCheck(spec, false, 0, "connect: Connection refused");
  EXPECT_FALSE(refused.passed);
  EXPECT_EQ(refused.reason, "connect: Connection refused");
}

TEST(ClusterHealthTest, PublishKeepsTheUnhealthyCountInStep) {
  ClusterHealth health(3);
  EXPECT_EQ(health.unhealthyCount(), 0u);
  EXPECT_TRUE(health.healthy(1));
  health.publish(1, false);
  health.publish(1, false);  // twice the same: counted once
  EXPECT_EQ(health.unhealthyCount(), 1u);
  EXPECT_FALSE(health.healthy(1));
  health.publish(2, false);
  EXPECT_EQ(health.unhealthyCount(), 2u);
  health.publish(1, true);
  EXPECT_EQ(health.unhealthyCount(), 1u);
  EXPECT_TRUE(health.healthy(1));
  health.publish(7, false);  // out of range: ignored
  EXPECT_EQ(health.unhealthyCount(), 1u);
}

}  // namespace
}  // namespace rampart::upstream
