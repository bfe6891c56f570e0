#include "proxy/session.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/socket_io.h"
#include "net/socket.h"
#include "proxy/h2_session.h"
#include "proxy/local_reply.h"
#include "proxy/stream_pipe.h"
#include "proxy/upstream_reply.h"
#include "proxy/worker.h"

namespace rampart::proxy {

namespace {

// A connection starts small: a flood of connections that never prove
// themselves (slowloris, a burst of 5,000) costs the heap, and the page
// faults of first touching it, per connection. Heads rarely pass 4 KiB;
// a head that does grows the buffer to the head limit, and a request body
// or a tunnel gets kStreamingInputBytes (session_forward.cc).
constexpr size_t kInitialInputBytes = 4 * 1024;
constexpr size_t kInitialOutputBytes = 4 * 1024;
constexpr int64_t kLingerMillis = 2000;
constexpr size_t kMaxLingerDiscardBytes = 1 << 20;
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
                 const shield::GateTicket& ticket, StreamPipe* stream)
    : worker_(worker),
      gen_(&worker->current()),
      fd_(fd),
      peer_(peer),
      listener_(listener),
      gate_ticket_(ticket),
      in_(kInitialInputBytes),
      out_(kInitialOutputBytes),
      upstream_out_(1024) {
  ++gen_->pins;
  const config::Snapshot& snapshot = pinnedSnapshot();
  peer_trusted_ = net::containsAny(snapshot.trusted_proxies, peer_);
  peer_ip_length_ = peer_.formatIp(peer_ip_, sizeof(peer_ip_));
  pipe_ = stream;
  if (pipe_ != nullptr) {  // the HTTP/2 connection did the TLS and has no PROXY header
    pipe_->attachSession(this);
    return;
  }
  if (listener_ < snapshot.listeners.size()) {
    proxy_rule_ = proxyHeaderRule(snapshot.listeners[listener_].proxy_protocol, peer_trusted_);
  }
  // The listener's contexts as of now: a reload that replaces them later
  // leaves this connection on these.
  if (std::shared_ptr<tls::ServerTls> context = worker_->listenerTls(listener_)) {
    if (SSL* ssl = context->newConnection(fd_)) {
      tls_ = std::make_unique<tls::Transport>(ssl);
      tls_context_ = std::move(context);
    } else {
      client_eof_ = true;  // out of memory: closed at once, never served in clear
    }
  }
}

Session::~Session() {
  if (waiting_.authz_call.pending()) gen_->authz->cancel(&waiting_.authz_call);
  if (cluster_hold_.cluster != nullptr) cluster_hold_.cluster->forget(&cluster_hold_);
  if (fd_ >= 0) close(fd_);
  if (pipe_ != nullptr) StreamPipe::detachSession(pipe_);
  worker_->unpin(gen_);  // last: may free the generation (its authorizers, queues)
}

void Session::repin() {
  Generation* next = &worker_->current();
  const config::Snapshot& before = *gen_->snapshot;
  const config::Snapshot& now = *next->snapshot;
  // The listener index is the old snapshot's: find the same socket in the new one.
  uint32_t listener = static_cast<uint32_t>(now.listeners.size());  // none (removed)
  if (listener_ < before.listeners.size()) {
    for (uint32_t l = 0; l < now.listeners.size(); ++l) {
      if (now.listeners[l].address == before.listeners[listener_].address) listener = l;
    }
  }
  listener_ = listener;
  if (listener_ >= now.listeners.size()) gentle_close_ = true;
  peer_trusted_ = net::containsAny(now.trusted_proxies, peer_);
  Generation* old = gen_;
  gen_ = next;
  ++gen_->pins;
  worker_->unpin(old);
}

void Session::noteReload() {
  if (state_ == State::kClosed || gen_ == &worker_->current()) return;
  const config::Snapshot& now = *worker_->current().snapshot;
  const config::Snapshot& before = pinnedSnapshot();
  bool listener_kept = false;
  if (listener_ < before.listeners.size()) {
    for (const config::ListenerSpec& spec : now.listeners) {
      if (spec.address == before.listeners[listener_].address) listener_kept = true;
    }
  }
  if (!listener_kept) {
    beginDrain(/*keep_idle=*/true);
    return;
  }
  const bool idle = state_ == State::kReadingHead && in_.empty() && request_start_us_ == 0;
  if (idle) {
    repin();
    return;
  }
  // Mid-request: it ends on its own generation. Its connection outlives
  // the reload only when its route does.
  if (route_ != nullptr && route_->index < before.route_names.size()) {
    const std::string& name = before.route_names[route_->index];
    bool kept = false;
    for (const std::string& other : now.route_names) kept = kept || other == name;
    if (!kept) gentle_close_ = true;
  }
}

void Session::start() {
  if (pipe_ == nullptr) worker_->loop().addEdgeTriggered(fd_, this);
  // On a TLS listener the head timeout also bounds the handshake.
  armTimer(TimerPurpose::kHead, pinnedSnapshot().http.head_timeout.count());
  head_timer_started_ = true;
  client_readable_ = true;  // bytes may have arrived with the handshake
  drive();
}

void Session::beginDrain(bool keep_idle) {
  if (state_ == State::kHttp2) {
    h2_->drain();  // GOAWAY: the streams under way finish first
    return;
  }
  if (keep_idle) {
    gentle_close_ = true;
    return;
  }
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
  if (state_ == State::kHttp2) {
    h2_->onClientEvents();
    return;
  }
  drive();
}

void Session::onUpstreamEvents(uint32_t events) {
  if (upstream_ == nullptr) return;
  if (!upstream_->connected()) {
    if (upstream_->tls() == nullptr) {  // the TCP connect
      if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      if (net::pendingConnectError(upstream_->fd()) != 0) {
        failUpstream(UpstreamFailure::kConnect);
        drive();
        return;
      }
    }
    // A TLS cluster's connection counts as connected once its handshake
    // is done (within the same connect timeout, under the same breaker).
    if (!upstreamHandshake()) return;
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
  const config::HttpSettings& http = pinnedSnapshot().http;
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
    case TimerPurpose::kTunnel:
      onTunnelTimer();
      return;
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
      case State::kTunneling:
        progress = pumpTunnel();
        break;
      case State::kHttp2:  // driven by h2_ from onEvents
      case State::kClosed:
        return;
    }
    if (!progress) return;
  }
}

