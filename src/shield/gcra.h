// GCRA (generic cell rate algorithm): one rate limit applied to one stored
// "theoretical arrival time". Pure arithmetic on plain values: no clock read,
// no allocation, no thread affinity. A compiled Gcra lives as long as the
// config snapshot that built it; the TAT it updates lives in a keyed table.
#pragma once

#include <cstdint>

namespace rampart::shield {

// Time is always the caller's: nanoseconds from a monotonic clock (e.g.
// core::monotonicMillis() * 1'000'000, read once per event-loop iteration).
using Nanos = int64_t;
inline constexpr Nanos kSecond = 1'000'000'000;

// A limit as the config states it: `rate` requests per second sustained, and
// `burst` requests at once from idle.
//
// Burst convention: `burst` counts every request that may pass at once,
// including the first (the token-bucket size, as Envoy's max_tokens or Go's
// x/time/rate). From idle, exactly `burst` requests pass back to back, then
// one per 1/rate. burst 1 means strictly evenly spaced. nginx's
// `limit_req ... burst=N nodelay` and throttled's MaxBurst N count only the
// requests beyond the first: they equal our burst N + 1.
struct Limit {
  double rate = 1;     // requests per second; > 0 (e.g. 0.5 = one per 2 s)
  uint32_t burst = 1;  // >= 1; 0 is read as 1
};

// What a check decided, with what the IETF RateLimit headers
// (draft-ietf-httpapi-ratelimit-headers) and Retry-After need.
enum class Verdict : uint8_t {
  kAllow,  // let the request through; the state was charged
  kDeny,   // refuse it (429 / close); the state was left unchanged
};

struct Decision {
  Verdict verdict = Verdict::kAllow;
  uint32_t limit = 0;      // the burst: "limit=" (and the policy's burst)
  uint32_t remaining = 0;  // requests that would still pass right now, after this one
  Nanos retry_after = 0;   // denied: time until one request would pass (> 0); allowed: 0
  Nanos reset = 0;         // time until the full burst is available again (>= 0)

  bool allowed() const { return verdict == Verdict::kAllow; }
  // Retry-After in whole seconds, rounded up: >= 1 when denied, 0 when allowed.
  int64_t retryAfterSeconds() const { return ceilSeconds(retry_after); }
  // "reset=" in whole seconds, rounded up.
  int64_t resetSeconds() const { return ceilSeconds(reset); }

  static int64_t ceilSeconds(Nanos t) { return t <= 0 ? 0 : (t - 1) / kSecond + 1; }
};

// A Limit compiled to integer nanoseconds, built once per snapshot.
class Gcra {
 public:
  // Out-of-range values are clamped rather than refused (the config loader
  // validates): rate to [1e-6, 1e9] per second, burst to [1, 1e6].
  explicit Gcra(const Limit& limit);

  // Checks one request of weight `cost` (normally 1) at `now` against the
  // state `tat` (0 for a key never seen), updating `tat` only when allowed.
  //
  // Clock safety: a TAT further ahead of `now` than the whole burst can only
  // come from a clock that went backwards; it is pulled back to "burst just
  // used up", so a backward jump never grants an extra request and never
  // denies longer than one interval past what a steady clock would. A huge
  // forward jump simply finds the bucket full.
  Decision check(int64_t& tat, Nanos now, uint32_t cost = 1) const;

  // The decision a request would get, without charging it.
  Decision peek(int64_t tat, Nanos now) const;

  Nanos interval() const { return interval_; }    // 1/rate
  Nanos tolerance() const { return tolerance_; }  // burst * interval
  uint32_t burst() const { return burst_; }
  // The policy's window in whole seconds for "RateLimit-Policy: q;w=", with
  // q = quotaPerWindow(): e.g. rate 100/s -> "100;w=1;burst=50".
  int64_t windowSeconds() const;
  uint64_t quotaPerWindow() const;

 private:
  Nanos interval_;
  Nanos tolerance_;  // the TAT may run at most this far ahead of now
  uint32_t burst_;
};

}  // namespace rampart::shield
