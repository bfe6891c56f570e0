// Phase 8's retry loop, per request: whether a failed attempt is tried again
// and after how long (docs/upstreams.md "Retries"). It folds the route's
// RetryPolicy with what only the session knows: is this request safe to
// send twice (idempotent method or route, body wholly kept under
// max_buffered_body), how many attempts went, what the upstream said
// (status, Retry-After). Pure: the session supplies the randomness and asks
// its cluster's pool for the budget and the max_retries breaker once this
// says kRetry. One per session, reset at each request; worker thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "http/message.h"
#include "upstream/retry.h"

namespace rampart::proxy {

struct RetryDecision {
  enum class Kind : uint8_t {
    kRetry,              // try again after `delay`
    kNotRetriable,       // the policy does not retry this outcome (or no policy)
    kUnsafe,             // the request may not be sent twice (method, body not kept)
    kAttemptsExhausted,  // max_attempts reached
    kRetryAfterTooLong,  // the upstream asked for a wait over max_retry_after
  };
  Kind kind = Kind::kNotRetriable;
  std::chrono::milliseconds delay{0};
  bool retries() const { return kind == Kind::kRetry; }
};

class RetryLoop {
 public:
  // At the start of phase 8, while the request head is still readable.
  // `policy` null: the route never retries. `content_length`: meaningful
  // with kContentLength framing.
  void begin(const upstream::RetryPolicy* policy, std::string_view method,
             http::BodyFraming framing, uint64_t content_length);

  // Whether body bytes sent upstream must be kept for a resend. The session
  // calls keptBody(n) for each n bytes it keeps; past max_buffered_body the
  // request stops being replayable (a streaming body is never sent twice).
  bool keepsBody() const { return keep_body_; }
  void keptBody(uint64_t bytes);

  // After a failed attempt (the response head not sent to the client).
  // `status`: with kResponse. `retry_after_ms`: parseRetryAfterMs's value,
  // -1 when absent. `random`: any 64-bit value for the backoff's jitter.
  // kRetry counts the attempt about to be made.
  RetryDecision afterAttempt(upstream::AttemptOutcome outcome, uint16_t status,
                             int64_t retry_after_ms, uint64_t random);

  // Whether the policy retries this outcome at all (before the costlier
  // checks: the session reads Retry-After only then).
  bool considers(upstream::AttemptOutcome outcome, uint16_t status) const {
    return policy_ != nullptr && upstream::retriableOutcome(*policy_, outcome, status);
  }
  // The route's per-try timeout; 0: the cluster's response_timeout.
  std::chrono::milliseconds perTryTimeout() const { return per_try_timeout_; }

  uint32_t attempts() const { return attempts_; }
  // The current attempt is a retry that holds a slot of the cluster's
  // budget and max_retries breaker (given back when the attempt ends).
  bool holdsRetry() const { return holds_retry_; }
  void setHoldsRetry(bool holds) { holds_retry_ = holds; }

 private:
  const upstream::RetryPolicy* policy_ = nullptr;
  uint32_t attempts_ = 1;
  uint64_t kept_ = 0;
  std::chrono::milliseconds per_try_timeout_{0};
  bool safe_ = false;  // method or route idempotent, and the body (if any) kept so far
  bool keep_body_ = false;
  bool holds_retry_ = false;
};

}  // namespace rampart::proxy
