#include "proxy/session.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/clock.h"
#include "core/log.h"
#include "net/socket.h"
#include "proxy/local_reply.h"
#include "proxy/upstream_reply.h"
#include "proxy/worker.h"

namespace rampart::proxy {

namespace {

constexpr size_t kInitialInputBytes = 16 * 1024;
constexpr size_t kInitialOutputBytes = 4 * 1024;
constexpr int64_t kLingerMillis = 2000;
constexpr size_t kMaxLingerDiscardBytes = 1 << 20;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr size_t kMaxTrustedRequestIdBytes = 64;

bool isTokenChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '_' || c == '.';
}

// A connection refused before HTTP began: SO_LINGER 0 makes the close a
// reset, as at accept, so refused sockets do not linger in TIME_WAIT.
void resetOnClose(int fd) {
  linger hard{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
}

}  // namespace

Session::Session(Worker* worker, int fd, const net::SocketAddress& peer, uint32_t listener,
                 const shield::GateTicket& ticket)
    : worker_(worker),
      fd_(fd),
      peer_(peer),
      listener_(listener),
      gate_ticket_(ticket),
      in_(kInitialInputBytes),
      out_(kInitialOutputBytes),
      upstream_out_(1024) {
  const config::Snapshot& snapshot = worker_->snapshot();
  request_.headers.reserve(snapshot.http.limits.max_headers);
  response_.headers.reserve(snapshot.http.limits.max_headers);
  peer_trusted_ = net::containsAny(snapshot.trusted_proxies, peer_);
  peer_ip_length_ = peer_.formatIp(peer_ip_, sizeof(peer_ip_));
  if (listener_ < snapshot.listeners.size()) {
    proxy_rule_ = proxyHeaderRule(snapshot.listeners[listener_].proxy_protocol, peer_trusted_);
  }
}

Session::~Session() {
  if (waiting_.authz_call.pending()) worker_->authz().cancel(&waiting_.authz_call);
  if (cluster_hold_.cluster != nullptr) cluster_hold_.cluster->forget(&cluster_hold_);
  if (fd_ >= 0) close(fd_);
}

void Session::start() {
  worker_->loop().addEdgeTriggered(fd_, this);
  armTimer(TimerPurpose::kHead, worker_->snapshot().http.head_timeout.count());
  head_timer_started_ = true;
  client_readable_ = true;  // bytes may have arrived with the handshake
  drive();
}

void Session::beginDrain() {
  draining_ = true;
  // An idle keep-alive connection is closed now: its client expects that and
  // retries on a new connection. A fresh one has not sent its first request
  // yet only because the drain came between its handshake and its bytes:
  // it is served once (with Connection: close), within the head timeout.
  if (state_ == State::kReadingHead && in_.empty() && requests_served_ > 0) {
    closeNow();
  } else {
    close_after_response_ = true;
  }
}

void Session::armTimer(TimerPurpose purpose, int64_t millis) {
  timer_purpose_ = millis > 0 ? purpose : TimerPurpose::kNone;
  worker_->loop().arm(this, millis);
}

void Session::onEvents(uint32_t events) {
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) client_hangup_ = true;
  if ((state_ == State::kAwaitingAuthz || state_ == State::kAwaitingSlot) && client_hangup_) {
    // The client left (or half-closed, which HTTP/1.1 clients waiting for
    // an answer do not do) while its check was out or while it waited for
    // an upstream slot: nobody to answer (closing frees its place).
    closeNow();
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) client_readable_ = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) client_writable_ = true;
  drive();
}

void Session::onUpstreamEvents(uint32_t events) {
  if (upstream_ == nullptr) return;
  if (!upstream_->connected()) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    if (net::pendingConnectError(upstream_->fd()) != 0) {
      failUpstream(UpstreamFailure::kConnect);
      drive();
      return;
    }
    upstream_->setConnected();
    pool_->recordConnected(upstream_->endpoint());
    onUpstreamConnected();
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) upstream_readable_ = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) upstream_hangup_ = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) upstream_writable_ = true;
  drive();
}

