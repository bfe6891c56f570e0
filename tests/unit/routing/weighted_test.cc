#include "routing/weighted.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rampart::routing {
namespace {

SplitSpec twoWay(uint32_t old_weight, uint32_t new_weight) {
  SplitSpec spec;
  spec.targets = {{0, old_weight}, {1, new_weight}};
  return spec;
}

std::string key(int i) {
  return "acct-" + std::to_string(i);
}

TEST(CohortPoint, IsStableAndInRange) {
  EXPECT_EQ(cohortPoint("acct-42"), cohortPoint("acct-42"));
  EXPECT_NE(cohortPoint("acct-42"), cohortPoint("acct-43"));
  for (int i = 0; i < 1000; ++i) EXPECT_LT(cohortPoint(key(i)), kPoints);
}

TEST(Split, DistributionIsWithinToleranceOver100kKeys) {
  for (uint32_t new_weight : {1u, 10u, 25u, 50u, 90u}) {
    Split split(twoWay(100 - new_weight, new_weight));
    int to_new = 0;
    const int kKeys = 100000;
    for (int i = 0; i < kKeys; ++i) to_new += split.choose(cohortPoint(key(i))) == 1;
    double share = static_cast<double>(to_new) / kKeys;
    // 100k binomial draws: sigma <= 0.0016; 0.006 is beyond 3.5 sigma.
    EXPECT_NEAR(share, new_weight / 100.0, 0.006) << "weight " << new_weight;
  }
}

TEST(Split, ThreeTargetsShareByWeight) {
  SplitSpec spec;
  spec.targets = {{0, 50}, {3, 30}, {5, 20}};
  Split split(spec);
  std::vector<int> counts(3);
  for (int i = 0; i < 100000; ++i) ++counts[split.choose(cohortPoint(key(i)))];
  EXPECT_NEAR(counts[0] / 100000.0, 0.5, 0.006);
  EXPECT_NEAR(counts[1] / 100000.0, 0.3, 0.006);
  EXPECT_NEAR(counts[2] / 100000.0, 0.2, 0.006);
}

TEST(Split, ZeroAndFullWeights) {
  Split none(twoWay(100, 0));
  Split all(twoWay(0, 100));
  for (uint32_t point = 0; point < kPoints; point += 7) {
    EXPECT_EQ(none.choose(point), 0u);
    EXPECT_EQ(all.choose(point), 1u);
  }
  EXPECT_EQ(none.choose(kPoints - 1), 0u);
  EXPECT_EQ(all.choose(0), 1u);
}

TEST(Split, StickyKeyAlwaysLandsOnTheSameSide) {
  Split split(twoWay(90, 10));
  for (int i = 0; i < 1000; ++i) {
    uint32_t first = split.choose(cohortPoint(key(i)));
    for (int again = 0; again < 5; ++again) EXPECT_EQ(split.choose(cohortPoint(key(i))), first);
  }
}

TEST(Split, RaisingTheNewWeightOnlyMovesKeysFromOldToNew) {
  std::vector<uint32_t> ramp = {0, 1, 5, 10, 25, 50, 75, 100};
  for (size_t step = 1; step < ramp.size(); ++step) {
    Split before(twoWay(100 - ramp[step - 1], ramp[step - 1]));
    Split after(twoWay(100 - ramp[step], ramp[step]));
    int moved = 0;
    for (int i = 0; i < 20000; ++i) {
      uint32_t point = cohortPoint(key(i));
      uint32_t was = before.choose(point);
      uint32_t is = after.choose(point);
      if (was == 1) {
        EXPECT_EQ(is, 1u) << key(i) << " went back from new to old at " << ramp[step];
      }
      moved += was == 0 && is == 1;
    }
    // The keys that moved are about the weight added, no more.
    EXPECT_NEAR(moved / 20000.0, (ramp[step] - ramp[step - 1]) / 100.0, 0.015);
  }
}

TEST(Split, NewFirstInTheListIsMonotonicToo) {
  SplitSpec low;
  low.targets = {{1, 10}, {0, 90}};
  SplitSpec high;
  high.targets = {{1, 40}, {0, 60}};
  Split before(low), after(high);
  for (int i = 0; i < 20000; ++i) {
    uint32_t point = cohortPoint(key(i));
    if (before.choose(point) == 0) {
      EXPECT_EQ(after.choose(point), 0u);
    }
  }
}

TEST(CookieValue, FindsTheNamedCookie) {
  EXPECT_EQ(cookieValue("a=1; session=abc; b=2", "session"), "abc");
  EXPECT_EQ(cookieValue("session=abc", "session"), "abc");
  EXPECT_EQ(cookieValue("xsession=1;session=\"q\" ", "session"), "q");
  EXPECT_EQ(cookieValue("a=1; b=2", "session"), "");
  EXPECT_EQ(cookieValue("", "session"), "");
  EXPECT_EQ(cookieValue("session", "session"), "");
}

SplitSpec guarded(uint32_t new_weight) {
  SplitSpec spec = twoWay(100 - new_weight, new_weight);
  spec.step_back.enabled = true;
  spec.step_back.watch = 1;
  spec.step_back.max_error_rate = 0.05;
  spec.step_back.min_requests = 50;
  spec.step_back.window_ms = 30000;
  spec.step_back.to = 0;
  return spec;
}

TEST(StepBack, TripsOnceWhenTheRateExceedsTheThresholdAndMovesEverythingToOld) {
  Split split(guarded(50));
  int64_t now = 1'000'000;
  // 40 successes then failures: below min_requests nothing happens.
  for (int i = 0; i < 40; ++i)
    EXPECT_EQ(split.record(1, false, now).verdict, StepBackVerdict::kNone);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(split.record(1, true, now).verdict, StepBackVerdict::kNone);
  EXPECT_FALSE(split.steppedBack());
  Split::Recorded tripped = split.record(1, true, now);  // 50th request, 10 failures: 20%
  EXPECT_EQ(tripped.verdict, StepBackVerdict::kSteppedBack);
  EXPECT_EQ(tripped.window.requests, 50u);
  EXPECT_EQ(tripped.window.failures, 10u);
  EXPECT_TRUE(split.steppedBack());
  EXPECT_EQ(split.record(1, true, now).verdict, StepBackVerdict::kAlready);
  for (uint32_t point = 0; point < kPoints; ++point) ASSERT_EQ(split.choose(point), 0u);
  EXPECT_EQ(split.weightNow(0), 100u);
  EXPECT_EQ(split.weightNow(1), 0u);
}

TEST(Split, WeightNowIsTheConfiguredWeightUntilTheStepBack) {
  Split split(guarded(30));
  EXPECT_EQ(split.weightNow(0), 70u);
  EXPECT_EQ(split.weightNow(1), 30u);
  EXPECT_EQ(split.weightNow(2), 0u);  // no such target
}

TEST(StepBack, StaysBelowTheThreshold) {
  Split split(guarded(50));
  int64_t now = 0;
  // 4% failures over 1000 requests: never trips.
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(split.record(1, i % 25 == 24, now).verdict, StepBackVerdict::kNone);
    now += 10;
  }
  EXPECT_FALSE(split.steppedBack());
}

