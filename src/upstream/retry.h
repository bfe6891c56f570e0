// Retries to upstreams (phase 8): which failed attempts may be tried again,
// how long to wait before the next one, and the budget that keeps retries a
// bounded fraction of the traffic so an outage cannot multiply the load.
// Pure: no sockets, no clock, no randomness of its own (the caller passes
// them), so each rule is unit-tested on its own. RetryPolicy is part of the
// immutable config snapshot; a RetryBudget belongs to one worker and one
// cluster and lives as long as the worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

namespace rampart::upstream {

// How one attempt ended, as far as retrying is concerned.
enum class AttemptOutcome : uint8_t {
  kResponse,        // a response head arrived (its status decides)
  kConnectFailure,  // no connection: refused, unreachable, connect timeout
  kReset,           // the connection closed or reset before the response head
  kTimeout,         // no response head within the (per-try) response timeout
};

// A route's retry policy. The defaults retry nothing: a route opts in.
struct RetryPolicy {
  uint32_t max_attempts = 1;  // every try, the first included; 1 = never retry
  bool on_connect_failure = true;
  bool on_reset = false;
  bool on_timeout = false;
  std::vector<uint16_t> on_statuses;                // e.g. {502, 503, 504}
  std::chrono::milliseconds per_try_timeout{0};     // 0: the cluster's response_timeout
  std::chrono::milliseconds backoff_base{25};       // full jitter over [0, base * 2^(retry-1)]
  std::chrono::milliseconds backoff_max{250};       // the cap of that range
  bool honor_retry_after = true;                    // an upstream's Retry-After sets the wait
  std::chrono::milliseconds max_retry_after{1000};  // a longer Retry-After: no retry at all
  bool idempotent = false;             // the route declares every method safe to repeat
  uint64_t max_buffered_body = 65536;  // a body up to this size is buffered so it can be resent
};

// Whether an attempt that ended with `outcome` (and `status`, for
// kResponse) is one the policy retries. A 2xx-4xx not listed is final.
bool retriableOutcome(const RetryPolicy& policy, AttemptOutcome outcome, uint16_t status);

// Whether a request may be sent twice at all: an idempotent method (RFC 9110
// 9.2.2: GET HEAD OPTIONS TRACE PUT DELETE), or a route marked idempotent.
// The caller adds the other conditions: its body is wholly buffered, and no
// byte of the response has gone to the client.
bool idempotentMethod(std::string_view method);

// Delay before retry number `retry` (1 for the first retry): "full jitter",
// uniform over [0, min(backoff_max, backoff_base * 2^(retry-1))], drawn from
// `random` (any 64-bit value, e.g. from the worker's generator).
std::chrono::milliseconds backoffDelay(const RetryPolicy& policy, uint32_t retry, uint64_t random);

// An upstream's Retry-After (RFC 9110 10.2.3): delay-seconds or an
// HTTP-date, relative to `now_unix` (seconds). -1 when absent or unreadable;
// a date in the past is 0.
int64_t parseRetryAfterMs(std::string_view value, int64_t now_unix);

// Retries in flight to one cluster, from one worker, at most
// max(min_retries, budget_percent% of the cluster's active requests that are
// on their first attempt): when every request fails, upstream attempts stay
// within (1 + budget) of the client requests instead of max_attempts times
// them (Envoy's retry_budget counts all active requests, which allows
// 1 / (1 - budget); this is the bound the operator asked for).
class RetryBudget {
 public:
  RetryBudget(double budget_percent, uint32_t min_retries)
      : budget_percent_(budget_percent), min_retries_(min_retries) {}

  // Called before a retry is scheduled; `active_requests` counts requests
  // to the cluster in flight on this worker (this one included). False:
  // over budget, answer with the failure instead (counted).
  bool tryStartRetry(uint32_t active_requests);
  // The retry's attempt has ended (whatever its outcome).
  void endRetry() {
    if (active_retries_ > 0) --active_retries_;
  }

  uint32_t activeRetries() const { return active_retries_; }
  uint64_t refused() const { return refused_; }

 private:
  double budget_percent_;
  uint32_t min_retries_;
  uint32_t active_retries_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace rampart::upstream