void Session::onUpstreamTimeout() {
  // The session's own timer covers every upstream deadline while a
  // connection is lent to it; nothing to do here.
}

void Session::onTimeout() {
  TimerPurpose purpose = timer_purpose_;
  timer_purpose_ = TimerPurpose::kNone;
  const config::HttpSettings& http = worker_->snapshot().http;
  switch (purpose) {
    case TimerPurpose::kHead:
      if (state_ != State::kReadingHead) return;
      if (proxy_rule_ == ProxyHeaderRule::kRequired) {  // no PROXY header in time: no HTTP yet
        worker_->stats().proxy_header_refused.inc();
        closeNow();
        return;
      }
      if (in_.empty() && requests_served_ > 0) {
        closeNow();
        return;
      }
      makeRequestId();
      is_head_request_ = false;
      replyLocally({408, "Request Timeout", "the request head did not arrive in time", true});
      break;
    case TimerPurpose::kIdle:
    case TimerPurpose::kLinger:
      closeNow();
      return;
    case TimerPurpose::kConnect:
      failUpstream(UpstreamFailure::kConnectTimeout);
      break;
    case TimerPurpose::kResponse:
      failUpstream(UpstreamFailure::kTimeout);
      break;
    case TimerPurpose::kBodyRate: {
      uint64_t received = body_bytes_read_ - body_bytes_at_last_check_;
      uint64_t needed = http.min_body_rate * http.body_rate_window.count() / 1000;
      bool we_were_reading = in_.size() < in_.capacity();
      if (state_ == State::kProxying && !request_sent_ && we_were_reading && received < needed) {
        if (response_started_) {
          closeNow();
          return;
        }
        releaseUpstream(false);
        endClusterRequest();
        replyLocally({408, "Request Timeout", "the request body arrived too slowly", true});
        break;
      }
      body_bytes_at_last_check_ = body_bytes_read_;
      if (state_ == State::kProxying && !request_sent_) {
        armTimer(TimerPurpose::kBodyRate, http.body_rate_window.count());
      }
      return;
    }
    case TimerPurpose::kRetryBackoff:
      if (state_ != State::kProxying || upstream_ != nullptr) return;
      startRetryAttempt();
      break;
    case TimerPurpose::kSlotWait:
      if (state_ != State::kAwaitingSlot) return;
      cluster_hold_.cluster->timeOut(&cluster_hold_);
      shedAtCluster("the request waited too long for the upstream");
      break;
    case TimerPurpose::kNone:
      return;
  }
  drive();
}

// ---------------------------------------------------------------------------
// The driver: runs the current state's step until nothing more can happen
// without a new event. Edge-triggered epoll requires exactly this: every
// readable or writable hint is used up before returning to the loop.

void Session::drive() {
  for (;;) {
    bool progress = false;
    switch (state_) {
      case State::kReadingHead:
        progress = stepReadingHead();
        break;
      case State::kProxying: {
        bool interim = flushInterim();
        if (state_ != State::kProxying) break;
        bool sent = pumpRequestBody();
        bool received = state_ == State::kProxying && pumpResponse();
        progress = interim || sent || received;
        break;
      }
      case State::kReplying:
        progress = stepReplying();
        break;
      case State::kAwaitingAuthz:
        return;  // the authorizer's answer (or its timeout) resumes the session
      case State::kAwaitingSlot:
        return;  // a freed slot (onClusterSlot) or the queue timeout resumes it
      case State::kLingering:
        progress = stepLingering();
        break;
      case State::kClosed:
        return;
    }
    if (!progress) return;
  }
}

bool Session::readClient() {
  if (!client_readable_ || client_eof_) return false;
  if (in_.writable() == 0) {
    in_.makeRoom();
    if (in_.writable() == 0) return false;
  }
  size_t space = in_.writable();
  ssize_t n = ::read(fd_, in_.writePtr(), space);
  if (n > 0) {
    in_.produce(static_cast<size_t>(n));
    body_bytes_read_ += static_cast<uint64_t>(n);
    // A short read drained the socket; new data will raise a new edge.
    if (static_cast<size_t>(n) < space) client_readable_ = false;
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    client_readable_ = false;
    return false;
  }
  client_eof_ = true;  // orderly close, or a reset: no more input either way
  client_readable_ = false;
  return true;
}

