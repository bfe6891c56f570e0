#include "store/worker_store.h"

#include <openssl/evp.h>

#include <chrono>
#include <cstdio>

namespace rampart::store {

WorkerStore::WorkerStore(StoreClient& client, core::EventLoop& loop, size_t capacity)
    : client_(client),
      loop_(loop),
      leases_(capacity),
      share_(capacity),
      lease_ttl_(std::chrono::duration_cast<std::chrono::nanoseconds>(client.settings().lease_ttl)
                     .count()) {}

GlobalDecision WorkerStore::degraded(const shield::RequestLimit& limit, const shield::Key& key,
                                     shield::Nanos now) {
  stats_.degraded.fetch_add(1, std::memory_order_relaxed);
  if (limit.fail_open) return localShare(limit, key, now);
  GlobalDecision out;
  out.kind = GlobalDecision::Kind::kUnavailable;
  return out;
}

GlobalDecision WorkerStore::localShare(const shield::RequestLimit& limit, const shield::Key& key,
                                       shield::Nanos now) {
  GlobalDecision out;
  shield::Decision decision = share_.check(key, limit.share, now);
  if (!decision.allowed()) {
    stats_.denied.fetch_add(1, std::memory_order_relaxed);
    out.kind = GlobalDecision::Kind::kDeny;
    out.decision = decision;
    out.decision.limit = limit.gcra.burst();
  }
  return out;
}

GlobalDecision WorkerStore::decide(const shield::RequestLimit& limit, const shield::Key& key,
                                   shield::Nanos now, const LeaseStep& step) {
  GlobalDecision out;
  switch (step.verdict) {
    case LeaseVerdict::kAllow:
      stats_.lease_hits.fetch_add(1, std::memory_order_relaxed);
      return out;
    case LeaseVerdict::kBridge:
      stats_.bridged.fetch_add(1, std::memory_order_relaxed);
      return localShare(limit, key, now);
    case LeaseVerdict::kDeny:
      break;
  }
  stats_.denied.fetch_add(1, std::memory_order_relaxed);
  out.kind = GlobalDecision::Kind::kDeny;
  out.decision.verdict = shield::Verdict::kDeny;
  out.decision.limit = limit.gcra.burst();
  out.decision.remaining = 0;
  out.decision.retry_after = step.retry_after;
  out.decision.reset = step.retry_after;
  return out;
}

void WorkerStore::askLease(const shield::RequestLimit& limit, const shield::Key& key,
                           std::string redis_key) {
  stats_.lease_requests.fetch_add(1, std::memory_order_relaxed);
  LeaseRequest request;
  request.key = std::move(redis_key);
  request.interval_us = std::max<int64_t>(limit.gcra.interval() / 1000, 1);
  request.tolerance_us = request.interval_us * limit.gcra.burst();
  request.want = limit.lease;
  // The answer comes back on this worker's loop; `alive` guards against a
  // worker gone before the store thread (shutdown).
  std::weak_ptr<bool> alive = alive_;
  client_.lease(std::move(request), [this, alive, key](const LeaseAnswer& answer) {
    if (alive.expired()) return;
    loop_.post([this, alive, key, answer] {
      if (alive.expired()) return;
      if (!answer.ok) {
        leases_.failed(key);
        return;
      }
      leases_.answer(key, loop_.now() * 1'000'000, answer.granted, lease_ttl_,
                     answer.retry_after_us * 1000);
    });
  });
}

bool WorkerStore::applyRevocation(const std::string& id, int64_t until_unix_ms) {
  auto [it, inserted] = revoked_.try_emplace(id, until_unix_ms);
  if (!inserted) {
    if (it->second >= until_unix_ms) return false;
    it->second = until_unix_ms;
  }
  // Ended revocations go when new ones arrive (they are few).
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  absl::erase_if(revoked_, [now](const auto& entry) { return entry.second <= now; });
  stats_.revocations_applied.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void WorkerStore::publishBlock(const net::SocketAddress& client, int64_t until_unix_ms) {
  StoreEvent event;
  event.kind = StoreEvent::Kind::kBlock;
  event.subject = client.ipString();
  event.until_unix_ms = until_unix_ms;
  client_.publish(std::move(event));
}

std::string globalLimitKey(std::string_view prefix, std::string_view store_id,
                           std::string_view value) {
  std::string input;
  input.reserve(store_id.size() + 1 + value.size());
  input.append(store_id);
  input += '\0';
  input.append(value);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr);
  std::string out(prefix);
  out += "gl:";
  char hex[3];
  for (int i = 0; i < 16; ++i) {
    std::snprintf(hex, sizeof(hex), "%02x", digest[i]);
    out += hex;
  }
  return out;
}

}  // namespace rampart::store
