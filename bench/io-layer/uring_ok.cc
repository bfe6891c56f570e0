// Minimal HTTP/1.1 keep-alive responder on io_uring (liburing), one ring,
// one thread: a multishot accept, then per connection one recv or one send
// in flight at a time (recv -> send of every complete head -> recv). All the
// operations of a loop iteration are submitted, and all completions reaped,
// by one io_uring_enter (io_uring_submit_and_wait). The ring is set up with
// SINGLE_ISSUER|DEFER_TASKRUN when the kernel has them.
//
//   uring_ok [port]      SIGTERM prints requests=N allocations=M and exits.
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "common.h"

namespace {

enum Tag : uintptr_t { kRecv = 0, kSend = 1, kAccept = 2 };

struct alignas(8) Conn {
  explicit Conn(int f) : fd(f) {}
  int fd;
  size_t have = 0;     // bytes of input in buf
  size_t pending = 0;  // responses owed
  size_t sent = 0;     // bytes of the current batch already sent
  size_t batch = 0;    // size of the current batch in bytes
  char buf[bench::kBufSize];
};

io_uring ring;

io_uring_sqe* sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring);
  if (!s) {  // SQ full: hand what we have to the kernel and retry
    io_uring_submit(&ring);
    s = io_uring_get_sqe(&ring);
  }
  return s;
}

void arm_accept(int lfd) {
  io_uring_sqe* s = sqe();
  io_uring_prep_multishot_accept(s, lfd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, kAccept);
}

void arm_recv(Conn* c) {
  io_uring_sqe* s = sqe();
  io_uring_prep_recv(s, c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
  io_uring_sqe_set_data64(s, reinterpret_cast<uintptr_t>(c) | kRecv);
}

void arm_send(Conn* c) {
  if (c->sent == 0) {
    size_t k = c->pending < bench::kBatch ? c->pending : bench::kBatch;
    c->batch = k * bench::kResponseLen;
  }
  io_uring_sqe* s = sqe();
  io_uring_prep_send(s, c->fd, bench::canned.data + c->sent, c->batch - c->sent, 0);
  io_uring_sqe_set_data64(s, reinterpret_cast<uintptr_t>(c) | kSend);
}

void close_conn(Conn* c) {
  ::close(c->fd);
  delete c;
}

void on_recv(Conn* c, int res) {
  if (res <= 0) return close_conn(c);
  c->have += res;
  size_t used;
  size_t heads = bench::count_heads(c->buf, c->have, &used);
  if (used) {
    c->have -= used;
    if (c->have) memmove(c->buf, c->buf + used, c->have);
  }
  if (heads) {
    c->pending += heads;
    arm_send(c);
  } else if (c->have == sizeof c->buf) {
    close_conn(c);  // head larger than the buffer
  } else {
    arm_recv(c);
  }
}

void on_send(Conn* c, int res) {
  if (res < 0) return close_conn(c);
  c->sent += res;
  if (c->sent == c->batch) {
    c->pending -= c->batch / bench::kResponseLen;
    c->sent = 0;
  }
  if (c->pending)
    arm_send(c);
  else
    arm_recv(c);
}

}  // namespace

int main(int argc, char** argv) {
  bench::install_report_handler();
  int port = bench::port_arg(argc, argv);

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

  const unsigned flag_sets[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                                IORING_SETUP_COOP_TASKRUN, 0};
  int rc = -1;
  for (unsigned flags : flag_sets) {
    rc = io_uring_queue_init(1024, &ring, flags);
    if (rc == 0) break;
  }
  if (rc < 0) {
    std::fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
    return 1;
  }

  arm_accept(lfd);
  for (;;) {
    int r = io_uring_submit_and_wait(&ring, 1);
    if (r < 0 && r != -EINTR) {
      std::fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-r));
      return 1;
    }
    unsigned head, seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      uintptr_t ud = io_uring_cqe_get_data64(cqe);
      int res = cqe->res;
      if (ud == kAccept) {
        if (res >= 0) {
          setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          arm_recv(new Conn(res));
        }
        if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept(lfd);
        continue;
      }
      Conn* c = reinterpret_cast<Conn*>(ud & ~uintptr_t{7});
      if ((ud & 7) == kRecv)
        on_recv(c, res);
      else
        on_send(c, res);
    }
    io_uring_cq_advance(&ring, seen);
  }
}
