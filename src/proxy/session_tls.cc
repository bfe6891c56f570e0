// The client side of a TLS session: the handshake, then reads and writes of
// records, used by Session::readClient and Session::flushClient in place of
// read(2) and writev(2) when the listener terminates TLS (docs/tls.md).
#include <algorithm>

#include "core/log.h"
#include "proxy/session.h"
#include "proxy/worker.h"

namespace rampart::proxy {

namespace {
// One TLS record's worth of plaintext.
constexpr size_t kCoalesceBytes = 16 * 1024;
}  // namespace

bool Session::readClientTls() {
  if (client_eof_) return false;
  if (!tls_->established()) return handshakeClient();
  if (!client_readable_) return false;
  if (in_.writable() == 0) {
    in_.makeRoom();
    if (in_.writable() == 0) return false;
  }
  tls::IoResult result = tls_->read(in_.writePtr(), in_.writable());
  switch (result.io) {
    case tls::Io::kDone:
      // One record at most per call, and OpenSSL may hold more already
      // read: only kWantRead, or a read that drained the socket with
      // nothing left in OpenSSL (result.drained), says there is no more.
      in_.produce(result.bytes);
      body_bytes_read_ += result.bytes;
      // A FIN that came with the same edge is read as before (kClosed).
      if (result.drained && !client_hangup_) client_readable_ = false;
      return true;
    case tls::Io::kWantRead:
    case tls::Io::kWantWrite:  // a key update's reply is blocked: the write edge re-drives
      client_readable_ = false;
      return false;
    case tls::Io::kClosed:
    case tls::Io::kError:
      break;
  }
  client_eof_ = true;
  client_readable_ = false;
  return true;
}

// Runs the handshake as far as the socket allows. A failure reads as the
// client's end of input: the session closes as for a connection that left
// before its first request.
bool Session::handshakeClient() {
  if (!client_readable_ && !client_writable_) return false;
  tls::IoResult result = tls_->handshake();
  switch (result.io) {
    case tls::Io::kDone:
      onHandshake();
      // The handshake's last read may have taken the first request along
      // (read-ahead) after its edge was used: look, at the cost of at most
      // one EAGAIN, instead of waiting for an edge that is not coming.
      client_readable_ = true;
      return true;
    case tls::Io::kWantRead:
      client_readable_ = false;
      return false;
    case tls::Io::kWantWrite:
      client_writable_ = false;
      return false;
    case tls::Io::kClosed:
    case tls::Io::kError:
      break;
  }
  worker_->stats().tls_handshake_failures.inc();
  spdlog::debug("TLS handshake with {} failed: {}", std::string_view(peer_ip_, peer_ip_length_),
                tls_->failure());
  client_eof_ = true;
  client_readable_ = false;
  return true;
}

void Session::onHandshake() {
  observe::WorkerStats& stats = worker_->stats();
  stats.tls_handshakes.inc();
  if (tls_->resumed()) stats.tls_resumptions.inc();
  tls::PeerCertificate certificate;
  if (tls_->peerCertificate(&certificate)) {
    peer_certificate_ = std::make_unique<tls::PeerCertificate>(std::move(certificate));
    stats.tls_client_certificates.inc();
  }
  // ALPN chose h2: the next step hands the connection to its H2Connection
  // (Session::stepReadingHead, docs/http2.md).
  alpn_h2_ = tls_->protocol() == tls::Protocol::kH2;
}

bool Session::flushClientTls(std::string_view extra, size_t* extra_written) {
  // A response head and a small body leave as one record (one encryption,
  // one write(2)) rather than two: the body is copied behind the head when
  // it fits in out_ as it is (no growth) and in one record, and counts as
  // taken from the caller's buffer.
  size_t moved = 0;
  if (!out_.empty() && !extra.empty() &&
      out_.size() + extra.size() <= std::min(kCoalesceBytes, out_.capacity())) {
    out_.append(extra);
    moved = extra.size();
    extra = {};
  }
  std::string_view head = out_.readable();
  std::string_view pieces[2] = {head, extra};
  size_t written = 0;
  bool blocked = false;
  for (std::string_view piece : pieces) {
    while (!piece.empty()) {
      tls::IoResult result = tls_->write(piece.data(), piece.size());
      if (result.io == tls::Io::kDone) {
        written += result.bytes;
        piece.remove_prefix(result.bytes);
        continue;
      }
      if (result.io == tls::Io::kWantWrite || result.io == tls::Io::kWantRead) {
        blocked = true;
        break;
      }
      closeNow();
      return false;
    }
    if (blocked) break;
  }
  access_.bytes_out += written;
  size_t from_head = std::min(written, head.size());
  out_.consume(from_head);
  *extra_written = moved + (written - from_head);
  if (blocked) client_writable_ = false;
  return true;
}

bool Session::upstreamHandshake() {
  const tls::ClientTls* client = pool_->spec().tls.get();
  if (client == nullptr) return true;
  if (upstream_->tls() == nullptr) {
    SSL* ssl = client->newConnection(upstream_->fd());
    if (ssl == nullptr) {
      failUpstream(UpstreamFailure::kConnect);
      drive();
      return false;
    }
    upstream_->startTls(ssl);
    upstream_->tls()->offerSession(pool_->tlsSession(upstream_->endpoint()));
  }
  tls::IoResult result = upstream_->tls()->handshake();
  if (result.io == tls::Io::kDone) return true;
  if (result.io == tls::Io::kWantRead || result.io == tls::Io::kWantWrite) return false;
  // A certificate that does not verify or name the server is a failed
  // connect: retried elsewhere where the route allows, never sent to.
  spdlog::warn("TLS to cluster '{}' endpoint {} failed: {}", pool_->spec().name,
               pool_->spec().endpoint_names[upstream_->endpoint()], upstream_->tls()->failure());
  failUpstream(UpstreamFailure::kConnect);
  drive();
  return false;
}

// The request head and body over TLS: records of the head, then of the
// body, as far as the socket takes them.
bool Session::writeUpstreamTls(std::string_view head, std::string_view body, size_t* written) {
  *written = 0;
  for (std::string_view piece : {head, body}) {
    while (!piece.empty()) {
      tls::IoResult result = upstream_->tls()->write(piece.data(), piece.size());
      if (result.io == tls::Io::kDone) {
        *written += result.bytes;
        piece.remove_prefix(result.bytes);
        continue;
      }
      if (result.io == tls::Io::kWantWrite || result.io == tls::Io::kWantRead) return true;
      return false;
    }
  }
  return true;
}

}  // namespace rampart::proxy
