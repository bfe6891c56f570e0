#include "proxy/server.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <set>

#include "core/log.h"
#include "net/socket.h"
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
  if (health_) health_->stop();
  for (auto& worker : workers_) worker->requestStop();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

bool Server::start() {
  // Every published cluster's pool and health live on its first spec.
  homeClusters(snapshot_);
  // Keys first, so the first requests find them.
  jwks_ = std::make_unique<auth::JwksRefresher>(snapshot_->auth.providers);
  jwks_->start();
  api_keys_ = std::make_unique<auth::ApiKeyWatcher>(snapshot_->auth.providers);
  api_keys_->start();
  restartHealthChecks();
  uint32_t count = resolveWorkerCount(snapshot_->workers);
  for (uint32_t i = 0; i < count; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, snapshot_, &open_connections_));
  }
  std::string listen_error;
  if (!openListeners(&listen_error)) {
    spdlog::error("cannot listen: {}", listen_error);
    workers_.clear();
    return false;
  }
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
  if (snapshot_->admin.enabled) {
    admin_ =
        std::make_unique<admin::AdminServer>(snapshot_->admin, [this] { return metricsSources(); });
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
    spdlog::info("admin on http://{} (/metrics /stats /ready /live, POST /reload)",
                 snapshot_->admin.address_text);
  }
  for (const config::ListenerSpec& listener : snapshot_->listeners) {
    spdlog::info("listening on http://{} ({} workers)", listener.address.toString(), count);
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

void Server::requestUpgrade(std::string binary) {
  {
    std::lock_guard<std::mutex> lock(upgrade_mutex_);
    upgrade_binary_ = std::move(binary);
  }
  kill(getpid(), SIGUSR2);  // the main thread takes it (sigwait)
}

// SIGUSR2 (or POST /upgrade): hand every listening socket to a new process
// and, once it serves, drain. True when this process should now drain.
bool Server::upgradeBinary() {
  std::string binary;
  {
    std::lock_guard<std::mutex> lock(upgrade_mutex_);
    binary = std::exchange(upgrade_binary_, std::string());
  }
  if (binary.empty()) binary = self_binary_;
  if (config_path_.empty() || argv_.empty() || binary.empty()) {
    spdlog::error("upgrade: only a process started with `serve -c FILE` can upgrade");
    return false;
  }
  std::lock_guard<std::mutex> lock(reload_mutex_);  // no reload moves a listener meanwhile
  if (stopping_) return false;
  std::vector<upgrade::Socket> sockets;
  // The workers' listener lists change only in a reload (excluded by the
  // lock, and every worker acknowledged the last one), so reading them from
  // this thread is safe.
  for (const auto& worker : workers_) {
    for (auto& [address, fd] : worker->listenerFds()) sockets.push_back({address, fd});
  }
  spdlog::info("upgrade: starting {} with {} listening sockets", binary, sockets.size());
  std::vector<std::string> argv = argv_;
  argv[0] = binary;
  pid_t pid = 0;
  std::string error;
  // Long enough for a config with JWKS URLs to fetch its keys at start.
  const auto timeout = std::chrono::seconds(30);
  if (!upgrade::handOver(binary, argv, sockets, timeout, &pid, &error)) {
    spdlog::error("upgrade failed: {}; this process keeps serving", error);
    upgrades_failed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  spdlog::info("upgrade: new process {} serves; draining (up to {} ms)", pid,
               snapshot_->drain_timeout.count());
  return true;
}

// Each worker's listening sockets: bound here, or, after a binary upgrade,
// the old process's. Those are shared out among the workers by listener
// address (worker w takes the i-th socket of a listener when i % workers ==
// w), so every socket the old process had keeps being polled: none is ever
// closed with connections in its queue, whatever the two worker counts. A
// listener with fewer sockets than workers gets new ones bound beside them
// (SO_REUSEPORT); sockets of listeners the new config lacks are closed once
// the old process has drained them (it accepts their queue first).
bool Server::openListeners(std::string* error) {
  const std::vector<config::ListenerSpec>& specs = snapshot_->listeners;
  std::vector<bool> used(inherited_.size(), false);
  for (uint32_t w = 0; w < workers_.size(); ++w) {
    std::vector<std::vector<int>> fds(specs.size());
    for (uint32_t l = 0; l < specs.size(); ++l) {
      const std::string address = specs[l].address.toString();
      size_t position = 0;
      for (size_t i = 0; i < inherited_.size(); ++i) {
        if (inherited_[i].address != address) continue;
        if (position++ % workers_.size() == w) {
          fds[l].push_back(inherited_[i].fd);
          used[i] = true;
        }
      }
    }
    if (!workers_[w]->adoptListeners(fds, error)) return false;
  }
  for (size_t i = 0; i < inherited_.size(); ++i) {
    if (!used[i]) close(inherited_[i].fd);
  }
  inherited_.clear();
  return true;
}

// By cluster index, the spec whose pools and health serve it: the first
// published cluster with the same fingerprint (registered here when new).
std::vector<const upstream::ClusterSpec*> Server::homeClusters(
    const std::shared_ptr<const config::Snapshot>& snapshot) {
  std::vector<const upstream::ClusterSpec*> homes;
  for (uint32_t c = 0; c < snapshot->clusters.size(); ++c) {
    auto [it, added] =
        home_clusters_.try_emplace(snapshot->clusters[c].fingerprint, HomeCluster{snapshot, c});
    homes.push_back(&it->second.owner->clusters[it->second.index]);
  }
  return homes;
}

// The active checks run over the current clusters' home specs (copies share
// their ClusterHealth, which the workers' pools read); restarted only when
// that set changed, so an unchanged cluster's health carries on.
void Server::restartHealthChecks() {
  std::vector<upstream::ClusterSpec> specs;
  std::string fingerprints;
  for (const upstream::ClusterSpec& cluster : snapshot_->clusters) {
    const HomeCluster& home = home_clusters_.at(cluster.fingerprint);
    specs.push_back(home.owner->clusters[home.index]);
    fingerprints += cluster.fingerprint;
    fingerprints += '\0';
  }
  if (health_ && fingerprints == health_fingerprints_) return;
  if (health_) health_->stop();
  health_.reset();
  health_specs_ = std::move(specs);
  health_fingerprints_ = std::move(fingerprints);
  health_ = std::make_unique<upstream::HealthChecker>(health_specs_);
  health_->start();
}

Server::ReloadOutcome Server::reload(std::string_view trigger) {
  std::lock_guard<std::mutex> lock(reload_mutex_);
  ReloadOutcome outcome = reloadLocked(trigger);
  switch (outcome.result) {
    case ReloadOutcome::Result::kOk:
      reloads_ok_.fetch_add(1, std::memory_order_relaxed);
      break;
    case ReloadOutcome::Result::kRefused:
      reloads_refused_.fetch_add(1, std::memory_order_relaxed);
      break;
    case ReloadOutcome::Result::kUnchanged:
      reloads_unchanged_.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  return outcome;
}

namespace {
std::string jsonString(std::string_view text) {
  return "\"" + observe::escapeJson(text) + "\"";
}

Server::ReloadOutcome refusal(std::string_view trigger, const std::string& path,
                              std::vector<config::Diagnostic> errors) {
  Server::ReloadOutcome outcome;
  outcome.result = Server::ReloadOutcome::Result::kRefused;
  std::string list;
  for (const config::Diagnostic& error : errors) {
    spdlog::error("{}", config::format(error));
    if (!list.empty()) list += ",";
    list += jsonString(config::format(error));
  }
  spdlog::error("{}: {} refused ({} errors); the running config is kept", trigger, path,
                errors.size());
  outcome.summary = fmt::format("{{\"result\":\"refused\",\"file\":{},\"errors\":[{}]}}\n",
                                jsonString(path), list);
  outcome.errors = std::move(errors);
  return outcome;
}

bool sameListener(const config::ListenerSpec& a, const config::ListenerSpec& b) {
  return a.address == b.address;
}
}  // namespace

Server::ReloadOutcome Server::reloadLocked(std::string_view trigger) {
  if (stopping_) {
    ReloadOutcome outcome;
    outcome.summary = "{\"result\":\"refused\",\"errors\":[],\"detail\":\"draining\"}\n";
    return outcome;
  }
  if (config_path_.empty()) {
    spdlog::warn("{}: no config file to reload from (rampart proxy); ignoring", trigger);
    ReloadOutcome outcome;
    outcome.summary = "{\"result\":\"refused\",\"errors\":[],\"detail\":\"no config file\"}\n";
    return outcome;
  }
  // Load and compile here, on this control thread: workers keep serving.
  config::LoadResult result = config::loadFile(config_path_);
  if (!result.ok()) return refusal(trigger, config_path_, std::move(result.errors));
  std::shared_ptr<const config::Snapshot> next = result.snapshot;
  if (next->content_hash == snapshot_->content_hash) {
    spdlog::info("{}: {} unchanged (sha256 {}); nothing to do", trigger, config_path_,
                 next->content_hash.substr(0, 12));
    ReloadOutcome outcome;
    outcome.result = ReloadOutcome::Result::kUnchanged;
    outcome.summary =
        fmt::format("{{\"result\":\"unchanged\",\"generation\":{},\"hash\":\"{}\"}}\n", generation_,
                    next->content_hash);
    return outcome;
  }
  // Listeners the running config lacks: bound in every worker now, so a
  // port already taken refuses the whole reload before anything changed.
  std::vector<std::vector<std::pair<std::string, int>>> added(workers_.size());
  uint32_t listeners_added = 0, listeners_removed = 0;
  for (const config::ListenerSpec& spec : snapshot_->listeners) {
    bool kept = false;
    for (const config::ListenerSpec& other : next->listeners)
      kept = kept || sameListener(spec, other);
    if (!kept) ++listeners_removed;
  }
  for (const config::ListenerSpec& spec : next->listeners) {
    bool known = false;
    for (const config::ListenerSpec& other : snapshot_->listeners) {
      known = known || sameListener(spec, other);
    }
    if (known) continue;
    ++listeners_added;
    for (size_t w = 0; w < workers_.size(); ++w) {
      std::string error;
      int fd = net::listenReusePort(spec.address, 4096, &error);
      if (fd < 0) {
        for (auto& fds : added) {
          for (auto& [address, open_fd] : fds) close(open_fd);
        }
        return refusal(trigger, config_path_,
                       {config::Diagnostic{config_path_, 0, 0,
                                           "listener " + spec.address_text + ": " + error}});
      }
      added[w].emplace_back(spec.address.toString(), fd);
    }
  }
  // What needs a restart (or a binary upgrade) is said, not silently ignored.
  if (resolveWorkerCount(next->workers) != workers_.size()) {
    spdlog::warn("{}: workers changed ({} running): takes effect at the next start or upgrade",
                 trigger, workers_.size());
  }
  if (next->admin.address_text != snapshot_->admin.address_text ||
      next->admin.enabled != snapshot_->admin.enabled ||
      next->access_log.enabled != snapshot_->access_log.enabled ||
      next->access_log.path != snapshot_->access_log.path) {
    spdlog::warn("{}: admin or access_log changed: takes effect at the next start or upgrade",
                 trigger);
  }

  uint32_t clusters_kept = 0;
  for (const upstream::ClusterSpec& cluster : next->clusters) {
    if (home_clusters_.count(cluster.fingerprint) != 0) ++clusters_kept;
  }
  std::vector<const upstream::ClusterSpec*> homes = homeClusters(next);
  // Keys of the new providers before any worker can ask for them.
  auto jwks = std::make_unique<auth::JwksRefresher>(next->auth.providers);
  jwks->start();
  auto api_keys = std::make_unique<auth::ApiKeyWatcher>(next->auth.providers);
  api_keys->start();

  const uint64_t number = ++generation_;
  std::shared_ptr<const config::Snapshot> before;
  {
    std::lock_guard<std::mutex> lock(publish_mutex_);  // metricsSources reads what this builds
    for (size_t w = 0; w < workers_.size(); ++w) {
      workers_[w]->adopt(workers_[w]->buildGeneration(next, homes, number), std::move(added[w]));
    }
    before = std::move(snapshot_);
    snapshot_ = next;
  }
  // Answer once every worker serves new requests on it (a posted message
  // each: microseconds unless a worker is stuck in a long event batch).
  const auto wait_until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (const auto& worker : workers_) {
    while (worker->adoptedGeneration() < number && std::chrono::steady_clock::now() < wait_until) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  std::swap(jwks_, jwks);
  std::swap(api_keys_, api_keys);
  if (jwks) jwks->stop();
  if (api_keys) api_keys->stop();
  restartHealthChecks();
  baselines_ = next->shield.baselines;  // where the learned state goes at shutdown

  spdlog::info(
      "{}: {} reloaded: generation {}, sha256 {}, {} routes, {} clusters ({} kept), listeners "
      "+{} -{}",
      trigger, config_path_, number, next->content_hash.substr(0, 12), next->route_names.size(),
      next->clusters.size(), clusters_kept, listeners_added, listeners_removed);
  ReloadOutcome outcome;
  outcome.result = ReloadOutcome::Result::kOk;
  outcome.summary = fmt::format(
      "{{\"result\":\"ok\",\"generation\":{},\"hash\":\"{}\",\"routes\":{},\"clusters\":{},"
      "\"clusters_kept\":{},\"listeners_added\":{},\"listeners_removed\":{}}}\n",
      number, next->content_hash, next->route_names.size(), next->clusters.size(), clusters_kept,
      listeners_added, listeners_removed);
  return outcome;
}

// `reload: {watch: true}`: once a second, the mtime and size of the config
// and of every file it names; a change runs a reload, which compares
// contents (so a touched file is an unchanged reload, not a new config).
void Server::pollWatchedFiles() {
  std::shared_ptr<const config::Snapshot> now;
  {
    std::lock_guard<std::mutex> lock(publish_mutex_);
    now = snapshot_;
  }
  if (!now->reload.watch) {
    watch_stamp_.clear();
    return;
  }
  std::string stamp = sourceStamp(*now);
  if (watch_stamp_.empty()) {
    watch_stamp_ = std::move(stamp);  // the first look: nothing to compare with
    return;
  }
  if (stamp == watch_stamp_) return;
  reload("watch");
  std::lock_guard<std::mutex> lock(publish_mutex_);
  watch_stamp_ = sourceStamp(*snapshot_);  // the sources may have changed
}

// The sources' paths, modification times and sizes, as one comparable string.
std::string Server::sourceStamp(const config::Snapshot& snapshot) {
  std::string stamp;
  for (const config::SourceFile& source : snapshot.sources) {
    struct stat st {};
    if (::stat(source.path.c_str(), &st) != 0) {
      stamp += source.path + ":missing;";
      continue;
    }
    stamp +=
        fmt::format("{}:{}.{}:{};", source.path, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_size);
  }
  return stamp;
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
    sources.clusters.push_back({snapshot_->clusters[c].name, clusterCounters(c)});
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
