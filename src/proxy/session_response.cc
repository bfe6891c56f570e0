// Session, the upstream response side (phases 8-9): reading and framing the
// upstream's answer, upstream failures and retries, the end of an exchange.
// The connection's lifecycle is in session.cc, the request side in
// session_forward.cc.
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/clock.h"
#include "core/log.h"
#include "core/socket_io.h"
#include "net/socket.h"
#include "proxy/local_reply.h"
#include "proxy/session.h"
#include "proxy/stream_pipe.h"
#include "proxy/upstream_reply.h"
#include "proxy/worker.h"

namespace rampart::proxy {

bool Session::readUpstream() {
  if (upstream_ == nullptr || !upstream_readable_ || upstream_eof_) return false;
  core::Buffer& input = upstream_->input();
  if (input.writable() == 0) {
    input.makeRoom();
    if (input.writable() == 0) return false;
  }
  size_t space = input.writable();
  if (upstream_->tls() != nullptr) {
    tls::IoResult result = upstream_->tls()->read(input.writePtr(), space);
    if (result.io == tls::Io::kDone) {
      input.produce(result.bytes);  // OpenSSL may hold more: read until it wants the socket
      return true;
    }
    if (result.io == tls::Io::kWantRead || result.io == tls::Io::kWantWrite) {
      upstream_readable_ = false;
      return false;
    }
    upstream_eof_ = true;
    upstream_readable_ = false;
    return true;
  }
  ssize_t n = core::receiveSome(upstream_->fd(), input.writePtr(), space);
  if (n > 0) {
    input.produce(static_cast<size_t>(n));
    // A short read drains the socket, unless its FIN came with the same edge
    // (bytes then close): read again to see the EOF, or nothing would wake us.
    if (static_cast<size_t>(n) < space && !upstream_hangup_) upstream_readable_ = false;
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    upstream_readable_ = false;
    return false;
  }
  upstream_eof_ = true;
  upstream_readable_ = false;
  return true;
}

bool Session::pumpResponse() {
  if (upstream_ == nullptr || !upstream_->connected()) return false;
  bool progress = false;
  if (!response_started_) {
    progress |= readUpstream();
    if (!parseResponseHead()) return progress;
    if (state_ != State::kProxying || !response_started_) return true;
    progress = true;
  }
  progress |= readUpstream();
  size_t body = forwardableResponseBytes();
  if (state_ != State::kProxying) return true;
  size_t written = 0;
  if (!flushClient(upstream_->input().readable().substr(0, body), &written)) return true;
  if (written > 0) {
    if (mirror_ != nullptr && response_framing_ == ClientFraming::kContentLength)
      mirror_->primaryBody(upstream_->input().readable().substr(0, written));
    upstream_->input().consume(written);
    if (response_framing_ == ClientFraming::kContentLength) {
      response_remaining_ -= written;
    } else if (response_framing_ == ClientFraming::kChunked) {
      response_validated_ -= written;
    }
    progress = true;
  }
  if (responseComplete()) {
    finishExchange();
    return true;
  }
  if (upstream_eof_ && !response_body_read_) {
    worker_->stats().upstream_resets.inc();
    closeNow();  // the upstream died mid-body: the client must not take it as complete
    return true;
  }
  return progress;
}

bool Session::parseResponseHead() {
  for (;;) {
    core::Buffer& input = upstream_->input();
    if (input.empty()) {
      if (upstream_eof_) failUpstream(UpstreamFailure::kReset);
      return upstream_eof_;
    }
    const config::Snapshot& snapshot = pinnedSnapshot();
    http::ParseOutcome outcome = http::parseResponseHead(input.readable(), snapshot.http.limits,
                                                         is_head_request_, response_);
    if (outcome.state == http::ParseOutcome::State::kNeedMore) {
      if (upstream_eof_) {
        failUpstream(UpstreamFailure::kReset);
        return true;
      }
      if (input.size() >= input.capacity()) {
        failUpstream(UpstreamFailure::kBadResponse);
        return true;
      }
      return false;
    }
    if (outcome.state != http::ParseOutcome::State::kError && response_.status == 101 &&
        websocket_) {
      startTunnel(outcome.consumed);
      return true;
    }
    if (outcome.state == http::ParseOutcome::State::kError || response_.status == 101) {
      failUpstream(UpstreamFailure::kBadResponse);
      return true;
    }
    if (response_.status < 200) {
      input.consume(
          outcome.consumed);  // interim responses are not relayed (Rampart sent its own 100)
      continue;
    }
    endRetryHold();  // a retry's attempt ends with its response head
    if (retryResponse()) return true;
    startResponse(outcome.consumed);
    return true;
  }
}

void Session::startResponse(size_t head_bytes) {
  response_framing_ = chooseClientFraming(response_, client_version_);
  if (draining_ || gentle_close_ || !request_sent_ ||
      response_framing_ == ClientFraming::kDechunkAndClose ||
      response_framing_ == ClientFraming::kUntilClose) {
    close_after_response_ = true;
  }
  DownstreamResponseInfo info;
  info.head = &response_;
  info.framing = response_framing_;
  info.request_id = requestId();
  info.via = pinnedSnapshot().via;
  info.close = close_after_response_;
  info.http10_keep_alive = client_version_ == http::Version::kHttp10 && client_keep_alive_;
  if (pipe_ != nullptr && !pipe_->websocket && out_.empty() && pipe_->response.empty() &&
      !pipe_->head.ready && !pipe_->streamGone()) {
    // An HTTP/2 stream takes the head as fields: not written as HTTP/1.1
    // for it to parse again. Nothing of this response is queued before it.
    pipeDownstreamResponseHead(pipe_->head, info);
    access_.bytes_out += pipe_->head.http11_bytes;
    pipe_->wakeStream();
  } else {
    appendDownstreamResponseHead(out_, info);
  }
  upstream_->input().consume(head_bytes);
  response_remaining_ = response_.content_length;
  response_validated_ = 0;
  response_chunks_.reset();
  response_body_read_ = false;
  response_started_ = true;
  if (cluster_hold_.cluster != nullptr) cluster_hold_.head_at = preciseNanos();
  noteResponse(response_.status);
  if (mirror_ != nullptr) {
    mirror_->primaryHeaders(response_.headers);
    if (response_framing_ == ClientFraming::kContentLength)
      mirror_->primaryExpectsBody(response_.content_length);
  }
  pool_->recordResponse(upstream_->endpoint(), response_.status);
  armTimer(TimerPurpose::kNone, 0);
}

size_t Session::forwardableResponseBytes() {
  core::Buffer& input = upstream_->input();
  switch (response_framing_) {
    case ClientFraming::kNone:
      response_body_read_ = true;
      return 0;
    case ClientFraming::kContentLength:
      response_body_read_ = input.size() >= response_remaining_;
      return static_cast<size_t>(std::min<uint64_t>(input.size(), response_remaining_));
    case ClientFraming::kChunked: {
      if (!response_chunks_.finished()) {
        auto step = response_chunks_.feed(input.readable().substr(response_validated_));
        response_validated_ += step.consumed;
        if (step.error != http::ParseError::kNone) {
          worker_->stats().upstream_bad_responses.inc();
          closeNow();
          return 0;
        }
      }
      response_body_read_ = response_chunks_.finished();
      return response_validated_;
    }
    case ClientFraming::kDechunkAndClose: {
      if (!response_chunks_.finished()) {
        auto step = response_chunks_.feed(input.readable(), &dechunked_);
        input.consume(step.consumed);
        if (step.error != http::ParseError::kNone) {
          worker_->stats().upstream_bad_responses.inc();
          closeNow();
          return 0;
        }
        out_.append(dechunked_);
        dechunked_.clear();
      }
      response_body_read_ = response_chunks_.finished();
      return 0;
    }
    case ClientFraming::kUntilClose:
      response_body_read_ = upstream_eof_;
      return input.size();
  }
  return 0;
}

bool Session::responseComplete() const {
  if (!response_body_read_ || !out_.empty()) return false;
  switch (response_framing_) {
    case ClientFraming::kContentLength:
      return response_remaining_ == 0;
    case ClientFraming::kChunked:
      return response_validated_ == 0;
    case ClientFraming::kUntilClose:
      return upstream_->input().empty();
    default:
      return true;
  }
}

void Session::failUpstream(UpstreamFailure failure) {
  endRetryHold();
  observe::WorkerStats& stats = worker_->stats();
  upstream::FailureCause cause = upstream::FailureCause::kReset;
  switch (failure) {
    case UpstreamFailure::kConnect:
      stats.upstream_connect_failures.inc();
      cause = upstream::FailureCause::kConnectFailure;
      break;
    case UpstreamFailure::kConnectTimeout:
      stats.upstream_timeouts.inc();
      cause = upstream::FailureCause::kConnectTimeout;
      break;
    case UpstreamFailure::kTimeout:
      stats.upstream_timeouts.inc();
      cause = upstream::FailureCause::kTimeout;
      break;
    case UpstreamFailure::kReset:
      stats.upstream_resets.inc();
      break;
    case UpstreamFailure::kBadResponse:
      stats.upstream_bad_responses.inc();
      cause = upstream::FailureCause::kBadResponse;
      break;
  }
  // A pooled connection the upstream closed while it sat idle: the request
  // never reached the upstream's application, so one fresh attempt is safe
  // when no body has been consumed.
  bool retry = failure == UpstreamFailure::kReset && upstream_ != nullptr && upstream_->reused() &&
               !retried_ && !response_started_ && request_framing_ == http::BodyFraming::kNone &&
               upstream_->input().empty();
  if (response_started_) {
    closeNow();
    return;
  }
  releaseUpstream(false);
  uint32_t blamed = attempt_endpoint_;
  if (retry) {
    retried_ = true;
    upstream_head_sent_ = 0;
    request_sent_ = false;
    // A stale keep-alive connection is not the endpoint's fault: not held against it.
    blamed = upstream::ClusterPool::kNoEndpoint;
    upstream::EndpointChoice choice = pool_->pickEndpoint();
    if (!choice.found()) {
      cause = upstream::FailureCause::kNoHealthyUpstream;
    } else if (attachUpstream(choice.endpoint)) {
      return;
    } else if (breaker_tripped_ != upstream::Breaker::kNone) {
      attachFailed();
      return;
    } else {
      cause = upstream::FailureCause::kConnectFailure;
      blamed = attempt_endpoint_;
    }
  }
  if (failure == UpstreamFailure::kTimeout) cluster_hold_.upstream_timed_out = true;
  // Counted per cluster and cause, and held against the endpoint by outlier
  // detection (docs/upstreams.md).
  pool_->recordFailure(cause, blamed);
  if (!retry && failure != UpstreamFailure::kBadResponse) {
    upstream::AttemptOutcome outcome = upstream::AttemptOutcome::kReset;
    if (failure == UpstreamFailure::kConnect || failure == UpstreamFailure::kConnectTimeout) {
      outcome = upstream::AttemptOutcome::kConnectFailure;
    } else if (failure == UpstreamFailure::kTimeout) {
      outcome = upstream::AttemptOutcome::kTimeout;
    }
    RetryGate gate = gateRetry(outcome, 0, -1);
    if (gate.kind == RetryGate::Kind::kRetry) {
      scheduleRetry(gate.delay);
      return;
    }
    if (gate.kind == RetryGate::Kind::kBreakerOpen) {
      endClusterRequest();
      replyBreakerOpen(upstream::Breaker::kRetries, !requestBodyComplete());
      return;
    }
  }
  access_.decision = "error";
  access_.cause = upstreamCause(cause);
  endClusterRequest();
  replyLocally(upstreamFailureReply(cause, !requestBodyComplete()));
}

void Session::finishExchange() {
  bool reusable = response_.keep_alive && request_sent_ && !upstream_eof_ &&
                  response_framing_ != ClientFraming::kUntilClose && upstream_->input().empty();
  releaseUpstream(reusable);
  endClusterRequest();
  if (!request_sent_) close_after_response_ = true;  // unread request body
  afterResponse();
}

void Session::releaseUpstream(bool reusable) {
  if (upstream_ == nullptr) return;
  pool_->release(upstream_, reusable);
  upstream_ = nullptr;
  upstream_readable_ = upstream_writable_ = false;
}

void Session::endClusterRequest() {
  endRetryHold();
  if (admitted_to_cluster_) {
    pool_->endRequest();
    admitted_to_cluster_ = false;
  }
  // After max_requests is given back: the freed adaptive slot may go to a
  // waiting request at once, and it must find room there too.
  if (cluster_hold_.cluster != nullptr)
    cluster_hold_.cluster->finish(&cluster_hold_, preciseNanos());
}

// ---------------------------------------------------------------------------
// Local replies, the end of a request, closing.

// Counts the response by status class and records its route's latency
// (request head read -> response head ready) in the worker's metrics shard.
void Session::noteResponse(uint16_t status) {
  worker_->stats().countStatus(status);
  const uint64_t now = core::monotonicMicros();
  uint64_t micros = request_start_us_ == 0 ? 0 : now - request_start_us_;
  access_.status = status;
  access_.upstreamDone(now);
  // A refusal after routing (401, 403, 429) has no route_ (it was never
  // forwarded) but was routed: it counts under its route, not _unmatched.
  uint32_t slot = route_ != nullptr             ? route_->index
                  : access_.route != UINT32_MAX ? access_.route
                                                : gen_->metrics->unmatchedSlot();
  gen_->metrics->recordResponse(slot, status, micros);
  gen_->metrics->recordListener(listener_, micros);
  if (access_.upstream_start_us != 0) {
    gen_->metrics->recordCluster(cluster_index_, attempt_endpoint_, access_.upstream_us);
  }
  request_start_us_ = 0;
  if (mirror_ != nullptr) mirror_->primaryStatus(status);
  if (split_target_ >= 0) {  // the outcome a weighted route's step-back watches
    recordSplitOutcome(*route_, split_target_, status, micros, worker_->stats());
    split_target_ = -1;
  }
}

// Phase 10: the request's access line, once, whichever way it ended (a
// response sent, a local reply, the connection closed under it).

}  // namespace rampart::proxy
