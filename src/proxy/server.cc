#include "proxy/server.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

#include "core/clock.h"
#include "core/descriptors.h"
#include "core/log.h"
#include "observe/stats.h"
#include "proxy/overload_state.h"

namespace rampart::proxy {

uint32_t resolveWorkerCount(uint32_t configured) {
  if (configured != 0) return configured;
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

Server::Server(std::shared_ptr<const config::Snapshot> snapshot) : snapshot_(std::move(snapshot)) {}

Server::~Server() {
  if (rollouts_) rollouts_->stop();
  if (health_) health_->stop();
  for (auto& worker : workers_) worker->requestStop();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

bool Server::start() {
  // Before any thread: the descriptor table never grows on the request
  // path (core/descriptors.h). A client connection and an upstream one each.
  const core::DescriptorReserve fds =
      core::reserveDescriptors(static_cast<size_t>(snapshot_->max_connections) * 2 + 1024);
  spdlog::debug("file descriptors: limit {}{}, table {}", fds.limit,
                fds.raised ? " (soft limit raised)" : "", fds.reserved);
  // Every published cluster's pool and health live on its first spec.
  const std::vector<const upstream::ClusterSpec*> homes = homeClusters(snapshot_);
  // Keys first, so the first requests find them.
  jwks_ = std::make_unique<auth::JwksRefresher>(snapshot_->auth.providers);
  jwks_->start();
  api_keys_ = std::make_unique<auth::ApiKeyWatcher>(snapshot_->auth.providers);
  api_keys_->start();
  restartHealthChecks();
  uint32_t count = resolveWorkerCount(snapshot_->workers);
  for (uint32_t i = 0; i < count; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, snapshot_, homes, &open_connections_));
  }
  std::string listen_error;
  if (!openListeners(&listen_error)) {
    spdlog::error("cannot listen: {}", listen_error);
    workers_.clear();
    return false;
  }
  startStore();
  // Learned baselines from the last run, before any worker thread starts.
  baselines_ = snapshot_->shield.baselines;
  baseline_seed_ = restoreBaselines(baselines_, workers_);
  if (snapshot_->access_log.enabled) {
    access_log_ = std::make_unique<observe::AccessLogWriter>(snapshot_->access_log, count);
    std::string error;
    if (!access_log_->start(&error)) {
      spdlog::error("access_log: cannot open {}", error);
      workers_.clear();
      return false;
    }
    for (uint32_t i = 0; i < count; ++i) workers_[i]->setAccessRing(access_log_->ring(i));
  }
  for (auto& worker : workers_) {
    threads_.emplace_back([w = worker.get()] { w->run(); });
  }
  started_at_ = std::chrono::steady_clock::now();
  rollouts_ = std::make_unique<Rollouts>(*snapshot_, core::monotonicMillis());
  rollouts_->start();
  if (snapshot_->admin.enabled) {
    admin_ = std::make_unique<admin::AdminServer>(snapshot_->admin, adminHooks());
    admin_->setReloader([this] {
      ReloadOutcome outcome = reload("POST /reload");
      int status = outcome.result == ReloadOutcome::Result::kRefused
                       ? (outcome.errors.empty() ? 400 : 422)
                       : 200;
      return admin::AdminServer::ReloadAnswer{status, outcome.summary};
    });
    admin_->setUpgrader([this](std::string_view binary) {
      if (config_path_.empty()) {
        return admin::AdminServer::ReloadAnswer{
            400, "{\"result\":\"refused\",\"detail\":\"no config file\"}\n"};
      }
      requestUpgrade(std::string(binary));
      return admin::AdminServer::ReloadAnswer{202, "{\"result\":\"started\"}\n"};
    });
    std::string error;
    if (!admin_->start(&error)) {
      spdlog::error("admin listener {}: {}", snapshot_->admin.address_text, error);
      admin_.reset();
      drainAndStop();
      return false;
    }
    spdlog::info(
        "admin on http://{} (/dashboard /metrics /stats /rollouts /ready /live, POST /reload)",
        snapshot_->admin.address_text);
  }
  for (const config::ListenerSpec& listener : snapshot_->listeners) {
    spdlog::info("listening on {}://{} ({} workers)", listener.tls ? "https" : "http",
                 listener.address.toString(), count);
  }
  if (!config_path_.empty()) {
    watch_.start(std::chrono::milliseconds(1000), [this] { pollWatchedFiles(); });
  }
  char self[4096];
  ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length > 0) {
    self_binary_.assign(self, static_cast<size_t>(length));
    // Replaced on disk since it started: the new file is at the same path.
    constexpr std::string_view kDeleted = " (deleted)";
    if (self_binary_.ends_with(kDeleted))
      self_binary_.resize(self_binary_.size() - kDeleted.size());
  }
  return true;
}

