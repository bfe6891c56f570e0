// The worker's side of the store (docs/store.md), apart from worker.cc: its
// WorkerStore, and blocks and revocations published by any instance, applied
// on the worker's own thread.
#include "core/clock.h"
#include "proxy/worker.h"

namespace rampart::proxy {

namespace {

// "192.0.2.7" or "2001:db8::1" (no port): what a block names.
std::optional<net::SocketAddress> parseIp(const std::string& text) {
  if (text.find(':') != std::string::npos)
    return net::SocketAddress::parseNumeric("[" + text + "]:0");
  return net::SocketAddress::parseNumeric(text + ":0");
}

}  // namespace

void Worker::setStore(store::StoreClient* client) {
  if (client == nullptr) return;
  // The lease and local-share tables only when some limit is global (a
  // store used for blocks and revocations alone needs no table).
  bool any_global = false;
  const config::Snapshot& snapshot = *current_->snapshot;
  for (const auto* scopes : {&snapshot.shield.listener_limits, &snapshot.shield.route_limits}) {
    for (const auto& limits : *scopes) {
      for (const shield::RequestLimit& limit : limits) any_global = any_global || limit.global;
    }
  }
  const size_t capacity = any_global ? snapshot.shield.max_tracked_keys : 1;
  store_ = std::make_unique<store::WorkerStore>(*client, loop_, capacity);
}

void Worker::shareNewBlock(const net::SocketAddress& peer) {
  const shield::GateStats* gate = shield_.gateStats();
  if (gate == nullptr || !store_->blocksStartedMoved(gate->blocks_started)) return;
  const shield::Nanos now = loop_.now() * 1'000'000;
  if (shield::Nanos until = shield_.blockedUntil(peer, now)) {
    store_->publishBlock(peer, core::unixMillis() + (until - now) / 1'000'000);
  }
}

void Worker::applyStoreEvent(const store::StoreEvent& event) {
  loop_.post([this, event] {
    if (!store_) return;
    const int64_t now_ms = core::unixMillis();
    if (event.until_unix_ms <= now_ms) return;  // already over
    if (event.kind == store::StoreEvent::Kind::kRevoke) {
      // Cached verifications of the revoked credential must go; the cache is
      // keyed by token digest, not by id, so all of it goes (revocations are rare).
      if (store_->applyRevocation(event.subject, event.until_unix_ms)) auth_.cache.clear();
      return;
    }
    std::optional<net::SocketAddress> client = parseIp(event.subject);
    if (!client) return;
    const shield::Nanos now = loop_.now() * 1'000'000;
    const shield::Nanos until = now + (event.until_unix_ms - now_ms) * 1'000'000;
    if (shield_.imposeBlock(*client, until, now)) {
      store_->stats().blocks_applied.fetch_add(1, std::memory_order_relaxed);
    }
  });
}

}  // namespace rampart::proxy
