// Session, the upstream request side (phase 8): admission to the cluster,
// the choice of endpoint, the request head and body sent upstream.
// The connection's lifecycle is in session.cc, the response side in
// session_response.cc.
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
#include "proxy/upstream_reply.h"
#include "proxy/worker.h"

namespace rampart::proxy {

namespace {
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
}  // namespace

// Phase 8, first step: the cluster's adaptive concurrency limit, when it has one.
bool Session::admitToCluster(const RequestContext& ctx, bool has_body) {
  ClusterAdmission* cluster = gen_->admissions->find(cluster_index_);
  if (cluster == nullptr) return true;
  FlowInput who{identity_.get(), ctx.client != nullptr ? ctx.client : &peer_};
  switch (cluster->admit(&cluster_hold_, who, admissionClassOf(ctx), this, preciseNanos())) {
    case AdmitVerdict::kForward:
      return true;
    case AdmitVerdict::kWait:
      // As for the authorizer: the views in request_ stay valid, nothing is
      // read from the client until a slot or the timeout resumes the session.
      if (client_hangup_) {  // its FIN came with the request: it has left already
        closeNow();
        return false;
      }
      slot_wait_has_body_ = has_body;
      state_ = State::kAwaitingSlot;
      armTimer(TimerPurpose::kSlotWait,
               std::max<int64_t>(cluster->policy().queue_timeout / 1'000'000, 1));
      return false;
    case AdmitVerdict::kShed:
      shedAtCluster("the upstream is at its adaptive concurrency limit");
      return false;
  }
  return true;
}

// A request refused by its cluster's admission: 503, Retry-After, and a
// header naming the cause, so a client (or a test) can tell it from the
// upstream's own 503.
void Session::shedAtCluster(std::string_view detail) {
  const upstream::ClusterSpec& spec = pinnedSnapshot().clusters[cluster_index_];
  appendShedHeaders(reply_headers_, *spec.admission);
  access_.decision = "deny";
  access_.cause = "admission";
  in_.consume(head_bytes_);
  bool has_body =
      request_.framing == http::BodyFraming::kChunked ||
      (request_.framing == http::BodyFraming::kContentLength && request_.content_length > 0);
  // The body was not read: the connection cannot carry another request.
  replyLocally({503, "Service Unavailable", detail, has_body, reply_headers_});
}

void Session::onClusterSlot() {
  if (state_ != State::kAwaitingSlot) return;  // count mode: forwarded already
  armTimer(TimerPurpose::kNone, 0);
  startForwarding(slot_wait_has_body_);
  drive();
}

void Session::startForwarding(bool has_body) {
  const config::Snapshot& snapshot = pinnedSnapshot();
  pool_ = &gen_->pool(cluster_index_);
  if (!pool_->tryBeginRequest()) {  // the max_requests breaker
    worker_->stats().upstream_overloaded.inc();
    access_.decision = "deny";
    access_.cause = "breaker";  // the cluster's max_requests
    endClusterRequest();        // gives back the adaptive slot, if it took one
    in_.consume(head_bytes_);
    replyBreakerOpen(upstream::Breaker::kRequests, has_body);
    return;
  }
  admitted_to_cluster_ = true;
  attempt_endpoint_ = upstream::ClusterPool::kNoEndpoint;
  const std::vector<upstream::RetryPolicy>& retries = snapshot.route_retries;
  retry_.begin(route_->index < retries.size() ? &retries[route_->index] : nullptr, request_.method,
               request_.framing, request_.content_length);
  upstream::EndpointChoice choice = pool_->pickEndpoint();
  if (!choice.found()) {  // decided before any "100 Continue" goes out
    pool_->recordFailure(upstream::FailureCause::kNoHealthyUpstream,
                         upstream::ClusterPool::kNoEndpoint);
    access_.decision = "error";
    access_.cause = upstreamCause(upstream::FailureCause::kNoHealthyUpstream);
    endClusterRequest();
    in_.consume(head_bytes_);
    replyLocally(upstreamFailureReply(upstream::FailureCause::kNoHealthyUpstream, has_body));
    return;
  }

  upstream_out_.clear();
  upstream_head_sent_ = 0;
  UpstreamRequestInfo info;
  info.head = &request_;
  info.target = &target_;
  info.client_ip = std::string_view(peer_ip_, peer_ip_length_);
  info.peer_trusted = peer_trusted_;
  info.request_id = requestId();
  info.via = snapshot.via;
  info.identity_headers = &snapshot.auth.identity_headers;
  info.identity = identity_.get();
  info.method_override = route_->method_override;
  info.authorizer_headers = &snapshot.ext_authz.upstream_header_names;
  info.authorizer_lines = authz_headers_;
  char tracestate[observe::kMaxTraceState];
  info.traceparent = trace_.traceParent();
  info.tracestate = forwardedTraceState(request_.headers, trace_, tracestate);
  info.proto = tls_ != nullptr ? "https" : "http";
  websocket_ = snapshot.websocket.allowed(route_->index) && isWebsocketUpgrade(request_);
  info.websocket = websocket_;
  appendUpstreamRequestHead(upstream_out_, info);
  if (route_->mirror != nullptr) {  // a copy to the shadow cluster (proxy/mirror.h)
    mirror_ = worker_->mirrors().start(*gen_, *route_, upstream_out_.readable(), request_,
                                       in_.readable().substr(head_bytes_), requestId());
  }
  access_.upstream_start_us = core::monotonicMicros();

  request_framing_ = request_.framing;
  request_remaining_ =
      request_.framing == http::BodyFraming::kContentLength ? request_.content_length : 0;
  request_validated_ = 0;
  request_chunks_.reset();
  request_sent_ = false;
  bool wants_continue = request_.expect_continue && client_version_ == http::Version::kHttp11;
  in_.consume(head_bytes_);
  // From here on the views in request_ are dead: the buffer is refilled with body bytes.
  // Connections start with a small buffer (session.cc); a body or a tunnel
  // streams through a larger one, moving more per system call.
  if ((has_body || websocket_) && in_.capacity() < kStreamingInputBytes) {
    in_.reserve(kStreamingInputBytes);
  }
  if (wants_continue && has_body && in_.empty()) out_.append(kContinue);
  body_bytes_read_ = body_bytes_at_last_check_ = 0;
  state_ = State::kProxying;
  if (!attachUpstream(choice.endpoint)) attachFailed();
}

bool Session::attachUpstream(uint32_t endpoint) {
  attempt_endpoint_ = endpoint;
  breaker_tripped_ = upstream::Breaker::kNone;
  upstream_ = pool_->acquire(endpoint, this, &breaker_tripped_);
  if (upstream_ == nullptr) return false;
  upstream_eof_ = false;
  upstream_readable_ = false;
  upstream_hangup_ = false;
  if (upstream_->reused()) {
    worker_->stats().upstream_reuses.inc();
    onUpstreamConnected();
  } else {
    worker_->stats().upstream_connects.inc();
    upstream_writable_ = false;
    armTimer(TimerPurpose::kConnect, pool_->spec().connect_timeout.count());
  }
  return true;
}

void Session::onUpstreamConnected() {
  upstream_writable_ = true;
  if (requestBodyComplete()) {
    armTimer(TimerPurpose::kNone, 0);  // the response timer starts once the head is written
  } else {
    armTimer(TimerPurpose::kBodyRate, pinnedSnapshot().http.body_rate_window.count());
  }
}

// ---------------------------------------------------------------------------
// Phase 8: forward. Request body, client -> upstream.

// Before the response starts, out_ holds only Rampart's own "100 Continue":
// it must reach the client now, or the client never sends the body.
bool Session::flushInterim() {
  if (response_started_ || out_.empty()) return false;
  size_t before = out_.size();
  size_t unused = 0;
  if (!flushClient({}, &unused)) return true;
  return out_.size() != before;
}

bool Session::requestBodyComplete() const {
  switch (request_framing_) {
    case http::BodyFraming::kContentLength:
      return request_remaining_ == 0;
    case http::BodyFraming::kChunked:
      return request_chunks_.finished() && request_validated_ == 0;
    default:
      return true;
  }
}

bool Session::requestBodyNeedsInput() const {
  switch (request_framing_) {
    case http::BodyFraming::kContentLength:
      return in_.size() < request_remaining_;
    case http::BodyFraming::kChunked:
      return !request_chunks_.finished();
    default:
      return false;
  }
}

bool Session::pumpRequestBody() {
  if (request_sent_ || response_started_ || upstream_ == nullptr || !upstream_->connected()) {
    return false;
  }
  bool progress = false;
  if (requestBodyNeedsInput()) {
    progress |= readClient();
    if (client_eof_ && requestBodyNeedsInput() && forwardableRequestBytes() == 0 &&
        upstream_head_sent_ == upstream_out_.size()) {
      closeNow();  // the client gave up in the middle of its body
      return true;
    }
  }
  size_t body = forwardableRequestBytes();
  if (state_ != State::kProxying) return true;
  std::string_view head = upstream_out_.readable().substr(upstream_head_sent_);
  if (head.empty() && body == 0) return progress;
  if (!upstream_writable_) return progress;

  iovec iov[2];
  int count = 0;
  if (!head.empty()) iov[count++] = {const_cast<char*>(head.data()), head.size()};
  if (body > 0) iov[count++] = {const_cast<char*>(in_.readable().data()), body};
  ssize_t n = 0;
  if (upstream_->tls() != nullptr) {
    size_t sent = 0;
    if (!writeUpstreamTls(head, std::string_view(in_.readable().data(), body), &sent)) {
      failUpstream(UpstreamFailure::kReset);
      return true;
    }
    n = static_cast<ssize_t>(sent);
    if (sent == 0) {
      upstream_writable_ = false;
      return progress;
    }
  } else {
    n = core::sendVector(upstream_->fd(), iov, count);
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      upstream_writable_ = false;
      return progress;
    }
    failUpstream(UpstreamFailure::kReset);
    return true;
  }
  size_t written = static_cast<size_t>(n);
  size_t from_head = std::min(written, head.size());
  upstream_head_sent_ += from_head;
  size_t from_body = written - from_head;
  if (from_body > 0) {
    access_.bytes_in += from_body;
    if (retry_.keepsBody()) {
      // Kept after the head, so a retry resends head and body from
      // upstream_out_ and then goes on with what is still in in_.
      upstream_out_.append(in_.readable().substr(0, from_body));
      upstream_head_sent_ += from_body;
      retry_.keptBody(from_body);
    }
    in_.consume(from_body);
    if (request_framing_ == http::BodyFraming::kContentLength) {
      request_remaining_ -= from_body;
    } else {
      request_validated_ -= from_body;
    }
  }
  if (written < head.size() + body) upstream_writable_ = false;
  if (upstream_head_sent_ == upstream_out_.size() && requestBodyComplete()) {
    request_sent_ = true;
    // The latency that teaches the limit starts here, not when the body
    // began: a client's slow upload must not read as a slow upstream.
    if (cluster_hold_.cluster != nullptr) cluster_hold_.sent_at = preciseNanos();
    if (!response_started_) {
      armTimer(TimerPurpose::kResponse, attemptTimeoutMillis());
    }
  }
  return true;
}

