#include "proxy/worker.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <utility>

#include "core/log.h"
#include "net/socket.h"
#include "proxy/session.h"
#include "proxy/worker_parts.h"

namespace rampart::proxy {

namespace {
constexpr int kListenBacklog = 4096;
// How often the loop's lag is sampled while shedding is configured: fine
// enough to follow a 20 ms lag target, and 100 wake-ups a second cost an
// idle worker next to nothing.
constexpr core::Millis kLagProbeMillis = 10;

// A connection refused at accept: closed before a byte is read. SO_LINGER 0
// makes the close a reset, so the refused socket does not sit in TIME_WAIT
// (or FIN_WAIT, if the client never closes) holding kernel memory under a flood.
// Each cluster's endpoint count, for the metrics' per-endpoint histograms.
// A TLS listener's per-address handshake rate (shield/handshake_limiter.h), by listener.
std::vector<std::optional<shield::Limit>> handshakeLimits(const config::Snapshot& snapshot) {
  std::vector<std::optional<shield::Limit>> limits;
  for (const config::ListenerSpec& listener : snapshot.listeners) {
    limits.push_back(listener.tls ? listener.handshake_limit : std::nullopt);
  }
  return limits;
}

observe::WorkerMetrics::Shape metricsShape(const config::Snapshot& snapshot) {
  observe::WorkerMetrics::Shape shape;
  shape.routes = snapshot.route_names;
  shape.listeners = snapshot.listeners.size();
  for (const upstream::ClusterSpec& cluster : snapshot.clusters) {
    shape.clusters.push_back(cluster.name);
    shape.cluster_endpoints.push_back(cluster.endpoints.size());
  }
  return shape;
}

void closeUnread(int fd) {
  linger hard{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  close(fd);
}
}  // namespace

// A timer re-armed every kLagProbeMillis: how late it fires is how late the
// loop came back to its timers (the time spent dispatching the iterations
// before), the shedder's signal that the worker itself is falling behind.
class Worker::LagProbe final : public core::Timer {
 public:
  explicit LagProbe(Worker* worker) : worker_(worker) {}
  void start() { worker_->loop_.arm(this, kLagProbeMillis); }

 protected:
  void onTimeout() override {
    if (!worker_->overload_.shedding()) return;  // turned off by a reload
    const core::Millis late = worker_->loop_.now() - deadline();
    worker_->overload_.observeLag(late > 0 ? late * 1'000'000 : 0);
    start();
  }

