// Latency histograms, HDR-style log-linear buckets from 1 µs to 60 s with
// under 1% relative error. One writer per shard (a worker records into its
// own with relaxed stores: no lock, no atomic read-modify-write); any thread
// merges shards when it reads (the admin listener, the dashboard). A shard
// lives as long as its worker; its memory is fixed at construction.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

namespace rampart::observe {

// Bucket layout: values 0..127 µs each have their own bucket; above that,
// each power of two [2^e, 2^(e+1)) is cut into 64 equal buckets, so a
// bucket is at most 1/64 of its lower bound wide, and its midpoint is
// within 1/128 (0.78%) of any value in it. Values over 60 s share the last
// bucket (reported as 60 s).
class HistogramLayout {
 public:
  static constexpr uint64_t kMaxMicros = 60'000'000;
  static constexpr uint32_t kLinear = 128;       // 0..127 µs, exact
  static constexpr uint32_t kSubBuckets = 64;    // per power of two above that
  static constexpr uint32_t kFirstExponent = 7;  // 2^7 = 128
  static constexpr uint32_t kLastExponent = 25;  // 2^25 µs = 33.5 s < 60 s < 2^26
  static constexpr uint32_t kBuckets = kLinear + (kLastExponent - kFirstExponent + 1) * kSubBuckets;

  static uint32_t indexOf(uint64_t micros) {
    if (micros < kLinear) return static_cast<uint32_t>(micros);
    if (micros > kMaxMicros) micros = kMaxMicros;
    const uint32_t exponent = 63u - static_cast<uint32_t>(__builtin_clzll(micros));
    const uint32_t shift = exponent - 6;  // keeps 7 significant bits: 64..127
    const auto sub = static_cast<uint32_t>(micros >> shift) - kSubBuckets;
    return kLinear + (exponent - kFirstExponent) * kSubBuckets + sub;
  }
  // The smallest value of bucket `index` and one past its largest.
  static uint64_t lowerBound(uint32_t index);
  static uint64_t upperBound(uint32_t index);
  // What a bucket reports: its midpoint (exact for the linear buckets).
  static double representative(uint32_t index);
};

// One worker's histogram.
class HistogramShard {
 public:
  HistogramShard() = default;
  HistogramShard(const HistogramShard&) = delete;
  HistogramShard& operator=(const HistogramShard&) = delete;

  // Called by the owning worker only.
  void record(uint64_t micros) {
    bump(counts_[HistogramLayout::indexOf(micros)], 1);
    bump(sum_micros_, micros);
  }

  uint64_t count(uint32_t index) const { return counts_[index].load(std::memory_order_relaxed); }
  uint64_t sumMicros() const { return sum_micros_.load(std::memory_order_relaxed); }

 private:
  static void bump(std::atomic<uint64_t>& cell, uint64_t n) {
    cell.store(cell.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::array<std::atomic<uint64_t>, HistogramLayout::kBuckets> counts_{};
  std::atomic<uint64_t> sum_micros_{0};
};

// Shards merged at one moment, for reading: quantiles, totals, and the
// cumulative counts Prometheus wants at its bucket bounds.
class HistogramSnapshot {
 public:
  HistogramSnapshot() : counts_(HistogramLayout::kBuckets, 0) {}
  void add(const HistogramShard& shard);
  void add(const HistogramSnapshot& other);
  // What was recorded since `earlier` (an older snapshot of the same
  // shards): this minus it, bucket by bucket (never below zero).
  void subtract(const HistogramSnapshot& earlier);

  uint64_t total() const { return total_; }
  uint64_t sumMicros() const { return sum_micros_; }
  // The value (µs) at quantile q in [0, 1]: the representative of the
  // bucket holding the ceil(q * total)-th smallest value; 0 when empty.
  double quantileMicros(double q) const;
  // Values recorded at or below `micros` (bucket resolution: a bucket
  // counts when its upper bound is at or below the bound, so the answer is
  // exact at bucket edges and at most one bucket short elsewhere).
  uint64_t countAtOrBelow(uint64_t micros) const;

 private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t sum_micros_ = 0;
};

}  // namespace rampart::observe
