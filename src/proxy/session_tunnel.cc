// WebSocket tunnels (docs/websocket.md): an upgrade request passed every
// phase like any other and was forwarded with Connection: Upgrade; the
// upstream's 101 is relayed, and from then on the session moves bytes both
// ways without looking at them, until either side closes, nothing moves for
// websocket.idle_timeout, or websocket.max_lifetime passes.
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/log.h"
#include "proxy/session.h"
#include "proxy/worker.h"

namespace rampart::proxy {

void Session::startTunnel(size_t head_bytes) {
  endRetryHold();
  DownstreamResponseInfo info;
  info.head = &response_;
  info.framing = ClientFraming::kNone;
  info.request_id = requestId();
  info.via = worker_->snapshot().via;
  info.websocket = true;
  appendDownstreamResponseHead(out_, info);
  upstream_->input().consume(head_bytes);
  response_started_ = true;
  noteResponse(101);
  pool_->recordResponse(upstream_->endpoint(), 101);
  // The request the cluster admitted is over (its latency is the time to
  // the 101); the tunnel holds the connections, not a request slot.
  endClusterRequest();
  releaseOverload();
  logRequest();
  worker_->stats().websocket_upgrades.inc();
  state_ = State::kTunneling;
  const config::WebsocketSettings& settings = worker_->snapshot().websocket;
  const int64_t now = worker_->loop().now();
  tunnel_activity_ = now;
  tunnel_deadline_ = now + settings.max_lifetime.count();
  armTimer(TimerPurpose::kTunnel,
           std::min(settings.idle_timeout.count(), settings.max_lifetime.count()));
}

bool Session::pumpTunnel() {
  bool progress = false;
  // Client -> upstream: what was read, as far as the upstream takes it.
  progress |= readClient();
  if (!in_.empty() && upstream_writable_) {
    std::string_view data = in_.readable();
    size_t sent = 0;
    if (upstream_->tls() != nullptr) {
      if (!writeUpstreamTls({}, data, &sent)) {
        closeNow();
        return false;
      }
    } else {
      ssize_t n = ::write(upstream_->fd(), data.data(), data.size());
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        closeNow();
        return false;
      }
      sent = n > 0 ? static_cast<size_t>(n) : 0;
    }
    if (sent < data.size()) upstream_writable_ = false;
    if (sent > 0) {
      in_.consume(sent);
      access_.bytes_in += sent;
      progress = true;
    }
  }
  // Upstream -> client: the 101 first (in out_), then the upstream's bytes.
  progress |= readUpstream();
  core::Buffer& input = upstream_->input();
  if (!out_.empty() || !input.empty()) {
    const size_t pending = out_.size();
    size_t written = 0;
    if (!flushClient(input.readable(), &written)) return false;  // closed
    input.consume(written);
    progress |= written > 0 || out_.size() != pending;
  }
  if (progress) tunnel_activity_ = worker_->loop().now();
  // One side is done: the other learns it from the close.
  if ((client_eof_ && in_.empty()) || (upstream_eof_ && input.empty() && out_.empty())) {
    closeNow();
    return false;
  }
  return progress;
}

void Session::onTunnelTimer() {
  if (state_ != State::kTunneling) return;
  const config::WebsocketSettings& settings = worker_->snapshot().websocket;
  const int64_t now = worker_->loop().now();
  const int64_t idle_end = tunnel_activity_ + settings.idle_timeout.count();
  if (now >= tunnel_deadline_) {
    worker_->stats().websocket_lifetime_closes.inc();
    closeNow();
    return;
  }
  if (now >= idle_end) {
    worker_->stats().websocket_idle_closes.inc();
    closeNow();
    return;
  }
  armTimer(TimerPurpose::kTunnel, std::min(idle_end, tunnel_deadline_) - now);
}

}  // namespace rampart::proxy