TEST(StepBack, OnlyTheWatchedClusterCounts) {
  Split split(guarded(50));
  for (int i = 0; i < 200; ++i) EXPECT_EQ(split.record(0, true, 0).verdict, StepBackVerdict::kNone);
  EXPECT_FALSE(split.steppedBack());
}

TEST(StepBack, OldFailuresLeaveTheWindow) {
  Split split(guarded(50));
  int64_t now = 0;
  for (int i = 0; i < 4; ++i) split.record(1, true, now);  // 4 failures at t=0
  now += 31000;                                            // past the 30 s window
  for (int i = 0; i < 60; ++i) split.record(1, false, now);
  // 1 failure in 61 requests: 1.6%, although 5 of 65 (7.7%) over all time.
  EXPECT_EQ(split.record(1, true, now).verdict, StepBackVerdict::kNone);
  EXPECT_FALSE(split.steppedBack());
  // Within the window the same failures do count.
  Split fresh(guarded(50));
  for (int i = 0; i < 4; ++i) fresh.record(1, true, 0);
  for (int i = 0; i < 60; ++i) fresh.record(1, false, 29000);
  EXPECT_EQ(fresh.record(1, true, 29000).verdict, StepBackVerdict::kSteppedBack);
}

TEST(StepBack, PartialStepBackKeepsStickyKeysMonotonic) {
  SplitSpec spec = guarded(50);
  spec.step_back.to = 10;
  Split split(spec);
  std::vector<uint32_t> before;
  for (int i = 0; i < 20000; ++i) before.push_back(split.choose(cohortPoint(key(i))));
  for (int i = 0; i < 50; ++i) split.record(1, true, 0);
  ASSERT_TRUE(split.steppedBack());
  int on_new = 0;
  for (int i = 0; i < 20000; ++i) {
    uint32_t now = split.choose(cohortPoint(key(i)));
    if (before[i] == 0) {
      EXPECT_EQ(now, 0u);  // stepping back never moves old keys to new
    }
    on_new += now == 1;
  }
  EXPECT_NEAR(on_new / 20000.0, 0.10, 0.015);
}

TEST(FailureWindow, TotalsCoverOnlyTheWindow) {
  FailureWindow window(1000);  // 10 buckets of 100 ms
  window.record(0, true);
  window.record(550, false);
  EXPECT_EQ(window.totals(999).requests, 2u);
  EXPECT_EQ(window.totals(999).failures, 1u);
  EXPECT_EQ(window.totals(1000).requests, 1u);  // the t=0 bucket has left
  EXPECT_EQ(window.totals(1000).failures, 0u);
  window.record(1000, false);  // reuses the t=0 bucket: its old counts are dropped
  EXPECT_EQ(window.totals(1000).requests, 2u);
  EXPECT_EQ(window.totals(1000).failures, 0u);
}

}  // namespace
}  // namespace rampart::routing
