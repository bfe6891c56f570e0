// The server's control paths that change a running process: the full config
// reload (SIGHUP, POST /reload, the file watch), the listening sockets (bound,
// or taken over from an old process) and the binary upgrade
// (docs/operations.md). They run on the main, admin or watch thread, one at a
// time (reload_mutex_), never on a worker.
#include "proxy/server.h"

#include "core/clock.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <utility>

#include "core/log.h"
#include "net/socket.h"
#include "observe/export.h"

namespace rampart::proxy {

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
    auto [it, added] = home_clusters_.try_emplace(snapshot->clusters[c].fingerprint, nullptr);
    if (added) it->second = std::make_unique<const upstream::ClusterSpec>(snapshot->clusters[c]);
    homes.push_back(it->second.get());
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
    specs.push_back(*home_clusters_.at(cluster.fingerprint));
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

  // TLS listeners keep their session-ticket keys (a reload is not a
  // rotation): clients keep resuming on the new certificates' contexts.
  size_t tls_listeners = 0;
  for (const config::ListenerSpec& listener : next->listeners) {
    if (!listener.tls) continue;
    ++tls_listeners;
    for (const config::ListenerSpec& previous : snapshot_->listeners) {
      if (previous.name == listener.name && previous.tls) {
        listener.tls->adoptTicketKeys(*previous.tls);
      }
    }
  }
  if (tls_listeners > 0) {
    spdlog::info("{}: TLS certificates reloaded for {} listener(s); open connections keep theirs",
                 trigger, tls_listeners);
  }
  // A ramped route keeps its step: published to its new Split before any
  // worker serves on it.
  if (rollouts_) rollouts_->adopt(*next, core::monotonicMillis());
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
  route_states_.retainOnly(next->route_names);
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

}  // namespace rampart::proxy
