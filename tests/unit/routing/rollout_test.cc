#include "routing/rollout.h"

#include <gtest/gtest.h>

#include "routing/weighted.h"

namespace rampart::routing {
namespace {

RampSpec ramp(std::vector<uint32_t> steps = {1, 5, 25, 50, 100}) {
  RampSpec spec;
  spec.enabled = true;
  spec.target = 1;
  spec.from = 0;
  spec.cluster_name = "new";
  spec.steps = std::move(steps);
  spec.hold_ms = 1000;
  spec.max_error_rate = 0.01;
  spec.max_p99_ms = 250;
  spec.min_requests = 100;
  return spec;
}

GuardFigures healthy(uint64_t requests) {
  GuardFigures figures;
  figures.requests = requests;
  figures.p99_ms = 20;
  return figures;
}

TEST(RolloutEngine, StartsAtTheFirstStep) {
  RolloutEngine engine(ramp(), 0);
  EXPECT_EQ(engine.step(), 0u);
  EXPECT_EQ(engine.weight(), 1u);
  EXPECT_EQ(engine.state(), RolloutState::kAdvancing);
}

TEST(RolloutEngine, AdvancesOnlyAfterTheHold) {
  RolloutEngine engine(ramp(), 0);
  EXPECT_EQ(engine.evaluate(999, healthy(500)).event, RolloutEngine::Event::kNone);
  EXPECT_EQ(engine.weight(), 1u);
  EXPECT_EQ(engine.evaluate(1000, healthy(500)).event, RolloutEngine::Event::kAdvanced);
  EXPECT_EQ(engine.step(), 1u);
  EXPECT_EQ(engine.weight(), 5u);
  EXPECT_EQ(engine.since(), 1000);
  // The next hold counts from the advance, not from the start.
  EXPECT_EQ(engine.evaluate(1999, healthy(500)).event, RolloutEngine::Event::kNone);
  EXPECT_EQ(engine.evaluate(2000, healthy(500)).event, RolloutEngine::Event::kAdvanced);
  EXPECT_EQ(engine.weight(), 25u);
}

TEST(RolloutEngine, DoesNotAdvanceBeforeMinRequests) {
  RolloutEngine engine(ramp(), 0);
  EXPECT_EQ(engine.evaluate(5000, healthy(99)).event, RolloutEngine::Event::kNone);
  EXPECT_EQ(engine.state(), RolloutState::kHolding);
  EXPECT_EQ(engine.since(), 5000);
  EXPECT_EQ(engine.weight(), 1u);
  EXPECT_EQ(engine.evaluate(6000, healthy(99)).event, RolloutEngine::Event::kNone);
  EXPECT_EQ(engine.since(), 5000);  // still the same holding spell
  EXPECT_EQ(engine.evaluate(6100, healthy(100)).event, RolloutEngine::Event::kAdvanced);
  EXPECT_EQ(engine.state(), RolloutState::kAdvancing);
}

TEST(RolloutEngine, AZeroStepOnlyWaitsOutItsHold) {
  RolloutEngine engine(ramp({0, 5, 100}), 0);
  EXPECT_EQ(engine.weight(), 0u);
  EXPECT_EQ(engine.evaluate(999, {}).event, RolloutEngine::Event::kNone);
  EXPECT_EQ(engine.evaluate(1000, {}).event, RolloutEngine::Event::kAdvanced);
  EXPECT_EQ(engine.weight(), 5u);
  // From a real weight on, min_requests applies again.
  EXPECT_EQ(engine.evaluate(2000, healthy(10)).event, RolloutEngine::Event::kNone);
  EXPECT_EQ(engine.state(), RolloutState::kHolding);
}

TEST(RolloutEngine, FewRequestsNeverStepBackWhateverTheirRate) {
  RolloutEngine engine(ramp(), 0);
  GuardFigures figures = healthy(99);
  figures.failures = 99;
  figures.p99_ms = 5000;
  EXPECT_EQ(engine.evaluate(100, figures).event, RolloutEngine::Event::kNone);
  EXPECT_EQ(engine.state(), RolloutState::kAdvancing);
}

TEST(RolloutEngine, StepsBackOnTheErrorRateAtOnceWhateverTheHold) {
  RolloutEngine engine(ramp(), 0);
  ASSERT_EQ(engine.evaluate(1000, healthy(200)).event, RolloutEngine::Event::kAdvanced);
  GuardFigures figures = healthy(200);
  figures.failures = 2;  // exactly 1%: not above the threshold
  EXPECT_EQ(engine.evaluate(1100, figures).event, RolloutEngine::Event::kNone);
  figures.failures = 3;
  RolloutEngine::Decision decision = engine.evaluate(1200, figures);
  EXPECT_EQ(decision.event, RolloutEngine::Event::kSteppedBack);
  EXPECT_EQ(decision.breach, GuardBreach::kErrorRate);
  EXPECT_EQ(engine.state(), RolloutState::kSteppedBack);
  EXPECT_EQ(engine.weight(), 0u);
  EXPECT_EQ(engine.step(), 1u);  // where it broke, for the log
  EXPECT_EQ(engine.since(), 1200);
  // Once: a stepped-back rollout decides nothing more, even on good figures.
  EXPECT_EQ(engine.evaluate(9000, healthy(5000)).event, RolloutEngine::Event::kNone);
  EXPECT_EQ(engine.weight(), 0u);
}

TEST(RolloutEngine, StepsBackOnP99) {
  RolloutEngine engine(ramp(), 0);
  GuardFigures figures = healthy(150);
  figures.p99_ms = 250;  // at the limit: held
  EXPECT_EQ(engine.evaluate(500, figures).event, RolloutEngine::Event::kNone);
  figures.p99_ms = 251;
  RolloutEngine::Decision decision = engine.evaluate(600, figures);
  EXPECT_EQ(decision.event, RolloutEngine::Event::kSteppedBack);
  EXPECT_EQ(decision.breach, GuardBreach::kP99);
}

TEST(RolloutEngine, NoLatencyGuardWithoutMaxP99) {
  RampSpec spec = ramp();
  spec.max_p99_ms = 0;
  RolloutEngine engine(spec, 0);
  GuardFigures figures = healthy(150);
  figures.p99_ms = 60000;
  EXPECT_EQ(engine.evaluate(1000, figures).event, RolloutEngine::Event::kAdvanced);
}

TEST(RolloutEngine, RelativeGuardsCompareWithTheOldCluster) {
  RampSpec spec = ramp();
  spec.max_p99_ms = 0;
  spec.max_p99_ratio = 1.5;
  spec.max_error_ratio = 2;
  RolloutEngine engine(spec, 0);
  GuardFigures figures = healthy(200);
  figures.p99_ms = 40;
  figures.old_requests = 50;  // too few on the old side: relative guards not judged
  figures.old_p99_ms = 10;
  EXPECT_EQ(engine.breach(figures), GuardBreach::kNone);
  figures.old_requests = 5000;
  EXPECT_EQ(engine.breach(figures), GuardBreach::kP99Ratio);
  figures.old_p99_ms = 30;  // 40 <= 45
  EXPECT_EQ(engine.breach(figures), GuardBreach::kNone);
  // Error ratio: old 0.4%, new 1% <= 0.4% * 2 + 1%: held; 1.0% absolute is at the limit.
  figures.old_failures = 20;
  figures.failures = 2;
  EXPECT_EQ(engine.breach(figures), GuardBreach::kNone);
  spec.max_error_rate = 0.005;
  RolloutEngine strict(spec, 0);
  // 1% > 0.4% * 2 + 0.5%... but the absolute 0.5% breaks first.
  EXPECT_EQ(strict.breach(figures), GuardBreach::kErrorRate);
}

TEST(RolloutEngine, FinishesAtTheLastStepAfterItsHold) {
  RolloutEngine engine(ramp({1, 5, 25, 50, 100}), 0);
  int64_t now = 0;
  for (uint32_t expected : {5u, 25u, 50u, 100u}) {
    now += 1000;
    ASSERT_EQ(engine.evaluate(now, healthy(100)).event, RolloutEngine::Event::kAdvanced);
    EXPECT_EQ(engine.weight(), expected);
  }
  EXPECT_EQ(engine.state(), RolloutState::kAdvancing);
  EXPECT_EQ(engine.evaluate(now + 999, healthy(100)).event, RolloutEngine::Event::kNone);
  EXPECT_EQ(engine.evaluate(now + 1000, healthy(100)).event, RolloutEngine::Event::kDone);
  EXPECT_EQ(engine.state(), RolloutState::kDone);
  EXPECT_EQ(engine.weight(), 100u);
  EXPECT_EQ(engine.step(), 4u);
  // Done is final: a bad window later changes nothing.
  GuardFigures bad = healthy(1000);
  bad.failures = 1000;
  EXPECT_EQ(engine.evaluate(now + 5000, bad).event, RolloutEngine::Event::kNone);
  EXPECT_EQ(engine.weight(), 100u);
}

TEST(RolloutEngine, TheLastStepIsGuardedToo) {
  RolloutEngine engine(ramp({50, 100}), 0);
  ASSERT_EQ(engine.evaluate(1000, healthy(100)).event, RolloutEngine::Event::kAdvanced);
  GuardFigures bad = healthy(100);
  bad.failures = 10;
  EXPECT_EQ(engine.evaluate(1500, bad).event, RolloutEngine::Event::kSteppedBack);
  EXPECT_EQ(engine.weight(), 0u);
}

TEST(GuardCounters, FiguresBetweenTwoReadings) {
  GuardCounters counters;
  for (int i = 0; i < 50; ++i) counters.record(true, 900'000);  // before the step: not counted
  GuardCounters::Reading start = counters.read();
  for (int i = 0; i < 99; ++i) counters.record(false, 2'000);
  counters.record(true, 300'000);
  uint64_t requests = 0, failures = 0;
  double p99 = 0;
  GuardCounters::between(start, counters.read(), &requests, &failures, &p99);
  EXPECT_EQ(requests, 100u);
  EXPECT_EQ(failures, 1u);
  EXPECT_NEAR(p99, 2.0, 0.05);  // the 99th of 100 is a 2 ms one
  counters.record(true, 300'000);
  GuardCounters::between(start, counters.read(), &requests, &failures, &p99);
  EXPECT_EQ(requests, 101u);
  EXPECT_NEAR(p99, 300.0, 3.0);  // ceil(0.99 * 101) = 100th: a 300 ms one
  GuardCounters::between(counters.read(), counters.read(), &requests, &failures, &p99);
  EXPECT_EQ(requests, 0u);
  EXPECT_EQ(p99, 0);
}

SplitSpec rampedSplit(std::vector<uint32_t> steps) {
  SplitSpec spec;
  spec.targets = {{0, 100}, {1, 0}};
  spec.ramp = ramp(std::move(steps));
  return spec;
}

TEST(RampedSplit, PublishedStepsMoveKeysOnlyFromOldToNew) {
  Split split(rampedSplit({1, 5, 25, 50, 100}));
  EXPECT_EQ(split.weightNow(1), 1u);
  EXPECT_EQ(split.weightNow(0), 99u);
  std::vector<uint32_t> previous(10000);
  for (uint32_t p = 0; p < kPoints; ++p) previous[p] = split.choose(p);
  for (uint32_t step = 1; step < 5; ++step) {
    split.publishRampStep(step);
    for (uint32_t p = 0; p < kPoints; ++p) {
      uint32_t now = split.choose(p);
      EXPECT_TRUE(now == previous[p] || (previous[p] == 0 && now == 1)) << p;
      previous[p] = now;
    }
  }
  EXPECT_EQ(split.weightNow(1), 100u);
  EXPECT_EQ(split.choose(0), 1u);
  EXPECT_FALSE(split.steppedBack());
  split.publishRampStep(5);  // the step-back table
  EXPECT_TRUE(split.steppedBack());
  EXPECT_EQ(split.weightNow(1), 0u);
  EXPECT_EQ(split.weightNow(0), 100u);
  for (uint32_t p = 0; p < kPoints; p += 7) EXPECT_EQ(split.choose(p), 0u);
}

TEST(RampedSplit, CountsOnlyTheRampedAndOldTargets) {
  SplitSpec spec;
  spec.targets = {{0, 80}, {1, 0}, {2, 20}};
  spec.ramp = ramp({10, 80});
  Split split(std::move(spec));
  EXPECT_EQ(split.weightNow(0), 70u);
  EXPECT_EQ(split.weightNow(1), 10u);
  EXPECT_EQ(split.weightNow(2), 20u);
  split.recordRamp(1, true, 1000);
  split.recordRamp(0, false, 1000);
  split.recordRamp(2, true, 1000);  // neither side of the ramp
  EXPECT_EQ(split.rampCounters()->read().requests, 1u);
  EXPECT_EQ(split.rampCounters()->read().failures, 1u);
  EXPECT_EQ(split.rampOldCounters()->read().requests, 1u);
  EXPECT_EQ(split.rampOldCounters()->read().failures, 0u);
}

}  // namespace
}  // namespace rampart::routing
