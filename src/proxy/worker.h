// A worker: one thread, one event loop, its own SO_REUSEPORT listening
// sockets, upstream pools and stats shard. Created by the Server on the main
// thread; run() and everything it reaches execute on the worker's thread only,
// except requestDrain()/requestStop()/adopt(), which post to it, and the
// main-thread section below (building a reload's generation).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "auth/authenticate.h"
#include "authz/authorizer.h"
#include "config/config.h"
#include "core/event_loop.h"
#include "observe/metrics.h"
#include "observe/stats.h"
#include "observe/top_talkers.h"
#include "proxy/cluster_admission.h"
#include "proxy/generation.h"
#include "proxy/mirror.h"
#include "shield/handshake_limiter.h"
#include "shield/manual_blocks.h"
#include "shield/worker_overload.h"
#include "shield/worker_shield.h"
#include "store/worker_store.h"
#include "tls/peer.h"
#include "upstream/pool.h"

namespace rampart::proxy {

class Session;
class StreamPipe;

class Worker {
 public:
  // `homes`: as for buildGeneration.
  Worker(uint32_t index, std::shared_ptr<const config::Snapshot> snapshot,
         const std::vector<const upstream::ClusterSpec*>& homes,
         std::atomic<uint32_t>* open_connections);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds this worker's listening sockets (main thread, before run()).
  bool openListeners(std::string* error);
  // Listening sockets taken over from another process (a binary upgrade),
  // by listener index, any number each; none: bind a new one. Main thread,
  // before run().
  bool adoptListeners(const std::vector<std::vector<int>>& fds, std::string* error);
  // The thread body: runs the loop until stopped, or until drained and idle.
  void run();

  // Thread-safe: stop accepting, finish in-flight requests, exit when idle.
  // `keep_idle`: idle keep-alive connections get one more response (with
  // Connection: close) instead of being closed at once (binary upgrade).
  void requestDrain(bool keep_idle = false);
  // Thread-safe: close everything now (the drain deadline has passed).
  void requestStop();
  // Thread-safe: a reload. `next` (built by buildGeneration) becomes the
  // current generation: new connections and new requests use it, requests in
  // flight finish on theirs. `added`: listening sockets the server opened for
  // listeners this worker does not have yet, by address ("127.0.0.1:8080"); a
  // listener the new snapshot lacks stops accepting (its accept queue taken
  // first) and its connections finish their request and close.
  void adopt(std::unique_ptr<Generation> next, std::vector<std::pair<std::string, int>> added);
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // The number of the last generation this worker took (or declined while
  // draining): a reload answers once every worker has taken it.
  uint64_t adoptedGeneration() const { return adopted_.load(std::memory_order_acquire); }

  // --- Main thread only (the Server: at start, at a reload, after the run) ---
  // The generation of `snapshot` for this worker. `homes`: by cluster index,
  // the spec whose pool serves that cluster (the first published cluster with
  // its fingerprint; alive as long as the server); its pool is created here
  // the first time, and shared by every later generation. Metrics of routes
  // the last built generation named carry on.
  std::unique_ptr<Generation> buildGeneration(
      std::shared_ptr<const config::Snapshot> snapshot,
      const std::vector<const upstream::ClusterSpec*>& homes, uint64_t number);
  // The last built generation's pools and metrics, for the admin listener.
  const std::vector<upstream::ClusterPool*>& builtPools() const { return built_pools_; }
  const std::shared_ptr<observe::WorkerMetrics>& builtMetrics() const { return built_metrics_; }
  // The listening sockets now open, by address (for a binary upgrade's hand-over).
  // Only while the worker thread is not running, or from the thread itself.
  std::vector<std::pair<std::string, int>> listenerFds() const;

