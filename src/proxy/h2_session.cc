#include "proxy/h2_session.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <openssl/rand.h>

#include "core/log.h"
#include "proxy/session.h"
#include "proxy/worker.h"

namespace rampart::proxy {

namespace {

// Response payload buffered per stream before we stop reading its HTTP/1.1
// side: the client's flow-control window then holds the upstream back.
constexpr size_t kStreamBufferBytes = 64 * 1024;
// Frames queued for the client before we stop asking nghttp2 for more.
constexpr size_t kOutputBytes = 64 * 1024;

std::string_view view(const uint8_t* data, size_t length) {
  return {reinterpret_cast<const char*>(data), length};
}

H2FloodLimits floodLimits(const config::Http2Settings& settings) {
  H2FloodLimits limits;
  limits.max_resets = settings.max_resets_per_second;
  limits.max_settings = settings.max_settings_per_second;
  limits.max_pings = settings.max_pings_per_second;
  limits.max_empty_data = settings.max_empty_data_per_second;
  return limits;
}

nghttp2_nv field(std::string_view name, std::string_view value,
                 uint8_t flags = NGHTTP2_NV_FLAG_NONE) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          flags};
}

// A response field HPACK should not add to the connection's table (RFC
// 7541 7.1.3): a value new in every response (the request id) would only
// evict the fields that repeat, and a cookie is not for sharing a table.
uint8_t indexing(std::string_view lowercase_name) {
  return lowercase_name == "x-request-id" || lowercase_name == "set-cookie"
             ? NGHTTP2_NV_FLAG_NO_INDEX
             : NGHTTP2_NV_FLAG_NONE;
}

}  // namespace

H2Stream::~H2Stream() {
  dropPipe();
}

void H2Stream::dropPipe() {
  if (pipe_ == nullptr) return;
  StreamPipe::detachStream(pipe_);
  pipe_ = nullptr;
}

void H2Stream::onEvents(uint32_t events) {
  if (retired_) return;
  connection_->onStreamEvents(this, events);
}

H2Connection::H2Connection(Session* owner, Worker* worker, const net::SocketAddress& peer,
                           uint32_t listener, const config::HttpSettings& http)
    : owner_(owner),
      worker_(worker),
      peer_(peer),
      listener_(listener),
      max_header_bytes_(http.limits.max_head_bytes),
      settings_(http.http2),
      guard_(floodLimits(http.http2)) {
  head_scratch_.headers.reserve(http.limits.max_headers);
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecv);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, onFrameSend);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose);
  nghttp2_option* options = nullptr;
  nghttp2_option_new(&options);
  // The window is given back only once a DATA payload has been written to
  // the stream's Session: a client cannot make us buffer more than a window.
  nghttp2_option_set_no_auto_window_update(options, 1);
  // CONTINUATION frames after one HEADERS (CVE-2024-27316 family).
  nghttp2_option_set_max_continuations(options, settings_.max_continuations);
  // nghttp2's own caps on queued SETTINGS ACKs and PING replies and on
  // SETTINGS entries; ours (H2FloodGuard) cut off well before them.
  nghttp2_option_set_max_outbound_ack(options, 1000);
  nghttp2_option_set_max_settings(options, 32);
  nghttp2_session_server_new2(&session_, callbacks, this, options);
  nghttp2_option_del(options);
  nghttp2_session_callbacks_del(callbacks);
}

H2Connection::~H2Connection() {
  dead_ = true;
  for (H2Stream* stream : live_) delete stream;
  live_.clear();
  releaseParked();
  nghttp2_session_del(session_);
}

void H2Connection::start() {
  worker_->stats().h2_connections.inc();
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, max_header_bytes_},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.initial_window_bytes},
      // WebSocket over HTTP/2 (RFC 8441): extended CONNECT with :protocol.
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  // The connection's window (RFC 9113 6.9.2: 65,535 until a WINDOW_UPDATE)
  // grows with the streams' so one upload can use its whole stream window.
  if (settings_.initial_window_bytes > 65535) {
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<int32_t>(settings_.initial_window_bytes));
  }
  pump();
}

