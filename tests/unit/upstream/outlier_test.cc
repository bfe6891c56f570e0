// Outlier ejection timing with an injected clock: thresholds, the growing
// and capped ejection time, its decay, and the max ejection percent.
#include "upstream/outlier.h"

#include <gtest/gtest.h>

namespace rampart::upstream {
namespace {

using Kind = OutlierDetector::Verdict::Kind;
using std::chrono::milliseconds;

OutlierSpec spec(uint32_t five_xx, uint32_t connect, int64_t base, int64_t max, uint32_t percent) {
  OutlierSpec s;
  s.enabled = true;
  s.consecutive_5xx = five_xx;
  s.consecutive_connect_failures = connect;
  s.base_ejection_time = milliseconds(base);
  s.max_ejection_time = milliseconds(max);
  s.max_ejection_percent = percent;
  return s;
}

TEST(OutlierTest, ConsecutiveServerErrorsEjectForTheBaseTime) {
  OutlierDetector detector(spec(3, 0, 1000, 10000, 100), 2);
  int64_t now = 5000;
  EXPECT_EQ(detector.recordServerError(0, now).kind, Kind::kNone);
  EXPECT_EQ(detector.recordServerError(0, now).kind, Kind::kNone);
  OutlierDetector::Verdict verdict = detector.recordServerError(0, now);
  EXPECT_EQ(verdict.kind, Kind::kEjected);
  EXPECT_EQ(verdict.duration, 1000);
  EXPECT_FALSE(verdict.by_connect);
  EXPECT_EQ(detector.refresh(now), 1u);
  EXPECT_TRUE(detector.ejected(0));
  EXPECT_FALSE(detector.ejected(1));
  EXPECT_EQ(detector.refresh(now + 999), 1u);
  EXPECT_EQ(detector.refresh(now + 1000), 0u);  // back exactly when its time is up
  EXPECT_FALSE(detector.ejected(0));
}

TEST(OutlierTest, ASuccessBreaksTheRun) {
  OutlierDetector detector(spec(3, 3, 1000, 10000, 100), 1);
  detector.recordServerError(0, 0);
  detector.recordServerError(0, 0);
  detector.recordSuccess(0);
  EXPECT_EQ(detector.recordServerError(0, 0).kind, Kind::kNone);
  EXPECT_EQ(detector.recordServerError(0, 0).kind, Kind::kNone);
  EXPECT_EQ(detector.recordServerError(0, 0).kind, Kind::kEjected);
}

TEST(OutlierTest, ConnectFailuresHaveTheirOwnRunEndedByAConnection) {
  OutlierDetector detector(spec(0, 2, 1000, 10000, 100), 1);
  EXPECT_EQ(detector.recordConnectFailure(0, 0).kind, Kind::kNone);
  detector.recordConnected(0);
  EXPECT_EQ(detector.recordConnectFailure(0, 0).kind, Kind::kNone);
  OutlierDetector::Verdict verdict = detector.recordConnectFailure(0, 0);
  EXPECT_EQ(verdict.kind, Kind::kEjected);
  EXPECT_TRUE(verdict.by_connect);
}

TEST(OutlierTest, ATriggerAtZeroIsOff) {
  OutlierDetector detector(spec(0, 2, 1000, 10000, 100), 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(detector.recordServerError(0, 0).kind, Kind::kNone);
}

TEST(OutlierTest, RepeatedEjectionsLastLongerUpToTheCap) {
  OutlierDetector detector(spec(1, 0, 1000, 2500, 100), 1);
  int64_t now = 0;
  std::vector<int64_t> durations;
  for (int i = 0; i < 4; ++i) {
    OutlierDetector::Verdict verdict = detector.recordServerError(0, now);
    ASSERT_EQ(verdict.kind, Kind::kEjected) << i;
    durations.push_back(verdict.duration);
    now += verdict.duration;  // fails again the moment it is back
    EXPECT_EQ(detector.refresh(now), 0u);
  }
  EXPECT_EQ(durations, (std::vector<int64_t>{1000, 2000, 2500, 2500}));
}

TEST(OutlierTest, TimeBackInBalancingEarnsTheMultiplierBack) {
  OutlierDetector detector(spec(1, 0, 1000, 60000, 100), 1);
  int64_t now = 0;
  for (int i = 0; i < 3; ++i) {  // ejected 1 s, 2 s, 3 s
    now += detector.recordServerError(0, now).duration;
    detector.refresh(now);
  }
  EXPECT_EQ(detector.timesEjected(0), 3u);
  // Two base times in good standing take two steps off: the next is 2 s, not 4 s.
  now += 2000;
  OutlierDetector::Verdict verdict = detector.recordServerError(0, now);
  EXPECT_EQ(verdict.duration, 2000);
  now += verdict.duration;
  detector.refresh(now);
  now += 3600 * 1000;  // long after: back to the base time
  EXPECT_EQ(detector.recordServerError(0, now).duration, 1000);
}

TEST(OutlierTest, FailuresWhileEjectedDoNotLengthenIt) {
  OutlierDetector detector(spec(1, 1, 1000, 10000, 100), 1);
  EXPECT_EQ(detector.recordServerError(0, 0).kind, Kind::kEjected);
  EXPECT_EQ(detector.recordServerError(0, 10).kind, Kind::kNone);  // an in-flight request
  EXPECT_EQ(detector.recordConnectFailure(0, 10).kind, Kind::kNone);
  EXPECT_EQ(detector.timesEjected(0), 1u);
  EXPECT_EQ(detector.refresh(1000), 0u);
}

TEST(OutlierTest, NeverMoreThanMaxEjectionPercentAtOnce) {
  // 4 endpoints, 50%: two may be out at once, a third is refused.
  OutlierDetector detector(spec(1, 0, 1000, 10000, 50), 4);
  EXPECT_EQ(detector.recordServerError(0, 0).kind, Kind::kEjected);
  EXPECT_EQ(detector.recordServerError(1, 0).kind, Kind::kEjected);
  EXPECT_EQ(detector.recordServerError(2, 0).kind, Kind::kRefusedLimit);
  EXPECT_EQ(detector.refresh(0), 2u);
  EXPECT_FALSE(detector.ejected(2));
  // Once one is back, the next failure of the refused one ejects it.
  EXPECT_EQ(detector.refresh(1000), 0u);
  EXPECT_EQ(detector.recordServerError(2, 1000).kind, Kind::kEjected);
}

TEST(OutlierTest, MaxEjectionPercentRoundsDown) {
  // 3 endpoints at 50%: 1.5 allowed, so one at a time.
  OutlierDetector detector(spec(1, 0, 1000, 10000, 50), 3);
  EXPECT_EQ(detector.recordServerError(0, 0).kind, Kind::kEjected);
  EXPECT_EQ(detector.recordServerError(1, 0).kind, Kind::kRefusedLimit);
  // A single endpoint at anything below 100% is never ejected.
  OutlierDetector single(spec(1, 0, 1000, 10000, 99), 1);
  EXPECT_EQ(single.recordServerError(0, 0).kind, Kind::kRefusedLimit);
  OutlierDetector all(spec(1, 0, 1000, 10000, 100), 1);
  EXPECT_EQ(all.recordServerError(0, 0).kind, Kind::kEjected);
}

TEST(OutlierTest, SeveralEjectionsExpireIndependently) {
  OutlierDetector detector(spec(1, 0, 1000, 10000, 100), 3);
  detector.recordServerError(0, 0);    // until 1000
  detector.recordServerError(1, 500);  // until 1500
  EXPECT_EQ(detector.refresh(999), 2u);
  EXPECT_EQ(detector.refresh(1000), 1u);
  EXPECT_FALSE(detector.ejected(0));
  EXPECT_TRUE(detector.ejected(1));
  EXPECT_EQ(detector.refresh(1500), 0u);
}

}  // namespace
}  // namespace rampart::upstream
