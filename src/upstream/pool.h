// Per-worker upstream connection pools and endpoint selection (phase 8,
// "forward"). Owned by one worker thread; lives as long as the worker.
// No lock: each worker has its own pools, its own idle lists and its own
// active-request counts.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/buffer.h"
#include "core/event_loop.h"
#include "observe/stats.h"
#include "tls/transport.h"
#include "upstream/breakers.h"
#include "upstream/cluster.h"
#include "upstream/errors.h"
#include "upstream/outlier.h"
#include "upstream/retry.h"

namespace rampart::upstream {

class ClusterPool;

// The object using an upstream connection (a proxy session) gets its events.
class ConnectionUser {
 public:
  virtual ~ConnectionUser() = default;
  virtual void onUpstreamEvents(uint32_t events) = 0;
  virtual void onUpstreamTimeout() = 0;
};

// One TCP connection to one endpoint. Either lent to a user, or idle in its pool.
class Connection final : public core::EventHandler, public core::Timer, public core::Deferred {
 public:
  int fd() const { return fd_; }
  core::Buffer& input() { return input_; }
  bool reused() const { return reused_; }  // served an earlier request already
  bool connected() const { return connected_; }
  void setConnected();  // also ends its max_pending count
  // TLS clusters: the transport, made once the TCP connect is done and
  // kept with the connection while it is pooled (null: cleartext, or not
  // connected yet).
  tls::Transport* tls() const { return tls_.get(); }
  void startTls(SSL* ssl) { tls_ = std::make_unique<tls::Transport>(ssl); }
  uint32_t endpoint() const { return endpoint_; }

  void onEvents(uint32_t events) override;

 protected:
  void onTimeout() override;

 private:
  friend class ClusterPool;
  Connection(ClusterPool* pool, uint32_t endpoint, int fd);
  ~Connection() override;

  ClusterPool* pool_;
  uint32_t endpoint_;
  int fd_;
  bool connected_ = false;
  bool reused_ = false;
  bool pending_ = false;  // counted by the max_pending breaker until its connect ends
  ConnectionUser* user_ = nullptr;
  core::Buffer input_;
  std::unique_ptr<tls::Transport> tls_;
};

// Selects endpoints with the cluster's policy. Pure: counts in, index out.
class Balancer {
 public:
  Balancer(BalancePolicy policy, uint32_t endpoints, uint64_t seed);
  // `active[i]` is endpoint i's active request count (least-request only).
  uint32_t pick(const uint32_t* active);
  // The same, choosing only among `candidates` (endpoint indices in
  // ascending order, `count` >= 1): round robin takes the next candidate at
  // or after its position, so skipping an endpoint does not shift the others.
  uint32_t pick(const uint32_t* active, const uint32_t* candidates, uint32_t count);

 private:
  uint64_t nextRandom();
  BalancePolicy policy_;
  uint32_t endpoints_;
  uint32_t next_ = 0;
  uint64_t state_;
};

// Which endpoints the balancer may pick from, given how many are usable
// (healthy by the checks and not ejected). Pure.
enum class Spread : uint8_t {
  kAll,     // every endpoint is usable
  kUsable,  // only the usable ones
  kPanic,   // fewer than panic_threshold percent are usable: all of them, ignoring health
  kNone,    // none is usable and panic mode is off: no-healthy-upstream
};
Spread spreadFor(uint32_t usable, uint32_t total, uint32_t panic_threshold);

// The endpoint for one attempt, or why there is none.
struct EndpointChoice {
  enum class Kind : uint8_t { kEndpoint, kNoHealthy };
  Kind kind = Kind::kEndpoint;
  uint32_t endpoint = 0;
  bool panic = false;  // chosen over all endpoints because too few were usable
  bool found() const { return kind == Kind::kEndpoint; }
};

// Per-cluster counters of one worker (summed over workers at shutdown).
struct ClusterStats {
  observe::Counter failures[kFailureCauseCount];  // by FailureCause
  observe::Counter ejections;                     // outlier ejections started
  observe::Counter ejections_refused;             // over max_ejection_percent
  observe::Counter panic_picks;                   // endpoints chosen in panic mode
  observe::Counter retries;                       // retry attempts scheduled
  observe::Counter retries_budget_refused;        // retries the retry budget refused
  const observe::Counter& failure(FailureCause cause) const {
    return failures[static_cast<size_t>(cause)];
  }
};

class ClusterPool {
 public:
  ClusterPool(const ClusterSpec* spec, core::EventLoop* loop, uint64_t seed);
  ~ClusterPool();
  ClusterPool(const ClusterPool&) = delete;
  ClusterPool& operator=(const ClusterPool&) = delete;