void H2Connection::onClientEvents() {
  pump();
}

void H2Connection::drain() {
  if (dead_ || finishing_) return;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  pump();
}

void H2Connection::abandon() {
  dead_ = true;
  for (H2Stream* stream : std::vector<H2Stream*>(live_)) retire(stream);
  releaseParked();
}

// Reads the client, feeds nghttp2, writes its frames, until nothing moves:
// edge-triggered epoll gives no second edge for bytes left unread (and TLS
// may hold records already read), so the loop runs until the read side says
// it is drained. What a client can make it do meanwhile is bounded by the
// flood guards, the stream limit and the flow-control windows.
void H2Connection::pump() {
  flush_pending_ = false;
  while (!dead_) {
    bool progress = owner_->readClient();
    if (dead_) return;
    if (!owner_->in_.empty()) {
      std::string_view input = owner_->in_.readable();
      ssize_t taken = nghttp2_session_mem_recv(
          session_, reinterpret_cast<const uint8_t*>(input.data()), input.size());
      if (dead_) return;
      if (taken < 0) {
        failConnection(static_cast<int>(taken));
        return;
      }
      owner_->in_.consume(static_cast<size_t>(taken));
      progress = true;
    }
    wakeStreams();
    if (!flushOut()) return;
    if (owner_->client_eof_) {
      owner_->closeNow();  // the client left: its streams end with it
      return;
    }
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
      finish();
      return;
    }
    if (!progress) break;
  }
  if (dead_) return;
  // No stream: the connection is idle (the HTTP/1.1 idle timeout); a stream
  // under way is bounded by its Session's own timers.
  if (live_.empty()) {
    owner_->armTimer(Session::TimerPurpose::kIdle,
                     owner_->pinnedSnapshot().http.idle_timeout.count());
  } else {
    owner_->armTimer(Session::TimerPurpose::kNone, 0);
  }
}

bool H2Connection::flushOut() {
  for (;;) {
    while (owner_->out_.size() < kOutputBytes) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        worker_->stats().h2_protocol_errors.inc();
        owner_->closeNow();
        return false;
      }
      if (n == 0) break;
      owner_->out_.append(view(data, static_cast<size_t>(n)));
    }
    size_t ignored = 0;
    size_t before = owner_->out_.size();
    if (!owner_->flushClient({}, &ignored)) return false;
    // Keep going while the socket takes everything and nghttp2 has more.
    if (owner_->out_.size() == before || !owner_->out_.empty()) return true;
    if (!nghttp2_session_want_write(session_)) return true;
  }
}

// GOAWAY has gone (or the client's did): the connection ends like an
// HTTP/1.1 one after its last response, lingering so that the frames just
// written are not destroyed by a reset.
void H2Connection::finish() {
  if (finishing_) return;
  finishing_ = true;
  abandon();
  owner_->startLingering();
}

void H2Connection::failConnection(int library_error) {
  observe::WorkerStats& stats = worker_->stats();
  switch (library_error) {
    case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
      stats.h2_continuation_floods.inc();
      break;
    case NGHTTP2_ERR_FLOODED:
    case NGHTTP2_ERR_TOO_MANY_SETTINGS:
      stats.h2_control_floods.inc();
      break;
    default:
      stats.h2_protocol_errors.inc();
      break;
  }
  spdlog::debug("HTTP/2 connection from {} ended: {}",
                std::string_view(owner_->peer_ip_, owner_->peer_ip_length_),
                nghttp2_strerror(library_error));
  // The library has queued its GOAWAY where the error allows one.
  uint32_t code = library_error == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS ||
                          library_error == NGHTTP2_ERR_FLOODED ||
                          library_error == NGHTTP2_ERR_TOO_MANY_SETTINGS
                      ? NGHTTP2_ENHANCE_YOUR_CALM
                      : NGHTTP2_PROTOCOL_ERROR;
  nghttp2_session_terminate_session(session_, code);
  if (!flushOut()) return;
  finish();
}

