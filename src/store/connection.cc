#include "store/connection.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "net/socket.h"

namespace rampart::store {

Connection::Connection(core::EventLoop& loop, net::SocketAddress address, std::string name,
                       const ConnectionOptions& options)
    : loop_(loop), address_(address), name_(std::move(name)), options_(options) {}

Connection::~Connection() {
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
  if (connected_) flush();
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
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    readAll();
    if (fd_ < 0) return;
  }
  if (connected_) flush();
}

void Connection::flush() {
  while (out_offset_ < out_.size()) {
    ssize_t n = ::send(fd_, out_.data() + out_offset_, out_.size() - out_offset_, MSG_NOSIGNAL);
    if (n > 0) {
      out_offset_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // EPOLLOUT resumes
    fail(std::string("send: ") + strerror(errno));
    return;
  }
  out_.clear();
  out_offset_ = 0;
}

void Connection::readAll() {
  char buffer[16384];
  for (;;) {
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
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
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    fail(n == 0 ? "closed by the server" : std::string("recv: ") + strerror(errno));
    return;
  }
}

}  // namespace rampart::store
