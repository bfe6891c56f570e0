#include "store/connection.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "net/socket.h"

namespace rampart::store {

Connection::Connection(core::EventLoop& loop, net::SocketAddress address, std::string name,
                       const ConnectionOptions& options)
    : loop_(loop), address_(address), name_(std::move(name)), options_(options) {}

Connection::~Connection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) {
    loop_.remove(fd_);
    ::close(fd_);
  }
}

bool Connection::start(FailHandler on_fail) {
  started_ = true;
  on_fail_ = std::move(on_fail);
  fd_ = net::connectNonBlocking(address_);
  if (fd_ < 0) return false;
  net::setNoDelay(fd_);
  if (!loop_.addEdgeTriggered(fd_, this)) {
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  if (!options_.password.empty()) {
    // First on the wire, so every later command runs authenticated; a refused
    // AUTH fails the connection (see the callback) rather than each command.
    std::vector<std::string_view> args{"AUTH"};
    if (!options_.username.empty()) args.push_back(options_.username);
    args.push_back(options_.password);
    send(args, [this](const Reply* reply) {
      if (reply != nullptr && reply->isError()) fail("AUTH refused: " + reply->str);
    });
  }
  return true;
}

void Connection::send(const std::vector<std::string_view>& args, Callback done) {
  if (fd_ < 0) {
    if (done) done(nullptr);
    return;
  }
  appendCommand(out_, args);
  pending_.push_back({std::move(done), loop_.now() + options_.timeout});
  ++commands_;
  if (connected()) flush();
}

void Connection::expire(core::Millis now) {
  if (fd_ < 0 || pending_.empty()) return;
  // Answers come in order, so only the oldest can be the first overdue; one
  // overdue answer means the node or the path to it is stuck: give up on it.
  if (pending_.front().deadline <= now) {
    fail(connected_ ? "no answer within the store timeout" : "connect timed out");
  }
}

void Connection::fail(const std::string& why) {
  if (fd_ < 0) return;
  loop_.remove(fd_);
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  ::close(fd_);
  fd_ = -1;
  connected_ = false;
  std::deque<Pending> pending;
  pending.swap(pending_);
  for (Pending& p : pending) {
    if (p.done) p.done(nullptr);
  }
  if (on_fail_) {
    FailHandler handler = std::move(on_fail_);
    handler(why);  // may destroy this connection: nothing after this
  }
}

void Connection::onEvents(uint32_t events) {
  if (fd_ < 0) return;
  if (!connected_ && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
    int error = net::pendingConnectError(fd_);
    if (error != 0) {
      fail(std::string("connect: ") + strerror(error));
      return;
    }
    connected_ = true;
    if (options_.tls != nullptr && !startTls()) return;
  }
  if (!connected_) return;
  if (ssl_ != nullptr && !handshaken_) {
    // Edge-triggered: every event retries the handshake until it is done.
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_);
    if (rc != 1) {
      int error = SSL_get_error(ssl_, rc);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return;
      char text[256] = "closed during the handshake";
      if (unsigned long code = ERR_get_error()) ERR_error_string_n(code, text, sizeof(text));
      fail(std::string("TLS handshake: ") + text);
      return;
    }
    handshaken_ = true;
  }
  readAll();
  if (fd_ < 0) return;
  flush();
}

bool Connection::startTls() {
  ssl_ = SSL_new(options_.tls);
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
    fail("TLS: cannot create a session");
    return false;
  }
  SSL_set_connect_state(ssl_);
  if (!options_.server_name.empty()) {
    SSL_set_tlsext_host_name(ssl_, options_.server_name.c_str());
    SSL_set1_host(ssl_, options_.server_name.c_str());
  } else {
    // No name: the certificate must name the IP address we connected to.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), address_.ipString().c_str());
  }
  return true;
}

ssize_t Connection::readSome(char* buffer, size_t size, bool* again) {
  *again = false;
  if (ssl_ == nullptr) {
    ssize_t n;
    do {
      n = ::recv(fd_, buffer, size, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) *again = true;
    return n;
  }
  ERR_clear_error();
  int n = SSL_read(ssl_, buffer, static_cast<int>(size));
  if (n > 0) return n;
  int error = SSL_get_error(ssl_, n);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    *again = true;
    return -1;
  }
  if (error == SSL_ERROR_ZERO_RETURN) return 0;
  errno = ECONNRESET;
  return -1;
}

ssize_t Connection::writeSome(const char* data, size_t size, bool* again) {
  *again = false;
  if (ssl_ == nullptr) {
    ssize_t n;
    do {
      n = ::send(fd_, data, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) *again = true;
    return n;
  }
  ERR_clear_error();
  int n = SSL_write(ssl_, data, static_cast<int>(size));
  if (n > 0) return n;
  int error = SSL_get_error(ssl_, n);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    *again = true;
    return -1;
  }
  errno = ECONNRESET;
  return -1;
}

void Connection::flush() {
  while (out_offset_ < out_.size()) {
    bool again = false;
    ssize_t n = writeSome(out_.data() + out_offset_, out_.size() - out_offset_, &again);
    if (n > 0) {
      out_offset_ += static_cast<size_t>(n);
      continue;
    }
    if (again) return;  // the next event resumes
    fail(std::string("send: ") + strerror(errno));
    return;
  }
  out_.clear();
  out_offset_ = 0;
}

void Connection::readAll() {
  char buffer[16384];
  for (;;) {
    bool again = false;
    ssize_t n = readSome(buffer, sizeof(buffer), &again);
    if (n > 0) {
      parser_.feed(buffer, static_cast<size_t>(n));
      Reply reply;
      for (;;) {
        ReplyParser::Status status = parser_.next(&reply);
        if (status == ReplyParser::Status::kIncomplete) break;
        if (status == ReplyParser::Status::kProtocolError) {
          fail("protocol error");
          return;
        }
        const bool is_push = push_ && reply.type == Reply::Type::kArray &&
                             !reply.elements.empty() && reply.elements[0].str == "message";
        if (is_push) {
          push_(reply);
        } else if (!pending_.empty()) {
          Pending p = std::move(pending_.front());
          pending_.pop_front();
          if (p.done) p.done(&reply);
        }
        if (fd_ < 0) return;  // a callback failed the connection
      }
      continue;
    }
    if (again) return;
    fail(n == 0 ? "closed by the server" : std::string("recv: ") + strerror(errno));
    return;
  }
}

}  // namespace rampart::store