void H2Connection::cutOff(H2FloodGuard::Verdict verdict) {
  // Frames already in the buffer read are still parsed after the GOAWAY:
  // one cut-off, counted once.
  if (cut_off_) return;
  cut_off_ = true;
  if (verdict == H2FloodGuard::Verdict::kRapidReset) {
    worker_->stats().h2_rapid_resets.inc();
  } else {
    worker_->stats().h2_control_floods.inc();
  }
  // GOAWAY(ENHANCE_YOUR_CALM): nghttp2 reads nothing more from this client.
  nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
}

// ---------------------------------------------------------------------------
// nghttp2 callbacks (only ever called from mem_recv and mem_send above).

int H2Connection::onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto* connection = static_cast<H2Connection*>(self);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto* stream = new H2Stream(connection, frame->hd.stream_id);
  connection->request_scratch_.clear();
  connection->live_.push_back(stream);
  nghttp2_session_set_stream_user_data(connection->session_, frame->hd.stream_id, stream);
  return 0;
}

int H2Connection::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                           size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                           void* self) {
  auto* connection = static_cast<H2Connection*>(self);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;  // trailers: HTTP/1.1 chunked requests could carry them; not forwarded yet
  }
  auto* stream = static_cast<H2Stream*>(
      nghttp2_session_get_stream_user_data(connection->session_, frame->hd.stream_id));
  if (stream == nullptr || stream->header_overflow_) return 0;
  // The decoded size, counted as SETTINGS_MAX_HEADER_LIST_SIZE counts it:
  // an HPACK bomb (small on the wire, huge decoded) stops here, at the same
  // limit as an HTTP/1.1 head.
  stream->header_bytes_ += name_length + value_length + 32;
  if (stream->header_bytes_ > connection->max_header_bytes_) {
    stream->header_overflow_ = true;
    connection->worker_->stats().h2_header_overflows.inc();
    connection->request_scratch_.clear();
    return 0;
  }
  H2Request& request = connection->request_scratch_;
  std::string_view key = view(name, name_length);
  std::string_view text = view(value, value_length);
  if (key == ":method") {
    request.method = text;
  } else if (key == ":path") {
    request.path = text;
  } else if (key == ":authority") {
    request.authority = text;
  } else if (key == ":protocol") {
    request.protocol = text;
  } else if (key == ":scheme" || key[0] == ':') {
    // The scheme is the listener's; nghttp2 refuses unknown pseudo-fields.
  } else if (key == "host") {
    request.host = text;
  } else if (key == "cookie") {
    // RFC 9113 8.2.3: split cookies are joined again for HTTP/1.1.
    if (!request.cookie.empty()) request.cookie += "; ";
    request.cookie += text;
  } else if (!connectionSpecific(key)) {
    if (key == "content-length") request.has_content_length = true;
    std::string& fields = request.fields;
    fields.append(key);
    fields.append(": ");
    fields.append(text);
    fields.append("\r\n");
  }
  return 0;
}

int H2Connection::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto* connection = static_cast<H2Connection*>(self);
  if (connection->dead_) return 0;
  int64_t now = connection->worker_->loop().now();
  H2FloodGuard::Verdict verdict = H2FloodGuard::Verdict::kAllow;
  auto* stream = static_cast<H2Stream*>(
      nghttp2_session_get_stream_user_data(connection->session_, frame->hd.stream_id));
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      if (stream == nullptr) break;
      if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        stream->request_ended_ = end_stream;
        connection->startStream(stream, end_stream);
      } else if (end_stream) {
        connection->endBody(stream);  // after trailers
      }
      break;
    case NGHTTP2_DATA:
      if (frame->hd.length == 0 && !end_stream) {
        verdict = connection->guard_.note(H2FloodGuard::Frame::kEmptyData, now);
      }
      if (stream != nullptr && end_stream) connection->endBody(stream);
      break;
    case NGHTTP2_RST_STREAM:
      verdict = connection->guard_.note(H2FloodGuard::Frame::kReset, now);
      break;
    case NGHTTP2_SETTINGS:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
        verdict = connection->guard_.note(H2FloodGuard::Frame::kSettings, now);
      }
      break;
    case NGHTTP2_PING:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
        verdict = connection->guard_.note(H2FloodGuard::Frame::kPing, now);
      }
      break;
    default:
      break;
  }
  if (verdict != H2FloodGuard::Verdict::kAllow) connection->cutOff(verdict);
  return 0;
}

