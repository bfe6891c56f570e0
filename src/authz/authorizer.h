// External authorizers (phase 6, after the local policy): a route asks an
// HTTP service for the decision, as Envoy's ext_authz, nginx's auth_request
// and Traefik's forwardAuth do. The specs are part of the immutable config
// snapshot; WorkerAuthz is one worker's runtime side (connection pools,
// decision caches, circuit breakers, counters), used on that worker's
// thread only and living as long as the worker.
//
// The call out is asynchronous on the worker's event loop: non-blocking
// connect, write and read on pooled keep-alive connections, one timer per
// call. The session waits in its own state and is resumed by the answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/identity.h"
#include "authz/circuit_breaker.h"
#include "authz/decision_cache.h"
#include "core/event_loop.h"
#include "http/message.h"
#include "observe/stats.h"
#include "upstream/cluster.h"

namespace rampart::upstream {
class ClusterPool;
}

namespace rampart::authz {

// What a cached decision depends on, in the order the config lists it.
struct KeyPart {
  enum class Kind : uint8_t { kPrincipal, kAccount, kRoute, kMethod, kPath, kHeader };
  Kind kind = Kind::kPrincipal;
  std::string header;  // kHeader: the request header's name, lowercase
};

struct CacheSpec {
  bool enabled = false;
  std::vector<KeyPart> key;
  std::chrono::milliseconds ttl{30000};
  std::chrono::milliseconds stale_if_error{0};
  uint32_t max_entries = 10000;  // per worker
};

// Names of the headers that carry the verified identity (the snapshot's
// authentication.identity_headers, copied in at load).
using IdentityNames = auth::IdentityHeaderNames;

struct AuthorizerSpec {
  std::string name;
  std::string url;                // as written, for logs
  std::string host_header;        // the URL's authority, sent as Host
  std::string path;               // the URL's path and query: the check request's target
  upstream::ClusterSpec cluster;  // resolved endpoints; max_requests = max_pending
  std::chrono::milliseconds timeout{200};
  std::vector<std::string> send_headers;      // client headers forwarded to it, lowercase
  std::vector<std::string> upstream_headers;  // its response headers copied upstream, lowercase
  CacheSpec cache;
  uint32_t breaker_failures = 5;  // 0: never opens
  std::chrono::milliseconds breaker_open_for{10000};
  IdentityNames identity;
};

// A route's use of an authorizer (by index into the snapshot's list).
struct RouteExtAuthz {
  int32_t authorizer = -1;      // -1: the route asks no authorizer
  bool allow_on_error = false;  // failure_mode: allow (default deny: fail closed)
};

// Per-worker counters of one authorizer (summed across workers at shutdown).
struct AuthorizerStats {
  observe::Counter calls;       // requests sent to the authorizer
  observe::Counter allowed;     // answers 2xx
  observe::Counter denied;      // answers 401/403
  observe::Counter cache_hits;  // fresh cached decisions served without a call
  observe::Counter stale_uses;  // cached decisions served because the authorizer failed
  observe::Counter failures;    // timeouts, connect failures, resets, other statuses
  observe::Counter timeouts;    // of which timeouts
  observe::Counter circuit_opens;
  observe::Counter short_circuited;  // no call made: circuit open or max_pending reached
  observe::Counter failed_open;      // errors let through by failure_mode: allow
  observe::Counter failed_closed;    // errors answered 503
  observe::Counter abandoned;        // the client left while its call was out
  observe::Counter coalesced;        // misses that joined a call already out for the same key
};

// The request as the authorizer sees it. Views, valid for the call to check().
struct CheckInput {
  std::string_view method;     // the method the policy saw (the override, on such routes)
  std::string_view target;     // canonical path and query
  std::string_view path;       // canonical path
  std::string_view host;       // Host or the absolute-form authority
  std::string_view route;      // the route's name
  std::string_view client_ip;  // the socket peer
  std::string_view request_id;
  const auth::Identity* identity = nullptr;            // null: anonymous
  const std::vector<http::Header>* headers = nullptr;  // the client's request headers
};

enum class Decision : uint8_t {
  kAllow,
  kDeny,
  kError,  // no usable answer: timeout, connect failure, circuit open...
};

struct Answer {
  Decision decision = Decision::kError;
  bool cached = false;  // served from the cache (fresh, or stale after an error)
  bool stale = false;   // served from the cache because the authorizer failed
  // kAllow: header lines to add upstream ("Name: value\r\n"). Valid until
  // the next call into this WorkerAuthz.
  std::string_view upstream_headers;
  std::string_view error;  // what failed, when the authorizer did not answer usably
};

// Told the answer of a call that did not finish inside check().
class Waiter {
 public:
  virtual ~Waiter() = default;
  virtual void onAuthzAnswer(const Answer& answer) = 0;
};

class Call;

// Names a call in flight; stale handles are harmless (the generation differs).
struct CallHandle {
  Call* call = nullptr;
  uint64_t generation = 0;
  uint32_t waiter = 0;  // which of the call's waiters
  bool pending() const { return call != nullptr; }
};

class WorkerAuthz {
 public:
  WorkerAuthz(const std::vector<AuthorizerSpec>* specs, core::EventLoop* loop);
  ~WorkerAuthz();
  WorkerAuthz(const WorkerAuthz&) = delete;
  WorkerAuthz& operator=(const WorkerAuthz&) = delete;

  // Decides from the cache when it can (a fresh decision: *answer is set and
  // kAnswered returned, no allocation); otherwise starts a call, or joins
  // the one already out for the same cache key, and returns kWaiting:
  // `waiter` is told the answer exactly once, later, unless cancelled. When no call can start
  // (circuit open, max_pending reached, no socket) the error is answered at once, from a stale
  // cached decision when one is young enough.
  enum class Start : uint8_t { kAnswered, kWaiting };
  Start check(uint32_t authorizer, const CheckInput& input, Waiter* waiter, CallHandle* handle,
              Answer* answer);

  // The waiter is gone (the client left). The call runs to its end, bounded
  // by its timeout, so the connection can be reused and the answer cached;
  // nobody is told.
  void cancel(CallHandle* handle);

  AuthorizerStats& stats(uint32_t authorizer);
  const AuthorizerStats& stats(uint32_t authorizer) const;
  const CircuitBreaker& breaker(uint32_t authorizer) const;
  size_t size() const { return lanes_.size(); }

 private:
  friend class Call;
  struct Lane;
  Lane& lane(uint32_t authorizer) { return *lanes_[authorizer]; }
  // An error: a stale decision when one is young enough, else kError.
  void answerError(Lane& lane, std::string_view key, std::string_view why, Answer* answer);
  void finished(Call* call);
  Call* takeCall();

  const std::vector<AuthorizerSpec>* specs_;
  core::EventLoop* loop_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::vector<std::unique_ptr<Call>> calls_;  // every call object ever made, reused
  std::vector<Call*> free_calls_;
  std::string key_scratch_;  // the cache key of the current check, capacity kept
  // Calls out per cache key (the key views the call's own copy), so that
  // concurrent misses for one key cost one call. Per authorizer.
  std::vector<absl::flat_hash_map<std::string_view, Call*>> in_flight_;
  uint64_t next_generation_ = 1;
};

// The cache key for `input` under `parts` (length-prefixed fields, so no
// two different requests share a key). Appends to `out` after clearing it.
void buildKey(const std::vector<KeyPart>& parts, const CheckInput& input, std::string* out);

}  // namespace rampart::authz
