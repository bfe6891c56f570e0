#include "observe/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

namespace rampart::observe {
namespace {

using Layout = HistogramLayout;

TEST(HistogramLayoutTest, BucketsTileTheRangeWithoutGapsOrOverlap) {
  EXPECT_EQ(Layout::lowerBound(0), 0u);
  for (uint32_t i = 0; i + 1 < Layout::kBuckets; ++i) {
    ASSERT_EQ(Layout::upperBound(i), Layout::lowerBound(i + 1)) << i;
    if (Layout::lowerBound(i) > Layout::kMaxMicros) continue;  // above the clamp: unused
    ASSERT_EQ(Layout::indexOf(Layout::lowerBound(i)), i) << i;
    if (Layout::upperBound(i) - 1 <= Layout::kMaxMicros) {
      ASSERT_EQ(Layout::indexOf(Layout::upperBound(i) - 1), i) << i;
    }
  }
  EXPECT_GT(Layout::upperBound(Layout::kBuckets - 1), Layout::kMaxMicros);
}

TEST(HistogramLayoutTest, UnderOnePercentRelativeErrorFromOneMicrosecondToSixtySeconds) {
  std::mt19937_64 rng(3);
  double worst = 0;
  for (int i = 0; i < 2'000'000; ++i) {
    // Log-uniform over [1, 60e6] µs, plus every edge near powers of two.
    double exponent = std::uniform_real_distribution<double>(0, std::log2(60e6))(rng);
    auto v = static_cast<uint64_t>(std::exp2(exponent));
    if (v == 0) v = 1;
    double got = Layout::representative(Layout::indexOf(v));
    worst = std::max(worst, std::fabs(got - static_cast<double>(v)) / static_cast<double>(v));
  }
  for (uint32_t e = 7; e <= 25; ++e) {
    for (uint64_t v : {(uint64_t{1} << e) - 1, uint64_t{1} << e, (uint64_t{1} << e) + 1}) {
      double got = Layout::representative(Layout::indexOf(v));
      worst = std::max(worst, std::fabs(got - static_cast<double>(v)) / static_cast<double>(v));
    }
  }
  EXPECT_LT(worst, 0.01);
  EXPECT_LE(worst, 1.0 / 128 + 1e-12);
  for (uint64_t v = 0; v < 128; ++v) EXPECT_EQ(Layout::representative(Layout::indexOf(v)), v);
}

TEST(HistogramLayoutTest, ValuesOverSixtySecondsAreReportedAsSixtySeconds) {
  double over = Layout::representative(Layout::indexOf(3'600'000'000ULL));
  EXPECT_NEAR(over, 60e6, 60e6 * 0.01);
  EXPECT_LT(Layout::indexOf(~uint64_t{0}), Layout::kBuckets);
}

TEST(HistogramSnapshotTest, QuantilesMatchTheSortedValuesWithinOnePercent) {
  auto a = std::make_unique<HistogramShard>();
  auto b = std::make_unique<HistogramShard>();
  std::mt19937_64 rng(9);
  std::lognormal_distribution<double> latency(std::log(800.0), 1.2);  // ~0.8 ms median
  std::vector<uint64_t> values;
  for (int i = 0; i < 200000; ++i) {
    auto v = static_cast<uint64_t>(std::min(latency(rng), 59e6)) + 1;
    values.push_back(v);
    (i % 2 ? *a : *b).record(v);  // two workers' shards
  }
  HistogramSnapshot merged;
  merged.add(*a);
  merged.add(*b);
  ASSERT_EQ(merged.total(), values.size());
  std::sort(values.begin(), values.end());
  uint64_t sum = 0;
  for (uint64_t v : values) sum += v;
  EXPECT_EQ(merged.sumMicros(), sum);
  for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * values.size())));
    double exact = static_cast<double>(values[rank - 1]);
    EXPECT_NEAR(merged.quantileMicros(q), exact, exact * 0.01) << "q " << q;
  }
}

TEST(HistogramSnapshotTest, CountAtOrBelowIsExactAtBucketEdges) {
  auto shard = std::make_unique<HistogramShard>();
  for (uint64_t v : {5u, 100u, 127u, 128u, 1000u, 1023u, 5000u, 250000u}) shard->record(v);
  HistogramSnapshot s;
  s.add(*shard);
  EXPECT_EQ(s.countAtOrBelow(4), 0u);
  EXPECT_EQ(s.countAtOrBelow(5), 1u);
  EXPECT_EQ(s.countAtOrBelow(127), 3u);
  EXPECT_EQ(s.countAtOrBelow(1023), 6u);  // 1023 ends a bucket (512..1023 in 8s)
  EXPECT_EQ(s.countAtOrBelow(60'000'000), 8u);
  HistogramSnapshot empty;
  EXPECT_EQ(empty.quantileMicros(0.99), 0);
  EXPECT_EQ(empty.countAtOrBelow(1000), 0u);
}

}  // namespace
}  // namespace rampart::observe