// Per route, what the shadow policies would have changed (metrics arrive
// with the observability issue; until then this line is where to look).
void Server::logShadowTotals() const {
  const std::vector<std::string>& names = snapshot_->route_names;
  for (uint32_t route = 0; route < names.size(); ++route) {
    uint64_t allow = 0, deny = 0;
    for (const auto& worker : workers_) {
      allow += worker->shadowCounts(route).would_allow.get();
      deny += worker->shadowCounts(route).would_deny.get();
    }
    if (allow + deny == 0) continue;
    spdlog::info("shadow route '{}': would_allow={} would_deny={}", names[route], allow, deny);
  }
}

bool Server::allFinished() const {
  for (const auto& worker : workers_) {
    if (!worker->finished()) return false;
  }
  return true;
}

int Server::run() {
  // Signals are taken synchronously by this thread only; workers inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (!start()) return 1;
  upgrade::announceReady();  // started by an upgrade: the old process may drain now
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGUSR2) {
      if (!upgradeBinary()) continue;
      drainAndStop(/*keep_idle=*/true);
      return 0;
    }
    if (sig == SIGHUP) {
      reload("SIGHUP");
      continue;
    }
    if (sig == SIGUSR1) {  // log rotation: the file was moved away; open it anew
      if (access_log_) access_log_->requestReopen();
      continue;
    }
    spdlog::info("{}: draining (up to {} ms)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                 snapshot_->drain_timeout.count());
    break;
  }
  drainAndStop();
  return 0;
}

// What the admin listener reads: the workers' shards, merged by the reader.
observe::MetricsSources Server::metricsSources() const {
  // A reload publishes under this lock: the snapshot and every worker's last
  // built metrics and pools stay consistent with each other while read, and
  // keep_alive holds them until the answer is rendered.
  std::lock_guard<std::mutex> lock(publish_mutex_);
  observe::MetricsSources sources;
  sources.route_names = &snapshot_->route_names;
  sources.keep_alive.push_back(snapshot_);
  for (const auto& worker : workers_) {
    sources.stats.push_back(&worker->stats());
    sources.metrics.push_back(worker->builtMetrics().get());
    sources.keep_alive.push_back(worker->builtMetrics());
  }
  sources.reloads.ok = reloads_ok_.load(std::memory_order_relaxed);
  sources.reloads.refused = reloads_refused_.load(std::memory_order_relaxed);
  sources.reloads.unchanged = reloads_unchanged_.load(std::memory_order_relaxed);
  sources.open_connections = open_connections_.load(std::memory_order_relaxed);
  sources.uptime_seconds = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                                     std::chrono::steady_clock::now() - started_at_)
                                                     .count());
  sources.draining = draining_.load(std::memory_order_relaxed);
  addStoreSources(&sources);
  // Weighted routes (docs/cutover.md): each cluster's weight now.
  for (size_t route = 0; route < snapshot_->route_specs.size(); ++route) {
    const routing::Split* split = snapshot_->route_specs[route].split.get();
    if (split == nullptr) continue;
    for (uint32_t t = 0; t < split->spec().targets.size(); ++t) {
      sources.split_weights.push_back(
          {snapshot_->route_names[route],
           snapshot_->clusters[split->spec().targets[t].cluster_index].name, split->weightNow(t),
           split->steppedBack()});
    }
  }
  for (uint32_t c = 0; c < snapshot_->clusters.size(); ++c) {
    const upstream::ClusterSpec& cluster = snapshot_->clusters[c];
    const auto endpoints = static_cast<uint32_t>(cluster.endpoints.size());
    const uint32_t down = cluster.health ? cluster.health->unhealthyCount() : 0;
    sources.clusters.push_back({cluster.name, clusterCounters(c), endpoints,
                                down < endpoints ? endpoints - down : 0, cluster.endpoint_names});
  }
  for (const config::ListenerSpec& listener : snapshot_->listeners) {
    sources.listener_names.push_back(listener.name);
  }
  if (rollouts_) sources.rollouts = rollouts_->rows(core::monotonicMillis());
  for (size_t route = 0; route < snapshot_->route_specs.size(); ++route) {
    const routing::Mirror* mirror = snapshot_->route_specs[route].mirror.get();
    if (mirror == nullptr) continue;
    observe::MirrorRow row{snapshot_->route_names[route], {}};
    for (size_t r = 0; r < routing::kMirrorResultCount; ++r) {
      auto result = static_cast<routing::MirrorResult>(r);
      row.results.emplace_back(routing::mirrorResultName(result), mirror->counted(result));
    }
    sources.mirrors.push_back(std::move(row));
  }
  return sources;
}