size_t Session::forwardableRequestBytes() {
  if (request_framing_ == http::BodyFraming::kContentLength) {
    return static_cast<size_t>(std::min<uint64_t>(in_.size(), request_remaining_));
  }
  if (request_framing_ != http::BodyFraming::kChunked) return 0;
  if (!request_chunks_.finished()) {
    http::ChunkedDecoder::Progress step =
        request_chunks_.feed(in_.readable().substr(request_validated_));
    request_validated_ += step.consumed;
    if (step.error != http::ParseError::kNone) {
      worker_->stats().bad_requests.inc();
      abortExchange({400, "Bad Request", http::describe(step.error), true});
      return 0;
    }
    uint64_t limit = route_->max_body_bytes;
    if (limit != 0 && request_chunks_.payloadBytes() > limit) {
      abortExchange({413, "Content Too Large", "request body exceeds the route's limit", true});
      return 0;
    }
    // Trailer fields are not forwarded (as nginx does not): an upstream that
    // merged them into the header section could be handed identity or
    // routing fields that Rampart never checked. The section is held back
    // until it is complete, then cut down to its final CRLF.
    if (request_chunks_.inTrailerSection())
      return request_validated_ - request_chunks_.trailerBytes();
    if (step.done && request_chunks_.trailerBytes() > 2) {
      const size_t fields = request_chunks_.trailerBytes() - 2;
      in_.erase(request_validated_ - request_chunks_.trailerBytes(), fields);
      request_validated_ -= fields;
      worker_->stats().request_trailers_dropped.inc();
    }
  }
  return request_validated_;
}

// Ends the exchange with a local reply before any response byte reached the client.
void Session::abortExchange(const LocalReply& reply) {
  if (response_started_) {
    closeNow();
    return;
  }
  releaseUpstream(false);
  endClusterRequest();
  replyLocally(reply);
}

// ---------------------------------------------------------------------------
// Phases 8-9: response, upstream -> client.

}  // namespace rampart::proxy
