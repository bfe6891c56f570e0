// Shared by the io-layer servers: the canned response, request counting,
// heap-allocation counting and the exit report. Kept identical for every
// server so that only the I/O layer differs.
#pragma once

#include <unistd.h>
#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bench {

inline constexpr char kResponse[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
inline constexpr size_t kResponseLen = sizeof(kResponse) - 1;
inline constexpr size_t kBatch = 64;       // responses in one canned batch
inline constexpr size_t kBufSize = 16384;  // per-connection input buffer

// kBatch copies of the response back to back, so k pipelined requests
// (k <= kBatch) are answered with one write of k * kResponseLen bytes.
struct Canned {
  char data[kBatch * kResponseLen];
  Canned() {
    for (size_t i = 0; i < kBatch; ++i)
      std::memcpy(data + i * kResponseLen, kResponse, kResponseLen);
  }
};
inline const Canned canned;

inline uint64_t requests = 0;                 // requests answered
inline std::atomic<uint64_t> allocations{0};  // malloc-family calls

// Consumes every complete head ("\r\n\r\n") at the start of buf[0, len):
// returns how many there were and stores in *used the bytes they took.
inline size_t count_heads(const char* buf, size_t len, size_t* used) {
  size_t n = 0, off = 0;
  while (off < len) {
    const void* p = memmem(buf + off, len - off, "\r\n\r\n", 4);
    if (!p) break;
    off = static_cast<const char*>(p) - buf + 4;
    ++n;
  }
  *used = off;
  requests += n;
  return n;
}

// SIGTERM/SIGINT: print "requests=N allocations=M" on stderr and exit.
inline void report_and_exit(int) {
  char line[96];
  char* p = line;
  auto put = [&](const char* s) {
    while (*s) *p++ = *s++;
  };
  auto num = [&](uint64_t v) {
    char tmp[24];
    int i = 0;
    do {
      tmp[i++] = char('0' + v % 10);
      v /= 10;
    } while (v);
    while (i) *p++ = tmp[--i];
  };
  put("requests=");
  num(requests);
  put(" allocations=");
  num(allocations.load(std::memory_order_relaxed));
  put("\n");
  ssize_t r = ::write(2, line, p - line);
  (void)r;
  _exit(0);
}

inline void install_report_handler() {
  std::signal(SIGTERM, report_and_exit);
  std::signal(SIGINT, report_and_exit);
}

// Tells the run script the listening socket is bound (stderr, unbuffered).
inline void announce_listening(int port) {
  char line[48];
  int n = std::snprintf(line, sizeof line, "listening on %d\n", port);
  ssize_t r = ::write(2, line, n);
  (void)r;
}

inline int port_arg(int argc, char** argv) {
  return argc > 1 ? std::atoi(argv[1]) : 8080;
}

}  // namespace bench

// Count every heap allocation the process makes (operator new, std::aligned_alloc
// as used by Asio's aligned_new, ...) by interposing the malloc family over
// glibc's and forwarding to its exported __libc_* entry points.
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);

void* malloc(size_t n) {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t m) {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, m);
}
void* realloc(void* p, size_t n) {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void* aligned_alloc(size_t a, size_t n) {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(a, n);
}
void* memalign(size_t a, size_t n) {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, size_t a, size_t n) {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = __libc_memalign(a, n);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void free(void* p) {
  __libc_free(p);
}
}