void Server::drainAndStop(bool keep_idle) {
  {
    std::lock_guard<std::mutex> lock(reload_mutex_);  // waits for a reload under way
    stopping_ = true;
  }
  watch_.stop();
  draining_.store(true, std::memory_order_relaxed);
  for (auto& worker : workers_) worker->requestDrain(keep_idle);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  auto deadline = std::chrono::steady_clock::now() + snapshot_->drain_timeout;
  bool forced = false;
  while (!allFinished()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      spdlog::warn("drain deadline reached: closing the remaining connections");
      forced = true;
      break;
    }
    timespec wait{0, 10 * 1000 * 1000};
    if (sigtimedwait(&signals, nullptr, &wait) > 0) {
      spdlog::warn("second signal: stopping now");
      forced = true;
      break;
    }
  }
  if (forced) {
    for (auto& worker : workers_) worker->requestStop();
  }
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  // After the workers: every line they logged is in a ring, written now.
  if (access_log_) {
    access_log_->stop();
    spdlog::info(
        "access log: {} lines written, {} lost to write errors or a stalled sink, {} "
        "write errors",
        access_log_->linesWritten(), access_log_->linesLost(), access_log_->writeErrors());
  }
  if (admin_) admin_->stop();
  if (rollouts_) rollouts_->stop();
  if (store_) store_->stop();
  if (jwks_) jwks_->stop();
  if (api_keys_) api_keys_->stop();
  if (health_) health_->stop();
  std::vector<const observe::WorkerStats*> shards;
  for (const auto& worker : workers_) shards.push_back(&worker->stats());
  spdlog::info("stopped: {}", observe::summarize(shards));
  logOverloadTotals(workers_);
  saveBaselines(baselines_, baseline_seed_, workers_);
  logShadowTotals();
  logAuthorizerTotals();
  std::vector<const ClusterAdmissions*> admissions;
  for (const auto& worker : workers_) admissions.push_back(&worker->clusterAdmissions());
  for (const std::string& line : summarizeClusterAdmission(snapshot_->clusters, admissions)) {
    spdlog::info("{}", line);
  }
  logClusterTotals();
}

