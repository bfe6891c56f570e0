// WorkerAuthz and its calls: the asynchronous side of external authorization.
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "authz/authorizer.h"
#include "http/parser.h"
#include "net/socket.h"
#include "upstream/pool.h"

namespace rampart::authz {

namespace {

// An authorizer's answer is a status and a few headers; a body longer than
// this is not waited for (the decision is made, the connection not reused).
constexpr size_t kMaxAwaitedBody = 16 * 1024;

void appendLengthPrefixed(std::string* out, std::string_view value) {
  uint32_t n = static_cast<uint32_t>(value.size());
  char length[5] = {'\x02', static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                    static_cast<char>(n >> 8), static_cast<char>(n)};
  out->append(length, sizeof(length));
  out->append(value);
}

void appendHeader(core::Buffer& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

bool listed(const std::vector<std::string>& lowercase_names, std::string_view name) {
  for (const std::string& known : lowercase_names) {
    if (http::equalsIgnoreCase(known, name)) return true;
  }
  return false;
}

// What the authorizer's Cache-Control says about keeping its answer:
// -2: not at all (no-store, no-cache), -1: nothing (the config's ttl), else
// max-age in ms. Only those two directives are read; the config's ttl is
// always the ceiling.
core::Millis answerTtl(const std::vector<http::Header>& headers) {
  core::Millis ttl = -1;
  for (const http::Header& header : headers) {
    if (!http::equalsIgnoreCase(header.name, "cache-control")) continue;
    std::string_view rest = header.value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (http::equalsIgnoreCase(item, "no-store") || http::equalsIgnoreCase(item, "no-cache")) {
        return -2;
      }
      if (item.size() > 8 && http::equalsIgnoreCase(item.substr(0, 8), "max-age=")) {
        uint64_t seconds = 0;
        bool digits = true;
        for (char c : item.substr(8)) {
          if (c < '0' || c > '9') {
            digits = false;
            break;
          }
          seconds = std::min<uint64_t>(seconds * 10 + static_cast<uint64_t>(c - '0'), 1u << 30);
        }
        if (!digits) return -2;  // a malformed directive: do not guess
        core::Millis ms = static_cast<core::Millis>(seconds) * 1000;
        ttl = ttl < 0 ? ms : std::min(ttl, ms);
      }
    }
  }
  return ttl;
}

}  // namespace

void buildKey(const std::vector<KeyPart>& parts, const CheckInput& input, std::string* out) {
  out->clear();
  for (const KeyPart& part : parts) {
    switch (part.kind) {
      case KeyPart::Kind::kPrincipal:
        if (input.identity != nullptr && input.identity->authenticated()) {
          appendLengthPrefixed(out, input.identity->principal);
        } else {
          out->push_back('\x01');  // anonymous: unlike any principal, even an empty one
        }
        break;
      case KeyPart::Kind::kAccount:
        if (input.identity != nullptr && input.identity->authenticated()) {
          appendLengthPrefixed(out, input.identity->account);
        } else {
          out->push_back('\x01');
        }
        break;
      case KeyPart::Kind::kRoute:
        appendLengthPrefixed(out, input.route);
        break;
      case KeyPart::Kind::kMethod:
        appendLengthPrefixed(out, input.method);
        break;
      case KeyPart::Kind::kPath:
        appendLengthPrefixed(out, input.path);
        break;
      case KeyPart::Kind::kHeader:
        // Every occurrence, in order: two Authorization headers are not one.
        if (input.headers != nullptr) {
          for (const http::Header& header : *input.headers) {
            if (http::equalsIgnoreCase(header.name, part.header)) {
              appendLengthPrefixed(out, header.value);
            }
          }
        }
        out->push_back('\x03');
        break;
    }
  }
}

// One authorizer's runtime state on one worker.
struct WorkerAuthz::Lane {
  Lane(const AuthorizerSpec* s, core::EventLoop* loop, uint64_t seed)
      : spec(s),
        pool(&s->cluster, loop, seed),
        cache(s->cache.enabled ? s->cache.max_entries : 0, s->cache.ttl.count(),
              s->cache.stale_if_error.count()),
        breaker(s->breaker_failures, s->breaker_open_for.count()) {}
  const AuthorizerSpec* spec;
  upstream::ClusterPool pool;  // keep-alive connections; max_requests is max_pending
  DecisionCache cache;
  CircuitBreaker breaker;
  AuthorizerStats stats;
};

// One check request in flight: its connection, its bytes, its timer.
// Owned by WorkerAuthz (reused across calls); worker thread only.
class Call final : public core::Timer, public upstream::ConnectionUser {
 public:
  explicit Call(WorkerAuthz* owner) : owner_(owner), request_(1024) {
    response_.headers.reserve(http::Limits{}.max_headers);
  }
  ~Call() override { releaseConnection(false); }