  const ClusterSpec& spec() const { return *spec_; }

  // Admission to the cluster: false when max_requests is reached (answer 503;
  // the trip is counted by the max_requests breaker).
  bool tryBeginRequest();
  void endRequest();
  uint32_t activeRequests() const { return active_requests_; }

  // Whether one more retry may start now: the retry budget, then the
  // max_retries breaker. kNone: started (the caller ends it with endRetry);
  // kRetries: the breaker is open; `*by_budget` tells a budget refusal
  // (answered with the failure itself, not breaker-open).
  Breaker tryStartRetry(bool* by_budget);
  void endRetry() {
    budget_.endRetry();
    breakers_.endRetry();
  }
  const ClusterBreakers& breakers() const { return breakers_; }

  // The endpoint for the next attempt: among the usable endpoints (healthy by
  // the active checks and not ejected by this worker's outlier detector),
  // or all of them in panic mode, or none (answer no-healthy-upstream).
  // `avoid`: the endpoint of the failed attempt a retry follows; another is
  // chosen where the balancer offers one (a few picks, no scan).
  EndpointChoice pickEndpoint(uint32_t avoid = kNoEndpoint);

  // What became of an attempt on `endpoint`, fed to outlier detection.
  // Cheap no-ops when the cluster has no outlier_detection.
  void recordConnected(uint32_t endpoint) {
    if (outlier_.enabled()) outlier_.recordConnected(endpoint);
  }
  // A response head arrived with `status`.
  void recordResponse(uint32_t endpoint, uint16_t status);
  // A failure the client is told about: counted by cause and, for a real
  // endpoint (not kNoEndpoint), fed to outlier detection.
  void recordFailure(FailureCause cause, uint32_t endpoint);
  static constexpr uint32_t kNoEndpoint = UINT32_MAX;

  const ClusterStats& stats() const { return stats_; }
  const OutlierDetector& outlier() const { return outlier_; }

  // A connection to `endpoint` for `user`: an idle pooled one when available
  // (reused() true), else a new non-blocking connect (connected() false until
  // the first writable event). nullptr when the socket could not be created,
  // or when the max_connections or max_pending breaker is open (then
  // `*tripped` names it).
  Connection* acquire(uint32_t endpoint, ConnectionUser* user, Breaker* tripped = nullptr);
  // A new connection's connect finished (either way): no longer pending.
  void connectDone(Connection* connection);

  // Gives a connection back. Reusable connections go to the idle list (or
  // are closed over max_idle); others are closed.
  void release(Connection* connection, bool reusable);

  // TLS clusters: the session a new connection to `endpoint` offers (null:
  // none yet). Stays owned by the pool.
  SSL_SESSION* tlsSession(uint32_t endpoint) const { return endpoints_[endpoint].tls_session; }

  uint64_t connectsMade() const { return connects_; }
  size_t idleCount() const;

 private:
  friend class Connection;
  void closeConnection(Connection* connection);
  void removeIdle(Connection* connection);
  EndpointChoice pickOnce();
  void reportEjection(uint32_t endpoint, const OutlierDetector::Verdict& verdict);

  struct Endpoint {
    std::vector<Connection*> idle;  // most recently used last (LIFO keeps warm sockets)
    uint32_t active = 0;
    // TLS clusters: the last connection's session, offered by the next new
    // one (an abbreviated handshake). Owned here; replaced on each release.
    SSL_SESSION* tls_session = nullptr;
  };

  const ClusterSpec* spec_;
  core::EventLoop* loop_;
  Balancer balancer_;
  std::vector<Endpoint> endpoints_;
  std::vector<uint32_t> active_counts_;  // mirrors Endpoint::active for the balancer
  OutlierDetector outlier_;
  std::vector<uint32_t> usable_;  // pickEndpoint() scratch, reserved once: no allocation per pick
  ClusterStats stats_;
  ClusterBreakers breakers_;
  RetryBudget budget_;
  uint32_t active_requests_ = 0;
  uint64_t connects_ = 0;
};

}  // namespace rampart::upstream