// One cluster's upstream counters, summed over the workers: failures by
// cause, outlier and panic events, retries and breaker trips, and the active
// checks' counts. Shared by the shutdown log line and /metrics; every value is
// a relaxed atomic, so the admin thread may read it while workers run.
std::vector<std::pair<std::string, uint64_t>> Server::clusterCounters(uint32_t c) const {
  std::vector<std::pair<std::string, uint64_t>> out;
  auto add = [&](std::string name, uint64_t value) { out.emplace_back(std::move(name), value); };
  for (size_t i = 0; i < upstream::kFailureCauseCount; ++i) {
    auto cause = static_cast<upstream::FailureCause>(i);
    uint64_t sum = 0;
    for (const auto& worker : workers_) {
      sum += worker->builtPools()[c]->stats().failure(cause).get();
    }
    add(std::string(upstream::causeCounterName(cause)), sum);
  }
  uint64_t ejections = 0, refused = 0, panic = 0, retries = 0, budget_refused = 0;
  uint64_t trips[upstream::kBreakerCount] = {};
  for (const auto& worker : workers_) {
    const upstream::ClusterPool& pool = *worker->builtPools()[c];
    const upstream::ClusterStats& stats = pool.stats();
    ejections += stats.ejections.get();
    refused += stats.ejections_refused.get();
    panic += stats.panic_picks.get();
    retries += stats.retries.get();
    budget_refused += stats.retries_budget_refused.get();
    for (size_t b = 1; b < upstream::kBreakerCount; ++b) {
      trips[b] += pool.breakers().trips(static_cast<upstream::Breaker>(b));
    }
  }
  add("ejections", ejections);
  add("ejections_refused", refused);
  add("panic_picks", panic);
  // Retries and breaker trips (docs/upstreams.md "Retries", "Circuit breakers").
  add("retries", retries);
  add("retries_budget_refused", budget_refused);
  for (size_t b = 1; b < upstream::kBreakerCount; ++b) {
    add(fmt::format("breaker_{}", upstream::breakerName(static_cast<upstream::Breaker>(b))),
        trips[b]);
  }
  // The health the pools read: their (first published) spec's.
  const upstream::ClusterHealth* health =
      workers_.empty() ? nullptr : workers_.front()->builtPools()[c]->spec().health.get();
  if (health != nullptr) {
    add("health_checks", health->checks.load(std::memory_order_relaxed));
    add("health_checks_failed", health->failed_checks.load(std::memory_order_relaxed));
    add("marked_unhealthy", health->marked_unhealthy.load(std::memory_order_relaxed));
    add("marked_healthy", health->marked_healthy.load(std::memory_order_relaxed));
  }
  return out;
}

// Per cluster, its counters summed over the workers; a cluster with nothing
// to report is left out.
void Server::logClusterTotals() const {
  const std::vector<upstream::ClusterSpec>& clusters = snapshot_->clusters;
  for (uint32_t c = 0; c < clusters.size(); ++c) {
    std::string line;
    uint64_t total = 0;
    for (const auto& [name, value] : clusterCounters(c)) {
      line += fmt::format(" {}={}", name, value);
      total += value;
    }
    if (total == 0) continue;
    spdlog::info("cluster '{}':{}", clusters[c].name, line);
  }
}

// Per external authorizer, summed over the workers (metrics come later).
void Server::logAuthorizerTotals() const {
  const auto& specs = snapshot_->ext_authz.authorizers;
  for (uint32_t i = 0; i < specs.size(); ++i) {
    struct Field {
      const char* name;
      observe::Counter authz::AuthorizerStats::*member;
    };
    static const Field kFields[] = {
        {"calls", &authz::AuthorizerStats::calls},
        {"allowed", &authz::AuthorizerStats::allowed},
        {"denied", &authz::AuthorizerStats::denied},
        {"cache_hits", &authz::AuthorizerStats::cache_hits},
        {"stale_uses", &authz::AuthorizerStats::stale_uses},
        {"failures", &authz::AuthorizerStats::failures},
        {"timeouts", &authz::AuthorizerStats::timeouts},
        {"circuit_opens", &authz::AuthorizerStats::circuit_opens},
        {"short_circuited", &authz::AuthorizerStats::short_circuited},
        {"failed_open", &authz::AuthorizerStats::failed_open},
        {"failed_closed", &authz::AuthorizerStats::failed_closed},
        {"abandoned", &authz::AuthorizerStats::abandoned},
        {"coalesced", &authz::AuthorizerStats::coalesced},
    };
    std::string line;
    for (const Field& field : kFields) {
      uint64_t sum = 0;
      for (const auto& worker : workers_) sum += (worker->authz().stats(i).*field.member).get();
      line += fmt::format(" {}={}", field.name, sum);
    }
    spdlog::info("authorizer '{}':{}", specs[i].name, line);
  }
}

}  // namespace rampart::proxy
