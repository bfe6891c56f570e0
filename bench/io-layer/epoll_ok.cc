// Minimal HTTP/1.1 keep-alive responder on raw edge-triggered epoll, the
// pattern Rampart's core/event_loop.h uses: every socket is registered once
// for EPOLLIN|EPOLLOUT|EPOLLET, reads go until a short read, the response is
// written directly (EPOLLOUT is only waited for when the kernel buffer is
// full), so a request costs one read + one write and no epoll_ctl.
//
//   epoll_ok [port]      SIGTERM prints requests=N allocations=M and exits.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common.h"

namespace {

struct Conn {
  explicit Conn(int f) : fd(f) {}
  int fd;
  size_t have = 0;     // bytes of input in buf
  size_t pending = 0;  // responses still owed (kernel buffer was full)
  size_t sent = 0;     // bytes of the current batch already written
  char buf[bench::kBufSize];
};

void close_conn(Conn* c) {
  ::close(c->fd);  // also removes it from the epoll set
  delete c;
}

// Writes what is owed; false on a fatal error. Stops quietly on EAGAIN: the
// next EPOLLOUT edge resumes it.
bool flush(Conn* c) {
  while (c->pending) {
    size_t k = c->pending < bench::kBatch ? c->pending : bench::kBatch;
    size_t len = k * bench::kResponseLen;
    ssize_t n = ::write(c->fd, bench::canned.data + c->sent, len - c->sent);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN;
    }
    c->sent += n;
    if (c->sent == len) {
      c->pending -= k;
      c->sent = 0;
    }
  }
  return true;
}

// Reads until a short read; answers every complete head. False: close.
bool on_readable(Conn* c) {
  for (;;) {
    size_t room = sizeof c->buf - c->have;
    if (room == 0) return false;  // head larger than the buffer
    ssize_t n = ::read(c->fd, c->buf + c->have, room);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN;
    }
    c->have += n;
    size_t used;
    size_t heads = bench::count_heads(c->buf, c->have, &used);
    if (used) {
      c->have -= used;
      if (c->have) memmove(c->buf, c->buf + used, c->have);
    }
    if (heads) {
      c->pending += heads;
      if (!flush(c)) return false;
    }
    if (static_cast<size_t>(n) < room) return true;  // short read: drained
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::install_report_handler();
  int port = bench::port_arg(argc, argv);

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || ::listen(lfd, 1024) < 0) {
    perror("bind/listen");
    return 1;
  }
  bench::announce_listening(port);

  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = nullptr;  // nullptr marks the listener
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

  epoll_event events[256];
  for (;;) {
    int n = ::epoll_wait(ep, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      Conn* c = static_cast<Conn*>(events[i].data.ptr);
      if (!c) {
        for (;;) {
          int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;  // EAGAIN: accept queue drained
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          Conn* nc = new Conn(fd);
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          cev.data.ptr = nc;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      uint32_t e = events[i].events;
      bool ok = !(e & EPOLLERR);
      if (ok && (e & EPOLLOUT) && c->pending) ok = flush(c);
      if (ok && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) ok = on_readable(c);
      if (!ok) close_conn(c);
    }
  }
}
