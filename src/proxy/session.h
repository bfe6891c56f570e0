// One client connection and the requests on it, driven by the worker's event
// loop. Owned by its Worker; lives from accept to close; only the worker
// thread touches it. Requests are served one at a time in arrival order, so
// pipelined responses leave in order by construction.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "authz/authorizer.h"
#include "core/buffer.h"
#include "core/event_loop.h"
#include "http/canonical.h"
#include "http/message.h"
#include "http/parser.h"
#include "net/address.h"
#include "proxy/access_phase.h"
#include "proxy/cluster_admission.h"
#include "proxy/cluster_choice.h"
#include "proxy/generation.h"
#include "proxy/phases.h"
#include "proxy/proxy_header.h"
#include "proxy/retry_loop.h"
#include "proxy/rewrite.h"
#include "shield/accept_gate.h"
#include "tls/peer.h"
#include "tls/transport.h"
#include "upstream/pool.h"

namespace rampart::proxy {

class H2Connection;
class MirrorCompare;
class StreamPipe;
class Worker;

class Session final : public core::EventHandler,
                      public core::Timer,
                      public core::Deferred,
                      public upstream::ConnectionUser,
                      public authz::Waiter,
                      public SlotWaiter {
 public:
  // `listener`: index of the listener that accepted it; `ticket`: what the
  // accept gate decided, handed back to it at close.
  // `stream`: the Session serves one stream of an HTTP/2 connection over
  // this in-memory pipe from its H2Connection (proxy/stream_pipe.h), and
  // `fd` is -1: cleartext HTTP/1.1 whatever the listener, never a PROXY
  // header.
  Session(Worker* worker, int fd, const net::SocketAddress& peer, uint32_t listener = 0,
          const shield::GateTicket& ticket = {}, StreamPipe* stream = nullptr);
  ~Session() override;

  // An HTTP/2 stream's Session: the connection's verified client
  // certificate, so mTLS authentication sees the same identity either way.
  void adoptPeerCertificate(const tls::PeerCertificate& certificate) {
    peer_certificate_ = std::make_unique<tls::PeerCertificate>(certificate);
  }
  // Registers with the loop and starts reading the first request.
  void start();
  // Drain: an idle connection closes now; a busy one after its current
  // response. `keep_idle`: an idle one too answers once more (Connection:
  // close) and then closes, so a client sending as it closes never sees its
  // request dropped (a binary upgrade, a removed listener); one that sends
  // nothing is closed by its idle timeout or the drain deadline.
  void beginDrain(bool keep_idle = false);
  // The drain deadline passed: close at once, whatever is in flight.
  void forceClose() { closeNow(); }
  // The worker took a reload's generation (Worker::adopt): an idle
  // connection moves to it now; a busy one finishes its request on the one
  // it started with, and closes after it if its route is gone; one whose
  // listener is gone drains.
  void noteReload();

  void onEvents(uint32_t events) override;
  // Until a request on it has passed every phase (and after any is
  // refused), the connection's events wait behind the proven ones' (see
  // core::EventLoop::run): a flood being refused cannot delay them.
  bool mayWait() const override { return !proven_; }
  // The client read buffer while a request body or a tunnel streams.
  static constexpr size_t kStreamingInputBytes = 16 * 1024;
  void onUpstreamEvents(uint32_t events) override;
  void onUpstreamTimeout() override;
  void onAuthzAnswer(const authz::Answer& answer) override;
  void onClusterSlot() override;

  const shield::GateTicket& gateTicket() const { return gate_ticket_; }

  Session* prev = nullptr;  // the worker's intrusive list of live sessions
  Session* next = nullptr;

 protected:
  void onTimeout() override;

 private:
  friend class H2Connection;  // drives the client I/O once the connection is HTTP/2

  enum class State : uint8_t {
    kReadingHead,    // waiting for (the rest of) a request head
    kAwaitingAuthz,  // phases paused on an external authorizer's answer (nothing read meanwhile)
    kAwaitingSlot,   // phases done, waiting in the cluster's fair queue (nothing read meanwhile)
    kProxying,       // request going upstream and/or response coming back
    kReplying,       // flushing a local reply
    kLingering,      // response sent, write side shut; discarding input before close
    kTunneling,      // a WebSocket after its 101: bytes both ways until either side ends
    kHttp2,          // handed to h2_ (ALPN h2 or the prior-knowledge preface)
    kClosed,
  };
  enum class UpstreamFailure : uint8_t {
    kConnect,
    kConnectTimeout,
    kReset,
    kTimeout,
    kBadResponse
  };

  // The generation the current (or last) request runs on: its snapshot,
  // pools, authorizers, metrics. A request starts on the worker's current
  // one: the pin moves only when that changed (one pointer compare per
  // request, no reference-count traffic).
  const config::Snapshot& pinnedSnapshot() const { return *gen_->snapshot; }
  void repin();

  void drive();
  bool stepReadingHead();
  // HTTP/2 (docs/http2.md): kTake once ALPN said h2 or the preface is
  // there, kWait while what arrived is still a prefix of the preface.
  enum class H2Start : uint8_t { kNo, kWait, kTake };
  H2Start http2Start() const;
  void startHttp2();
  // An HTTP/2 WebSocket (RFC 8441) to a route without `websocket: true`:
  // 403. Forwarded as a plain GET, its upstream's 200 would read to the
  // HTTP/2 client as an open tunnel.
  void refuseHttp2Websocket();
  bool stepReplying();
  bool stepLingering();
  bool readClient();
  // Writes out_ then `extra`; reports how much of `extra` went. False when the
  // client connection failed (the session is closed).
  bool flushClient(std::string_view extra, size_t* extra_written);
  // The same over TLS (tls_ set): the handshake first, then records. The
  // cleartext path pays one branch on tls_ for them.
  bool readClientTls();
  bool handshakeClient();
  void onHandshake();
  bool flushClientTls(std::string_view extra, size_t* extra_written);
  // The same for an HTTP/2 stream's Session (pipe_ set): memory, no system call.
  bool readClientPipe();
  bool flushClientPipe(std::string_view extra, size_t* extra_written);

  // Phases 1-7.
  bool tryParseHead();
  // Before phase 1 on a PROXY-protocol listener (proxy/proxy_header.h).
  bool takeProxyHeader();
  void startRequest();
  // After phases 2-7 (at once, or when an authorizer's answer resumed them).
  void finishRequestPhases(RequestContext& ctx, const Verdict& verdict);
  std::string_view makeRequestId();
  std::string_view requestId() const { return {request_id_, request_id_length_}; }

  // Phase 8, request side. admitToCluster: false when the request waits for
  // a slot or was shed (cluster_admission.h).
  bool admitToCluster(const RequestContext& ctx, bool has_body);
  void shedAtCluster(std::string_view detail);
  void startForwarding(bool has_body);
  bool attachUpstream(uint32_t endpoint);
  void attachFailed();
  void onUpstreamConnected();
  // TLS clusters: starts or continues the handshake; true once it is done
  // (or for a cleartext cluster), false while waiting or after it failed.
  bool upstreamHandshake();
  bool writeUpstreamTls(std::string_view head, std::string_view body, size_t* written);

  // WebSocket (session_tunnel.cc, docs/websocket.md): the 101 relayed, then
  // a byte tunnel between the two sockets, bounded by idle and lifetime.
  void startTunnel(size_t head_bytes);
  bool pumpTunnel();
  void onTunnelTimer();
  void reportShadow(const RequestContext& ctx);
  bool flushInterim();
  bool pumpRequestBody();
  size_t forwardableRequestBytes();
  bool requestBodyComplete() const;
  bool requestBodyNeedsInput() const;

  // Phases 8-9, response side.
  bool pumpResponse();
  bool readUpstream();
  bool parseResponseHead();
  void startResponse(size_t head_bytes);
  size_t forwardableResponseBytes();
  bool responseComplete() const;
  void failUpstream(UpstreamFailure failure);
  // The retry loop (proxy/retry_loop.h, docs/upstreams.md): gateRetry asks
  // the route's policy, then the cluster's budget and max_retries breaker,
  // about a failed attempt whose response has not reached the client;
  // scheduleRetry starts the next attempt after the backoff (the timer,
  // never a sleep), once the failed attempt's connection is released.
  struct RetryGate {
    enum class Kind : uint8_t { kNoRetry, kRetry, kBreakerOpen };
    Kind kind = Kind::kNoRetry;
    std::chrono::milliseconds delay{0};
  };
  RetryGate gateRetry(upstream::AttemptOutcome outcome, uint16_t status, int64_t retry_after_ms);
  void scheduleRetry(std::chrono::milliseconds delay);
  void startRetryAttempt();
  bool retryResponse();  // a final response head that the policy retries
  void endRetryHold();
  int64_t attemptTimeoutMillis() const;
  void replyBreakerOpen(upstream::Breaker breaker, bool close);
  void abortExchange(const LocalReply& reply);
  void finishExchange();
  void releaseUpstream(bool reusable);
  void endClusterRequest();

  // Local replies, the end of a request, closing.
  void replyLocally(const LocalReply& reply);
  void noteResponse(uint16_t status);
  void logRequest();  // phase 10: exactly once per request, at its end
  void afterResponse();
  void resetRequest();
  void releaseOverload();  // the request's shedder slot, if it holds one
  void startLingering();
  void closeNow();

  Worker* worker_;
  Generation* gen_;  // pinned (Generation::pins); never null
  int fd_;
  net::SocketAddress peer_;
  uint32_t listener_ = 0;  // index of the listener that accepted it
  char peer_ip_[64] = {};
  size_t peer_ip_length_ = 0;
  bool peer_trusted_ = false;
  uint8_t talker_hint_ = UINT8_MAX;  // where peer_ was in the worker's top talkers last time
  bool proven_ = false;              // the last request that went through the phases was forwarded
  ProxyHeaderRule proxy_rule_ = ProxyHeaderRule::kNone;  // kNone once the header is taken
  shield::GateTicket gate_ticket_;
  State state_ = State::kReadingHead;
  // TLS listeners only: the connection's transport, the listener's contexts
  // it was made from (their callbacks run during its handshake), the
  // verified client certificate and its identity (mtls, once per connection).
  std::unique_ptr<tls::Transport> tls_;
  std::shared_ptr<tls::ServerTls> tls_context_;
  std::unique_ptr<tls::PeerCertificate> peer_certificate_;
  auth::MtlsCache mtls_cache_;
  bool alpn_h2_ = false;  // the handshake chose h2
  // An HTTP/2 stream's Session (constructor): its pipe, until closeNow
  // detaches it. Null for a connection with a socket of its own.
  StreamPipe* pipe_ = nullptr;
  std::unique_ptr<H2Connection> h2_;

  core::Buffer in_;   // from the client: heads, then body bytes in flight
  core::Buffer out_;  // to the client: heads and locally made bytes
  bool client_readable_ = false;
  bool client_writable_ = true;
  bool client_eof_ = false;
  bool client_hangup_ = false;  // epoll reported the client's FIN, reset or error
  bool draining_ = false;
  // Close once a response has said Connection: close (the next one that
  // starts): a response already under way without it is followed by one
  // more, so the client is never left sending on a connection closing under
  // it (Session::beginDrain's keep_idle, a reload's removed listener or route).
  bool gentle_close_ = false;
  bool close_after_response_ = false;
  bool head_timer_started_ = false;
  uint32_t requests_served_ = 0;
  size_t linger_discarded_ = 0;

  // The current request.
  http::RequestHead request_;
  http::CanonicalTarget target_;
  std::shared_ptr<const auth::Identity> identity_;  // phase 5's verdict; null: anonymous
  std::string reply_headers_;  // extra local-reply headers (WWW-Authenticate), reused
  // The primary side of a mirrored request with `diff` (proxy/mirror.h).
  std::shared_ptr<MirrorCompare> mirror_;
  const routing::Route* route_ = nullptr;
  uint32_t cluster_index_ = 0;     // phase 8's choice: the route's cluster, or one of its split's
  int32_t split_target_ = -1;      // position in the route's split until the response; -1: none
  uint64_t request_start_us_ = 0;  // monotonic µs when the head was read; 0 between requests
  // kAwaitingAuthz: the phases' context, kept until the answer resumes them.
  RequestContext waiting_;
  bool has_waiting_ = false;
  std::string_view authz_headers_;  // an authorizer's header lines for the upstream request
  size_t head_bytes_ = 0;           // length of the current head at the front of in_
  char request_id_[64] = {};
  size_t request_id_length_ = 0;
  bool is_head_request_ = false;
  bool websocket_ = false;       // an upgrade the route allows, forwarded as one
  int64_t tunnel_activity_ = 0;  // kTunneling: loop ms of the last byte moved
  int64_t tunnel_deadline_ = 0;  // kTunneling: loop ms at which it is closed anyway
  http::Version client_version_ = http::Version::kHttp11;
  bool client_keep_alive_ = true;
  bool overload_admitted_ = false;  // holds a slot of the worker's shedder (phase 7b)
  shield::RequestClass request_class_ = shield::RequestClass::kAnonymous;
  AccessNote access_;  // phase 10's view of the request (proxy/access_phase.h)
  TraceState trace_;   // W3C trace context sent upstream and logged

  // Request body in flight (client -> upstream).
  core::Buffer upstream_out_;  // the rewritten request head (kept whole for one retry)
  size_t upstream_head_sent_ = 0;
  http::BodyFraming request_framing_ = http::BodyFraming::kNone;
  uint64_t request_remaining_ = 0;  // Content-Length bytes still to forward
  size_t request_validated_ = 0;    // chunked: bytes at the front of in_ already checked
  http::ChunkedDecoder request_chunks_;
  bool request_sent_ = false;  // head and whole body written upstream
  uint64_t body_bytes_at_last_check_ = 0;
  uint64_t body_bytes_read_ = 0;

  // Upstream side.
  upstream::ClusterPool* pool_ = nullptr;
  upstream::Connection* upstream_ = nullptr;
  uint32_t attempt_endpoint_ = upstream::ClusterPool::kNoEndpoint;  // of the current attempt
  bool upstream_readable_ = false;
  bool upstream_writable_ = false;
  bool upstream_eof_ = false;
  bool upstream_hangup_ = false;  // epoll reported the upstream's FIN, reset or error
  bool admitted_to_cluster_ = false;
  ClusterHold cluster_hold_;         // adaptive concurrency: slot, place in the queue, latency
  bool slot_wait_has_body_ = false;  // kAwaitingSlot: what startForwarding needs on resume
  bool retried_ = false;             // the one free resend after a stale pooled connection
  RetryLoop retry_;                  // the route's retries of this request
  upstream::Breaker breaker_tripped_ = upstream::Breaker::kNone;  // why attachUpstream failed

  // Response in flight (upstream -> client).
  http::ResponseHead response_;
  bool response_started_ = false;  // its head has been queued for the client
  ClientFraming response_framing_ = ClientFraming::kNone;
  uint64_t response_remaining_ = 0;
  size_t response_validated_ = 0;  // chunked: checked bytes at the front of the upstream buffer
  http::ChunkedDecoder response_chunks_;
  bool response_body_read_ = false;  // every body byte is in our buffers
  std::string dechunked_;            // HTTP/1.0 clients only: decoded payload scratch

  enum class TimerPurpose : uint8_t {
    kNone,
    kHead,
    kIdle,
    kConnect,
    kResponse,
    kBodyRate,
    kLinger,
    kSlotWait,      // the cluster's queue timeout
    kRetryBackoff,  // the wait before the next attempt
    kTunnel,        // a WebSocket's idle timeout or lifetime, whichever comes first
  };
  TimerPurpose timer_purpose_ = TimerPurpose::kNone;
  void armTimer(TimerPurpose purpose, int64_t millis);
};

}  // namespace rampart::proxy