int H2Connection::onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto* connection = static_cast<H2Connection*>(self);
  if (frame->hd.type == NGHTTP2_RST_STREAM &&
      frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM) {
    connection->worker_->stats().h2_refused_streams.inc();
  }
  // The whole response went before the whole request (a 401 or 413 to an
  // upload): RST_STREAM(NO_ERROR) tells the client to stop sending (RFC
  // 9113 8.1) instead of holding a stream slot while it uploads for nothing.
  // Only now: queued earlier, it would overtake the response's DATA.
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (end_stream && (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS)) {
    auto* stream = static_cast<H2Stream*>(
        nghttp2_session_get_stream_user_data(connection->session_, frame->hd.stream_id));
    if (stream != nullptr && !stream->request_ended_) {
      stream->request_ended_ = stream->request_cut_short_ = true;
      nghttp2_submit_rst_stream(connection->session_, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                NGHTTP2_NO_ERROR);
    }
  }
  return 0;
}

int H2Connection::onDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                              size_t length, void* self) {
  auto* connection = static_cast<H2Connection*>(self);
  auto* stream =
      static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(connection->session_, stream_id));
  if (stream == nullptr || stream->pipe_ == nullptr) {
    // Answered locally (431), or gone: the payload is dropped, the window given back.
    nghttp2_session_consume(connection->session_, stream_id, length);
    return 0;
  }
  connection->appendBody(stream, data, length);
  return 0;
}

int H2Connection::onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t, void* self) {
  auto* connection = static_cast<H2Connection*>(self);
  auto* stream =
      static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(connection->session_, stream_id));
  if (stream != nullptr) connection->retire(stream);
  return 0;
}

ssize_t H2Connection::readBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                               uint32_t* data_flags, nghttp2_data_source* source, void* self) {
  auto* connection = static_cast<H2Connection*>(self);
  auto* stream = static_cast<H2Stream*>(source->ptr);
  size_t available = stream->body_.size() - stream->body_offset_;
  size_t n = std::min(length, available);
  if (n > 0) std::memcpy(buf, stream->body_.data() + stream->body_offset_, n);
  stream->body_offset_ += n;
  if (stream->body_offset_ == stream->body_.size()) {
    stream->body_.clear();
    stream->body_offset_ = 0;
  }
  if (stream->body_.empty() && stream->body_done_) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!stream->trailers_.empty()) {
      // The chunked body's trailer fields end the stream instead (HEADERS).
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      std::vector<nghttp2_nv> nva;
      nva.reserve(stream->trailers_.size());
      for (const auto& [name, value] : stream->trailers_) nva.push_back(field(name, value));
      nghttp2_submit_trailer(connection->session_, stream->id_, nva.data(), nva.size());
    }
    return static_cast<ssize_t>(n);
  }
  // Room again: the response side is read once nghttp2 is done sending.
  if (stream->readable_ && stream->body_.size() < kStreamBufferBytes) {
    connection->wake_.push_back(stream->id_);
  }
  if (n == 0) return NGHTTP2_ERR_DEFERRED;
  return static_cast<ssize_t>(n);
}

// ---------------------------------------------------------------------------
// Streams: the HTTP/1.1 side.

