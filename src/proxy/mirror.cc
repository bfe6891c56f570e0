#include "proxy/mirror.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/clock.h"
#include "core/log.h"
#include "http/parser.h"
#include "net/socket.h"
#include "proxy/generation.h"
#include "proxy/worker.h"

namespace rampart::proxy {

namespace {
// Tells the shadow service (and its logs) that this request is a copy.
constexpr std::string_view kMirrorHeader = "x-rampart-mirror: 1\r\n";
}  // namespace

// One mirrored request on its own upstream connection: connect (or reuse),
// write the copy, read the answer to its end (digesting the body), release.
class MirrorCall final : public upstream::ConnectionUser,
                         public core::Timer,
                         public core::Deferred {
 public:
  MirrorCall(MirrorCalls* owner, Worker* worker, upstream::ClusterPool* pool,
             std::shared_ptr<const routing::Mirror> mirror, uint32_t route, std::string request,
             bool head_request)
      : owner_(owner),
        worker_(worker),
        pool_(pool),
        mirror_(std::move(mirror)),
        route_(route),
        request_(std::move(request)),
        head_request_(head_request),
        digest_(mirror_->spec().max_body_bytes, !mirror_->spec().ignore_json_fields.empty()) {}

  // Only a call dropped in flight (the worker ending) still holds anything;
  // core::Timer's destructor disarms it.
  ~MirrorCall() override {
    if (connection_ != nullptr) pool_->release(connection_, false);
    if (admitted_) pool_->endRequest();
  }

  // False when no connection could be had (a breaker, the socket): not
  // sent. On success the call owns the pool request slot its caller took.
  bool connect(uint32_t endpoint) {
    upstream::Breaker tripped = upstream::Breaker::kNone;
    connection_ = pool_->acquire(endpoint, this, &tripped);
    if (connection_ == nullptr) return false;
    admitted_ = true;
    worker_->loop().arm(this, mirror_->spec().timeout_ms);
    return true;
  }
  void setCompare(std::shared_ptr<MirrorCompare> compare) { compare_ = std::move(compare); }
  // A pooled connection is ready at once: write now (a new one waits for
  // its connect to finish).
  void kick() {
    if (connection_ != nullptr && connection_->connected()) drive();
  }

  void onUpstreamEvents(uint32_t events) override {
    if (ended_ || connection_ == nullptr) return;
    if (!connection_->connected()) {
      if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      if (net::pendingConnectError(connection_->fd()) != 0) {
        end(false);
        return;
      }
      connection_->setConnected();
    }
    drive();
  }
  void onUpstreamTimeout() override {}

 protected:
  void onTimeout() override { end(false); }  // the whole exchange took too long

 private:
  void drive() {
    while (sent_ < request_.size()) {
      ssize_t n =
          ::send(connection_->fd(), request_.data() + sent_, request_.size() - sent_, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;  // EPOLLOUT brings us back
      if (n <= 0) {
        end(false);
        return;
      }
      sent_ += static_cast<size_t>(n);
    }
    core::Buffer& input = connection_->input();
    for (;;) {
      if (consumeInput()) return;  // ended
      input.makeRoom();
      if (input.writable() == 0) {
        end(false);  // a head larger than the buffer
        return;
      }
      ssize_t n = ::read(connection_->fd(), input.writePtr(), input.writable());
      if (n > 0) {
        input.produce(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      // EOF (or an error): the end of an until-close body, else a reset.
      eof_ = true;
      if (head_done_ && framing_ == http::BodyFraming::kUntilClose) {
        answered(false);
      } else {
        end(false);
      }
      return;
    }
  }

  // Parses and digests what is buffered; true once the call has ended.
  bool consumeInput() {
    core::Buffer& input = connection_->input();
    while (!head_done_) {
      if (input.empty()) return false;
      http::ResponseHead head;
      http::ParseOutcome outcome = http::parseResponseHead(
          input.readable(), worker_->snapshot().http.limits, head_request_, head);
      if (outcome.state == http::ParseOutcome::State::kNeedMore) return false;
      if (outcome.state == http::ParseOutcome::State::kError || head.status == 101) {
        end(false);
        return true;
      }
      input.consume(outcome.consumed);
      if (head.status < 200) continue;  // interim
      head_done_ = true;
      status_ = head.status;
      headers_ = routing::headersDigest(head.headers, mirror_->spec().compare_headers);
      framing_ = head.framing;
      remaining_ = head.content_length;
      keep_alive_ = head.keep_alive;
      if (framing_ == http::BodyFraming::kNone) {
        answered(true);
        return true;
      }
    }
    switch (framing_) {
      case http::BodyFraming::kContentLength: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(input.size(), remaining_));
        digest_.add(input.readable().substr(0, take));
        input.consume(take);
        remaining_ -= take;
        if (remaining_ == 0) {
          answered(true);
          return true;
        }
        break;
      }
      case http::BodyFraming::kChunked: {
        http::ChunkedDecoder::Progress step = chunks_.feed(input.readable(), &payload_);
        digest_.add(payload_);
        payload_.clear();
        input.consume(step.consumed);
        if (step.error != http::ParseError::kNone) {
          end(false);
          return true;
        }
        if (step.done) {
          answered(true);
          return true;
        }
        break;
      }
      default:  // until close: everything is body
        digest_.add(input.readable());
        input.consume(input.size());
        break;
    }
    if (!digest_.valid()) {
      // Over the limit: the status is what is compared; the rest of the
      // body is not worth reading.
      answered(false);
      return true;
    }
    return false;
  }

  void answered(bool reusable) {
    routing::MirrorAnswer answer;
    answer.status = status_;
    answer.has_digest = digest_.valid();
    answer.digest = digest_.value();
    answer.headers = headers_;
    if (answer.has_digest && !mirror_->spec().ignore_json_fields.empty()) {
      answer.has_json =
          routing::jsonDigest(digest_.kept(), mirror_->spec().ignore_json_fields, &answer.json);
    }
    if (compare_) {
      compare_->shadowAnswered(answer);
    } else {
      mirror_->count(routing::MirrorResult::kUnchecked);
    }
    finish(reusable && keep_alive_ && !eof_ && connection_->input().empty());
  }

  void end(bool reusable) {
    if (compare_) {
      compare_->shadowFailed();
    } else {
      mirror_->count(routing::MirrorResult::kFailed);
    }
    finish(reusable);
  }

  void finish(bool reusable) {
    if (ended_) return;
    ended_ = true;
    worker_->loop().timers().cancel(this);
    if (connection_ != nullptr) pool_->release(connection_, reusable);
    connection_ = nullptr;
    if (admitted_) pool_->endRequest();
    admitted_ = false;
    compare_.reset();
    owner_->finished(this, route_);
  }

  MirrorCalls* owner_;
  Worker* worker_;
  upstream::ClusterPool* pool_;
  std::shared_ptr<const routing::Mirror> mirror_;  // shared: outlives a swapped snapshot
  uint32_t route_;
  std::string request_;
  bool head_request_;
  std::shared_ptr<MirrorCompare> compare_;
  routing::BodyDigest digest_;
  upstream::Connection* connection_ = nullptr;
  size_t sent_ = 0;
  bool admitted_ = false;
  bool ended_ = false;
  bool eof_ = false;
  bool head_done_ = false;
  bool keep_alive_ = false;
  uint16_t status_ = 0;
  uint64_t headers_ = 0;  // digest of the compared headers
  http::BodyFraming framing_ = http::BodyFraming::kNone;
  uint64_t remaining_ = 0;
  http::ChunkedDecoder chunks_;
  std::string payload_;  // decoded chunk payload, digested and cleared at once
};

// ---------------------------------------------------------------------------

MirrorCompare::MirrorCompare(std::shared_ptr<const routing::Mirror> mirror, std::string route,
                             std::string request_id, Worker* worker)
    : mirror_(std::move(mirror)),
      route_(std::move(route)),
      request_id_(std::move(request_id)),
      worker_(worker),
      primary_digest_(mirror_->spec().max_body_bytes, !mirror_->spec().ignore_json_fields.empty()) {
  primary_.headers = routing::headersDigest({}, mirror_->spec().compare_headers);
}

void MirrorCompare::primaryHeaders(const std::vector<http::Header>& headers) {
  primary_.headers = routing::headersDigest(headers, mirror_->spec().compare_headers);
}

MirrorCompare::~MirrorCompare() {
  if (settled_) return;
  // One side never finished: a shadow that answered is unchecked (the
  // client's response did not complete); otherwise the mirror failed.
  mirror_->count(shadow_done_ && !shadow_failed_ ? routing::MirrorResult::kUnchecked
                                                 : routing::MirrorResult::kFailed);
}

void MirrorCompare::primaryExpectsBody(uint64_t content_length) {
  primary_body_expected_ = content_length <= mirror_->spec().max_body_bytes;
  primary_expected_bytes_ = content_length;
}

void MirrorCompare::primaryEnded(bool complete) {
  if (primary_done_) return;
  primary_done_ = true;
  primary_complete_ = complete;
  settle();
}

void MirrorCompare::shadowAnswered(const routing::MirrorAnswer& answer) {
  shadow_ = answer;
  shadow_done_ = true;
  settle();
}

void MirrorCompare::shadowFailed() {
  shadow_done_ = shadow_failed_ = true;
  settle();
}

void MirrorCompare::settle() {
  if (settled_ || !primary_done_ || !shadow_done_) return;
  settled_ = true;
  if (shadow_failed_) {
    mirror_->count(routing::MirrorResult::kFailed);
    return;
  }
  if (!primary_complete_) {
    mirror_->count(routing::MirrorResult::kUnchecked);
    return;
  }
  routing::MirrorAnswer primary = primary_;
  primary.has_digest = primary_body_expected_ && primary_digest_.valid() &&
                       primary_digest_.bytes() == primary_expected_bytes_;
  primary.digest = primary_digest_.value();
  if (primary.has_digest && !mirror_->spec().ignore_json_fields.empty()) {
    primary.has_json = routing::jsonDigest(primary_digest_.kept(),
                                           mirror_->spec().ignore_json_fields, &primary.json);
  }
  routing::MirrorResult result = routing::compareAnswers(primary, shadow_);
  mirror_->count(result);
  if (result == routing::MirrorResult::kMatch) return;
  if (!worker_->mirrors().takeLogToken()) return;
  spdlog::info(
      "mirror {} on route '{}' (request {}): primary answered {}, shadow cluster '{}' answered "
      "{}{}",
      routing::mirrorResultName(result), route_, request_id_, primary_.status,
      mirror_->spec().cluster_name, shadow_.status,
      result == routing::MirrorResult::kBodyMismatch     ? " with a different body"
      : result == routing::MirrorResult::kHeaderMismatch ? " with different compared headers"
                                                         : "");
}

// ---------------------------------------------------------------------------

MirrorCalls::MirrorCalls(Worker* worker)
    : worker_(worker), active_by_route_(worker->snapshot().route_names.size(), 0) {}

MirrorCalls::~MirrorCalls() {
  // The worker is ending: calls in flight are dropped (fire-and-forget).
  std::vector<MirrorCall*> calls;
  calls.swap(calls_);
  for (MirrorCall* call : calls) delete call;
}

bool MirrorCalls::takeLogToken() {
  int64_t second = core::monotonicMillis() / 1000;
  if (second != log_second_) {
    log_second_ = second;
    logs_this_second_ = 0;
  }
  return logs_this_second_++ < kLogPerSecond;
}

std::shared_ptr<MirrorCompare> MirrorCalls::start(Generation& gen, const routing::Route& route,
                                                  std::string_view head,
                                                  const http::RequestHead& request,
                                                  std::string_view buffered,
                                                  std::string_view request_id) {
  const routing::Mirror& mirror = *route.mirror;
  if (!mirror.sampled(static_cast<uint32_t>(worker_->nextRandom() % 10000))) return nullptr;
  const routing::MirrorSpec& spec = mirror.spec();
  // The body goes along only when all of it is read already: a mirror never
  // waits for the client, and never holds the request's bytes back.
  std::string_view body;
  if (request.framing == http::BodyFraming::kChunked) {
    mirror.count(routing::MirrorResult::kSkipped);
    return nullptr;
  }
  if (request.framing == http::BodyFraming::kContentLength && request.content_length > 0) {
    if (request.content_length > spec.max_body_bytes || buffered.size() < request.content_length) {
      mirror.count(routing::MirrorResult::kSkipped);
      return nullptr;
    }
    body = buffered.substr(0, static_cast<size_t>(request.content_length));
  }
  // Sized from the worker's snapshot; a route of a newer one grows it once.
  if (route.index >= active_by_route_.size()) active_by_route_.resize(route.index + 1, 0);
  uint32_t& active = active_by_route_[route.index];
  if (active >= spec.max_active || head.size() < 4) {
    mirror.count(routing::MirrorResult::kSkipped);
    return nullptr;
  }
  // The route's own generation: its cluster indices name its snapshot's clusters.
  upstream::ClusterPool& pool = gen.pool(spec.cluster_index);
  // The shadow cluster's own breakers bound the mirrors: max_requests here,
  // max_connections and max_pending in acquire().
  if (!pool.tryBeginRequest()) {
    mirror.count(routing::MirrorResult::kSkipped);
    return nullptr;
  }
  upstream::EndpointChoice choice = pool.pickEndpoint();
  if (!choice.found()) {
    pool.endRequest();
    mirror.count(routing::MirrorResult::kSkipped);
    return nullptr;
  }
  std::string copy;
  copy.reserve(head.size() + kMirrorHeader.size() + body.size());
  copy.append(head.substr(0, head.size() - 2));  // before the blank line
  copy.append(kMirrorHeader);
  copy.append("\r\n");
  copy.append(body);
  auto* call = new MirrorCall(this, worker_, &pool, route.mirror, route.index, std::move(copy),
                              request.method == "HEAD");
  if (!call->connect(choice.endpoint)) {
    delete call;
    pool.endRequest();
    mirror.count(routing::MirrorResult::kSkipped);
    return nullptr;
  }
  calls_.push_back(call);
  ++active;
  std::shared_ptr<MirrorCompare> compare;
  if (spec.diff) {
    compare =
        std::make_shared<MirrorCompare>(route.mirror, route.name, std::string(request_id), worker_);
    call->setCompare(compare);
  }
  call->kick();
  return compare;
}

void MirrorCalls::finished(MirrorCall* call, uint32_t route) {
  auto it = std::find(calls_.begin(), calls_.end(), call);
  if (it != calls_.end()) {
    *it = calls_.back();
    calls_.pop_back();
  }
  if (route < active_by_route_.size() && active_by_route_[route] > 0) --active_by_route_[route];
  worker_->loop().deferDelete(call);
}

}  // namespace rampart::proxy
