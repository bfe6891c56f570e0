// TLS over one non-blocking socket, for the session's client side (and an
// upstream connection's): the handshake, then reads and writes straight on
// the fd, no extra buffer of ours, no copy. Towards clients the BIO is ours
// (tls/socket_bio.h: it also says when a read drained the socket); towards
// upstreams it is OpenSSL's socket BIO. Every call returns at once; a
// kWantRead/kWantWrite says which readiness to wait for, which the
// edge-triggered loop then reports. Owned by its session; lives as long as
// the connection; worker thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tls/context.h"
#include "tls/peer.h"

namespace rampart::tls {

enum class Io : uint8_t {
  kDone,       // bytes moved (read/write), or the handshake finished
  kWantRead,   // wait for the socket to be readable, then call again
  kWantWrite,  // wait for it to be writable, then call again
  kClosed,     // the peer closed (close_notify or a plain FIN)
  kError,      // a protocol or socket error: close the connection
};

struct IoResult {
  Io io = Io::kDone;
  size_t bytes = 0;
  // A read's kDone: nothing more is buffered and the socket was drained
  // (tls/socket_bio.h), so the next read would only say kWantRead.
  bool drained = false;
};

class Transport {
 public:
  // Takes ownership of `ssl` (made by ServerTls::newConnection or a client
  // context); the fd stays the caller's.
  explicit Transport(SSL* ssl) : ssl_(ssl) {}
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  bool established() const { return established_; }
  IoResult handshake();
  IoResult read(char* out, size_t size);
  IoResult write(const char* data, size_t size);
  // Sends close_notify if it can without waiting (best effort, before FIN).
  void shutdown();

  // After the handshake.
  bool resumed() const;
  Protocol protocol() const;
  std::string_view versionName() const;
  // The client certificate, when one was sent and verified; false otherwise.
  bool peerCertificate(PeerCertificate* out) const;
  // Client side: offer `session` (a ticket from an earlier connection to the
  // same server) in the next handshake; the caller keeps its reference.
  void offerSession(SSL_SESSION* session);
  // Client side, after use: a new reference to the session to offer next
  // time, or null when it cannot be resumed.
  SSL_SESSION* resumableSession() const;
  // Why the handshake failed ("" when it did not), for the debug log.
  const std::string& failure() const { return failure_; }

 private:
  IoResult classify(int ret);

  SSL* ssl_;
  bool established_ = false;
  bool failed_ = false;  // a protocol error was seen
  std::string failure_;
};

// Drops a reference from resumableSession() (null is fine).
void releaseSession(SSL_SESSION* session);

}  // namespace rampart::tls