  // The admin API's view of clients (proxy/worker_clients.cc).
  struct ClientsSnapshot {
    std::vector<observe::Talker> requests;  // requests by client, this window and the last
    std::vector<observe::Talker> refused;   // connections refused at accept, likewise
  };
  // Thread-safe: copies the top talkers on the worker's thread and calls
  // `done` there with the copy (never called if the loop has stopped).
  void snapshotClients(std::function<void(ClientsSnapshot)> done);
  // Thread-safe: the operator's blocks (admin POST /clients/block), the
  // whole list each time; checked at accept before the shield's gate.
  void applyManualBlocks(shield::ManualBlocks blocks);
  // Thread-safe: ends an escalation block on `client` (admin unblock).
  void forgive(const net::SocketAddress& client);
  // Worker thread: one request from `client` (its connection keeps `hint`).
  void noteTalker(const net::SocketAddress& client, uint8_t* hint);
  // Worker thread: `peer` is inside one of the operator's blocks (checked at
  // accept, and for the client a PROXY header names).
  bool refusedByOperator(const net::SocketAddress& peer);
  // Before run(): this worker's side of the store (global limits, shared
  // blocks, revocations); without it the worker runs as if there were no store.
  void setStore(store::StoreClient* client);
  // Thread-safe: a block or revocation from the store, applied on the worker's thread.
  void applyStoreEvent(const store::StoreEvent& event);

  // --- Worker-thread only ---
  core::EventLoop& loop() { return loop_; }
  // The current generation: what a new request pins (Session::repin).
  Generation& current() { return *current_; }
  const Generation& current() const { return *current_; }
  const config::Snapshot& snapshot() const { return *current_->snapshot; }
  // A session stopped using `generation`: freed once no session pins it and
  // it is no longer current.
  void unpin(Generation* generation);
  uint64_t generationsAlive() const { return generations_.size(); }
  observe::WorkerStats& stats() { return stats_; }
  const observe::WorkerStats& stats() const { return stats_; }
  upstream::ClusterPool& pool(uint32_t cluster) { return current_->pool(cluster); }
  const upstream::ClusterPool& pool(uint32_t cluster) const { return current_->pool(cluster); }
  ClusterAdmissions& clusterAdmissions() { return *current_->admissions; }
  const ClusterAdmissions& clusterAdmissions() const { return *current_->admissions; }
  auth::AuthWorkerState& auth() { return auth_; }
  authz::WorkerAuthz& authz() { return *current_->authz; }
  const authz::WorkerAuthz& authz() const { return *current_->authz; }
  store::WorkerStore* store() { return store_.get(); }
  const store::WorkerStore* store() const { return store_.get(); }
  shield::WorkerShield& shield() { return shield_; }
  const shield::WorkerShield& shield() const { return shield_; }
  // Also touched by the server before run() and after the thread ended
  // (the baselines' seed and state).
  shield::WorkerOverload& overload() { return overload_; }
  const shield::WorkerOverload& overload() const { return overload_; }
  using ShadowCounts = proxy::ShadowCounts;
  // Of the current generation (read at shutdown).
  const ShadowCounts& shadowCounts(uint32_t route) const { return current_->shadow[route]; }
  // True while this second's budget of shadow log lines lasts.
  bool takeShadowLogToken();
  uint64_t nextRandom();
  // The access log's ring of this worker (observe/access_log.h); null: no log.
  // Set before the worker's thread starts.
  observe::AccessRing* accessRing() { return access_ring_; }
  void setAccessRing(observe::AccessRing* ring) { access_ring_ = ring; }
  void sessionClosed(Session* session);
  // One stream of an HTTP/2 connection becomes an HTTP/1.1 Session over
  // `pipe` (proxy/stream_pipe.h), served like an accepted
  // connection from `peer` on `listener`. It counts as open until it closes
  // (so a drain waits for it), but not as accepted. `certificate`: the
  // connection's verified client certificate (mTLS), or null.
  void startStreamSession(StreamPipe* pipe, const net::SocketAddress& peer, uint32_t listener,
                          const tls::PeerCertificate* certificate);
  // Accepts up to `most` queued connections (fewer when the queue empties).
  void acceptFrom(int listen_fd, uint32_t listener, size_t most);
  uint32_t index() const { return index_; }
  MirrorCalls& mirrors() { return *mirrors_; }  // requests copied to shadow clusters
  // The TLS contexts new connections on `listener` get (null: cleartext):
  // the current generation's, so a reload's certificates serve new
  // connections while open ones keep theirs.
  std::shared_ptr<tls::ServerTls> listenerTls(uint32_t listener) const {
    const auto& listeners = current_->snapshot->listeners;
    return listener < listeners.size() ? listeners[listener].tls : nullptr;
  }