bool Session::flushClient(std::string_view extra, size_t* extra_written) {
  *extra_written = 0;
  if (out_.empty() && extra.empty()) return true;
  if (!client_writable_) return true;
  std::string_view head = out_.readable();
  iovec iov[2];
  int count = 0;
  if (!head.empty()) iov[count++] = {const_cast<char*>(head.data()), head.size()};
  if (!extra.empty()) iov[count++] = {const_cast<char*>(extra.data()), extra.size()};
  ssize_t n = ::writev(fd_, iov, count);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      client_writable_ = false;
      return true;
    }
    closeNow();
    return false;
  }
  size_t written = static_cast<size_t>(n);
  access_.bytes_out += written;
  size_t from_head = std::min(written, head.size());
  out_.consume(from_head);
  *extra_written = written - from_head;
  if (written < head.size() + extra.size()) client_writable_ = false;
  return true;
}

// ---------------------------------------------------------------------------
// Phase 1: read head.

bool Session::stepReadingHead() {
  if (tryParseHead()) return true;
  if (client_eof_) {
    closeNow();  // closed between requests, or in the middle of a head
    return false;
  }
  if (in_.writable() == 0) {
    in_.makeRoom();
    size_t limit = worker_->snapshot().http.limits.max_head_bytes + 1;
    if (in_.writable() == 0 && in_.capacity() < limit) {
      in_.reserve(std::min(in_.capacity() * 2, limit));
    }
  }
  return readClient();
}

bool Session::tryParseHead() {
  if (in_.empty()) return false;
  if (proxy_rule_ != ProxyHeaderRule::kNone) return takeProxyHeader();
  const config::Snapshot& snapshot = worker_->snapshot();
  http::ParseOutcome outcome =
      http::parseRequestHead(in_.readable(), snapshot.http.limits, request_);
  switch (outcome.state) {
    case http::ParseOutcome::State::kNeedMore:
      if (!head_timer_started_) {
        armTimer(TimerPurpose::kHead, snapshot.http.head_timeout.count());
        head_timer_started_ = true;
      }
      return false;
    case http::ParseOutcome::State::kError: {
      worker_->stats().bad_requests.inc();
      makeRequestId();
      access_.begin(core::monotonicMicros());
      access_.decision = "deny";
      access_.cause = refusalCause(Phase::kReadHead, 400);
      is_head_request_ = false;
      LocalReply reply{http::statusFor(outcome.error), reasonPhrase(http::statusFor(outcome.error)),
                       http::describe(outcome.error), true};
      replyLocally(reply);
      return true;
    }
    case http::ParseOutcome::State::kDone:
      head_bytes_ = outcome.consumed;
      startRequest();
      return true;
  }
  return false;
}

// The PROXY header of a trusted proxy, or its absence from anyone else, once,
// at the start of the connection. A named client replaces the socket peer
// for everything after (limits, policy, the authorizer, X-Forwarded-For).
// The accept gate skipped a trusted proxy's connection (Worker::acceptFrom):
// it judges the named client here, as it judges a direct one at accept.
bool Session::takeProxyHeader() {
  const ProxyHeaderVerdict verdict = readProxyHeader(in_.readable(), proxy_rule_);
  observe::WorkerStats& stats = worker_->stats();
  if (verdict.kind == ProxyHeaderVerdict::Kind::kNeedMore) return false;
  if (verdict.kind == ProxyHeaderVerdict::Kind::kRefuse) {
    stats.proxy_header_refused.inc();
    spdlog::debug("closing a connection from {}: {}", std::string_view(peer_ip_, peer_ip_length_),
                  verdict.reason);
    resetOnClose(fd_);
    closeNow();
    return true;
  }
  const bool had_header = proxy_rule_ == ProxyHeaderRule::kRequired;
  proxy_rule_ = ProxyHeaderRule::kNone;
  in_.consume(verdict.consumed);
  if (had_header) stats.proxy_headers.inc();
  if (!verdict.named_client) return true;  // LOCAL, UNKNOWN, or a direct client
  peer_ = verdict.client;
  peer_trusted_ = net::containsAny(worker_->snapshot().trusted_proxies, peer_);
  peer_ip_length_ = peer_.formatIp(peer_ip_, sizeof(peer_ip_));
  shield::WorkerShield& shield = worker_->shield();
  if (shield.gateEnabled()) {
    gate_ticket_ = shield.admit(peer_, worker_->loop().now() * 1'000'000);
    if (gate_ticket_.verdict != shield::Admission::kAdmitted) {
      stats.connections_refused.inc();
      stats.shield_refused_at_accept.inc();
      resetOnClose(fd_);
      closeNow();
    }
  }
  return true;
}