void H2Connection::startStream(H2Stream* stream, bool end_stream) {
  if (stream->header_overflow_) {
    replyLocally(stream, 431);
    return;
  }
  const H2Request& request = request_scratch_;
  const bool websocket = request.method == "CONNECT" && request.protocol == "websocket";
  if (request.method == "CONNECT" && !websocket) {
    replyLocally(stream, 501);  // a plain CONNECT (a proxy tunnel), or another :protocol
    return;
  }
  worker_->stats().h2_streams.inc();
  // Like each HTTP/1.1 request, each stream starts on the worker's current
  // generation: after a reload, the listener's index in the new snapshot.
  if (owner_->gen_ != &worker_->current()) owner_->repin();
  listener_ = owner_->listener_;
  stream->head_request_ = request.method == "HEAD";
  // A WebSocket's Session ends with its tunnel: never a parked one.
  StreamPipe* parked = websocket ? nullptr : takeParked(stream);
  stream->pipe_ = parked != nullptr ? parked : new StreamPipe(&worker_->loop(), stream);
  if (websocket) {
    unsigned char nonce[16];
    if (RAND_bytes(nonce, sizeof(nonce)) != 1) std::memset(nonce, 0x5a, sizeof(nonce));
    stream->websocket_ = stream->pipe_->websocket = true;
    stream->pipe_->request_ended = end_stream;
    stream->pipe_->request = http11WebsocketHead(request, websocketKey(nonce));
  } else {
    // Into the pipe's own buffer (empty: a new pipe, or a parked one whose
    // Session took its last request whole), kept from stream to stream.
    appendHttp11Head(request, end_stream, &stream->chunked_, &stream->pipe_->request);
  }
  stream->request_ended_ = end_stream;
  if (parked != nullptr) {
    parked->wakeSession();  // its Session reads the next request, as on a keep-alive connection
    return;
  }
  worker_->stats().h2_stream_sessions.inc();
  worker_->startStreamSession(stream->pipe_, peer_, listener_, owner_->peer_certificate_.get());
}

StreamPipe* H2Connection::takeParked(H2Stream* stream) {
  while (!parked_.empty()) {
    StreamPipe* pipe = parked_.back();
    parked_.pop_back();
    if (pipe->reusable()) {
      pipe->attachStream(stream);
      return pipe;
    }
    StreamPipe::detachStream(pipe);  // its Session is closing, or gone
  }
  return nullptr;
}

void H2Connection::parkIfDone(H2Stream* stream) {
  StreamPipe* pipe = stream->pipe_;
  // Only a whole exchange: the client's whole request (its END_STREAM,
  // every byte taken by the Session) and the Session's whole response.
  if (pipe == nullptr || stream->websocket_ || !stream->body_done_ || !stream->request_ended_ ||
      stream->request_cut_short_ || !stream->raw_.empty() ||
      stream->framing_ == http::BodyFraming::kUntilClose || !pipe->request.empty()) {
    return;
  }
  stream->pipe_ = nullptr;
  giveBackWindow(stream);
  if (dead_ || finishing_ || parked_.size() >= kParkedSessions || !pipe->reusable()) {
    StreamPipe::detachStream(pipe);
    return;
  }
  // The response buffer goes back with the pipe (readInner took it whole):
  // the Session's next response is written without allocating.
  if (pipe->response.empty() && pipe->response.capacity() < stream->raw_.capacity()) {
    pipe->response.swap(stream->raw_);
  }
  pipe->park(&keeper_);
  parked_.push_back(pipe);
}

void H2Connection::pruneParked() {
  for (size_t i = 0; i < parked_.size();) {
    if (parked_[i]->sessionGone()) {
      StreamPipe::detachStream(parked_[i]);  // the last side: frees it
      parked_[i] = parked_.back();
      parked_.pop_back();
    } else {
      ++i;
    }
  }
}

void H2Connection::releaseParked() {
  for (StreamPipe* pipe : parked_) StreamPipe::detachStream(pipe);
  parked_.clear();
}

void H2Connection::replyLocally(H2Stream* stream, uint16_t status) {
  std::string code = std::to_string(status);
  nghttp2_nv nva[] = {field(":status", code), field("content-length", "0")};
  nghttp2_submit_response(session_, stream->id_, nva, std::size(nva), nullptr);
}

