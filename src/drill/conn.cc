#include "drill/conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "net/socket.h"

namespace rampart::drill {

int64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The epoll handler of one socket. Detached (conn_ = nullptr) when the socket
// closes and deleted after the batch, so late events of the batch are dropped.
class Wire : public core::EventHandler, public core::Deferred {
 public:
  Wire(int fd, Conn* conn) : fd_(fd), conn_(conn) {}
  void onEvents(uint32_t events) override {
    if (conn_ != nullptr) conn_->onWireEvents(events);
  }
  int fd_;
  Conn* conn_;
};

namespace {
constexpr size_t kMaxResponseHead = 64 * 1024;
}

Conn::Conn(core::EventLoop* loop, ConnOwner* owner, size_t buffer_bytes, core::Millis timeout_ms)
    : loop_(loop),
      owner_(owner),
      timeout_ms_(timeout_ms),
      in_(buffer_bytes),
      max_buffer_(std::max(buffer_bytes, kMaxResponseHead)) {
  head_.headers.reserve(32);
}

Conn::~Conn() {
  close();
}

bool Conn::open(const net::SocketAddress& target, const net::SocketAddress* source,
                bool reset_on_close) {
  close();
  int fd = socket(target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  if (source != nullptr) {
    // The port is chosen at connect(), per 4-tuple: thousands of connections
    // per source address without exhausting the ephemeral range at bind().
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(fd, source->sockaddrPtr(), source->length()) != 0) {
      int saved = errno;
      ::close(fd);
      errno = saved;
      return false;
    }
  }
  if (reset_on_close) {
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, target.sockaddrPtr(), target.length()) != 0 && errno != EINPROGRESS) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return false;
  }
  wire_ = new Wire(fd, this);
  loop_->addEdgeTriggered(fd, wire_);
  connecting_ = true;
  in_flight_ = false;
  got_bytes_ = false;
  pending_ = {};
  in_.clear();
  body_ = Body::kHead;
  opened_at_ns_ = nowNs();
  if (timeout_ms_ > 0) loop_->arm(this, timeout_ms_);
  return true;
}

void Conn::close() {
  if (wire_ == nullptr) return;
  loop_->timers().cancel(this);
  loop_->remove(wire_->fd_);
  ::close(wire_->fd_);
  wire_->conn_ = nullptr;
  loop_->deferDelete(wire_);
  wire_ = nullptr;
  connecting_ = false;
  in_flight_ = false;
  pending_ = {};
}

void Conn::fail(CloseReason reason) {
  close();
  owner_->onClosed(this, reason);
}

void Conn::send(std::string_view request) {
  in_flight_ = true;
  got_bytes_ = false;
  body_ = Body::kHead;
  pending_ = request;
  if (timeout_ms_ > 0) loop_->arm(this, timeout_ms_);
  writePending();
}

void Conn::sendPartial(std::string_view bytes) {
  in_flight_ = true;
  pending_ = bytes;
  writePending();
}

void Conn::writePending() {
  if (connecting_ || wire_ == nullptr) return;
  while (!pending_.empty()) {
    ssize_t n = ::send(wire_->fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL);
    if (n > 0) {
      pending_.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // next EPOLLOUT edge
    fail(CloseReason::kReset);
    return;
  }
}

void Conn::onTimeout() {
  if (connecting_) {
    fail(CloseReason::kConnectTimeout);
  } else if (in_flight_ && timeout_ms_ > 0) {
    fail(CloseReason::kTimeout);
  }
}

void Conn::onWireEvents(uint32_t events) {
  if (connecting_) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    int err = net::pendingConnectError(wire_->fd_);
    if (err != 0) {
      fail(err == ECONNREFUSED ? CloseReason::kConnectRefused : CloseReason::kConnectFailed);
      return;
    }
    connecting_ = false;
    loop_->timers().cancel(this);
    Wire* wire = wire_;
    owner_->onConnected(this);
    if (wire_ != wire) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    Wire* wire = wire_;
    readAvailable();
    if (wire_ != wire) return;
  }
  if ((events & EPOLLOUT) && !pending_.empty()) writePending();
}

void Conn::readAvailable() {
  while (wire_ != nullptr) {
    if (in_.writable() == 0) {
      in_.makeRoom();
      if (in_.writable() == 0) {
        if (in_.capacity() >= max_buffer_) {
          fail(CloseReason::kBadResponse);
          return;
        }
        in_.reserve(std::min(in_.capacity() * 2, max_buffer_));
      }
    }
    ssize_t n = ::read(wire_->fd_, in_.writePtr(), in_.writable());
    if (n > 0) {
      in_.produce(static_cast<size_t>(n));
      got_bytes_ = true;
      if (!parse()) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    // EOF or an error.
    if (n == 0 && body_ == Body::kUntilClose) {
      completeResponse();
      if (wire_ == nullptr) return;
    }
    bool reset = n < 0 && (errno == ECONNRESET || errno == EPIPE);
    if (!in_flight_) {
      fail(reset ? CloseReason::kReset : CloseReason::kEofIdle);
    } else {
      fail(reset ? CloseReason::kReset : CloseReason::kEofInFlight);
    }
    return;
  }
}

bool Conn::parse() {
  Wire* wire = wire_;
  while (wire_ == wire && !in_.empty()) {
    switch (body_) {
      case Body::kHead: {
        http::Limits limits;
        limits.max_head_bytes = kMaxResponseHead;
        http::ParseOutcome outcome = http::parseResponseHead(in_.readable(), limits, false, head_);
        if (outcome.state == http::ParseOutcome::State::kNeedMore) return true;
        if (outcome.state == http::ParseOutcome::State::kError) {
          fail(CloseReason::kBadResponse);
          return false;
        }
        in_.consume(outcome.consumed);
        status_ = head_.status;
        keep_alive_ = head_.keep_alive;
        if (status_ >= 100 && status_ < 200 && status_ != 101) continue;  // interim
        switch (head_.framing) {
          case http::BodyFraming::kNone:
            completeResponse();
            break;
          case http::BodyFraming::kContentLength:
            body_remaining_ = head_.content_length;
            body_ = Body::kLength;
            if (body_remaining_ == 0) completeResponse();
            break;
          case http::BodyFraming::kChunked:
            chunked_.reset();
            body_ = Body::kChunked;
            break;
          case http::BodyFraming::kUntilClose:
            body_ = Body::kUntilClose;
            break;
        }
        break;
      }
      case Body::kLength: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(body_remaining_, in_.size()));
        in_.consume(take);
        body_remaining_ -= take;
        if (body_remaining_ == 0) completeResponse();
        break;
      }
      case Body::kChunked: {
        http::ChunkedDecoder::Progress progress = chunked_.feed(in_.readable());
        in_.consume(progress.consumed);
        if (progress.error != http::ParseError::kNone) {
          fail(CloseReason::kBadResponse);
          return false;
        }
        if (progress.done) {
          completeResponse();
        } else if (progress.consumed == 0) {
          return true;
        }
        break;
      }
      case Body::kUntilClose:
        in_.clear();
        return true;
    }
  }
  return wire_ == wire;
}

void Conn::completeResponse() {
  body_ = Body::kHead;
  in_flight_ = false;
  got_bytes_ = false;
  loop_->timers().cancel(this);
  uint16_t status = status_;
  bool keep_alive = keep_alive_;
  // Closed before the callback, so the owner sees it cannot send on it.
  if (!keep_alive) close();
  owner_->onResponse(this, status);
  if (!keep_alive && wire_ == nullptr) owner_->onClosed(this, CloseReason::kEofIdle);
}

}  // namespace rampart::drill