std::string_view Session::makeRequestId() {
  if (peer_trusted_) {
    for (const http::Header& header : request_.headers) {
      if (!http::equalsIgnoreCase(header.name, "x-request-id")) continue;
      std::string_view value = header.value;
      if (!value.empty() && value.size() <= kMaxTrustedRequestIdBytes &&
          std::all_of(value.begin(), value.end(), isTokenChar)) {
        std::copy(value.begin(), value.end(), request_id_);
        request_id_length_ = value.size();
        return requestId();
      }
    }
  }
  static const char kHex[] = "0123456789abcdef";
  uint64_t a = worker_->nextRandom();
  uint64_t b = worker_->nextRandom();
  for (int i = 0; i < 16; ++i) {
    request_id_[i] = kHex[(a >> (i * 4)) & 0xF];
    request_id_[16 + i] = kHex[(b >> (i * 4)) & 0xF];
  }
  request_id_length_ = 32;
  return requestId();
}

// Phases 2-7 through the runner, then phase 8.
void Session::startRequest() {
  worker_->stats().requests.inc();
  request_start_us_ = core::monotonicMicros();
  const config::Snapshot& snapshot = worker_->snapshot();
  is_head_request_ = request_.method == "HEAD";
  client_version_ = request_.version;
  client_keep_alive_ = request_.keep_alive;
  if (!request_.keep_alive) close_after_response_ = true;
  makeRequestId();
  access_.begin(request_start_us_);
  access_.parsed = true;
  access_.setMethod(request_.method);
  access_.bytes_in = head_bytes_;
  takeTraceContext(request_.headers, worker_->nextRandom(), worker_->nextRandom(),
                   worker_->nextRandom(), &trace_);

  RequestContext ctx;
  ctx.snapshot = &snapshot;
  ctx.head = &request_;
  ctx.peer = &peer_;
  ctx.target = &target_;
  ctx.auth_state = &worker_->auth();
  ctx.now = core::unixSeconds();
  ctx.reply_headers = &reply_headers_;
  ctx.listener = listener_;
  ctx.authz = &worker_->authz();
  ctx.authz_waiter = this;
  ctx.client_ip = std::string_view(peer_ip_, peer_ip_length_);
  ctx.request_id = requestId();
  ctx.shield = &worker_->shield();
  ctx.overload = &worker_->overload();
  ctx.mono_nanos = worker_->loop().now() * 1'000'000;
  Verdict verdict = runRequestPhases(ctx);
  if (verdict.waits()) {
    // The views in request_ stay valid: nothing is read from the client
    // until the answer comes (the check's own timer bounds the wait).
    if (client_hangup_) {  // its FIN came with the request: it has left already
      worker_->authz().cancel(&ctx.authz_call);
      closeNow();
      return;
    }
    waiting_ = std::move(ctx);
    // The client address may live in the context itself: point at the copy.
    if (waiting_.client == &ctx.forwarded_client) waiting_.client = &waiting_.forwarded_client;
    has_waiting_ = true;
    state_ = State::kAwaitingAuthz;
    armTimer(TimerPurpose::kNone, 0);
    return;
  }
  finishRequestPhases(ctx, verdict);
}

