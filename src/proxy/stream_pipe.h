// The in-memory connection between an HTTP/2 stream (proxy/h2_session.h)
// and the Session serving it as an HTTP/1.1 request: two byte queues and
// user-space readiness (core::EventLoop::notify) instead of a socketpair,
// so a stream costs no system call and no epoll round trip of its own.
//
// Either side may go first: the stream when its client resets it, the
// Session when it closes. Each side detaches once; the last one to detach
// frees the pipe. Only the worker thread touches it.
//
// The Session keeps its connection alive, as for an HTTP/1.1 client: once
// a stream's exchange is over, its H2Connection parks the pipe (the stream
// side goes to the connection's keeper) and hands it, with the Session
// still reading it, to a later stream of the same connection.
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_loop.h"
#include "http/message.h"

namespace rampart::proxy {

// A response head the Session parsed and rewrote, handed to the stream as
// fields rather than as HTTP/1.1 bytes it would parse again: names in lower
// case (as HTTP/2 sends them), connection-specific fields already left out,
// the body's framing in the pipe said outright. Its storage is kept across
// the exchanges of a kept-alive pipe.
struct PipedResponseHead {
  struct Field {
    uint32_t name_at;
    uint32_t name_size;
    uint32_t value_at;
    uint32_t value_size;
  };

  bool ready = false;  // set by the Session, taken (cleared) by the stream
  uint16_t status = 0;
  bool chunked = false;  // the body follows in chunked framing
  bool has_content_length = false;
  uint64_t content_length = 0;
  size_t http11_bytes = 0;  // the size of the same head as HTTP/1.1 (bytes_out)
  std::string text;         // every name and value, one after another
  std::vector<Field> fields;

  void clear() {
    ready = false;
    status = 0;
    chunked = false;
    has_content_length = false;
    content_length = 0;
    http11_bytes = 0;
    text.clear();
    fields.clear();
  }
  void add(std::string_view name, std::string_view value) {
    Field field{static_cast<uint32_t>(text.size()), static_cast<uint32_t>(name.size()), 0,
                static_cast<uint32_t>(value.size())};
    text.append(name);
    http::lowercaseInPlace(text.data() + field.name_at, name.size());
    field.value_at = static_cast<uint32_t>(text.size());
    text.append(value);
    fields.push_back(field);
  }
  std::string_view name(const Field& field) const {
    return std::string_view(text).substr(field.name_at, field.name_size);
  }
  std::string_view value(const Field& field) const {
    return std::string_view(text).substr(field.value_at, field.value_size);
  }
};

class StreamPipe {
 public:
  // What the Session may have waiting for the stream before it is told to
  // wait (its socket would be full): the stream's own buffering bounds the
  // rest, so an upstream is held back by the client's flow-control window.
  static constexpr size_t kResponseBytes = 64 * 1024;

  StreamPipe(core::EventLoop* loop, core::EventHandler* stream) : loop_(loop), stream_(stream) {}
  StreamPipe(const StreamPipe&) = delete;
  StreamPipe& operator=(const StreamPipe&) = delete;

  void attachSession(core::EventHandler* session) { session_ = session; }
  // Between streams: `keeper` hears of the Session leaving, `stream` takes
  // the pipe over for its exchange.
  void park(core::EventHandler* keeper) { stream_ = keeper; }
  void attachStream(core::EventHandler* stream) { stream_ = stream; }
  // A parked pipe can carry another exchange: its Session is there, did not
  // end its side, and nothing of the last exchange is left in it.
  bool reusable() const {
    return session_ != nullptr && !response_ended_ && request.empty() && response.empty() &&
           !head.ready;
  }

  // Stream -> Session: the request's bytes.
  std::string request;
  // Session -> stream: the response's bytes.
  std::string response;
  // Session -> stream: the response head as fields, when the Session could
  // hand it over so (see Session::startResponse). It comes before every byte
  // `response` holds: it is only set while `response` is empty.
  PipedResponseHead head;
  // The stream is a WebSocket (RFC 8441 extended CONNECT): the Session
  // refuses it on a route without `websocket: true`, and the client's
  // END_STREAM reaches it as a socket's FIN would (request_ended).
  bool websocket = false;
  bool request_ended = false;

  bool streamGone() const { return stream_ == nullptr; }
  bool sessionGone() const { return session_ == nullptr; }
  // The Session wrote its last byte (it shut its write side or closed).
  bool responseEnded() const { return response_ended_ || session_ == nullptr; }

  // The stream added request bytes: the Session can read.
  void wakeSession() { notify(session_, EPOLLIN); }
  // The stream added DATA payload (or a chunked body's end): it hears when
  // the Session has taken it all, to give the window back or to park.
  void streamAwaitsTaken() { stream_awaits_taken_ = true; }
  // The Session took every request byte. Only a stream that added payload is
  // told: a request's head alone leaves it nothing to do (no window to give
  // back, no whole exchange to park yet), and each wake-up is a dispatch.
  void wakeStreamWritable() {
    if (!stream_awaits_taken_) return;
    stream_awaits_taken_ = false;
    notify(stream_, EPOLLOUT);
  }
  // The Session added response bytes: the stream can read.
  void wakeStream() { notify(stream_, EPOLLIN); }
  // The Session found no room for all it had to write (kResponseBytes).
  void sessionAwaitsRoom() { session_awaits_room_ = true; }
  // The stream took response bytes: a Session that ran out of room may write
  // again. One that did not is not woken for nothing, once per response.
  void wakeSessionWritable() {
    if (!session_awaits_room_) return;
    session_awaits_room_ = false;
    notify(session_, EPOLLOUT);
  }

  // The Session's write side is done (lingering): the stream sees the end.
  void endResponse() {
    response_ended_ = true;
    notify(stream_, EPOLLIN | EPOLLRDHUP);
  }

  // Each side calls its detach exactly once; the pipe is freed by the last.
  // The other side sees its peer leave, as a socket's peer sees a close.
  static void detachStream(StreamPipe* pipe) {
    pipe->stream_ = nullptr;
    pipe->notify(pipe->session_, EPOLLIN | EPOLLRDHUP | EPOLLHUP);
    if (pipe->session_ == nullptr) delete pipe;
  }
  static void detachSession(StreamPipe* pipe) {
    pipe->session_ = nullptr;
    pipe->notify(pipe->stream_, EPOLLIN | EPOLLRDHUP | EPOLLHUP);
    if (pipe->stream_ == nullptr) delete pipe;
  }

 private:
  void notify(core::EventHandler* handler, uint32_t events) {
    if (handler != nullptr) loop_->notify(handler, events);
  }

  core::EventLoop* loop_;
  core::EventHandler* stream_;
  core::EventHandler* session_ = nullptr;
  bool response_ended_ = false;
  bool stream_awaits_taken_ = false;
  bool session_awaits_room_ = false;
};

}  // namespace rampart::proxy
