// The process: starts the workers on a compiled snapshot, waits for signals
// on the main thread, and drains on SIGTERM/SIGINT. Created and run by the
// command line (cli/); lives for the whole process.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "admin/admin_server.h"
#include "auth/api_key_watch.h"
#include "auth/jwks_refresh.h"
#include "config/config.h"
#include "observe/access_log_writer.h"
#include "proxy/worker.h"
#include "store/client.h"
#include "upstream/health_checker.h"

namespace rampart::proxy {

class Server {
 public:
  explicit Server(std::shared_ptr<const config::Snapshot> snapshot);
  ~Server();

  // The file the snapshot came from: SIGHUP reloads the shield's accept gate
  // (allow/deny lists, per-address caps, escalation), overload and
  // baselines from it. Without one, SIGHUP is ignored.
  void setConfigPath(std::string path) { config_path_ = std::move(path); }

  // Binds every listener in every worker, runs until SIGTERM/SIGINT, drains
  // (in-flight requests finish within drain_timeout), and returns the exit
  // code: 0 after a drain, 1 when start-up failed.
  int run();

 private:
  bool start();
  void drainAndStop();
  bool allFinished() const;
  void logShadowTotals() const;
  void logAuthorizerTotals() const;
  void logClusterTotals() const;
  std::vector<std::pair<std::string, uint64_t>> clusterCounters(uint32_t cluster) const;
  void reloadShield();
  // The store (server_store.cc): started before the worker threads, its
  // events fanned out to every worker; its state for /stats and /metrics.
  void startStore();
  void addStoreSources(observe::MetricsSources* sources) const;

  std::shared_ptr<const config::Snapshot> snapshot_;
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
  // Learned baselines: the settings in force (the last reload's) and the key
  // seed every worker uses, kept in the state file with what they learned.
  shield::BaselineSettings baselines_;
  shield::Seed baseline_seed_;
  std::unique_ptr<upstream::HealthChecker> health_;       // active health checks, per cluster
  std::unique_ptr<observe::AccessLogWriter> access_log_;  // null unless access_log: is set
  // Redis for global limits, shared blocks, revocations (docs/store.md); null
  // without `store:`. Declared after workers_: destroyed (stopped) first, so
  // it never posts to a worker that is gone.
  std::unique_ptr<store::StoreClient> store_;
};

// The number of workers for `configured` (0 = one per core).
uint32_t resolveWorkerCount(uint32_t configured);

}  // namespace rampart::proxy
