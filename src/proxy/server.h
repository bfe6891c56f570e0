// The process: starts the workers on a compiled snapshot, waits for signals
// on the main thread, reloads the config (SIGHUP, POST /reload, the file
// watch), and drains on SIGTERM/SIGINT. Created and run by the command line
// (cli/); lives for the whole process.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "admin/admin_server.h"
#include "auth/api_key_watch.h"
#include "auth/jwks_refresh.h"
#include "config/config.h"
#include "core/periodic_thread.h"
#include "observe/access_log_writer.h"
#include "proxy/rollouts.h"
#include "proxy/route_state.h"
#include "proxy/upgrade.h"
#include "proxy/worker.h"
#include "store/client.h"
#include "upstream/health_checker.h"

namespace rampart::proxy {

class Server {
 public:
  explicit Server(std::shared_ptr<const config::Snapshot> snapshot);
  ~Server();

  // The file the snapshot came from: what a reload reads again. Without one,
  // reloads are refused.
  void setConfigPath(std::string path) { config_path_ = std::move(path); }

  // A full config reload (docs/operations.md). Thread-safe (SIGHUP on the
  // main thread, POST /reload on the admin thread, the watch on its own);
  // reloads run one at a time, off the request path. The new config is
  // loaded and compiled here; refused (every error logged and returned), the
  // running one keeps serving; the same content as the running one, nothing
  // happens; else every worker is posted its new generation.
  struct ReloadOutcome {
    enum class Result : uint8_t { kOk, kRefused, kUnchanged };
    Result result = Result::kRefused;
    std::vector<config::Diagnostic> errors;  // kRefused: every one
    std::string summary;                     // one JSON object (POST /reload's body)
  };
  ReloadOutcome reload(std::string_view trigger);

  // Binary upgrade (docs/operations.md). The command line the new binary
  // gets, and the sockets this process took over from an old one (serve on
  // them instead of binding; set before run()).
  void setCommandLine(std::vector<std::string> argv) { argv_ = std::move(argv); }
  void setInheritedSockets(std::vector<upgrade::Socket> sockets) {
    inherited_ = std::move(sockets);
  }
  // Thread-safe (POST /upgrade): the main thread starts `binary` (empty: the
  // one running now, as it is on disk now) and hands it the listening sockets;
  // this process then drains. SIGUSR2 does the same with the running binary.
  void requestUpgrade(std::string binary);

  // Per-route state that outlives reloads (route_state.h). A module whose
  // state must survive takes its entries in reloadLocked, between the load
  // and the publication of a new snapshot (and in start() for the first);
  // entries of removed routes are dropped after each publication.
  RouteStateRegistry& routeStates() { return route_states_; }

  // Binds every listener in every worker, runs until SIGTERM/SIGINT, drains
  // (in-flight requests finish within drain_timeout), and returns the exit
  // code: 0 after a drain, 1 when start-up failed.
  int run();

 private:
  bool start();
  // `keep_idle`: idle keep-alive connections are not closed at once but
  // answered once more with Connection: close (a binary upgrade: the client
  // then reconnects, to the new process, without a race on a closed socket).
  void drainAndStop(bool keep_idle = false);
  bool openListeners(std::string* error);
  bool upgradeBinary();
  bool allFinished() const;
  void logShadowTotals() const;
  void logAuthorizerTotals() const;
  void logClusterTotals() const;
  std::vector<std::pair<std::string, uint64_t>> clusterCounters(uint32_t cluster) const;
  ReloadOutcome reloadLocked(std::string_view trigger);
  void pollWatchedFiles();
  static std::string sourceStamp(const config::Snapshot& snapshot);
  std::vector<const upstream::ClusterSpec*> homeClusters(
      const std::shared_ptr<const config::Snapshot>& snapshot);
  void restartHealthChecks();
  // The store (server_store.cc): started before the worker threads, its
  // events fanned out to every worker; its state for /stats and /metrics.
  void startStore();
  void addStoreSources(observe::MetricsSources* sources) const;

