// Learned baselines: each client's normal request rate (by account,
// principal or address prefix: the caller's key) and the worker's normal
// total, so a flood is stopped without a hand-set limit. Owned by one worker
// and used on its thread only (no lock); lives as long as the worker, and its
// learned state is carried across reloads and restarts with exportState() /
// importState(). Bounded like every shield table.
//
// Learning. Requests are counted per fixed window (`window`, aligned to the
// clock). When a window closes its rate is folded into an exponentially
// weighted moving average with alpha = 2 / (horizon + 1): the total over every
// window (idle ones pull it down), a client's over the windows it was active
// in (its rate when it comes, not its duty cycle). A client's window counts
// for at most factor times its baseline (a client cannot teach itself a
// flood), and nothing is learned from a window closed while the total is
// overloaded. A baseline is known after `min_windows` windows.
//
// The two-stage rule, per request (after Azure Front Door's HTTP DDoS rule):
//   1. overloaded = the total is known and its current rate (a sliding window
//      estimate: prev * (1 - elapsed share) + current) > factor * its baseline;
//   2. while overloaded, a client whose current rate is over factor * its own
//      baseline is throttled to that baseline: requests beyond `baseline`
//      per second (over the sliding window) are refused. A client not known
//      yet is held to `default_rate` the same way. Known clients within
//      factor * their baseline are untouched, and nobody is throttled while
//      the total is normal.
// Count mode decides the same way and reports, but throttles nothing.
//
// Sizing: 32-byte state, 56-byte entries, 70 bytes per unit of capacity.
// Eviction takes clients not seen in the last two windows and not known first,
// then the least recently seen unknown clients; known clients go only when a
// whole sample of entries is known (so a flood of new keys cannot wash out
// what was learned). With SO_REUSEPORT each worker sees its share of the
// traffic and learns its own baselines; export and import per worker.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shield/gcra.h"
#include "shield/key.h"
#include "shield/keyed_table.h"

namespace rampart::shield {

// Filled by the config loader; out-of-range values are clamped.
struct BaselinePolicy {
  Nanos window = 60 * kSecond;  // rates are counted per window (>= 1 ms)
  uint32_t horizon = 1440;      // EWMA span in windows: 1440 one-minute windows is a day (>= 1)
  uint32_t min_windows = 3;     // windows learned before a baseline is known (>= 1)
  double factor = 3.0;          // "far above": over factor * baseline (> 1)
  double default_rate = 1.0;    // requests per second allowed a client not known yet (> 0)
  double floor_rate = 0.5;      // a known client's baseline is taken as at least this (>= 0)
  Nanos retry_after = kSecond;  // Retry-After of a throttled request
  bool count_only = false;      // count mode: report, never throttle
};

enum class BaselineVerdict : uint8_t {
  kAllow,     // serve it
  kThrottle,  // refuse it (429 with Retry-After): the client is held to its baseline
};

struct BaselineDecision {
  BaselineVerdict verdict = BaselineVerdict::kAllow;
  bool would_throttle = false;  // the rule throttles it (in count mode: reported only)
  bool overloaded = false;      // stage 1: the total is far above its baseline
  bool known = false;           // the client has a learned baseline
  double rate = 0;              // the client's current rate, this request included (req/s)
  double baseline = 0;          // the rate it is held to (learned, floored, or the default)
  Nanos retry_after = 0;        // when throttled

  bool allowed() const { return verdict == BaselineVerdict::kAllow; }
};

class Baselines {
 public:
  Baselines(const BaselinePolicy& policy, size_t capacity);

  // Counts one request from `key` at `now` and decides on it.
  BaselineDecision check(const Key& key, Nanos now);

  // A reloaded policy; learned state is kept.
  void setPolicy(const BaselinePolicy& policy);

  // The learned state as a compact byte string (a 32-byte header, then 24
  // bytes per client with a baseline; native byte order), for keeping across a reload or a
  // restart. Walks the table: not for the request path.
  std::string exportState() const;
  // Merges state from exportState() (this process's or an earlier one's),
  // resuming as if no time had passed since the export (the downtime is not
  // counted as idle windows):
  // baselines and window counts replace those held for the same keys (their
  // counts in the current window are kept, new keys start at zero). False (and nothing
  // changed) when `bytes` is not a well-formed export.
  bool importState(std::string_view bytes);

  // The learned total (req/s) and whether it is known; a client's baseline
  // (0 when it has none) and whether known.
  double totalBaseline() const { return total_.baseline; }
  bool totalKnown() const { return total_.windows >= policy_.min_windows; }
  double baseline(const Key& key);
  bool known(const Key& key);

  struct Stats {
    uint64_t checked = 0;
    uint64_t overloaded = 0;      // requests seen while the total was overloaded
    uint64_t throttled = 0;       // refused (never in count mode)
    uint64_t would_throttle = 0;  // refused by the rule, either mode
  };
  const Stats& stats() const { return stats_; }

  struct State {
    int64_t window = 0;  // index of the current window (now / window)
    uint32_t offered = 0;
    uint32_t offered_prev = 0;  // in the window before, when it is window - 1
    uint32_t admitted = 0;
    uint32_t admitted_prev = 0;
    float baseline = 0;    // requests per second
    uint16_t windows = 0;  // windows learned, saturating
    uint16_t unused = 0;
  };
  using Table = KeyedTable<State>;
  static constexpr size_t kBytesPerKey = Table::kBytesPerKey;

  size_t size() const { return table_.size(); }
  size_t capacity() const { return table_.capacity(); }
  size_t memoryBytes() const { return table_.memoryBytes(); }
  uint64_t evictions() const { return table_.evictions(); }

 private:
  struct Total {
    bool started = false;  // a request was counted since construction or import
    int64_t window = 0;
    uint64_t offered = 0;
    uint64_t offered_prev = 0;
    double baseline = 0;
    uint32_t windows = 0;
  };

  void rollTotal(int64_t index);
  void rollClient(State& state, int64_t index, bool frozen) const;
  Retention retention(const State& state, int64_t index) const;

  BaselinePolicy policy_;
  double window_seconds_ = 60;
  double alpha_ = 0;
  Total total_;
  bool total_overloaded_ = false;  // the total's state at its last request
  Table table_;
  Stats stats_;
};

}  // namespace rampart::shield
