// New TLS 1.3 connections as fast as one thread can make them: the load of
// bench/proxy's "handshake" measure (bench/README.md).
//
//   handshake HOST PORT CONNECTIONS SECONDS [SNI]
//
// CONNECTIONS connections are kept open at once; each one does a full TLS 1.3
// handshake, sends `GET / HTTP/1.1` with `Connection: close`, reads the answer
// until the server closes, and is replaced by a new one. It never offers a
// session (a fresh SSL per connection, no client session cache), so no
// handshake can resume: wrk, which keeps its SSL across reconnects, resumes
// with the ticket of the connection before. Resumptions are counted anyway,
// so the report can show they are zero. The certificate is not verified
// (the server's CertificateVerify signature still is, as in any TLS 1.3
// client). Prints one line of key=value when SECONDS are over:
//
//   connections=N handshakes=H resumed=R ok=K errors=E seconds=S p50_us=.. p99_us=..
//
// `connections`: completed (handshake, a 200 answer, the server's close);
// `ok` of which answered 200; p50/p99 of one connection's life, connect to
// close. Built by bench.py with `cc -O2 handshake.c -lssl -lcrypto`.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { kConnecting, kHandshaking, kWriting, kReading };

struct conn {
  int fd;
  SSL* ssl;
  enum state state;
  size_t sent;
  char head[16];  // the first bytes of the answer: "HTTP/1.1 200"
  size_t head_length;
  double started;
};

static const char kRequest[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
// A connection that has not closed after this long is counted as an error.
static const double kConnectionTimeout = 5.0;
// Connection lives (microseconds) kept for the percentiles; beyond, not kept.
#define kMaxSamples (4u << 20)

static SSL_CTX* ctx;
static struct sockaddr_in address;
static const char* sni;
static int epoll_fd;
static uint64_t connections, handshakes, resumed, ok, errors;
static uint32_t* samples;
static size_t sample_count;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void watch(struct conn* c, uint32_t events, int op) {
  struct epoll_event event = {.events = events, .data.ptr = c};
  if (epoll_ctl(epoll_fd, op, c->fd, &event) != 0) {
    perror("epoll_ctl");
    exit(1);
  }
}

static void finish(struct conn* c) {
  if (c->ssl != NULL) SSL_free(c->ssl);
  c->ssl = NULL;
  if (c->fd >= 0) close(c->fd);  // also takes it out of the epoll set
  c->fd = -1;
}

// Opens the connection's next TCP connection; false if the socket cannot be made.
static int open_conn(struct conn* c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return 0;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  c->state = kConnecting;
  c->sent = 0;
  c->head_length = 0;
  c->started = now();
  if (connect(c->fd, (struct sockaddr*)&address, sizeof(address)) != 0 && errno != EINPROGRESS) {
    ++errors;
    finish(c);
    return 0;
  }
  watch(c, EPOLLOUT, EPOLL_CTL_ADD);
  return 1;
}

static void fail(struct conn* c) {
  ++errors;
  ERR_clear_error();
  finish(c);
}

static void done(struct conn* c) {
  ++connections;
  if (c->head_length >= 12 && memcmp(c->head, "HTTP/1.1 200", 12) == 0) {
    ++ok;
  } else {
    ++errors;
  }
  if (sample_count < kMaxSamples) {
    samples[sample_count++] = (uint32_t)((now() - c->started) * 1e6);
  }
  finish(c);
}

// What an SSL call that did not finish asks for: 1 to wait for `*events`,
// 0 when the connection is over (closed or failed; `closed` says which).
static int wants(struct conn* c, int ret, uint32_t* events, int* closed) {
  int error = SSL_get_error(c->ssl, ret);
  *closed = 0;
  if (error == SSL_ERROR_WANT_READ) {
    *events = EPOLLIN;
    return 1;
  }
  if (error == SSL_ERROR_WANT_WRITE) {
    *events = EPOLLOUT;
    return 1;
  }
  // The server's close_notify, or its FIN without one: the answer is over.
  if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && errno == 0)) *closed = 1;
  return 0;
}