void H2Connection::appendBody(H2Stream* stream, const uint8_t* data, size_t length) {
  if (length == 0) return;
  stream->unconsumed_ += length;
  if (stream->pipe_->sessionGone()) {
    // The Session ended (a local reply with Connection: close, a drop):
    // the rest of the body is not wanted; its window goes back at once.
    giveBackWindow(stream);
    return;
  }
  std::string& request = stream->pipe_->request;
  if (stream->chunked_) {
    char size[24];
    int n = std::snprintf(size, sizeof(size), "%zx\r\n", length);
    request.append(size, static_cast<size_t>(n));
  }
  request.append(view(data, length));
  if (stream->chunked_) request += "\r\n";
  stream->pipe_->streamAwaitsTaken();
  stream->pipe_->wakeSession();
}

void H2Connection::endBody(H2Stream* stream) {
  if (stream->request_ended_) return;
  stream->request_ended_ = true;
  if (stream->pipe_ == nullptr || stream->pipe_->sessionGone()) return;
  if (stream->websocket_) {  // the client's half-close: the Session sees a FIN
    stream->pipe_->request_ended = true;
    stream->pipe_->wakeSession();
    return;
  }
  if (stream->chunked_) {
    stream->pipe_->request += "0\r\n\r\n";
    stream->pipe_->streamAwaitsTaken();
    stream->pipe_->wakeSession();
  }
  parkIfDone(stream);
}

// Flow control: the window reopens only for payload the Session has taken.
void H2Connection::giveBackWindow(H2Stream* stream) {
  if (stream->unconsumed_ == 0) return;
  if (stream->pipe_ != nullptr && !stream->pipe_->sessionGone() &&
      !stream->pipe_->request.empty()) {
    return;
  }
  nghttp2_session_consume(session_, stream->id_, stream->unconsumed_);
  stream->unconsumed_ = 0;
}

void H2Connection::onStreamEvents(H2Stream* stream, uint32_t events) {
  if (dead_) return;
  if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
    giveBackWindow(stream);
    parkIfDone(stream);  // the Session took the request's last bytes after answering
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    stream->readable_ = true;
    readInner(stream);
  }
  if (dead_) return;
  // The frames go out once, after every stream with news this turn has
  // queued its own: one write to the client for all of them.
  if (!flush_pending_) {
    flush_pending_ = true;
    worker_->loop().notify(owner_, 0);
  }
}

void H2Connection::wakeStreams() {
  for (size_t round = 0; round < 4 && !wake_.empty(); ++round) {
    std::vector<int32_t> ids;
    ids.swap(wake_);
    for (int32_t id : ids) {
      auto* stream = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session_, id));
      if (stream != nullptr && !stream->retired_) readInner(stream);
    }
  }
}

void H2Connection::readInner(H2Stream* stream) {
  if (stream->pipe_ == nullptr) return;
  std::string& bytes = stream->pipe_->response;
  while (stream->readable_ && !stream->inner_eof_ && stream->body_.size() < kStreamBufferBytes) {
    // The head first: every byte in `bytes` came after it.
    if (stream->pipe_->head.ready && !stream->head_done_) {
      if (!takePipedHead(stream)) return;
      continue;
    }
    if (!bytes.empty()) {
      if (stream->raw_.empty()) {
        stream->raw_.swap(bytes);
      } else {
        stream->raw_.append(bytes);
        bytes.clear();
      }
      stream->pipe_->wakeSessionWritable();  // room again on its side
      if (!takeResponse(stream)) return;
      continue;
    }
    if (stream->pipe_->responseEnded()) {
      stream->inner_eof_ = true;
    } else {
      stream->readable_ = false;
    }
  }
  if (!takeResponse(stream)) return;
  if (stream->inner_eof_ && !stream->body_done_) {
    if (stream->head_done_ && stream->framing_ == http::BodyFraming::kUntilClose) {
      stream->body_done_ = true;
      nghttp2_session_resume_data(session_, stream->id_);
    } else {
      // The Session closed without a (whole) response: a limit's drop, or
      // a truncated upstream body. The client must not take it as complete.
      resetStream(stream, NGHTTP2_INTERNAL_ERROR);
      return;
    }
  }
  parkIfDone(stream);
}