 private:
  Worker* worker_;
};

Worker::Worker(uint32_t index, std::shared_ptr<const config::Snapshot> snapshot,
               const std::vector<const upstream::ClusterSpec*>& homes,
               std::atomic<uint32_t>* open_connections)
    : index_(index),
      open_connections_(open_connections),
      auth_(snapshot->auth.token_cache_entries),
      shield_(snapshot->shield, shield::randomSeed()),
      overload_(snapshot->shield.overload, snapshot->shield.baselines,
                snapshot->shield.max_tracked_keys, shield::randomSeed()),
      lag_probe_(std::make_unique<LagProbe>(this)),
      kernel_drop_(std::make_unique<KernelDropSync>(this)),
      handshakes_(snapshot->shield.max_tracked_keys, shield::randomSeed()) {
  std::random_device device;
  random_state_ = (static_cast<uint64_t>(device()) << 32 | device()) ^ (index + 1);
  if (random_state_ == 0) random_state_ = 0x9E3779B97F4A7C15ULL;
  build_seed_ = random_state_ ^ 0xD1B54A32D192ED03ULL;
  generations_.push_back(buildGeneration(std::move(snapshot), homes, 1));
  current_ = generations_.back().get();
  mirrors_ = std::make_unique<MirrorCalls>(this);
  handshakes_.setLimits(handshakeLimits(*current_->snapshot));
}

Worker::~Worker() {
  while (sessions_ != nullptr) {
    Session* session = sessions_;
    sessions_ = session->next;
    delete session;
  }
  listeners_.clear();
  mirrors_.reset();      // gives its connections back to the pools first
  generations_.clear();  // authorizer calls and cluster queues first: they use the pools
  current_ = nullptr;
  pool_registry_.clear();
}

std::unique_ptr<Generation> Worker::buildGeneration(
    std::shared_ptr<const config::Snapshot> snapshot,
    const std::vector<const upstream::ClusterSpec*>& homes, uint64_t number) {
  auto generation = std::make_unique<Generation>();
  generation->number = number;
  for (size_t c = 0; c < snapshot->clusters.size(); ++c) {
    std::unique_ptr<upstream::ClusterPool>& pool =
        pool_registry_[snapshot->clusters[c].fingerprint];
    if (!pool) {
      build_seed_ = build_seed_ * 6364136223846793005ULL + 1442695040888963407ULL;
      pool = std::make_unique<upstream::ClusterPool>(homes[c], &loop_, build_seed_);
    }
    generation->pools.push_back(pool.get());
  }
  generation->admissions =
      std::make_unique<ClusterAdmissions>(snapshot->clusters, shield::randomSeed());
  generation->authz =
      std::make_unique<authz::WorkerAuthz>(&snapshot->ext_authz.authorizers, &loop_);
  const observe::WorkerMetrics::Shape shape = metricsShape(*snapshot);
  if (built_metrics_) {
    generation->metrics = std::make_shared<observe::WorkerMetrics>(shape, *built_metrics_,
                                                                   metricsShape(*built_snapshot_));
  } else {
    generation->metrics = std::make_shared<observe::WorkerMetrics>(
        shape.routes.size(), shape.listeners, shape.cluster_endpoints);
  }
  generation->shadow = std::vector<ShadowCounts>(snapshot->route_names.size());
  generation->snapshot = snapshot;
  built_pools_ = generation->pools;
  built_metrics_ = generation->metrics;
  built_snapshot_ = std::move(snapshot);
  return generation;
}

bool Worker::addListener(int fd, uint32_t index) {
  listeners_.push_back(std::make_unique<Listener>(this, fd, index));
  loop_.addLevelTriggeredInput(fd, listeners_.back().get());
  return true;
}

bool Worker::openListeners(std::string* error) {
  for (const config::ListenerSpec& spec : snapshot().listeners) {
    int fd = net::listenReusePort(spec.address, kListenBacklog, error);
    if (fd < 0) return false;
    addListener(fd, static_cast<uint32_t>(listeners_.size()));
  }
  syncKernelDrops(true);  // as in adoptListeners
  return true;
}

bool Worker::adoptListeners(const std::vector<std::vector<int>>& fds, std::string* error) {
  const std::vector<config::ListenerSpec>& specs = snapshot().listeners;
  for (uint32_t i = 0; i < specs.size(); ++i) {
    if (i < fds.size() && !fds[i].empty()) {
      for (int fd : fds[i]) addListener(fd, i);
      continue;
    }
    int fd = net::listenReusePort(specs[i].address, kListenBacklog, error);
    if (fd < 0) return false;
    addListener(fd, i);
  }
  // The deny list is in the kernel filter before this returns, so before
  // the server reports ready: not from the worker thread's start, which a
  // first client could beat (it would be refused at accept, not dropped).
  syncKernelDrops(true);
  return true;
}

std::vector<std::pair<std::string, int>> Worker::listenerFds() const {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& listener : listeners_) {
    out.emplace_back(snapshot().listeners[listener->index()].address.toString(), listener->fd());
  }
  return out;
}

void Worker::adopt(std::unique_ptr<Generation> next,
                   std::vector<std::pair<std::string, int>> added) {
  // std::function wants a copyable closure: the generation travels as a raw
  // pointer, owned again on the worker's thread.
  Generation* raw = next.release();
  loop_.post([this, raw, added = std::move(added)]() mutable {
    takeGeneration(std::unique_ptr<Generation>(raw), std::move(added));
  });
}

void Worker::takeGeneration(std::unique_ptr<Generation> next,
                            std::vector<std::pair<std::string, int>> added) {
  const uint64_t number = next->number;
  if (draining_) {  // stopping anyway: the old config serves the last requests
    for (auto& [address, fd] : added) close(fd);
    adopted_.store(number, std::memory_order_release);
    return;
  }
  Generation* before = current_;
  const config::Snapshot& now = *next->snapshot;
  // Listeners the new snapshot lacks: connections already queued were
  // promised service by the kernel, so take them (on the old generation,
  // whose listener index they carry) before closing the socket.
  for (size_t i = 0; i < listeners_.size();) {
    Listener& listener = *listeners_[i];
    const std::string address = before->snapshot->listeners[listener.index()].address.toString();
    int32_t found = -1;
    for (size_t l = 0; l < now.listeners.size(); ++l) {
      if (now.listeners[l].address.toString() == address) found = static_cast<int32_t>(l);
    }
    if (found >= 0) {
      ++i;
      continue;
    }
    acceptFrom(listener.fd(), listener.index(), SIZE_MAX);
    loop_.remove(listener.fd());
    spdlog::debug("worker {}: listener {} removed", index_, address);
    listeners_.erase(listeners_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  for (auto& listener : listeners_) {
    const std::string address = before->snapshot->listeners[listener->index()].address.toString();
    for (size_t l = 0; l < now.listeners.size(); ++l) {
      if (now.listeners[l].address.toString() == address)
        listener->setIndex(static_cast<uint32_t>(l));
    }
  }
  for (auto& [address, fd] : added) {
    for (size_t l = 0; l < now.listeners.size(); ++l) {
      if (now.listeners[l].address.toString() == address) {
        addListener(fd, static_cast<uint32_t>(l));
        fd = -1;
        break;
      }
    }
    if (fd >= 0) close(fd);
  }

  generations_.push_back(std::move(next));
  current_ = generations_.back().get();
  // Worker-wide state: kept, on the new settings.
  shield_.rebind(now.shield);
  handshakes_.setLimits(handshakeLimits(now));
  overload_.reload(now.shield.overload, now.shield.baselines);
  if (overload_.shedding() && !lag_probe_->armed()) lag_probe_->start();
  syncKernelDrops(true);  // the deny list, listeners added
  // Key views name the old snapshot's key files; cached tokens stay only
  // when no credential could be judged differently (same authentication
  // section, same key files).
  auth_.api_keys.clear();
  if (before->snapshot->auth_fingerprint != now.auth_fingerprint) auth_.cache.clear();

  // Connections: idle ones move to the new generation now; busy ones finish
  // their request on the old one; those of a removed listener drain.
  for (Session* session = sessions_; session != nullptr;) {
    Session* following = session->next;  // noteReload may close and unlink it
    session->noteReload();
    session = following;
  }
  adopted_.store(number, std::memory_order_release);
  // The old generation goes as soon as no session pins it (maybe already).
  for (auto it = generations_.begin(); it != generations_.end(); ++it) {
    if (it->get() == before && before->pins == 0) {
      generations_.erase(it);
      break;
    }
  }
}

void Worker::unpin(Generation* generation) {
  if (generation->pins > 0) --generation->pins;
  if (generation->pins != 0 || generation == current_) return;
  for (auto it = generations_.begin(); it != generations_.end(); ++it) {
    if (it->get() == generation) {
      generations_.erase(it);
      return;
    }
  }
}

bool Worker::takeShadowLogToken() {
  int64_t second = core::monotonicMillis() / 1000;
  if (second != shadow_log_second_) {
    shadow_log_second_ = second;
    shadow_logs_this_second_ = 0;
  }
  if (shadow_logs_this_second_ >= snapshot().authorization.shadow_log_per_second) return false;
  ++shadow_logs_this_second_;
  return true;
}

uint64_t Worker::nextRandom() {
  random_state_ ^= random_state_ >> 12;
  random_state_ ^= random_state_ << 25;
  random_state_ ^= random_state_ >> 27;
  return random_state_ * 0x2545F4914F6CDD1DULL;
}

void Worker::run() {
  if (overload_.shedding()) lag_probe_->start();
  loop_.run();
  finished_.store(true, std::memory_order_release);
}

// Phase "admit" (L4): decided before a single byte is read.
void Worker::acceptFrom(int listen_fd, uint32_t listener, size_t most) {
  for (size_t i = 0; i < most && !draining_; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int fd =
        accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        spdlog::warn("worker {}: out of file descriptors, accept paused until the next event",
                     index_);
      }
      return;
    }
    const net::SocketAddress peer(reinterpret_cast<sockaddr*>(&ss), len);
    // The shield's gate: deny list, escalation blocks, per-address caps. A
    // trusted proxy's connection to a PROXY-protocol listener carries another
    // client: the session asks the gate about that one once the header names it.
    if (refusedByOperator(peer)) {  // admin POST /clients/block
      refuseAtAccept(fd, peer);
      continue;
    }
    shield::GateTicket ticket;
    const config::Snapshot& snapshot = *current_->snapshot;
    const bool named_later = snapshot.listeners[listener].proxy_protocol &&
                             net::containsAny(snapshot.trusted_proxies, peer);
    if (shield_.gateEnabled() && !named_later) {
      ticket = shield_.admit(peer, loop_.now() * 1'000'000);
      if (ticket.verdict != shield::Admission::kAdmitted) {
        if (store_) shareNewBlock(peer);  // escalation at accept: every instance hears of it
        refuseAtAccept(fd, peer);
        continue;
      }
    }
    // A TLS handshake is the dearest thing a client can ask for: an address
    // over its handshake rate is refused here, before any crypto.
    if (handshakes_.limited(listener) &&
        !handshakes_.admit(listener, peer, loop_.now() * 1'000'000)) {
      shield_.release(ticket);
      stats_.connections_refused.inc();
      stats_.tls_handshakes_limited.inc();
      closeUnread(fd);
      continue;
    }
    if (open_connections_->fetch_add(1, std::memory_order_relaxed) >= snapshot.max_connections) {
      open_connections_->fetch_sub(1, std::memory_order_relaxed);
      shield_.release(ticket);
      stats_.connections_refused.inc();
      closeUnread(fd);
      continue;
    }
    stats_.connections_accepted.inc();
    net::setNoDelay(fd);
    auto* session = new Session(this, fd, peer, listener, ticket);
    session->next = sessions_;
    if (sessions_ != nullptr) sessions_->prev = session;
    sessions_ = session;
    ++session_count_;
    session->start();
  }
}

void Worker::startStreamSession(StreamPipe* pipe, const net::SocketAddress& peer, uint32_t listener,
                                const tls::PeerCertificate* certificate) {
  open_connections_->fetch_add(1, std::memory_order_relaxed);
  auto* session = new Session(this, -1, peer, listener, {}, pipe);
  if (certificate != nullptr) session->adoptPeerCertificate(*certificate);
  session->next = sessions_;
  if (sessions_ != nullptr) sessions_->prev = session;
  sessions_ = session;
  ++session_count_;
  session->start();
}

void Worker::refuseAtAccept(int fd, const net::SocketAddress& peer) {
  stats_.connections_refused.inc();
  stats_.shield_refused_at_accept.inc();
  rotateTalkers();
  uint8_t hint = UINT8_MAX;
  refused_.record(observe::TalkerAddress::from(peer.sockaddrPtr()), &hint);
  closeUnread(fd);
}

void Worker::sessionClosed(Session* session) {
  if (session->prev != nullptr) {
    session->prev->next = session->next;
  } else {
    sessions_ = session->next;
  }
  if (session->next != nullptr) session->next->prev = session->prev;
  session->prev = session->next = nullptr;
  --session_count_;
  open_connections_->fetch_sub(1, std::memory_order_relaxed);
  shield_.release(session->gateTicket());
  loop_.deferDelete(session);
  stopIfIdle();
}

void Worker::requestDrain(bool keep_idle) {
  loop_.post([this, keep_idle] { beginDrain(keep_idle); });
}

void Worker::requestStop() {
  loop_.post([this] {
    draining_ = true;
    closeListeners();
    while (sessions_ != nullptr) sessions_->forceClose();
    loop_.stop();
  });
}

void Worker::beginDrain(bool keep_idle) {
  if (draining_) return;
  // Connections already in the accept queue were promised service by the
  // kernel: closing the listener would reset them. Take them all first.
  for (auto& listener : listeners_) acceptFrom(listener->fd(), listener->index(), SIZE_MAX);
  draining_ = true;
  closeListeners();
  for (Session* session = sessions_; session != nullptr;) {
    Session* next = session->next;  // beginDrain may close and unlink it
    session->beginDrain(keep_idle);
    session = next;
  }
  stopIfIdle();
}

void Worker::closeListeners() {
  for (auto& listener : listeners_) loop_.remove(listener->fd());
  listeners_.clear();
}

void Worker::stopIfIdle() {
  if (draining_ && session_count_ == 0) loop_.stop();
}

}  // namespace rampart::proxy
