#include "observe/histogram.h"

#include <cmath>

namespace rampart::observe {

uint64_t HistogramLayout::lowerBound(uint32_t index) {
  if (index < kLinear) return index;
  const uint32_t group = (index - kLinear) / kSubBuckets;
  const uint32_t sub = (index - kLinear) % kSubBuckets;
  const uint32_t exponent = kFirstExponent + group;
  return (static_cast<uint64_t>(kSubBuckets) + sub) << (exponent - 6);
}

uint64_t HistogramLayout::upperBound(uint32_t index) {
  if (index < kLinear) return static_cast<uint64_t>(index) + 1;
  const uint32_t exponent = kFirstExponent + (index - kLinear) / kSubBuckets;
  return lowerBound(index) + (uint64_t{1} << (exponent - 6));
}

double HistogramLayout::representative(uint32_t index) {
  if (index < kLinear) return static_cast<double>(index);
  if (index == kBuckets - 1 || lowerBound(index) >= kMaxMicros) {
    return static_cast<double>(kMaxMicros);
  }
  // The midpoint of [lower, upper - 1], the integers the bucket holds.
  return (static_cast<double>(lowerBound(index)) + static_cast<double>(upperBound(index) - 1)) / 2;
}

void HistogramSnapshot::add(const HistogramShard& shard) {
  for (uint32_t i = 0; i < HistogramLayout::kBuckets; ++i) {
    uint64_t n = shard.count(i);
    counts_[i] += n;
    total_ += n;
  }
  sum_micros_ += shard.sumMicros();
}

void HistogramSnapshot::subtract(const HistogramSnapshot& earlier) {
  uint64_t total = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    counts_[i] = counts_[i] > earlier.counts_[i] ? counts_[i] - earlier.counts_[i] : 0;
    total += counts_[i];
  }
  total_ = total;
  sum_micros_ = sum_micros_ > earlier.sum_micros_ ? sum_micros_ - earlier.sum_micros_ : 0;
}

void HistogramSnapshot::add(const HistogramSnapshot& other) {
  for (uint32_t i = 0; i < HistogramLayout::kBuckets; ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  sum_micros_ += other.sum_micros_;
}

double HistogramSnapshot::quantileMicros(double q) const {
  if (total_ == 0) return 0;
  q = std::fmin(std::fmax(q, 0.0), 1.0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (uint32_t i = 0; i < HistogramLayout::kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return HistogramLayout::representative(i);
  }
  return HistogramLayout::representative(HistogramLayout::kBuckets - 1);
}

uint64_t HistogramSnapshot::countAtOrBelow(uint64_t micros) const {
  uint64_t n = 0;
  for (uint32_t i = 0; i < HistogramLayout::kBuckets; ++i) {
    if (HistogramLayout::upperBound(i) - 1 > micros) break;
    n += counts_[i];
  }
  return n;
}

}  // namespace rampart::observe
