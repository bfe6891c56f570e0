// A downstream HTTP/2 connection (docs/http2.md): nghttp2 owns the framing,
// this class owns the nghttp2 session and one H2Stream per request.
//
// Each stream is handed, as an HTTP/1.1 request, to an ordinary Session over
// an in-memory pipe (proxy/stream_pipe.h, Worker::startStreamSession): the
// stream goes through exactly the phases an HTTP/1.1 request does
// (canonical target, shield, route, auth, policy, limits, overload,
// forwarding with the upstream pool, retries, the access log), written
// once. The H2Stream keeps the other end: it writes the request head and
// DATA there (chunked when the length is not known) and turns the HTTP/1.1
// response it reads back into HEADERS and DATA frames. The price is writing
// and parsing an HTTP/1.1 head per stream, in memory; the gain is that no
// decision is made twice.
//
// The Session that accepted the connection stays its owner (worker lists,
// drain, admission): it hands its client I/O (cleartext or TLS) to this
// class once ALPN chose h2 or the prior-knowledge preface arrived.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/event_loop.h"
#include "http/message.h"
#include "http/parser.h"
#include "net/address.h"
#include "proxy/h2_guard.h"
#include "proxy/h2_translate.h"
#include "proxy/stream_pipe.h"

namespace rampart::proxy {

class Session;
class Worker;
class H2Connection;

// One request/response exchange: the bridge between an HTTP/2 stream and
// the HTTP/1.1 Session serving it.
class H2Stream final : public core::EventHandler, public core::Deferred {
 public:
  H2Stream(H2Connection* connection, int32_t id) : connection_(connection), id_(id) {}
  ~H2Stream() override;
  void onEvents(uint32_t events) override;

 private:
  friend class H2Connection;

  // Its Session sees the stream leave (as a socket's peer sees a close).
  void dropPipe();

  H2Connection* connection_;
  int32_t id_;
  StreamPipe* pipe_ = nullptr;  // to its Session; null before the request starts and after a reset
  bool retired_ = false;        // nghttp2 closed the stream: waiting for deferred delete

  // Request (HTTP/2 -> HTTP/1.1); its fields are decoded into the
  // connection's request_scratch_.
  size_t header_bytes_ = 0;       // decoded header block size (RFC 9113 6.5.2 accounting)
  bool header_overflow_ = false;  // over the head limit: answered 431
  bool chunked_ = false;          // request body sent chunked (length unknown)
  bool websocket_ = false;        // an extended CONNECT (RFC 8441): a tunnel after the 101
  bool request_ended_ = false;
  bool request_cut_short_ = false;  // answered first; the rest refused with RST_STREAM(NO_ERROR)
  size_t unconsumed_ = 0;           // DATA payload bytes not yet given back to the window

  // Response (HTTP/1.1 -> HTTP/2).
  std::string raw_;  // bytes taken from the pipe, not yet parsed
  http::BodyFraming framing_ = http::BodyFraming::kNone;  // the response head's (its fields
                                                          // are parsed in the connection's scratch)
  bool head_done_ = false;
  bool head_request_ = false;
  uint64_t remaining_ = 0;  // Content-Length bytes still expected
  http::ChunkedDecoder chunks_;
  std::string chunk_tail_;  // chunked: the raw framing's last bytes (where trailers end up)
  std::vector<std::pair<std::string, std::string>> trailers_;  // sent after the last DATA
  std::string body_;                                           // payload waiting for DATA frames
  size_t body_offset_ = 0;                                     // taken from the front of body_
  bool body_done_ = false;
  bool inner_eof_ = false;
  bool readable_ = false;
};

class H2Connection {
 public:
  H2Connection(Session* owner, Worker* worker, const net::SocketAddress& peer, uint32_t listener,
               const config::HttpSettings& http);
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Sends the server preface and takes the bytes the owner already read.
  void start();
  // The owner's client socket had events (its flags are updated), or a
  // stream asked for a flush (no events).
  void onClientEvents();
  // Graceful: GOAWAY, the streams under way finish, then the connection closes.
  void drain();
  // The owner is closing: every stream ends now.
  void abandon();
  bool idle() const { return live_.empty(); }

 private:
  friend class H2Stream;

  void pump();
  bool flushOut();  // false: the owner closed
  void finish();    // nothing more to read or write: close after what was queued
  void failConnection(int library_error);
  void cutOff(H2FloodGuard::Verdict verdict);

  // Streams.
  void startStream(H2Stream* stream, bool end_stream);
  void replyLocally(H2Stream* stream, uint16_t status);
  void appendBody(H2Stream* stream, const uint8_t* data, size_t length);
  void endBody(H2Stream* stream);
  void giveBackWindow(H2Stream* stream);
  void readInner(H2Stream* stream);
  bool takeResponse(H2Stream* stream);   // false: the stream was reset
  bool takePipedHead(H2Stream* stream);  // false: the stream was reset
  void submitHead(H2Stream* stream, uint64_t content_length);
  bool openTunnel(H2Stream* stream, uint16_t status);
  // Keep-alive between streams (proxy/stream_pipe.h): a stream whose
  // exchange is over parks its pipe, and its Session with it; a new stream
  // takes a parked one before it makes a Session of its own.
  void parkIfDone(H2Stream* stream);
  StreamPipe* takeParked(H2Stream* stream);
  void pruneParked();    // frees the parked pipes whose Session has left
  void releaseParked();  // the connection ends: every parked Session is told to close
  void resetStream(H2Stream* stream, uint32_t error_code);
  void retire(H2Stream* stream);
  void onStreamEvents(H2Stream* stream, uint32_t events);
  void wakeStreams();

  // nghttp2 callbacks.
  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t name_length, const uint8_t* value, size_t value_length, uint8_t flags,
                      void* self);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int onDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                         size_t length, void* self);
  static int onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* self);
  static ssize_t readBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* self);

  Session* owner_;
  Worker* worker_;
  net::SocketAddress peer_;
  uint32_t listener_;
  uint32_t max_header_bytes_;
  config::Http2Settings settings_;
  nghttp2_session* session_ = nullptr;
  H2FloodGuard guard_;
  std::vector<H2Stream*> live_;  // streams not yet retired (at most max_concurrent_streams)
  std::vector<int32_t> wake_;    // streams whose DATA drained: read their response again
  // The request fields of the header block being decoded. Header blocks
  // never interleave (RFC 9113 4.3: HEADERS and its CONTINUATIONs are
  // contiguous), so one serves every stream, its buffers reused.
  H2Request request_scratch_;
  std::vector<nghttp2_nv> nva_scratch_;  // a response head's fields, reused (nghttp2 copies them)
  http::ResponseHead head_scratch_;      // a response head parsed, its vector reused

  // At most this many idle stream Sessions per connection: the concurrency
  // a client keeps up (h2load -m10, a browser's handful) without holding
  // ~10 KiB per Session for a burst that has passed.
  static constexpr size_t kParkedSessions = 16;
  // Stands in for the stream on a parked pipe: hears its Session leave.
  class Keeper final : public core::EventHandler {
   public:
    explicit Keeper(H2Connection* connection) : connection_(connection) {}
    void onEvents(uint32_t) override { connection_->pruneParked(); }

   private:
    H2Connection* connection_;
  };
  Keeper keeper_{this};
  std::vector<StreamPipe*> parked_;
  bool dead_ = false;  // the owner closed: callbacks do nothing
  bool finishing_ = false;
  bool flush_pending_ = false;  // the owner is notified to flush this turn
  bool cut_off_ = false;        // GOAWAY(ENHANCE_YOUR_CALM) queued by the flood guard
};

}  // namespace rampart::proxy
