// What a drill counts. Each thread fills its own structs; the report is read
// only after both threads have stopped. Lives for one run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "drill/drill.h"
#include "drill/histogram.h"

namespace rampart::drill {

// Answers by status class, as the report shows them.
struct StatusCounts {
  uint64_t s2xx = 0, s401 = 0, s429 = 0, s503 = 0, other = 0;
  void count(uint16_t status) {
    if (status >= 200 && status < 300) {
      ++s2xx;
    } else if (status == 401) {
      ++s401;
    } else if (status == 429) {
      ++s429;
    } else if (status == 503) {
      ++s503;
    } else {
      ++other;
    }
  }
  uint64_t total() const { return s2xx + s401 + s429 + s503 + other; }
};

// The legitimate clients' requests scheduled in one phase.
struct LegitPhase {
  uint64_t scheduled = 0;  // sends the schedule asked for
  StatusCounts status;     // answered
  uint64_t timeouts = 0;   // no answer within --timeout
  uint64_t closed = 0;     // connection closed or reset with the request in flight
  uint64_t connect_failed = 0;
  uint64_t unfinished = 0;  // still queued or in flight when the run ended
  Histogram latency;        // ns from the scheduled send to the last byte, 2xx only
  Histogram all_latency;    // every answer, any status

  uint64_t ok() const { return status.s2xx; }
  uint64_t failed() const { return scheduled - ok(); }
  double successRate() const {
    return scheduled == 0 ? 0.0 : static_cast<double>(ok()) / static_cast<double>(scheduled);
  }
};

// Connection outcomes of the attack.
struct ConnCounts {
  uint64_t attempted = 0;        // connect() calls
  uint64_t opened = 0;           // connects that completed
  uint64_t connect_refused = 0;  // ECONNREFUSED
  uint64_t connect_failed = 0;   // other connect errors (incl. EADDRNOTAVAIL)
  uint64_t connect_timeouts = 0;
  uint64_t reset = 0;                    // ECONNRESET / EPIPE after connecting
  uint64_t closed_without_response = 0;  // EOF with a request in flight, nothing answered
  uint64_t closed_idle = 0;              // EOF between requests (or after Connection: close)
  uint64_t timeouts = 0;                 // a request unanswered within --timeout
  uint64_t bad_responses = 0;            // unparseable answer
};

struct FloodStats {
  uint64_t sent = 0;
  StatusCounts status;
  ConnCounts conns;
  Histogram latency;  // ns, every answer
};

struct SlowlorisStats {
  ConnCounts conns;
  StatusCounts status;  // answers the target sent before closing (408, 400...)
  uint64_t bytes_sent = 0;
  uint64_t open_at_end = 0;
  uint64_t max_open = 0;
  Histogram held;  // ns a connection stayed open before the target closed it
};

struct ConnFloodStats {
  ConnCounts conns;
  uint64_t skipped = 0;  // permits dropped because too many connects were in flight
};

// The legitimate 2xx answers by when they were scheduled, in slots of
// kSlotNs from the baseline's start: when a tail happened, not just how big.
struct Timeline {
  static constexpr int64_t kSlotNs = 100'000'000;
  int64_t start_ns = 0;  // CLOCK_MONOTONIC of slot 0, to line up with perf -k CLOCK_MONOTONIC
  std::vector<uint32_t> count;
  std::vector<uint64_t> max_ns;
  void record(int64_t since_baseline_ns, uint64_t latency_ns) {
    if (since_baseline_ns < 0) return;
    size_t slot = static_cast<size_t>(since_baseline_ns / kSlotNs);
    if (slot >= count.size()) return;
    ++count[slot];
    if (latency_ns > max_ns[slot]) max_ns[slot] = latency_ns;
  }
};

struct Report {
  Plan plan;
  LegitPhase baseline;
  LegitPhase attack;
  Timeline timeline;
  FloodStats flood;
  SlowlorisStats slowloris;
  ConnFloodStats connection_flood;
  double attack_seconds = 0;  // measured length of the attack phase
  double attack_thread_cpu_seconds = 0;
  double legit_thread_cpu_seconds = 0;
  double elapsed_seconds = 0;
  uint64_t nofile_limit = 0;
  bool legit_realtime = false;  // the measuring thread ran at SCHED_FIFO
  std::string warnings;

  // Attack requests and connections the target refused, of all attempts: a
  // non-2xx answer, or a connection refused, reset or closed unanswered.
  uint64_t attackAttempts() const;
  uint64_t attackRefused() const;
};

// Runs the plan on two threads and returns when both have stopped: at most
// warmup + baseline + attack + one timeout (for the last answers) after the call.
Report runDrill(const Plan& plan);

}  // namespace rampart::drill