// Runs the connection as far as the socket allows.
static void drive(struct conn* c) {
  uint32_t events = 0;
  int closed = 0;
  if (c->state == kConnecting) {
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
      fail(c);
      return;
    }
    c->ssl = SSL_new(ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
      fail(c);
      return;
    }
    SSL_set_tlsext_host_name(c->ssl, sni);
    SSL_set_connect_state(c->ssl);
    c->state = kHandshaking;
  }
  if (c->state == kHandshaking) {
    errno = 0;
    int ret = SSL_do_handshake(c->ssl);
    if (ret != 1) {
      if (wants(c, ret, &events, &closed)) {
        watch(c, events, EPOLL_CTL_MOD);
      } else {
        fail(c);
      }
      return;
    }
    ++handshakes;
    if (SSL_session_reused(c->ssl)) ++resumed;
    c->state = kWriting;
  }
  if (c->state == kWriting) {
    while (c->sent < sizeof(kRequest) - 1) {
      size_t wrote = 0;
      errno = 0;
      int ret = SSL_write_ex(c->ssl, kRequest + c->sent, sizeof(kRequest) - 1 - c->sent, &wrote);
      if (ret != 1) {
        if (wants(c, ret, &events, &closed)) {
          watch(c, events, EPOLL_CTL_MOD);
        } else {
          fail(c);
        }
        return;
      }
      c->sent += wrote;
    }
    c->state = kReading;
  }
  char buffer[16384];
  for (;;) {
    size_t got = 0;
    errno = 0;
    int ret = SSL_read_ex(c->ssl, buffer, sizeof(buffer), &got);
    if (ret == 1) {
      size_t take = sizeof(c->head) - c->head_length;
      if (take > got) take = got;
      memcpy(c->head + c->head_length, buffer, take);
      c->head_length += take;
      continue;
    }
    if (wants(c, ret, &events, &closed)) {
      watch(c, events, EPOLL_CTL_MOD);
    } else if (closed && c->head_length > 0) {
      ERR_clear_error();
      done(c);
    } else {
      fail(c);
    }
    return;
  }
}

static int compare(const void* a, const void* b) {
  uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s HOST PORT CONNECTIONS SECONDS [SNI]\n", argv[0]);
    return 2;
  }
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1) {
    fprintf(stderr, "not an IPv4 address: %s\n", argv[1]);
    return 2;
  }
  int count = atoi(argv[3]);
  double seconds = atof(argv[4]);
  sni = argc > 5 ? argv[5] : "localhost";
  if (count < 1 || seconds <= 0) {
    fprintf(stderr, "CONNECTIONS >= 1 and SECONDS > 0\n");
    return 2;
  }
  ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL) {
    fprintf(stderr, "SSL_CTX_new failed\n");
    return 1;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  // No client-side cache and no SSL_set_session: nothing to resume with.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // A FIN without close_notify ends the answer too (HAProxy may close so).
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  samples = malloc(sizeof(uint32_t) * kMaxSamples);
  struct conn* conns = calloc((size_t)count, sizeof(struct conn));
  epoll_fd = epoll_create1(0);
  if (samples == NULL || conns == NULL || epoll_fd < 0) {
    fprintf(stderr, "out of resources\n");
    return 1;
  }
  const double start = now();
  const double end = start + seconds;
  for (int i = 0; i < count; ++i) {
    conns[i].fd = -1;
    open_conn(&conns[i]);
  }
  struct epoll_event events[256];
  double next_sweep = start + 0.1;
  for (;;) {
    double t = now();
    if (t >= end) break;
    int timeout_ms = (int)((end - t) * 1000) + 1;
    if (timeout_ms > 100) timeout_ms = 100;
    int n = epoll_wait(epoll_fd, events, 256, timeout_ms);
    if (n < 0 && errno != EINTR) {
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      struct conn* c = events[i].data.ptr;
      if (c->fd >= 0) drive(c);
    }
    t = now();
    int sweep = t >= next_sweep;
    if (sweep) next_sweep = t + 0.1;
    for (int i = 0; i < count; ++i) {
      struct conn* c = &conns[i];
      if (sweep && c->fd >= 0 && t - c->started > kConnectionTimeout) fail(c);
      // Keeps CONNECTIONS open; a connection that could not even be made
      // (no port, no file) is retried at the next sweep, not in a busy loop.
      if (c->fd < 0 && t < end && (sweep || c->started != 0)) {
        if (!open_conn(c)) c->started = 0;
      }
    }
  }
  const double elapsed = now() - start;
  qsort(samples, sample_count, sizeof(uint32_t), compare);
  uint32_t p50 = sample_count ? samples[sample_count / 2] : 0;
  uint32_t p99 = sample_count ? samples[(size_t)((double)sample_count * 0.99)] : 0;
  printf(
      "connections=%llu handshakes=%llu resumed=%llu ok=%llu errors=%llu seconds=%.3f "
      "p50_us=%u p99_us=%u\n",
      (unsigned long long)connections, (unsigned long long)handshakes, (unsigned long long)resumed,
      (unsigned long long)ok, (unsigned long long)errors, elapsed, p50, p99);
  return 0;
}
