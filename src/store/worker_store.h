// One worker's side of the store: the leases of global limits, their local
// share (the fallback while no lease is held or Redis is down), and the
// revoked credential ids. Owned by one Worker and used on its thread only (no
// lock); lives as long as the worker. Talks to the StoreClient only by
// posting: the request path never waits for Redis.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/strings/string_view.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/event_loop.h"
#include "net/address.h"
#include "shield/rate_limiter.h"
#include "shield/settings.h"
#include "store/client.h"
#include "store/lease.h"

namespace rampart::store {

// What a global limit decided for one request.
struct GlobalDecision {
  enum class Kind : uint8_t {
    kAllow,
    kDeny,         // over the global budget (or the local share): 429 with `decision`
    kUnavailable,  // Redis is down and the limit fails closed: 503
  };
  Kind kind = Kind::kAllow;
  shield::Decision decision;  // kDeny: the wait
};

// Counters (relaxed atomics: read by /stats from the admin thread).
struct WorkerStoreStats {
  std::atomic<uint64_t> lease_hits{0};      // requests decided by a leased token
  std::atomic<uint64_t> lease_requests{0};  // leases asked for
  std::atomic<uint64_t> bridged{0};         // decided by the local share: no lease held yet
  std::atomic<uint64_t> degraded{0};        // decided while Redis was down (share or 503)
  std::atomic<uint64_t> denied{0};          // refused by a global limit
  std::atomic<uint64_t> revoked_refused{0};
  std::atomic<uint64_t> blocks_applied{0};
  std::atomic<uint64_t> revocations_applied{0};
};

class WorkerStore {
 public:
  // `loop`: the worker's, where lease answers are posted back.
  WorkerStore(StoreClient& client, core::EventLoop& loop, size_t capacity);

  bool up() const { return client_.up(); }

  // One global limit for one request (key: the shield's key of the limit's
  // value). `redis_key()` names the key in Redis; it is called only when a
  // lease is asked for, so the per-request cost is one table lookup.
  template <class RedisKey>
  GlobalDecision check(const shield::RequestLimit& limit, const shield::Key& key, shield::Nanos now,
                       RedisKey&& redis_key) {
    if (!client_.up()) return degraded(limit, key, now);
    const uint32_t low_water = limit.lease / 2;
    LeaseStep step = leases_.take(key, now, low_water, limit.gcra.interval());
    if (step.refill) askLease(limit, key, redis_key());
    return decide(limit, key, now, step);
  }

  // Revocation (phase 5): true when `id` ("jti:...", "key:...") is revoked at
  // `now_unix_ms`. Costs nothing while nothing is revoked.
  bool revoked(std::string_view id, int64_t now_unix_ms) const {
    if (revoked_.empty() || id.empty()) return false;
    auto it = revoked_.find(absl::string_view(id.data(), id.size()));
    return it != revoked_.end() && it->second > now_unix_ms;
  }
  // A revocation received from the store. True when it is new to this worker
  // (the caller then drops the worker's token cache).
  bool applyRevocation(const std::string& id, int64_t until_unix_ms);

  // Publishes a block this worker decided (escalation) to every instance.
  void publishBlock(const net::SocketAddress& client, int64_t until_unix_ms);
  // True when the gate's count of blocks started moved since the last call:
  // an accept refusal that may have started one (cheap to ask on each).
  bool blocksStartedMoved(uint64_t blocks_started) {
    if (blocks_started == blocks_seen_) return false;
    blocks_seen_ = blocks_started;
    return true;
  }

  WorkerStoreStats& stats() { return stats_; }
  const WorkerStoreStats& stats() const { return stats_; }
  const StoreClient& client() const { return client_; }

 private:
  GlobalDecision degraded(const shield::RequestLimit& limit, const shield::Key& key,
                          shield::Nanos now);
  GlobalDecision decide(const shield::RequestLimit& limit, const shield::Key& key,
                        shield::Nanos now, const LeaseStep& step);
  GlobalDecision localShare(const shield::RequestLimit& limit, const shield::Key& key,
                            shield::Nanos now);
  void askLease(const shield::RequestLimit& limit, const shield::Key& key, std::string redis_key);

  StoreClient& client_;
  core::EventLoop& loop_;
  LeaseTable leases_;
  shield::RateLimiter share_;  // the local share of every global limit (own key spaces)
  shield::Nanos lease_ttl_;
  absl::flat_hash_map<std::string, int64_t> revoked_;  // id -> until (unix ms)
  WorkerStoreStats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  uint64_t blocks_seen_ = 0;  // the gate's blocks_started at the last accept refusal
};

// The Redis key of a global limit's bucket for `value` (an address, an
// account...): "<prefix>gl:<sha256(store_id, value) in hex, 32 digits>", so
// Redis never holds header values or API keys, and every instance names the
// same bucket the same way.
std::string globalLimitKey(std::string_view prefix, std::string_view store_id,
                           std::string_view value);

}  // namespace rampart::store
