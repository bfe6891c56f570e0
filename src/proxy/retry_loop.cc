#include "proxy/retry_loop.h"

namespace rampart::proxy {

void RetryLoop::begin(const upstream::RetryPolicy* policy, std::string_view method,
                      http::BodyFraming framing, uint64_t content_length) {
  attempts_ = 1;
  kept_ = 0;
  holds_retry_ = false;
  per_try_timeout_ = policy != nullptr ? policy->per_try_timeout : std::chrono::milliseconds(0);
  policy_ = policy != nullptr && policy->max_attempts > 1 ? policy : nullptr;
  if (policy_ == nullptr) {  // the common case: nothing to decide, nothing to keep
    safe_ = keep_body_ = false;
    return;
  }
  safe_ = policy_->idempotent || upstream::idempotentMethod(method);
  bool has_body = framing == http::BodyFraming::kChunked ||
                  (framing == http::BodyFraming::kContentLength && content_length > 0);
  // A declared length over the limit is known now: keep nothing, never resend.
  if (has_body && framing == http::BodyFraming::kContentLength &&
      content_length > policy_->max_buffered_body) {
    safe_ = false;
  }
  keep_body_ = safe_ && has_body;
}

void RetryLoop::keptBody(uint64_t bytes) {
  kept_ += bytes;
  if (policy_ != nullptr && kept_ > policy_->max_buffered_body) {
    safe_ = keep_body_ = false;  // a chunked body grew past the limit
  }
}

RetryDecision RetryLoop::afterAttempt(upstream::AttemptOutcome outcome, uint16_t status,
                                      int64_t retry_after_ms, uint64_t random) {
  using Kind = RetryDecision::Kind;
  if (policy_ == nullptr || !upstream::retriableOutcome(*policy_, outcome, status)) {
    return {Kind::kNotRetriable, {}};
  }
  if (!safe_) return {Kind::kUnsafe, {}};
  if (attempts_ >= policy_->max_attempts) return {Kind::kAttemptsExhausted, {}};
  std::chrono::milliseconds delay = upstream::backoffDelay(*policy_, attempts_, random);
  if (outcome == upstream::AttemptOutcome::kResponse && policy_->honor_retry_after &&
      retry_after_ms >= 0) {
    if (std::chrono::milliseconds(retry_after_ms) > policy_->max_retry_after) {
      return {Kind::kRetryAfterTooLong, {}};
    }
    delay = std::chrono::milliseconds(retry_after_ms);  // the upstream knows when it is back
  }
  ++attempts_;
  return {Kind::kRetry, delay};
}

}  // namespace rampart::proxy