bool Session::readClient() {
  if (tls_ != nullptr) return readClientTls();
  if (pipe_ != nullptr) return readClientPipe();
  if (!client_readable_ || client_eof_) return false;
  if (in_.writable() == 0) {
    in_.makeRoom();
    if (in_.writable() == 0) return false;
  }
  size_t space = in_.writable();
  ssize_t n = core::receiveSome(fd_, in_.writePtr(), space);
  if (n > 0) {
    in_.produce(static_cast<size_t>(n));
    body_bytes_read_ += static_cast<uint64_t>(n);
    worker_->stats().bytes_in.inc(static_cast<uint64_t>(n));
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
  if (tls_ != nullptr) return flushClientTls(extra, extra_written);
  if (pipe_ != nullptr) return flushClientPipe(extra, extra_written);
  std::string_view head = out_.readable();
  iovec iov[2];
  int count = 0;
  if (!head.empty()) iov[count++] = {const_cast<char*>(head.data()), head.size()};
  if (!extra.empty()) iov[count++] = {const_cast<char*>(extra.data()), extra.size()};
  ssize_t n = core::sendVector(fd_, iov, count);
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
  worker_->stats().bytes_out.inc(written);
  size_t from_head = std::min(written, head.size());
  out_.consume(from_head);
  *extra_written = written - from_head;
  if (written < head.size() + extra.size()) client_writable_ = false;
  return true;
}

bool Session::readClientPipe() {
  if (!client_readable_ || client_eof_) return false;
  std::string& bytes = pipe_->request;
  if (bytes.empty()) {
    client_readable_ = false;
    if (!pipe_->streamGone() && !pipe_->request_ended) return false;
    client_eof_ = true;  // the client reset the stream, left, or ended a tunnel's stream
    return true;
  }
  if (in_.writable() == 0) {
    in_.makeRoom();
    if (in_.writable() == 0) return false;
  }
  // The HTTP/2 connection counted these bytes on the wire (bytes_in).
  size_t n = std::min(in_.writable(), bytes.size());
  std::memcpy(in_.writePtr(), bytes.data(), n);
  in_.produce(n);
  bytes.erase(0, n);
  body_bytes_read_ += n;
  // All taken: the stream gives the payload back to the client's window.
  if (bytes.empty()) pipe_->wakeStreamWritable();
  return true;
}

bool Session::flushClientPipe(std::string_view extra, size_t* extra_written) {
  if (pipe_->streamGone()) {  // as a socket's EPIPE: nobody to answer
    closeNow();
    return false;
  }
  std::string& sink = pipe_->response;
  size_t room =
      sink.size() < StreamPipe::kResponseBytes ? StreamPipe::kResponseBytes - sink.size() : 0;
  std::string_view head = out_.readable();
  size_t from_head = std::min(room, head.size());
  sink.append(head.data(), from_head);
  out_.consume(from_head);
  size_t from_extra = std::min(room - from_head, extra.size());
  sink.append(extra.data(), from_extra);
  *extra_written = from_extra;
  access_.bytes_out += from_head + from_extra;
  if (from_head < head.size() || from_extra < extra.size()) {
    client_writable_ = false;
    pipe_->sessionAwaitsRoom();
  }
  if (from_head + from_extra > 0) pipe_->wakeStream();
  return true;
}

// ---------------------------------------------------------------------------
// Phase 1: read head.

bool Session::stepReadingHead() {
  switch (http2Start()) {
    case H2Start::kTake:
      startHttp2();
      return false;
    case H2Start::kWait:
      if (client_eof_) {
        closeNow();
        return false;
      }
      return readClient();
    case H2Start::kNo:
      break;
  }
  if (tryParseHead()) return true;
  if (client_eof_) {
    closeNow();  // closed between requests, or in the middle of a head
    return false;
  }
  if (in_.writable() == 0) {
    in_.makeRoom();
    size_t limit = pinnedSnapshot().http.limits.max_head_bytes + 1;
    if (in_.writable() == 0 && in_.capacity() < limit) {
      in_.reserve(std::min(in_.capacity() * 2, limit));
    }
  }
  return readClient();
}

bool Session::tryParseHead() {
  if (in_.empty()) return false;
  // A new request starts on the worker's current generation (a reload moved it).
  if (gen_ != &worker_->current()) repin();
  if (proxy_rule_ != ProxyHeaderRule::kNone) return takeProxyHeader();
  const config::Snapshot& snapshot = pinnedSnapshot();
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
  peer_trusted_ = net::containsAny(pinnedSnapshot().trusted_proxies, peer_);
  peer_ip_length_ = peer_.formatIp(peer_ip_, sizeof(peer_ip_));
  if (worker_->refusedByOperator(peer_)) {  // admin POST /clients/block, as at accept
    stats.connections_refused.inc();
    stats.shield_refused_at_accept.inc();
    resetOnClose(fd_);
    closeNow();
    return true;
  }
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
  core::hex64(worker_->nextRandom(), request_id_);
  core::hex64(worker_->nextRandom(), request_id_ + 16);
  request_id_length_ = 32;
  return requestId();
}

// Phases 2-7 through the runner, then phase 8.
void Session::startRequest() {
  worker_->stats().requests.inc();
  request_start_us_ = core::monotonicMicros();
  const config::Snapshot& snapshot = pinnedSnapshot();
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
  ctx.peer_certificate = peer_certificate_.get();
  ctx.mtls_cache = &mtls_cache_;
  ctx.now = core::unixSeconds();
  ctx.reply_headers = &reply_headers_;
  ctx.listener = listener_;
  ctx.authz = gen_->authz.get();
  ctx.authz_waiter = this;
  ctx.client_ip = std::string_view(peer_ip_, peer_ip_length_);
  ctx.request_id = requestId();
  ctx.shield = &worker_->shield();
  ctx.store = worker_->store();
  ctx.overload = &worker_->overload();
  ctx.mono_nanos = worker_->loop().now() * 1'000'000;
  Verdict verdict = runRequestPhases(ctx);
  if (verdict.waits()) {
    // The views in request_ stay valid: nothing is read from the client
    // until the answer comes (the check's own timer bounds the wait).
    if (client_hangup_) {  // its FIN came with the request: it has left already
      gen_->authz->cancel(&ctx.authz_call);
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
  if (pipe_ != nullptr && pipe_->websocket && !pinnedSnapshot().websocket.allowed(route_->index)) {
    refuseHttp2Websocket();
    return;
  }
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
  ShadowCounts& route = gen_->shadow[ctx.route->index];
  (would_allow ? stats.shadow_would_allow : stats.shadow_would_deny).inc();
  (would_allow ? route.would_allow : route.would_deny).inc();
  if (!worker_->takeShadowLogToken()) {
    stats.shadow_logs_dropped.inc();
    return;
  }
  const config::AuthorizationSettings& settings = pinnedSnapshot().authorization;
  const auth::Identity* identity = ctx.auth.identity.get();
  spdlog::warn(
      "shadow policy '{}' would {} on route '{}' where policy '{}' {}: request_id={} principal={} "
      "account={}",
      settings.names[ctx.shadow_policy], would_allow ? "allow" : "deny", ctx.route->name,
      settings.names[ctx.enforced_policy], would_allow ? "denies" : "allows", requestId(),
      identity ? identity->principal : "-",
      identity && !identity->account.empty() ? identity->account : "-");
}

void Session::logRequest() {
  if (!access_.pending) return;
  access_.pending = false;
  // Top talkers and refusals by cause (admin /clients/top, /metrics), once
  // per request like the line itself, whether or not there is a log.
  if (!access_.cause.empty()) gen_->metrics->recordRefusal(access_.cause);
  worker_->noteTalker(peer_, &talker_hint_);
  observe::AccessRing* ring = worker_->accessRing();
  if (ring == nullptr) return;
  const config::Snapshot& snapshot = pinnedSnapshot();
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
  if (reply.close_connection || draining_ || gentle_close_) close_after_response_ = true;
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
  if (mirror_ != nullptr) {  // the whole response went out: compare it with the shadow's
    mirror_->primaryEnded(true);
    mirror_.reset();
  }
  releaseOverload();
  logRequest();
  if (close_after_response_ || draining_ || client_eof_) {
    startLingering();
    return;
  }
  resetRequest();
  state_ = State::kReadingHead;
  head_timer_started_ = !in_.empty();
  const config::HttpSettings& http = pinnedSnapshot().http;
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
  mirror_.reset();     // nor compared
  authz_headers_ = {};
  if (has_waiting_) {
    waiting_ = RequestContext{};  // drops the identity it held
    has_waiting_ = false;
  }
  identity_.reset();
  request_id_length_ = 0;
  is_head_request_ = false;
  websocket_ = false;
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
  // that could destroy the response in flight. TLS says goodbye first
  // (close_notify), so the client knows the response was not truncated.
  if (tls_ != nullptr) tls_->shutdown();
  if (pipe_ != nullptr) {
    pipe_->endResponse();
  } else {
    ::shutdown(fd_, SHUT_WR);
  }
  in_.clear();
  linger_discarded_ = 0;
  state_ = State::kLingering;
  armTimer(TimerPurpose::kLinger, kLingerMillis);
}

bool Session::stepLingering() {
  if (!client_readable_) return false;
  if (pipe_ != nullptr) {  // an HTTP/2 stream: what is left of its request is not wanted
    pipe_->request.clear();
    client_readable_ = false;
    if (!pipe_->streamGone()) return false;
    closeNow();
    return false;
  }
  char scratch[16 * 1024];
  for (;;) {
    ssize_t n = ::read(fd_, scratch, sizeof(scratch));
    if (n > 0) {
      linger_discarded_ += static_cast<size_t>(n);
      worker_->stats().bytes_in.inc(static_cast<uint64_t>(n));
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
  if (waiting_.authz_call.pending()) gen_->authz->cancel(&waiting_.authz_call);
  releaseUpstream(false);
  endClusterRequest();
  releaseOverload();
  if (access_.pending && access_.decision == "allow") access_.decision = "abort";
  logRequest();
  if (h2_ != nullptr) h2_->abandon();  // its streams' Sessions see their client leave
  if (pipe_ != nullptr) {
    StreamPipe::detachSession(pipe_);  // the stream sees the end of its response
    pipe_ = nullptr;
  } else {
    worker_->loop().remove(fd_);
    ::close(fd_);
    fd_ = -1;
  }
  worker_->sessionClosed(this);
}

}  // namespace rampart::proxy
