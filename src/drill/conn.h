// One client connection of the drill: a non-blocking connect from a chosen
// source address, requests written whole, responses read by the project's
// strict parser (head, then Content-Length, chunked or until-close body).
// Owned by one drill thread's object (a legitimate client, a flood
// connection...) and reused across reconnects; each socket gets its own
// epoll handler (a Wire), deleted after the event batch, so a stale event of
// a closed socket can never reach the connection's next socket.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/buffer.h"
#include "core/event_loop.h"
#include "http/message.h"
#include "http/parser.h"
#include "net/address.h"

namespace rampart::drill {

// CLOCK_MONOTONIC in ns: latencies need better than the loop's coarse clock.
int64_t nowNs();

enum class CloseReason : uint8_t {
  kConnectRefused,  // ECONNREFUSED
  kConnectFailed,   // any other connect error
  kConnectTimeout,  // not connected within the timeout
  kReset,           // ECONNRESET, EPIPE after connecting
  kEofInFlight,     // the target closed with a request in flight, unanswered
  kEofIdle,         // the target closed between requests or after Connection: close
  kTimeout,         // a request unanswered within the timeout
  kBadResponse,     // an answer the parser refused
};

class Conn;

// Callbacks on the loop thread. Each may call back into the Conn (send,
// open again after a close).
class ConnOwner {
 public:
  virtual ~ConnOwner() = default;
  virtual void onConnected(Conn* conn) = 0;
  // A complete response. If the target asked to close, onClosed(kEofIdle) follows.
  virtual void onResponse(Conn* conn, uint16_t status) = 0;
  // The socket is gone (already closed); the Conn may be opened again.
  virtual void onClosed(Conn* conn, CloseReason reason) = 0;
};

class Wire;

class Conn : private core::Timer {
 public:
  // `timeout_ms` bounds a connect and each request (0: never time out).
  Conn(core::EventLoop* loop, ConnOwner* owner, size_t buffer_bytes, core::Millis timeout_ms);
  ~Conn() override;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Starts a connect; false when no socket could even be made (errno set),
  // in which case no callback runs. `reset_on_close`: close with RST (SO_LINGER 0).
  bool open(const net::SocketAddress& target, const net::SocketAddress* source,
            bool reset_on_close = false);
  bool isOpen() const { return wire_ != nullptr; }
  bool connected() const { return wire_ != nullptr && !connecting_; }
  bool inFlight() const { return in_flight_; }
  // Bytes of the last send still waiting for the kernel to take them.
  bool writeBlocked() const { return !pending_.empty(); }
  int64_t openedAtNs() const { return opened_at_ns_; }

  // Writes a whole request (kept by the caller until answered) and awaits its response.
  void send(std::string_view request);
  // Writes bytes that do not finish a request (a slowloris drip); no timeout.
  void sendPartial(std::string_view bytes);
  // Closes without a callback.
  void close();

 private:
  friend class Wire;
  void onWireEvents(uint32_t events);
  void onTimeout() override;
  void writePending();
  void readAvailable();
  bool parse();  // false when the connection was closed while parsing
  void completeResponse();
  void fail(CloseReason reason);

  enum class Body : uint8_t { kHead, kLength, kChunked, kUntilClose };

  core::EventLoop* loop_;
  ConnOwner* owner_;
  core::Millis timeout_ms_;
  Wire* wire_ = nullptr;
  bool connecting_ = false;
  bool in_flight_ = false;
  bool got_bytes_ = false;  // any response byte for the request in flight
  int64_t opened_at_ns_ = 0;
  std::string_view pending_;  // unwritten bytes of the last send
  core::Buffer in_;
  size_t max_buffer_;
  http::ResponseHead head_;
  http::ChunkedDecoder chunked_;
  Body body_ = Body::kHead;
  uint64_t body_remaining_ = 0;
  uint16_t status_ = 0;
  bool keep_alive_ = true;
};

}  // namespace rampart::drill
