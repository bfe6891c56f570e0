#include "proxy/worker.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "core/log.h"
#include "net/socket.h"
#include "proxy/session.h"

namespace rampart::proxy {

namespace {
constexpr int kListenBacklog = 4096;
// Accepts per readiness event: bounded so one listener cannot starve the
// connections already being served.
constexpr size_t kMaxAcceptsPerEvent = 16;
// How often the loop's lag is sampled while shedding is configured: fine
// enough to follow a 20 ms lag target, and 100 wake-ups a second cost an
// idle worker next to nothing.
constexpr core::Millis kLagProbeMillis = 10;

// A connection refused at accept: closed before a byte is read. SO_LINGER 0
// makes the close a reset, so the refused socket does not sit in TIME_WAIT
// (or FIN_WAIT, if the client never closes) holding kernel memory under a flood.
void closeUnread(int fd) {
  linger hard{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  close(fd);
}
}  // namespace

class Worker::Listener final : public core::EventHandler {
 public:
  Listener(Worker* worker, int fd, uint32_t index) : worker_(worker), fd_(fd), index_(index) {}
  ~Listener() override {
    if (fd_ >= 0) close(fd_);
  }
  void onEvents(uint32_t) override { worker_->acceptFrom(fd_, index_, kMaxAcceptsPerEvent); }
  int fd() const { return fd_; }
  uint32_t index() const { return index_; }

 private:
  Worker* worker_;
  int fd_;
  uint32_t index_;  // into Snapshot::listeners
};

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
               std::atomic<uint32_t>* open_connections)
    : index_(index),
      snapshot_(std::move(snapshot)),
      open_connections_(open_connections),
      metrics_(snapshot_->route_names.size()),
      cluster_admissions_(snapshot_->clusters, shield::randomSeed()),
      auth_(snapshot_->auth.token_cache_entries),
      shield_(snapshot_->shield, shield::randomSeed()),
      overload_(snapshot_->shield.overload, snapshot_->shield.baselines,
                snapshot_->shield.max_tracked_keys, shield::randomSeed()),
      lag_probe_(std::make_unique<LagProbe>(this)),
      shadow_by_route_(snapshot_->route_names.size()) {
  std::random_device device;
  random_state_ = (static_cast<uint64_t>(device()) << 32 | device()) ^ (index + 1);
  if (random_state_ == 0) random_state_ = 0x9E3779B97F4A7C15ULL;
  for (const upstream::ClusterSpec& cluster : snapshot_->clusters) {
    pools_.push_back(std::make_unique<upstream::ClusterPool>(&cluster, &loop_, nextRandom()));
  }
  authz_ = std::make_unique<authz::WorkerAuthz>(&snapshot_->ext_authz.authorizers, &loop_);
}

Worker::~Worker() {
  while (sessions_ != nullptr) {
    Session* session = sessions_;
    sessions_ = session->next;
    delete session;
  }
  listeners_.clear();
  authz_.reset();
  pools_.clear();
}

bool Worker::openListeners(std::string* error) {
  for (const config::ListenerSpec& spec : snapshot_->listeners) {
    int fd = net::listenReusePort(spec.address, kListenBacklog, error);
    if (fd < 0) return false;
    listeners_.push_back(
        std::make_unique<Listener>(this, fd, static_cast<uint32_t>(listeners_.size())));
    loop_.addLevelTriggeredInput(fd, listeners_.back().get());
  }
  return true;
}

bool Worker::takeShadowLogToken() {
  int64_t second = core::monotonicMillis() / 1000;
  if (second != shadow_log_second_) {
    shadow_log_second_ = second;
    shadow_logs_this_second_ = 0;
  }
  if (shadow_logs_this_second_ >= snapshot_->authorization.shadow_log_per_second) return false;
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
    shield::GateTicket ticket;
    const bool named_later = snapshot_->listeners[listener].proxy_protocol &&
                             net::containsAny(snapshot_->trusted_proxies, peer);
    if (shield_.gateEnabled() && !named_later) {
      ticket = shield_.admit(peer, loop_.now() * 1'000'000);
      if (ticket.verdict != shield::Admission::kAdmitted) {
        stats_.connections_refused.inc();
        stats_.shield_refused_at_accept.inc();
        if (store_) shareNewBlock(peer);  // escalation at accept: every instance hears of it
        closeUnread(fd);
        continue;
      }
    }
    if (open_connections_->fetch_add(1, std::memory_order_relaxed) >= snapshot_->max_connections) {
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

void Worker::requestDrain() {
  loop_.post([this] { beginDrain(); });
}

void Worker::reloadShieldGate(bool enabled, const shield::GateConfig& gate) {
  loop_.post([this, enabled, gate] { shield_.reloadGate(enabled, gate); });
}

void Worker::reloadOverload(const shield::OverloadSettings& overload,
                            const shield::BaselineSettings& baselines) {
  loop_.post([this, overload, baselines] {
    overload_.reload(overload, baselines);
    if (overload_.shedding() && !lag_probe_->armed()) lag_probe_->start();
  });
}

void Worker::requestStop() {
  loop_.post([this] {
    draining_ = true;
    closeListeners();
    while (sessions_ != nullptr) sessions_->forceClose();
    loop_.stop();
  });
}

void Worker::beginDrain() {
  if (draining_) return;
  // Connections already in the accept queue were promised service by the
  // kernel: closing the listener would reset them. Take them all first.
  for (auto& listener : listeners_) acceptFrom(listener->fd(), listener->index(), SIZE_MAX);
  draining_ = true;
  closeListeners();
  for (Session* session = sessions_; session != nullptr;) {
    Session* next = session->next;  // beginDrain may close and unlink it
    session->beginDrain();
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