// Sends the head nva_scratch_ holds, framing_ set: with a body to follow
// (DATA frames from readBody) or, bodiless, ending the stream.
void H2Connection::submitHead(H2Stream* stream, uint64_t content_length) {
  std::vector<nghttp2_nv>& nva = nva_scratch_;
  stream->head_done_ = true;
  stream->remaining_ = content_length;
  if (stream->framing_ == http::BodyFraming::kChunked) stream->chunk_tail_ = "\r\n";
  bool body = stream->framing_ != http::BodyFraming::kNone &&
              !(stream->framing_ == http::BodyFraming::kContentLength && content_length == 0);
  if (!body) {
    stream->body_done_ = true;
    nghttp2_submit_response(session_, stream->id_, nva.data(), nva.size(), nullptr);
  } else {
    nghttp2_data_provider provider;
    provider.source.ptr = stream;
    provider.read_callback = readBody;
    nghttp2_submit_response(session_, stream->id_, nva.data(), nva.size(), &provider);
  }
}

// The head the Session handed over as fields (StreamPipe::head): sent as
// it is, with the framing parseResponseHead would have found in its bytes.
bool H2Connection::takePipedHead(H2Stream* stream) {
  PipedResponseHead& head = stream->pipe_->head;
  head.ready = false;
  if (stream->body_done_) return true;  // answered or reset already: not wanted
  // What came before it can only be interim heads (100 Continue): taken first.
  if (!takeResponse(stream)) return false;
  if (!stream->raw_.empty() || stream->head_done_ || head.status < 200) {
    resetStream(stream, NGHTTP2_INTERNAL_ERROR);
    return false;
  }
  stream->framing_ = http::responseFraming(stream->head_request_, head.status, head.chunked,
                                           head.has_content_length);
  if (stream->websocket_ && !openTunnel(stream, head.status)) return false;
  char status[4];
  std::to_chars(status, status + sizeof(status), head.status);
  std::vector<nghttp2_nv>& nva = nva_scratch_;
  nva.clear();
  nva.push_back(field(":status", std::string_view(status, 3)));
  for (const PipedResponseHead::Field& piped : head.fields) {
    std::string_view name = head.name(piped);
    nva.push_back(field(name, head.value(piped), indexing(name)));
  }
  submitHead(stream, head.content_length);
  return true;
}

