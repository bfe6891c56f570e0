// Phase 8's retry loop and circuit-breaker replies: the Session members
// that decide, wait for and start another attempt (docs/upstreams.md
// "Retries", "Circuit breakers"). Kept apart from session.cc, which calls
// them from its attempt and failure paths (failUpstream, parseResponseHead,
// attachUpstream's callers, the kRetryBackoff timer). Worker thread only.
#include <ctime>

#include "proxy/local_reply.h"
#include "proxy/session.h"
#include "proxy/upstream_reply.h"
#include "proxy/worker.h"

namespace rampart::proxy {

// No connection for the attempt: over the max_connections or max_pending
// breaker (503 breaker-open at once, no retry: the cluster is saturated),
// else no socket could be made (a connect failure, which may be retried).
void Session::attachFailed() {
  if (breaker_tripped_ == upstream::Breaker::kNone) {
    failUpstream(UpstreamFailure::kConnect);
    return;
  }
  endClusterRequest();
  replyBreakerOpen(breaker_tripped_, !requestBodyComplete());
}

Session::RetryGate Session::gateRetry(upstream::AttemptOutcome outcome, uint16_t status,
                                      int64_t retry_after_ms) {
  RetryDecision decision =
      retry_.afterAttempt(outcome, status, retry_after_ms, worker_->nextRandom());
  if (!decision.retries()) return {};
  bool by_budget = false;
  upstream::Breaker open = pool_->tryStartRetry(&by_budget);
  // Over the budget the failure itself goes to the client: the budget is
  // what keeps an outage from multiplying the load, not an error of its own.
  if (by_budget) return {};
  if (open != upstream::Breaker::kNone) return {RetryGate::Kind::kBreakerOpen, {}};
  retry_.setHoldsRetry(true);
  return {RetryGate::Kind::kRetry, decision.delay};
}

void Session::scheduleRetry(std::chrono::milliseconds delay) {
  upstream_head_sent_ = 0;  // upstream_out_ holds the head and every body byte sent
  request_sent_ = false;
  if (delay.count() > 0) {
    armTimer(TimerPurpose::kRetryBackoff, delay.count());
    return;
  }
  startRetryAttempt();
}

// To another endpoint than the failed attempt's where the balancer has one.
void Session::startRetryAttempt() {
  upstream::EndpointChoice choice = pool_->pickEndpoint(attempt_endpoint_);
  if (!choice.found()) {
    endRetryHold();
    pool_->recordFailure(upstream::FailureCause::kNoHealthyUpstream,
                         upstream::ClusterPool::kNoEndpoint);
    endClusterRequest();
    replyLocally(
        upstreamFailureReply(upstream::FailureCause::kNoHealthyUpstream, !requestBodyComplete()));
    return;
  }
  if (!attachUpstream(choice.endpoint)) attachFailed();
}

// A final response head the route retries (502, 503...): dropped unseen, its
// connection closed, and the request sent again. Otherwise (no policy for
// it, unsafe, attempts or budget used up, Retry-After too long) it goes to
// the client as it is.
bool Session::retryResponse() {
  uint16_t status = response_.status;
  if (!retry_.considers(upstream::AttemptOutcome::kResponse, status)) return false;
  int64_t retry_after_ms = -1;
  for (const http::Header& header : response_.headers) {
    if (http::equalsIgnoreCase(header.name, "retry-after")) {
      retry_after_ms =
          upstream::parseRetryAfterMs(header.value, static_cast<int64_t>(time(nullptr)));
      break;
    }
  }
  RetryGate gate = gateRetry(upstream::AttemptOutcome::kResponse, status, retry_after_ms);
  if (gate.kind == RetryGate::Kind::kNoRetry) return false;
  pool_->recordResponse(attempt_endpoint_, status);  // outlier detection still sees it
  releaseUpstream(false);  // its body is unread: the connection cannot be reused
  if (gate.kind == RetryGate::Kind::kBreakerOpen) {
    endClusterRequest();
    replyBreakerOpen(upstream::Breaker::kRetries, !requestBodyComplete());
    return true;
  }
  scheduleRetry(gate.delay);
  return true;
}

void Session::endRetryHold() {
  if (!retry_.holdsRetry()) return;
  retry_.setHoldsRetry(false);
  if (pool_ != nullptr) pool_->endRetry();
}

int64_t Session::attemptTimeoutMillis() const {
  int64_t per_try = retry_.perTryTimeout().count();
  return per_try > 0 ? per_try : pool_->spec().response_timeout.count();
}

// Over a circuit breaker: 503 at once, the problem type and a header naming it.
void Session::replyBreakerOpen(upstream::Breaker breaker, bool close) {
  reply_headers_.clear();
  reply_headers_.append("x-rampart-breaker: ");
  reply_headers_.append(upstream::breakerName(breaker));
  reply_headers_.append("\r\n");
  LocalReply reply{503, "Service Unavailable", "the upstream's circuit breaker is open", close,
                   reply_headers_};
  reply.type = "urn:rampart:problem:breaker-open";
  replyLocally(reply);
}

}  // namespace rampart::proxy