  // Builds the request and starts sending it. False when no socket could be
  // made (nothing is in flight then).
  bool start(WorkerAuthz::Lane* lane, const CheckInput& input, std::string_view key, Waiter* waiter,
             uint64_t generation);

  void cancel(uint32_t slot) {
    if (slot < waiters_.size()) waiters_[slot] = nullptr;
  }
  uint32_t join(Waiter* waiter) {
    waiters_.push_back(waiter);
    return static_cast<uint32_t>(waiters_.size() - 1);
  }
  uint64_t generation() const { return generation_; }

  void onUpstreamEvents(uint32_t events) override;
  void onUpstreamTimeout() override {}

 protected:
  void onTimeout() override { finish(Decision::kError, "timed out", false, true); }

 private:
  friend class WorkerAuthz;
  void buildRequest(const CheckInput& input);
  bool attach(bool allow_retry);
  void progress();
  bool write();
  // Reads what is there; false on EOF or a reset.
  bool read();
  // True when a complete answer was handled (the call is over).
  bool parse();
  bool retryOnFresh();
  void finish(Decision decision, std::string_view why, bool reusable, bool timed_out = false);
  void releaseConnection(bool reusable);

  WorkerAuthz* owner_;
  WorkerAuthz::Lane* lane_ = nullptr;
  uint32_t authorizer_ = 0;
  std::vector<Waiter*> waiters_;  // the first started it; others joined (null: cancelled)
  bool in_flight_ = false;        // listed in WorkerAuthz::in_flight_ under key_
  uint64_t generation_ = 0;
  bool active_ = false;
  std::string key_;
  core::Buffer request_;
  size_t sent_ = 0;
  upstream::Connection* connection_ = nullptr;
  bool readable_ = false;
  bool writable_ = false;
  bool eof_ = false;
  bool retried_ = false;
  bool got_bytes_ = false;
  bool starting_ = false;  // inside start(): an outcome is kept, never told
  Answer sync_answer_;     // the outcome reached inside start()
  http::ResponseHead response_;
  std::string headers_;           // the upstream header lines of an allow
  core::Millis answer_ttl_ = -1;  // from the answer's Cache-Control (answerTtl)
};

void Call::buildRequest(const CheckInput& input) {
  const AuthorizerSpec& spec = *lane_->spec;
  request_.clear();
  request_.append("GET ");
  request_.append(spec.path);
  request_.append(" HTTP/1.1\r\n");
  appendHeader(request_, "Host", spec.host_header);
  appendHeader(request_, "X-Forwarded-Method", input.method);
  appendHeader(request_, "X-Forwarded-Uri", input.target);
  if (!input.host.empty()) appendHeader(request_, "X-Forwarded-Host", input.host);
  appendHeader(request_, "X-Forwarded-Proto", "http");
  appendHeader(request_, "X-Forwarded-For", input.client_ip);
  appendHeader(request_, "X-Request-Id", input.request_id);
  // Route names come from the config, which does not restrict them.
  bool printable = std::none_of(input.route.begin(), input.route.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (printable) appendHeader(request_, "X-Rampart-Route", input.route);
  if (input.identity != nullptr) {
    auth::appendIdentityHeaderLines(request_, spec.identity, *input.identity);
  }
  if (input.headers != nullptr && !spec.send_headers.empty()) {
    for (const http::Header& header : *input.headers) {
      if (listed(spec.send_headers, header.name)) appendHeader(request_, header.name, header.value);
    }
  }
  request_.append("\r\n");  // never a body: the authorizer decides on the head
}

bool Call::start(WorkerAuthz::Lane* lane, const CheckInput& input, std::string_view key,
                 Waiter* waiter, uint64_t generation) {
  lane_ = lane;
  waiters_.clear();
  waiters_.push_back(waiter);
  generation_ = generation;
  key_.assign(key);
  retried_ = false;
  buildRequest(input);
  if (!attach(true)) return false;
  active_ = true;
  owner_->loop_->arm(this, lane_->spec->timeout.count());
  // A pooled connection is writable now and no edge will say so. A failure
  // here is kept for check() to answer: the waiter is never called back
  // from inside check().
  starting_ = true;
  progress();
  starting_ = false;
  return true;
}

bool Call::attach(bool allow_retry) {
  upstream::ClusterPool& pool = lane_->pool;
  upstream::EndpointChoice choice = pool.pickEndpoint();
  // Every endpoint unhealthy: no call can go out, as when no socket can be made.
  if (!choice.found()) return false;
  connection_ = pool.acquire(choice.endpoint, this);
  if (connection_ == nullptr) return false;
  sent_ = 0;
  readable_ = eof_ = got_bytes_ = false;
  answer_ttl_ = -1;
  writable_ = connection_->reused();
  response_.clear();
  headers_.clear();
  if (!allow_retry) retried_ = true;
  return true;
}

void Call::releaseConnection(bool reusable) {
  if (connection_ == nullptr) return;
  lane_->pool.release(connection_, reusable);
  connection_ = nullptr;
  readable_ = writable_ = false;
}

void Call::onUpstreamEvents(uint32_t events) {
  if (connection_ == nullptr || !active_) return;
  if (!connection_->connected()) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    if (net::pendingConnectError(connection_->fd()) != 0) {
      finish(Decision::kError, "connect failed", false);
      return;
    }
    connection_->setConnected();
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) writable_ = true;
  progress();
}

void Call::progress() {
  for (int round = 0; round < 64 && active_; ++round) {
    if (!write()) return;  // finished (failed or retried-and-failed)
    if (!active_) return;
    bool alive = read();
    if (!active_) return;
    if (parse()) return;
    if (!alive) {
      // EOF or reset before a complete head. A pooled connection the
      // authorizer closed while idle never saw the request: one fresh try.
      if (connection_->reused() && !got_bytes_ && !retried_) {
        if (!retryOnFresh()) return;
        continue;
      }
      finish(Decision::kError, "connection closed before an answer", false);
      return;
    }
    if (!readable_ && (sent_ == request_.size() || !writable_)) return;  // wait for an edge
  }
}

bool Call::retryOnFresh() {
  releaseConnection(false);
  if (!attach(false)) {
    finish(Decision::kError, "connect failed", false);
    return false;
  }
  return true;
}

bool Call::write() {
  if (sent_ == request_.size() || !writable_ || !connection_->connected()) return true;
  std::string_view rest = request_.readable().substr(sent_);
  ssize_t n = ::send(connection_->fd(), rest.data(), rest.size(), MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      writable_ = false;
      return true;
    }
    if (connection_->reused() && !retried_) return retryOnFresh();
    finish(Decision::kError, "connection reset", false);
    return false;
  }
  sent_ += static_cast<size_t>(n);
  if (sent_ < request_.size()) writable_ = false;
  return true;
}

