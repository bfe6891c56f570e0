#include "drill/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace rampart::drill {
namespace {

TEST(HistogramTest, EmptyIsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.percentile(99), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(100), 100u);
  EXPECT_EQ(h.percentile(0), 1u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(HistogramTest, BucketsCoverEveryValueWithBoundedError) {
  // Every value falls in a bucket whose range contains it, and the range is
  // at most 1/64 of the value wide.
  std::mt19937_64 random(7);
  for (int i = 0; i < 200000; ++i) {
    uint64_t v = random() >> (random() % 60);
    size_t b = Histogram::bucketOf(v);
    ASSERT_LT(b, Histogram::kBuckets);
    if (v >= (uint64_t{1} << 47)) continue;  // clamped into the last bucket
    ASSERT_LE(Histogram::bucketLow(b), v) << v;
    ASSERT_GE(Histogram::bucketHigh(b), v) << v;
    ASSERT_LE(static_cast<double>(Histogram::bucketHigh(b) - Histogram::bucketLow(b)),
              static_cast<double>(v) / 64.0 + 1)
        << v;
  }
  // Adjacent buckets tile the range with no gap and no overlap.
  for (size_t b = 0; b + 1 < Histogram::kBuckets; ++b) {
    ASSERT_EQ(Histogram::bucketHigh(b) + 1, Histogram::bucketLow(b + 1)) << b;
  }
}

TEST(HistogramTest, PercentilesMatchASortedCopyWithinOnePercent) {
  // Latency-like values: a log-normal body around 500 us with a long tail.
  std::mt19937_64 random(42);
  std::lognormal_distribution<double> body(std::log(500000.0), 0.6);
  Histogram h;
  std::vector<uint64_t> values;
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = static_cast<uint64_t>(body(random));
    if (i % 1000 == 0) v *= 100;  // the tail
    h.record(v);
    values.push_back(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values.size())) - 1;
    double exact = static_cast<double>(values[rank]);
    double got = static_cast<double>(h.percentile(p));
    EXPECT_GE(got, exact) << "p" << p;  // the bucket's upper edge: never optimistic
    EXPECT_LE(got, exact * 1.016) << "p" << p;
  }
  EXPECT_EQ(h.percentile(100), values.back());
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.count(), values.size());
}

TEST(HistogramTest, MergeAddsCounts) {
  Histogram a, b;
  for (int i = 0; i < 90; ++i) a.record(1000);
  for (int i = 0; i < 10; ++i) b.record(1000000);
  a.merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_EQ(a.max(), 1000000u);
  EXPECT_EQ(a.min(), 1000u);
  EXPECT_LE(a.percentile(90), 1016u);
  EXPECT_GE(a.percentile(91), 1000000u * 99 / 100);
}

TEST(HistogramTest, HugeValuesAreClampedNotLost) {
  Histogram h;
  h.record(UINT64_MAX / 2);
  h.record(5);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.max(), UINT64_MAX / 2);
  EXPECT_EQ(h.percentile(100), UINT64_MAX / 2);
  EXPECT_EQ(h.percentile(50), 5u);
}

}  // namespace
}  // namespace rampart::drill
