// The last few minutes of the gateway's numbers, one sample a second, for the
// dashboard's charts: sampled by the admin thread from the merged worker
// shards (what /stats reads), so the charts have data from the first second
// the page is open, without the browser differencing anything. Fixed memory
// (kSamples columns); admin thread only; lives as long as the AdminServer.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "observe/export.h"
#include "observe/histogram.h"
#include "observe/metrics.h"

namespace rampart::admin {

// One second of traffic: counts are deltas over the interval.
struct HistorySample {
  int64_t unix_ms = 0;
  double seconds = 1;  // the interval it covers (rates divide by it)
  uint64_t requests = 0;
  std::array<uint64_t, 5> classes{};  // 1xx..5xx
  std::array<uint64_t, observe::kRefusalCauseCount> refusals{};
  uint64_t refused_at_accept = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;  // of the requests that ended in the interval
  uint64_t connections_open = 0;
};

// The cumulative totals a sample is the difference of.
struct HistoryTotals {
  uint64_t requests = 0;
  std::array<uint64_t, 5> classes{};
  std::array<uint64_t, observe::kRefusalCauseCount> refusals{};
  uint64_t refused_at_accept = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  observe::HistogramSnapshot latency;  // every route's histogram merged
  uint64_t connections_open = 0;

  static HistoryTotals read(const observe::MetricsSources& sources);
};

class StatsHistory {
 public:
  static constexpr size_t kSamples = 300;  // five minutes

  // Takes the totals at `unix_ms` (monotonic `mono_ms` for the interval);
  // from the second call on, appends the difference to the previous call.
  void sample(HistoryTotals totals, int64_t unix_ms, int64_t mono_ms);
  size_t size() const { return count_; }
  // The last `most` samples, oldest first.
  std::vector<HistorySample> last(size_t most) const;
  // {"interval_ms":1000,"t":[...],"rps":[...],...}: columns of the last `most`.
  std::string json(size_t most) const;

 private:
  std::array<HistorySample, kSamples> ring_{};
  size_t next_ = 0;
  size_t count_ = 0;
  std::optional<HistoryTotals> previous_;
  int64_t previous_mono_ms_ = 0;
};

}  // namespace rampart::admin
