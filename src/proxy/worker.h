// A worker: one thread, one event loop, its own SO_REUSEPORT listening
// sockets, upstream pools and stats shard. Created by the Server on the main
// thread; run() and everything it reaches execute on the worker's thread only,
// except requestDrain()/requestStop(), which post to it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "auth/authenticate.h"
#include "authz/authorizer.h"
#include "config/config.h"
#include "core/event_loop.h"
#include "observe/metrics.h"
#include "observe/stats.h"
#include "proxy/cluster_admission.h"
#include "shield/worker_overload.h"
#include "shield/worker_shield.h"
#include "store/worker_store.h"
#include "upstream/pool.h"

namespace rampart::proxy {

class Session;

class Worker {
 public:
  Worker(uint32_t index, std::shared_ptr<const config::Snapshot> snapshot,
         std::atomic<uint32_t>* open_connections);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds this worker's listening sockets (main thread, before run()).
  bool openListeners(std::string* error);
  // The thread body: runs the loop until stopped, or until drained and idle.
  void run();

  // Thread-safe: stop accepting, finish in-flight requests, exit when idle.
  void requestDrain();
  // Thread-safe: close everything now (the drain deadline has passed).
  void requestStop();
  // Thread-safe: take the accept gate (allow/deny lists, per-address caps,
  // escalation policy) of a reloaded config; per-address state is kept.
  void reloadShieldGate(bool enabled, const shield::GateConfig& gate);
  // Thread-safe: take the overload and baseline settings of a reloaded
  // config; in-flight counts and learned baselines are kept.
  void reloadOverload(const shield::OverloadSettings& overload,
                      const shield::BaselineSettings& baselines);
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // Before run(): this worker's side of the store (global limits, shared
  // blocks, revocations); without it the worker runs as if there were no store.
  void setStore(store::StoreClient* client);
  // Thread-safe: a block or revocation from the store, applied on the worker's thread.
  void applyStoreEvent(const store::StoreEvent& event);

  // --- Worker-thread only ---
  core::EventLoop& loop() { return loop_; }
  const config::Snapshot& snapshot() const { return *snapshot_; }
  observe::WorkerStats& stats() { return stats_; }
  const observe::WorkerStats& stats() const { return stats_; }
  observe::WorkerMetrics& metrics() { return metrics_; }
  const observe::WorkerMetrics& metrics() const { return metrics_; }
  upstream::ClusterPool& pool(uint32_t cluster) { return *pools_[cluster]; }
  ClusterAdmissions& clusterAdmissions() { return cluster_admissions_; }
  const ClusterAdmissions& clusterAdmissions() const { return cluster_admissions_; }
  auth::AuthWorkerState& auth() { return auth_; }
  authz::WorkerAuthz& authz() { return *authz_; }
  const authz::WorkerAuthz& authz() const { return *authz_; }
  store::WorkerStore* store() { return store_.get(); }
  const store::WorkerStore* store() const { return store_.get(); }
  shield::WorkerShield& shield() { return shield_; }
  const shield::WorkerShield& shield() const { return shield_; }
  // Also touched by the server before run() and after the thread ended
  // (the baselines' seed and state).
  shield::WorkerOverload& overload() { return overload_; }
  const shield::WorkerOverload& overload() const { return overload_; }
  // Shadow-policy disagreements of one route (read at shutdown, later by metrics).
  struct ShadowCounts {
    observe::Counter would_allow;
    observe::Counter would_deny;
  };
  ShadowCounts& shadowCounts(uint32_t route) { return shadow_by_route_[route]; }
  const ShadowCounts& shadowCounts(uint32_t route) const { return shadow_by_route_[route]; }
  // True while this second's budget of shadow log lines lasts.
  bool takeShadowLogToken();
  uint64_t nextRandom();
  // The access log's ring of this worker (observe/access_log.h); null: no log.
  // Set before the worker's thread starts.
  observe::AccessRing* accessRing() { return access_ring_; }
  void setAccessRing(observe::AccessRing* ring) { access_ring_ = ring; }
  void sessionClosed(Session* session);
  // Accepts up to `most` queued connections (fewer when the queue empties).
  void acceptFrom(int listen_fd, uint32_t listener, size_t most);
  uint32_t index() const { return index_; }

 private:
  class Listener;
  class LagProbe;
  void beginDrain();
  void closeListeners();
  void stopIfIdle();
  // A block escalation just started at accept on `peer`, published through
  // the store (worker_store_glue.cc).
  void shareNewBlock(const net::SocketAddress& peer);

  uint32_t index_;
  std::shared_ptr<const config::Snapshot> snapshot_;
  std::atomic<uint32_t>* open_connections_;  // process-wide, for max_connections
  core::EventLoop loop_;
  observe::WorkerStats stats_;
  observe::WorkerMetrics metrics_;  // per-route latency and status classes (admin /metrics)
  std::vector<std::unique_ptr<upstream::ClusterPool>> pools_;
  ClusterAdmissions cluster_admissions_;       // adaptive concurrency + fair queue per cluster
  auth::AuthWorkerState auth_;                 // token cache and verifier scratch of phase 5
  shield::WorkerShield shield_;                // accept gate and limiter tables (bounded)
  shield::WorkerOverload overload_;            // shedder, suspicious clients, baselines (bounded)
  std::unique_ptr<LagProbe> lag_probe_;        // measures loop lag for the shedder
  std::vector<ShadowCounts> shadow_by_route_;  // by routing::Route::index
  std::unique_ptr<authz::WorkerAuthz> authz_;  // external authorizers: calls, caches, breakers
  std::unique_ptr<store::WorkerStore> store_;  // leases, local shares, revoked ids; null: no store
  int64_t shadow_log_second_ = 0;
  uint32_t shadow_logs_this_second_ = 0;
  std::vector<std::unique_ptr<Listener>> listeners_;
  Session* sessions_ = nullptr;  // intrusive list head
  size_t session_count_ = 0;
  bool draining_ = false;
  uint64_t random_state_;
  observe::AccessRing* access_ring_ = nullptr;  // owned by the server's AccessLogWriter
  std::atomic<bool> finished_{false};
};

}  // namespace rampart::proxy