void Session::onAuthzAnswer(const authz::Answer& answer) {
  if (state_ != State::kAwaitingAuthz) return;
  waiting_.authz_call = {};
  waiting_.authz_answer = answer;
  waiting_.authz_answered = true;
  state_ = State::kReadingHead;  // finishRequestPhases moves it on
  Verdict verdict = resumeRequestPhases(waiting_);
  if (verdict.waits()) {  // never: the answer is in; fail closed rather than hang
    verdict = Verdict::respond(
        Phase::kAuthorize,
        {503, "Service Unavailable", "the authorization service is unavailable", false});
  }
  finishRequestPhases(waiting_, verdict);
  drive();
}

void Session::finishRequestPhases(RequestContext& ctx, const Verdict& verdict) {
  reportShadow(ctx);
  bool has_body =
      request_.framing == http::BodyFraming::kChunked ||
      (request_.framing == http::BodyFraming::kContentLength && request_.content_length > 0);
  access_.path_known = verdict.proceeds() || verdict.phase > Phase::kCanonicalize;
  if (ctx.route != nullptr) access_.route = ctx.route->index;
  if (!verdict.proceeds()) {
    access_.decision = "deny";
    access_.cause = refusalCause(verdict.phase, verdict.reply.status);
    identity_ = std::move(ctx.auth.identity);  // who was refused, for the access log
  }
  if (verdict.kind == Verdict::Kind::kDrop) {
    worker_->stats().shield_dropped.inc();  // a limit's `action: drop`: no response at all
    closeNow();
    return;
  }
  proven_ = verdict.proceeds();
  if (!verdict.proceeds()) {
    if (verdict.reply.status == 429) worker_->stats().shield_limited.inc();
    in_.consume(head_bytes_);
    LocalReply reply = verdict.reply;
    // The body was not read: the connection cannot carry another request.
    if (has_body) reply.close_connection = true;
    if (verdict.phase == Phase::kCanonicalize) worker_->stats().bad_requests.inc();
    if (verdict.phase == Phase::kAuthenticate) worker_->stats().auth_refused.inc();
    if (verdict.phase == Phase::kAuthenticate && verdict.reply.status == 503) {
      worker_->stats().signature_budget_refused.inc();
    }
    if (verdict.phase == Phase::kAuthorize && verdict.reply.status == 403) {
      worker_->stats().policy_denied.inc();
    }
    replyLocally(reply);
    return;
  }
  overload_admitted_ = ctx.overload_admitted;
  request_class_ = ctx.request_class;
  route_ = ctx.route;
  identity_ = std::move(ctx.auth.identity);
  authz_headers_ = ctx.authz_upstream_headers;
  // Phase 8 starts by choosing the cluster: a weighted route picks one of
  // its clusters here (cluster_choice.h), while the request head is intact.
  ClusterChoice choice = chooseCluster(*route_, request_, identity_.get());
  cluster_index_ = choice.cluster_index;
  split_target_ = choice.target;
  if (!admitToCluster(ctx, has_body)) return;
  startForwarding(has_body);
}

// A shadow policy that disagrees with the enforced one: counted always,
// logged within the worker's per-second budget (the rest counted as dropped).
void Session::reportShadow(const RequestContext& ctx) {
  bool would_allow = ctx.shadow == RequestContext::Shadow::kWouldAllow;
  if (!would_allow && ctx.shadow != RequestContext::Shadow::kWouldDeny) return;
  observe::WorkerStats& stats = worker_->stats();
  Worker::ShadowCounts& route = worker_->shadowCounts(ctx.route->index);
  (would_allow ? stats.shadow_would_allow : stats.shadow_would_deny).inc();
  (would_allow ? route.would_allow : route.would_deny).inc();
  if (!worker_->takeShadowLogToken()) {
    stats.shadow_logs_dropped.inc();
    return;
  }
  const config::AuthorizationSettings& settings = worker_->snapshot().authorization;
  const auth::Identity* identity = ctx.auth.identity.get();
  spdlog::warn(
      "shadow policy '{}' would {} on route '{}' where policy '{}' {}: request_id={} principal={} "
      "account={}",
      settings.names[ctx.shadow_policy], would_allow ? "allow" : "deny", ctx.route->name,
      settings.names[ctx.enforced_policy], would_allow ? "denies" : "allows", requestId(),
      identity ? identity->principal : "-",
      identity && !identity->account.empty() ? identity->account : "-");
}