// Moves what raw_ holds into the response: the head (once), then payload.
bool H2Connection::takeResponse(H2Stream* stream) {
  if (stream->body_done_) {
    stream->raw_.clear();
    return true;
  }
  while (!stream->head_done_) {
    const config::Snapshot& snapshot = owner_->pinnedSnapshot();
    http::ResponseHead& head = head_scratch_;
    http::ParseOutcome outcome =
        http::parseResponseHead(stream->raw_, snapshot.http.limits, stream->head_request_, head);
    if (outcome.state == http::ParseOutcome::State::kNeedMore) return true;
    if (outcome.state == http::ParseOutcome::State::kError) {
      resetStream(stream, NGHTTP2_INTERNAL_ERROR);
      return false;
    }
    stream->framing_ = head.framing;
    if (stream->websocket_ && !openTunnel(stream, head.status)) return false;
    if (head.status < 200 && !stream->websocket_) {  // interim (100 Continue): not needed in HTTP/2
      stream->raw_.erase(0, outcome.consumed);
      continue;
    }
    char status[4];
    // An RFC 8441 tunnel opens with 200 where HTTP/1.1 said 101.
    std::to_chars(status, status + sizeof(status), stream->websocket_ ? 200 : head.status);
    std::vector<nghttp2_nv>& nva = nva_scratch_;
    nva.clear();
    nva.push_back(field(":status", std::string_view(status, 3)));
    for (const http::Header& header : head.headers) {
      if (connectionSpecific(header.name)) continue;
      // The key's proof belongs to the HTTP/1.1 handshake (RFC 8441 5).
      if (stream->websocket_ && http::equalsIgnoreCase(header.name, "sec-websocket-accept")) {
        continue;
      }
      // HTTP/2 field names are lower case (RFC 9113 8.2.1): lowered where
      // they lie, in raw_ (ours, and dropped once the head is taken).
      http::lowercaseInPlace(stream->raw_.data() + (header.name.data() - stream->raw_.data()),
                             header.name.size());
      nva.push_back(field(header.name, header.value, indexing(header.name)));
    }
    submitHead(stream, head.content_length);
    stream->raw_.erase(0, outcome.consumed);
  }
  if (stream->body_done_) {
    stream->raw_.clear();
    return true;
  }
  size_t before = stream->body_.size();
  switch (stream->framing_) {
    case http::BodyFraming::kContentLength: {
      size_t n = static_cast<size_t>(std::min<uint64_t>(stream->remaining_, stream->raw_.size()));
      stream->body_.append(stream->raw_, 0, n);
      stream->raw_.erase(0, n);
      stream->remaining_ -= n;
      if (stream->remaining_ == 0) stream->body_done_ = true;
      break;
    }
    case http::BodyFraming::kChunked: {
      http::ChunkedDecoder::Progress progress = stream->chunks_.feed(stream->raw_, &stream->body_);
      if (progress.error != http::ParseError::kNone) {
        resetStream(stream, NGHTTP2_INTERNAL_ERROR);
        return false;
      }
      // Trailer fields (RFC 9112 7.1.2) become HTTP/2 trailers: the raw
      // framing's tail is kept (bounded by the head limit) until the end.
      stream->chunk_tail_.append(stream->raw_, 0, progress.consumed);
      const size_t keep = max_header_bytes_ + 16;
      if (stream->chunk_tail_.size() > 2 * keep) {
        stream->chunk_tail_.erase(0, stream->chunk_tail_.size() - keep);
      }
      stream->raw_.erase(0, progress.consumed);
      if (progress.done) {
        stream->body_done_ = true;
        stream->trailers_ = chunkedTrailers(stream->chunk_tail_);
        std::string().swap(stream->chunk_tail_);
      }
      break;
    }
    case http::BodyFraming::kUntilClose:
      stream->body_.append(stream->raw_);
      stream->raw_.clear();
      break;
    case http::BodyFraming::kNone:
      break;
  }
  if (stream->body_.size() != before || stream->body_done_) {
    nghttp2_session_resume_data(session_, stream->id_);
  }
  return true;
}

// A WebSocket stream's response head: a 101 opens the tunnel (its bytes
// then go as DATA until either side ends), any other status is relayed as
// the refusal it is, except a 2xx or 1xx, which an HTTP/2 client would take
// for an open tunnel: 502. False when the stream was answered here.
bool H2Connection::openTunnel(H2Stream* stream, uint16_t status) {
  if (status == 101) {
    stream->framing_ = http::BodyFraming::kUntilClose;
    return true;
  }
  if (status >= 300) {
    stream->websocket_ = false;  // an ordinary response from here on
    return true;
  }
  replyLocally(stream, 502);
  stream->dropPipe();
  stream->body_done_ = true;
  return false;
}

void H2Connection::resetStream(H2Stream* stream, uint32_t error_code) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream->id_, error_code);
  // No more of its response is wanted: the Session sees its client leave.
  stream->dropPipe();
  stream->body_done_ = true;
}

void H2Connection::retire(H2Stream* stream) {
  if (stream->retired_) return;
  stream->retired_ = true;
  if (session_ != nullptr && !dead_) {
    nghttp2_session_set_stream_user_data(session_, stream->id_, nullptr);
  }
  parkIfDone(stream);
  stream->dropPipe();
  live_.erase(std::find(live_.begin(), live_.end(), stream));
  worker_->loop().deferDelete(stream);
}

}  // namespace rampart::proxy