bool Call::read() {
  if (!readable_ || eof_) return !eof_;
  core::Buffer& input = connection_->input();
  for (;;) {
    if (input.writable() == 0) {
      input.makeRoom();
      if (input.writable() == 0) return true;  // full: parse() decides
    }
    size_t space = input.writable();
    ssize_t n = ::read(connection_->fd(), input.writePtr(), space);
    if (n > 0) {
      got_bytes_ = true;
      input.produce(static_cast<size_t>(n));
      if (static_cast<size_t>(n) < space) {
        readable_ = false;
        return true;
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      readable_ = false;
      return true;
    }
    eof_ = true;
    readable_ = false;
    return false;
  }
}

bool Call::parse() {
  core::Buffer& input = connection_->input();
  for (;;) {
    if (input.empty()) return false;
    http::ParseOutcome outcome =
        http::parseResponseHead(input.readable(), http::Limits{}, false, response_);
    if (outcome.state == http::ParseOutcome::State::kNeedMore) {
      if (input.writable() == 0 && input.size() >= input.capacity()) {
        finish(Decision::kError, "answer head too large", false);
        return true;
      }
      return false;
    }
    if (outcome.state == http::ParseOutcome::State::kError) {
      finish(Decision::kError, "malformed answer", false);
      return true;
    }
    if (response_.status < 200) {  // interim: skip it
      input.consume(outcome.consumed);
      continue;
    }
    // The body is not used; wait for a short one so the connection can be
    // reused, decide at once on anything else.
    std::string_view body = input.readable().substr(outcome.consumed);
    bool complete = false;
    bool exact = false;
    switch (response_.framing) {
      case http::BodyFraming::kNone:
        complete = true;
        exact = body.empty();
        break;
      case http::BodyFraming::kContentLength:
        if (response_.content_length <= kMaxAwaitedBody && body.size() < response_.content_length &&
            !eof_) {
          return false;  // the rest of a short body is on its way
        }
        complete = body.size() >= response_.content_length;
        exact = body.size() == response_.content_length;
        break;
      case http::BodyFraming::kChunked: {
        http::ChunkedDecoder decoder;
        http::ChunkedDecoder::Progress step = decoder.feed(body);
        if (!step.done && step.error == http::ParseError::kNone && body.size() < kMaxAwaitedBody &&
            !eof_) {
          return false;
        }
        complete = step.done;
        exact = step.done && step.consumed == body.size();
        break;
      }
      case http::BodyFraming::kUntilClose:
        break;  // never reused
    }
    bool reusable = complete && exact && response_.keep_alive && !eof_;
    uint16_t status = response_.status;
    answer_ttl_ = answerTtl(response_.headers);
    if (status >= 200 && status < 300) {
      for (const http::Header& header : response_.headers) {
        if (!listed(lane_->spec->upstream_headers, header.name)) continue;
        headers_.append(header.name);
        headers_.append(": ");
        headers_.append(header.value);
        headers_.append("\r\n");
      }
      finish(Decision::kAllow, {}, reusable);
    } else if (status == 401 || status == 403) {
      finish(Decision::kDeny, {}, reusable);
    } else {
      finish(Decision::kError, "unexpected status", reusable);
    }
    return true;
  }
}

void Call::finish(Decision decision, std::string_view why, bool reusable, bool timed_out) {
  if (!active_) return;
  active_ = false;
  owner_->loop_->timers().cancel(this);
  if (connection_ != nullptr && reusable) connection_->input().clear();
  releaseConnection(reusable);
  WorkerAuthz::Lane& lane = *lane_;
  lane.pool.endRequest();
  core::Millis now = owner_->loop_->now();
  Answer answer;
  if (decision == Decision::kError) {
    lane.stats.failures.inc();
    if (timed_out) lane.stats.timeouts.inc();
    if (lane.breaker.onFailure(now)) lane.stats.circuit_opens.inc();
    owner_->answerError(lane, key_, why, &answer);
  } else {
    lane.breaker.onSuccess();
    bool allowed = decision == Decision::kAllow;
    (allowed ? lane.stats.allowed : lane.stats.denied).inc();
    if (lane.spec->cache.enabled && answer_ttl_ != -2) {
      lane.cache.insert(key_, allowed, headers_, now, answer_ttl_);
    }
    answer.decision = decision;
    answer.upstream_headers = headers_;
  }
  if (in_flight_) {
    owner_->in_flight_[authorizer_].erase(std::string_view(key_));
    in_flight_ = false;
  }
  if (starting_) {
    waiters_.clear();
    sync_answer_ = answer;  // check() answers it and recycles the call
    return;
  }
  // A waiter's callback may start other checks (a pipelined request): they
  // get other calls, as this one is not free until the loop ends.
  for (size_t i = 0; i < waiters_.size(); ++i) {
    Waiter* waiter = waiters_[i];
    waiters_[i] = nullptr;
    if (waiter != nullptr) {
      waiter->onAuthzAnswer(answer);
    } else {
      lane.stats.abandoned.inc();
    }
  }
  waiters_.clear();
  owner_->finished(this);  // after the callbacks: the answer views headers_
}

// ---------------------------------------------------------------------------

WorkerAuthz::WorkerAuthz(const std::vector<AuthorizerSpec>* specs, core::EventLoop* loop)
    : specs_(specs), loop_(loop) {
  uint64_t seed = 0x9E3779B97F4A7C15ULL;
  for (const AuthorizerSpec& spec : *specs_) {
    lanes_.push_back(std::make_unique<Lane>(&spec, loop_, seed++));
  }
  in_flight_.resize(lanes_.size());
}

WorkerAuthz::~WorkerAuthz() {
  for (auto& call : calls_) {
    call->waiters_.clear();
    loop_->timers().cancel(call.get());
    call->releaseConnection(false);
  }
  calls_.clear();
}

AuthorizerStats& WorkerAuthz::stats(uint32_t authorizer) {
  return lanes_[authorizer]->stats;
}
const AuthorizerStats& WorkerAuthz::stats(uint32_t authorizer) const {
  return lanes_[authorizer]->stats;
}
const CircuitBreaker& WorkerAuthz::breaker(uint32_t authorizer) const {
  return lanes_[authorizer]->breaker;
}

Call* WorkerAuthz::takeCall() {
  if (!free_calls_.empty()) {
    Call* call = free_calls_.back();
    free_calls_.pop_back();
    return call;
  }
  calls_.push_back(std::make_unique<Call>(this));
  return calls_.back().get();
}

void WorkerAuthz::finished(Call* call) {
  free_calls_.push_back(call);
}

void WorkerAuthz::answerError(Lane& lane, std::string_view key, std::string_view why,
                              Answer* answer) {
  *answer = Answer{};
  answer->error = why;
  if (!lane.spec->cache.enabled) return;
  if (const DecisionCache::Decision* stale = lane.cache.findUsable(key, loop_->now())) {
    lane.stats.stale_uses.inc();
    answer->decision = stale->allowed ? Decision::kAllow : Decision::kDeny;
    answer->cached = answer->stale = true;
    answer->upstream_headers = stale->upstream_headers;
  }
}

WorkerAuthz::Start WorkerAuthz::check(uint32_t authorizer, const CheckInput& input, Waiter* waiter,
                                      CallHandle* handle, Answer* answer) {
  Lane& lane = *lanes_[authorizer];
  core::Millis now = loop_->now();
  *handle = CallHandle{};
  *answer = Answer{};
  key_scratch_.clear();
  if (lane.spec->cache.enabled) {
    buildKey(lane.spec->cache.key, input, &key_scratch_);
    if (const DecisionCache::Decision* fresh = lane.cache.findFresh(key_scratch_, now)) {
      lane.stats.cache_hits.inc();
      answer->decision = fresh->allowed ? Decision::kAllow : Decision::kDeny;
      answer->cached = true;
      answer->upstream_headers = fresh->upstream_headers;
      return Start::kAnswered;
    }
    auto joined = in_flight_[authorizer].find(key_scratch_);
    if (joined != in_flight_[authorizer].end()) {
      Call* call = joined->second;
      lane.stats.coalesced.inc();
      *handle = CallHandle{call, call->generation(), call->join(waiter)};
      return Start::kWaiting;
    }
  }
  // max_pending before the breaker: a half-open probe, once admitted, must
  // really go out, or the circuit would wait for it forever.
  if (!lane.pool.tryBeginRequest()) {
    lane.stats.short_circuited.inc();
    answerError(lane, key_scratch_, "too many checks in flight", answer);
    return Start::kAnswered;
  }
  if (!lane.breaker.allow(now)) {
    lane.pool.endRequest();
    lane.stats.short_circuited.inc();
    answerError(lane, key_scratch_, "circuit open", answer);
    return Start::kAnswered;
  }
  Call* call = takeCall();
  call->authorizer_ = authorizer;
  uint64_t generation = next_generation_++;
  if (!call->start(&lane, input, key_scratch_, waiter, generation)) {
    finished(call);
    lane.pool.endRequest();
    lane.stats.failures.inc();
    if (lane.breaker.onFailure(now)) lane.stats.circuit_opens.inc();
    answerError(lane, key_scratch_, "connect failed", answer);
    return Start::kAnswered;
  }
  lane.stats.calls.inc();
  if (!call->active_) {  // failed while sending (and a fresh retry failed too)
    *answer = call->sync_answer_;
    finished(call);
    return Start::kAnswered;
  }
  if (lane.spec->cache.enabled) {
    in_flight_[authorizer].emplace(std::string_view(call->key_), call);
    call->in_flight_ = true;
  }
  *handle = CallHandle{call, generation, 0};
  return Start::kWaiting;
}

void WorkerAuthz::cancel(CallHandle* handle) {
  if (handle->call != nullptr && handle->call->active_ &&
      handle->call->generation() == handle->generation) {
    handle->call->cancel(handle->waiter);
  }
  *handle = CallHandle{};
}

}  // namespace rampart::authz