// Phase 8, first step: the cluster's adaptive concurrency limit, when it has one.
bool Session::admitToCluster(const RequestContext& ctx, bool has_body) {
  ClusterAdmission* cluster = worker_->clusterAdmissions().find(cluster_index_);
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
  const upstream::ClusterSpec& spec = worker_->snapshot().clusters[cluster_index_];
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
  const config::Snapshot& snapshot = worker_->snapshot();
  pool_ = &worker_->pool(cluster_index_);
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
  appendUpstreamRequestHead(upstream_out_, info);
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
    armTimer(TimerPurpose::kBodyRate, worker_->snapshot().http.body_rate_window.count());
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
  ssize_t n = ::writev(upstream_->fd(), iov, count);
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

bool Session::readUpstream() {
  if (upstream_ == nullptr || !upstream_readable_ || upstream_eof_) return false;
  core::Buffer& input = upstream_->input();
  if (input.writable() == 0) {
    input.makeRoom();
    if (input.writable() == 0) return false;
  }
  size_t space = input.writable();
  ssize_t n = ::read(upstream_->fd(), input.writePtr(), space);
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
    const config::Snapshot& snapshot = worker_->snapshot();
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
  if (draining_ || !request_sent_ || response_framing_ == ClientFraming::kDechunkAndClose ||
      response_framing_ == ClientFraming::kUntilClose) {
    close_after_response_ = true;
  }
  DownstreamResponseInfo info;
  info.head = &response_;
  info.framing = response_framing_;
  info.request_id = requestId();
  info.via = worker_->snapshot().via;
  info.close = close_after_response_;
  info.http10_keep_alive = client_version_ == http::Version::kHttp10 && client_keep_alive_;
  appendDownstreamResponseHead(out_, info);
  upstream_->input().consume(head_bytes);
  response_remaining_ = response_.content_length;
  response_validated_ = 0;
  response_chunks_.reset();
  response_body_read_ = false;
  response_started_ = true;
  if (cluster_hold_.cluster != nullptr) cluster_hold_.head_at = preciseNanos();
  noteResponse(response_.status);
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
  uint32_t slot = route_ != nullptr ? route_->index : worker_->metrics().unmatchedSlot();
  worker_->metrics().recordResponse(slot, status, micros);
  request_start_us_ = 0;
  if (split_target_ >= 0) {  // the outcome a weighted route's step-back watches
    recordSplitOutcome(*route_, split_target_, status, worker_->stats());
    split_target_ = -1;
  }
}

// Phase 10: the request's access line, once, whichever way it ended (a
// response sent, a local reply, the connection closed under it).
void Session::logRequest() {
  if (!access_.pending) return;
  access_.pending = false;
  observe::AccessRing* ring = worker_->accessRing();
  if (ring == nullptr) return;
  const config::Snapshot& snapshot = worker_->snapshot();
  const uint64_t total = core::monotonicMicros() - access_.start_us;
  observe::AccessRecord record;
  record.unix_millis = unixMillis();
  record.request_id = requestId();
  record.client = std::string_view(peer_ip_, peer_ip_length_);
  record.method = access_.methodText();
  if (access_.path_known) record.path = target_.path();
  if (access_.route < snapshot.route_names.size())
    record.route = snapshot.route_names[access_.route];
  record.status = access_.status;
  record.bytes_in = access_.bytes_in;
  record.bytes_out = access_.bytes_out;
  record.upstream_us = access_.upstream_us;
  record.rampart_us = total > access_.upstream_us ? total - access_.upstream_us : 0;
  if (identity_ != nullptr) {
    record.principal = identity_->principal;
    record.account = identity_->account;
  }
  record.decision = access_.decision;
  record.cause = access_.cause;
  if (access_.parsed) record.trace_id = trace_.traceId();
  logAccess(*ring, snapshot.access_log, worker_->stats(), worker_->nextRandom(), record);
}

void Session::replyLocally(const LocalReply& reply) {
  observe::WorkerStats& stats = worker_->stats();
  stats.local_replies.inc();
  noteResponse(reply.status);
  if (reply.close_connection || draining_) close_after_response_ = true;
  appendLocalReply(out_, reply, requestId(), close_after_response_, is_head_request_);
  state_ = State::kReplying;
  armTimer(TimerPurpose::kLinger, kLingerMillis * 5);  // bounds a client that never reads
}

bool Session::stepReplying() {
  size_t unused = 0;
  size_t before = out_.size();
  if (!flushClient({}, &unused)) return true;
  if (out_.empty()) {
    afterResponse();
    return true;
  }
  return out_.size() != before;
}

void Session::afterResponse() {
  if (!out_.empty()) {
    state_ = State::kReplying;
    return;
  }
  ++requests_served_;
  releaseOverload();
  logRequest();
  if (close_after_response_ || draining_ || client_eof_) {
    startLingering();
    return;
  }
  resetRequest();
  state_ = State::kReadingHead;
  head_timer_started_ = !in_.empty();
  const config::HttpSettings& http = worker_->snapshot().http;
  if (in_.empty()) {
    armTimer(TimerPurpose::kIdle, http.idle_timeout.count());
  } else {
    armTimer(TimerPurpose::kHead, http.head_timeout.count());
  }
}

void Session::resetRequest() {
  endClusterRequest();  // every end path has done it already; a slot must never leak
  route_ = nullptr;
  split_target_ = -1;  // a request that ended without a response is not an outcome
  authz_headers_ = {};
  if (has_waiting_) {
    waiting_ = RequestContext{};  // drops the identity it held
    has_waiting_ = false;
  }
  identity_.reset();
  request_id_length_ = 0;
  is_head_request_ = false;
  request_framing_ = http::BodyFraming::kNone;
  request_remaining_ = 0;
  request_validated_ = 0;
  request_sent_ = false;
  response_started_ = false;
  response_body_read_ = false;
  response_framing_ = ClientFraming::kNone;
  retried_ = false;
  pool_ = nullptr;
}

// The end of a request that phase 7b admitted, however it ended (response
// sent, local reply, client gone, upstream failure): its slot is free again.
void Session::releaseOverload() {
  if (!overload_admitted_) return;
  overload_admitted_ = false;
  worker_->overload().release(request_class_);
}

void Session::startLingering() {
  // Shut the write side so the client sees the response end, then discard
  // (never parse) what it still sends, so closing does not turn into a reset
  // that could destroy the response in flight.
  ::shutdown(fd_, SHUT_WR);
  in_.clear();
  linger_discarded_ = 0;
  state_ = State::kLingering;
  armTimer(TimerPurpose::kLinger, kLingerMillis);
}

bool Session::stepLingering() {
  if (!client_readable_) return false;
  char scratch[16 * 1024];
  for (;;) {
    ssize_t n = ::read(fd_, scratch, sizeof(scratch));
    if (n > 0) {
      linger_discarded_ += static_cast<size_t>(n);
      if (linger_discarded_ > kMaxLingerDiscardBytes) break;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      client_readable_ = false;
      return false;
    }
    break;  // EOF or error
  }
  closeNow();
  return false;
}

void Session::closeNow() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  armTimer(TimerPurpose::kNone, 0);
  if (waiting_.authz_call.pending()) worker_->authz().cancel(&waiting_.authz_call);
  releaseUpstream(false);
  endClusterRequest();
  releaseOverload();
  if (access_.pending && access_.decision == "allow") access_.decision = "abort";
  logRequest();
  worker_->loop().remove(fd_);
  ::close(fd_);
  fd_ = -1;
  worker_->sessionClosed(this);
}

}  // namespace rampart::proxy
