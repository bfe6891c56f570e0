// The hand-over from an accepted connection to HTTP/2 (docs/http2.md): ALPN
// h2 on a TLS listener, or the connection preface on a cleartext listener
// with `http2: true` (prior knowledge, RFC 9113 3.3).
#include <string_view>

#include "proxy/h2_session.h"
#include "proxy/session.h"
#include "proxy/worker.h"

namespace rampart::proxy {

namespace {
constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
}  // namespace

Session::H2Start Session::http2Start() const {
  if (alpn_h2_) return H2Start::kTake;
  // Only a connection's first bytes can be the preface, and only where the
  // listener opted in; anything else is HTTP/1.1 as before.
  if (pipe_ != nullptr || tls_ != nullptr || requests_served_ > 0 || in_.empty() ||
      proxy_rule_ != ProxyHeaderRule::kNone) {
    return H2Start::kNo;
  }
  const config::Snapshot& snapshot = pinnedSnapshot();
  if (listener_ >= snapshot.listeners.size() || !snapshot.listeners[listener_].http2) {
    return H2Start::kNo;
  }
  std::string_view input = in_.readable();
  size_t n = std::min(input.size(), kPreface.size());
  if (input.substr(0, n) != kPreface.substr(0, n)) return H2Start::kNo;
  return n == kPreface.size() ? H2Start::kTake : H2Start::kWait;
}

void Session::refuseHttp2Websocket() {
  access_.decision = "deny";
  access_.cause = "route";  // the route does not take it, as a 404 is the routing table's
  in_.consume(head_bytes_);
  replyLocally({403, "Forbidden", "WebSocket is not enabled on this route", true});
}

void Session::startHttp2() {
  state_ = State::kHttp2;
  proven_ = true;  // its streams' Sessions earn their own place (mayWait)
  h2_ = std::make_unique<H2Connection>(this, worker_, peer_, listener_, pinnedSnapshot().http);
  h2_->start();
}

}  // namespace rampart::proxy
