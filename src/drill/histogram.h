// A latency histogram with log-linear buckets (HDR-style): every value from
// 1 ns to ~39 hours lands in one of ~2,300 fixed buckets with at most 1/64
// (1.6 %) relative error, so recording is an index computation and an
// increment, and a percentile walks the buckets. Owned by one thread; merge()
// combines per-thread histograms after the threads have stopped.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace rampart::drill {

class Histogram {
 public:
  // Values below 2^kSubBits are exact; above, each power of two is cut into
  // kHalf buckets.
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kHalf = uint64_t{1} << (kSubBits - 1);  // 64
  static constexpr int kMaxExponent = 40;                           // values up to 2^47 ns (~39 h)
  static constexpr size_t kBuckets = (uint64_t{1} << kSubBits) + kMaxExponent * kHalf;

  // Records one value (nanoseconds, or any unit); values past the range are
  // clamped to the last bucket (max() stays exact).
  void record(uint64_t value);
  void merge(const Histogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

  // The smallest recorded-equivalent value v such that at least `percentile`
  // percent of the values are <= v (the bucket's upper edge, capped at max()).
  // 0 when empty; percentile 100 is max().
  uint64_t percentile(double percentile) const;

  // Exposed for tests: the bucket of a value and a bucket's value range.
  static size_t bucketOf(uint64_t value);
  static uint64_t bucketLow(size_t index);
  static uint64_t bucketHigh(size_t index);

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace rampart::drill
