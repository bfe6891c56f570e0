// Monotonic milliseconds, cached per event-loop iteration so the request path
// never pays for a clock read per check.
#pragma once

#include <time.h>

#include <cstdint>

namespace rampart::core {

using Millis = int64_t;

// Reads CLOCK_MONOTONIC_COARSE (vDSO, a few ns; ~1-4 ms resolution, ample for timeouts).
inline Millis monotonicMillis() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<Millis>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// CLOCK_MONOTONIC in microseconds (vDSO, ~20 ns): request latency for the
// metrics, read twice per request (head read, response head ready); the
// coarse clock's milliseconds are too coarse for a 1 µs histogram.
inline uint64_t monotonicMicros() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

// Wall-clock unix seconds (CLOCK_REALTIME_COARSE, vDSO): token expiry.
inline int64_t unixSeconds() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec);
}

// Wall-clock milliseconds: the time shared with other instances (store events).
inline int64_t unixMillis() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace rampart::core
