#include "drill/histogram.h"

#include <algorithm>
#include <cmath>

namespace rampart::drill {

size_t Histogram::bucketOf(uint64_t value) {
  constexpr uint64_t kExact = uint64_t{1} << kSubBits;
  if (value < kExact) return static_cast<size_t>(value);
  int msb = 63 - __builtin_clzll(value);
  int shift = msb - (kSubBits - 1);  // value >> shift is in [kHalf, 2*kHalf)
  if (shift > kMaxExponent) return kBuckets - 1;
  uint64_t sub = (value >> shift) - kHalf;
  return static_cast<size_t>(kExact + (shift - 1) * kHalf + sub);
}

uint64_t Histogram::bucketLow(size_t index) {
  constexpr uint64_t kExact = uint64_t{1} << kSubBits;
  if (index < kExact) return index;
  uint64_t rest = index - kExact;
  int shift = static_cast<int>(rest / kHalf) + 1;
  uint64_t sub = rest % kHalf + kHalf;
  return sub << shift;
}

uint64_t Histogram::bucketHigh(size_t index) {
  constexpr uint64_t kExact = uint64_t{1} << kSubBits;
  if (index < kExact) return index;
  uint64_t rest = index - kExact;
  int shift = static_cast<int>(rest / kHalf) + 1;
  return bucketLow(index) + (uint64_t{1} << shift) - 1;
}

void Histogram::record(uint64_t value) {
  ++counts_[bucketOf(value)];
  ++count_;
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t Histogram::percentile(double percentile) const {
  if (count_ == 0) return 0;
  if (percentile >= 100.0) return max_;
  double wanted = std::ceil(std::max(percentile, 0.0) / 100.0 * static_cast<double>(count_));
  uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(wanted));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(bucketHigh(i), min_, max_);
  }
  return max_;
}

}  // namespace rampart::drill