  // The running snapshot. Written by a reload (under publish_mutex_), read
  // by the admin thread (metricsSources, under it) and the main thread.
  std::shared_ptr<const config::Snapshot> snapshot_;
  mutable std::mutex publish_mutex_;
  // One reload at a time; stopping_ refuses those that come after the drain began.
  std::mutex reload_mutex_;
  RouteStateRegistry route_states_;  // under reload_mutex_
  bool stopping_ = false;
  uint64_t generation_ = 1;
  std::atomic<uint64_t> reloads_ok_{0}, reloads_refused_{0}, reloads_unchanged_{0};
  std::atomic<uint64_t> upgrades_failed_{0};
  // A copy of the first published cluster of each fingerprint: the spec
  // every worker's pool for that fingerprint uses (and whose ClusterHealth
  // the checks write), kept for the life of the process
  // (Worker::buildGeneration). One small spec per cluster definition ever
  // published, not its whole snapshot.
  std::map<std::string, std::unique_ptr<const upstream::ClusterSpec>> home_clusters_;
  std::vector<upstream::ClusterSpec> health_specs_;  // the checker's view: the current homes
  std::string health_fingerprints_;                  // which homes it checks
  // `reload: {watch: true}`: the sources' mtime and size, polled each second.
  // The thread always runs when there is a config file, and acts only while
  // the running snapshot asks for it (so a reload can turn it on or off).
  core::PeriodicThread watch_;
  std::string watch_stamp_;
  // Binary upgrade.
  std::vector<std::string> argv_;
  std::string self_binary_;  // /proc/self/exe at start: the path, if replaced since
  std::vector<upgrade::Socket> inherited_;
  std::mutex upgrade_mutex_;
  std::string upgrade_binary_;  // asked for by POST /upgrade  // watch thread only: the sources'
                                // paths, mtimes, sizes
  std::string config_path_;
  std::atomic<uint32_t> open_connections_{0};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  // The control thread's work so far: JWKS URLs kept fresh.
  std::unique_ptr<auth::JwksRefresher> jwks_;
  std::unique_ptr<auth::ApiKeyWatcher> api_keys_;  // key files re-read when edited
  std::unique_ptr<admin::AdminServer> admin_;      // /metrics, /stats, /ready, /live
  std::atomic<bool> draining_{false};              // /ready answers 503 from the first signal
  std::chrono::steady_clock::time_point started_at_;
  observe::MetricsSources metricsSources() const;
  // The admin API's hooks (proxy/server_admin.cc): config, clients, blocks, drain.
  admin::AdminHooks adminHooks();
  std::string clientsJson();
  admin::ActionAnswer blockClients(const admin::BlockOrder& order);
  admin::ActionAnswer unblockClients(const admin::UnblockOrder& order);
  shield::ManualBlocks manual_blocks_;  // the operator's blocks of record (admin thread only)
  // Learned baselines: the settings in force (the last reload's) and the key
  // seed every worker uses, kept in the state file with what they learned.
  shield::BaselineSettings baselines_;
  shield::Seed baseline_seed_;
  std::unique_ptr<upstream::HealthChecker> health_;       // active health checks, per cluster
  std::unique_ptr<observe::AccessLogWriter> access_log_;  // null unless access_log: is set
  // Progressive rollouts (`ramp:`), by route name; their own timer thread.
  std::unique_ptr<Rollouts> rollouts_;
  // Redis for global limits, shared blocks, revocations (docs/store.md); null
  // without `store:`. Declared after workers_: destroyed (stopped) first, so
  // it never posts to a worker that is gone.
  std::unique_ptr<store::StoreClient> store_;
};

// The number of workers for `configured` (0 = one per core).
uint32_t resolveWorkerCount(uint32_t configured);

}  // namespace rampart::proxy