 private:
  class Listener;
  class LagProbe;
  class KernelDropSync;
  // Compiles the gate's blocks and the deny list into the listening
  // sockets' drop filter (worker_kernel_drop.cc) when they changed, or
  // always with `force` (start, reload).
  void syncKernelDrops(bool force);
  void beginDrain(bool keep_idle);
  void rotateTalkers();
  void refuseAtAccept(int fd, const net::SocketAddress& peer);  // counted, closed unread
  void closeListeners();
  void stopIfIdle();
  void takeGeneration(std::unique_ptr<Generation> next,
                      std::vector<std::pair<std::string, int>> added);
  bool addListener(int fd, uint32_t index);
  // A block escalation just started at accept on `peer`, published through
  // the store (worker_store_glue.cc).
  void shareNewBlock(const net::SocketAddress& peer);

  uint32_t index_;
  std::atomic<uint32_t>* open_connections_;  // process-wide, for max_connections
  core::EventLoop loop_;
  observe::WorkerStats stats_;
  // Main thread only: one pool per cluster fingerprint ever published, kept
  // until the worker is destroyed (a reload alternating between two configs
  // reuses them; a removed cluster's pool only closes its idle connections).
  std::map<std::string, std::unique_ptr<upstream::ClusterPool>> pool_registry_;
  std::vector<upstream::ClusterPool*> built_pools_;
  std::shared_ptr<observe::WorkerMetrics> built_metrics_;
  std::shared_ptr<const config::Snapshot> built_snapshot_;
  uint64_t build_seed_;
  // Worker thread: the generations alive (the current one last).
  std::vector<std::unique_ptr<Generation>> generations_;
  Generation* current_ = nullptr;
  auth::AuthWorkerState auth_;                   // token cache and verifier scratch of phase 5
  shield::WorkerShield shield_;                  // accept gate and limiter tables (bounded)
  shield::WorkerOverload overload_;              // shedder, suspicious clients, baselines (bounded)
  std::unique_ptr<LagProbe> lag_probe_;          // measures loop lag for the shedder
  std::unique_ptr<KernelDropSync> kernel_drop_;  // re-checks the kernel drop set
  std::unique_ptr<MirrorCalls> mirrors_;         // its calls end before the pools do
  std::unique_ptr<store::WorkerStore> store_;  // leases, local shares, revoked ids; null: no store
  int64_t shadow_log_second_ = 0;
  uint32_t shadow_logs_this_second_ = 0;
  std::vector<std::unique_ptr<Listener>> listeners_;
  shield::HandshakeLimiter handshakes_;  // per-address handshake rates of TLS listeners
  Session* sessions_ = nullptr;          // intrusive list head
  size_t session_count_ = 0;
  bool draining_ = false;
  uint64_t random_state_;
  observe::AccessRing* access_ring_ = nullptr;  // owned by the server's AccessLogWriter
  std::atomic<bool> finished_{false};
  std::atomic<uint64_t> adopted_{1};
  // Clients (worker_clients.cc): fixed size, rotated every kTalkerWindowMillis.
  observe::TopTalkers talkers_, talkers_previous_;
  observe::TopTalkers refused_, refused_previous_;
  int64_t talker_window_ = 0;
  shield::ManualBlocks manual_blocks_;
};

}  // namespace rampart::proxy
