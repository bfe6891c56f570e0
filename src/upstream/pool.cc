#include "upstream/pool.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/log.h"
#include "net/socket.h"

namespace rampart::upstream {

namespace {
// Response heads are small; bodies stream through this window.
constexpr size_t kUpstreamBufferBytes = 64 * 1024;

// The cluster's `max_requests` is the max_requests breaker.
BreakerLimits limitsOf(const ClusterSpec& spec) {
  BreakerLimits limits = spec.breakers;
  limits.max_requests = spec.max_requests;
  return limits;
}
}  // namespace

Connection::Connection(ClusterPool* pool, uint32_t endpoint, int fd)
    : pool_(pool), endpoint_(endpoint), fd_(fd), input_(kUpstreamBufferBytes) {}

Connection::~Connection() {
  if (fd_ >= 0) close(fd_);
}

void Connection::onEvents(uint32_t events) {
  if (user_ != nullptr) {
    user_->onUpstreamEvents(events);
    return;
  }
  // Idle in the pool: the upstream closed it or sent something unsolicited,
  // and either way it can no longer be trusted. But an edge raised while it
  // was still lent (bytes that arrived after epoll_wait returned, read by
  // the user before it released the connection) is reported only now: when
  // nothing is there to read, that is all it was.
  if (fd_ < 0) return;
  if (!(events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))) {
    char byte;
    ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  }
  pool_->removeIdle(this);
}

void Connection::setConnected() {
  connected_ = true;
  pool_->connectDone(this);
}

void Connection::onTimeout() {
  if (user_ != nullptr) {
    user_->onUpstreamTimeout();
    return;
  }
  pool_->removeIdle(this);  // idle_timeout reached
}

ClusterPool::ClusterPool(const ClusterSpec* spec, core::EventLoop* loop, uint64_t seed)
    : spec_(spec),
      loop_(loop),
      balancer_(spec->balance, static_cast<uint32_t>(spec->endpoints.size()), seed),
      endpoints_(spec->endpoints.size()),
      active_counts_(spec->endpoints.size(), 0),
      outlier_(spec->outlier, static_cast<uint32_t>(spec->endpoints.size())),
      breakers_(limitsOf(*spec)),
      budget_(static_cast<double>(spec->retry_budget_percent), spec->retry_budget_min) {
  usable_.reserve(spec->endpoints.size());
}

ClusterPool::~ClusterPool() {
  for (Endpoint& endpoint : endpoints_) {
    tls::releaseSession(endpoint.tls_session);
    for (Connection* connection : endpoint.idle) {
      loop_->remove(connection->fd_);
      delete connection;
    }
    endpoint.idle.clear();
  }
}

bool ClusterPool::tryBeginRequest() {
  if (breakers_.admitRequest() != Breaker::kNone) return false;
  ++active_requests_;
  return true;
}

void ClusterPool::endRequest() {
  if (active_requests_ > 0) --active_requests_;
  breakers_.endRequest();
}

Breaker ClusterPool::tryStartRetry(bool* by_budget) {
  *by_budget = false;
  if (!budget_.tryStartRetry(active_requests_)) {
    stats_.retries_budget_refused.inc();
    *by_budget = true;
    return Breaker::kRetries;
  }
  Breaker tripped = breakers_.admitRetry();
  if (tripped != Breaker::kNone) {
    budget_.endRetry();
    return tripped;
  }
  stats_.retries.inc();
  return Breaker::kNone;
}

EndpointChoice ClusterPool::pickEndpoint(uint32_t avoid) {
  EndpointChoice choice = pickOnce();
  // A retry goes elsewhere when the balancer offers another endpoint within
  // a few picks (round robin: the next one; least-request: fresh random pairs).
  for (int i = 0; i < 3 && choice.found() && choice.endpoint == avoid && endpoints_.size() > 1;
       ++i) {
    choice = pickOnce();
  }
  return choice;
}

EndpointChoice ClusterPool::pickOnce() {
  const ClusterHealth* health = spec_->health.get();
  uint32_t unhealthy = health != nullptr ? health->unhealthyCount() : 0;
  uint32_t ejected = outlier_.enabled() ? outlier_.refresh(loop_->now()) : 0;
  // Everything usable (the common case): one atomic load, no scan.
  if (unhealthy == 0 && ejected == 0) {
    return {EndpointChoice::Kind::kEndpoint, balancer_.pick(active_counts_.data()), false};
  }
  uint32_t total = static_cast<uint32_t>(endpoints_.size());
  usable_.clear();
  for (uint32_t i = 0; i < total; ++i) {
    if ((health == nullptr || health->healthy(i)) && !outlier_.ejected(i)) usable_.push_back(i);
  }
  switch (spreadFor(static_cast<uint32_t>(usable_.size()), total, spec_->panic_threshold)) {
    case Spread::kAll:
      break;
    case Spread::kPanic:
      stats_.panic_picks.inc();
      return {EndpointChoice::Kind::kEndpoint, balancer_.pick(active_counts_.data()), true};
    case Spread::kNone:
      return {EndpointChoice::Kind::kNoHealthy, 0, false};
    case Spread::kUsable:
      return {EndpointChoice::Kind::kEndpoint,
              balancer_.pick(active_counts_.data(), usable_.data(),
                             static_cast<uint32_t>(usable_.size())),
              false};
  }
  return {EndpointChoice::Kind::kEndpoint, balancer_.pick(active_counts_.data()), false};
}

void ClusterPool::recordResponse(uint32_t endpoint, uint16_t status) {
  if (!outlier_.enabled() || endpoint >= endpoints_.size()) return;
  if (status < 500) {
    outlier_.recordSuccess(endpoint);
    return;
  }
  reportEjection(endpoint, outlier_.recordServerError(endpoint, loop_->now()));
}

void ClusterPool::recordFailure(FailureCause cause, uint32_t endpoint) {
  stats_.failures[static_cast<size_t>(cause)].inc();
  if (!outlier_.enabled() || endpoint >= endpoints_.size()) return;
  switch (cause) {
    case FailureCause::kConnectFailure:
    case FailureCause::kConnectTimeout:
      reportEjection(endpoint, outlier_.recordConnectFailure(endpoint, loop_->now()));
      break;
    case FailureCause::kTimeout:
    case FailureCause::kReset:
    case FailureCause::kBadResponse:
      reportEjection(endpoint, outlier_.recordServerError(endpoint, loop_->now()));
      break;
    case FailureCause::kNoHealthyUpstream:
      break;
  }
}

// Ejections are rare (at most one per endpoint per base_ejection_time), so
// each is logged on the worker thread.
void ClusterPool::reportEjection(uint32_t endpoint, const OutlierDetector::Verdict& verdict) {
  const char* trigger = verdict.by_connect ? "consecutive connect failures" : "consecutive 5xx";
  switch (verdict.kind) {
    case OutlierDetector::Verdict::Kind::kNone:
      return;
    case OutlierDetector::Verdict::Kind::kEjected:
      stats_.ejections.inc();
      spdlog::warn("cluster '{}': endpoint {} ejected for {} ms after {} (ejection {})",
                   spec_->name, endpointLabel(*spec_, endpoint), verdict.duration, trigger,
                   verdict.times);
      return;
    case OutlierDetector::Verdict::Kind::kRefusedLimit:
      stats_.ejections_refused.inc();
      return;
  }
}

Connection* ClusterPool::acquire(uint32_t endpoint, ConnectionUser* user, Breaker* tripped) {
  Endpoint& slot = endpoints_[endpoint];
  Connection* connection = nullptr;
  if (!slot.idle.empty()) {
    connection = slot.idle.back();
    slot.idle.pop_back();
    connection->reused_ = true;
    connection->connected_ = true;
  } else {
    Breaker open = breakers_.admitConnection();
    if (open == Breaker::kNone) {
      open = breakers_.admitPending();
      if (open != Breaker::kNone) breakers_.endConnection();
    }
    if (open != Breaker::kNone) {
      if (tripped != nullptr) *tripped = open;
      return nullptr;
    }
    int fd = net::connectNonBlocking(spec_->endpoints[endpoint]);
    if (fd < 0) {
      breakers_.endConnection();
      breakers_.endPending();
      return nullptr;
    }
    connection = new Connection(this, endpoint, fd);
    connection->pending_ = true;
    ++connects_;
    if (!loop_->addEdgeTriggered(fd, connection)) {
      breakers_.endConnection();
      breakers_.endPending();
      delete connection;
      return nullptr;
    }
  }
  connection->user_ = user;
  loop_->timers().cancel(connection);
  ++slot.active;
  ++active_counts_[endpoint];
  return connection;
}

void ClusterPool::release(Connection* connection, bool reusable) {
  Endpoint& slot = endpoints_[connection->endpoint_];
  if (slot.active > 0) --slot.active;
  if (active_counts_[connection->endpoint_] > 0) --active_counts_[connection->endpoint_];
  connection->user_ = nullptr;
  loop_->timers().cancel(connection);
  // After a request, the connection holds the server's latest ticket: the
  // next new connection to this endpoint resumes with it.
  if (connection->tls() != nullptr) {
    if (SSL_SESSION* session = connection->tls()->resumableSession()) {
      tls::releaseSession(slot.tls_session);
      slot.tls_session = session;
    }
  }
  if (!reusable || !connection->input_.empty() ||
      slot.idle.size() >= spec_->max_idle_per_endpoint) {
    closeConnection(connection);
    return;
  }
  connection->input_.clear();
  slot.idle.push_back(connection);
  loop_->arm(connection, spec_->idle_timeout.count());
}

void ClusterPool::removeIdle(Connection* connection) {
  auto& idle = endpoints_[connection->endpoint_].idle;
  auto it = std::find(idle.begin(), idle.end(), connection);
  if (it != idle.end()) idle.erase(it);
  closeConnection(connection);
}

void ClusterPool::connectDone(Connection* connection) {
  if (!connection->pending_) return;
  connection->pending_ = false;
  breakers_.endPending();
}

void ClusterPool::closeConnection(Connection* connection) {
  connectDone(connection);
  breakers_.endConnection();
  loop_->timers().cancel(connection);
  if (connection->fd_ >= 0) {
    loop_->remove(connection->fd_);
    close(connection->fd_);
    connection->fd_ = -1;
  }
  loop_->deferDelete(connection);
}

size_t ClusterPool::idleCount() const {
  size_t n = 0;
  for (const Endpoint& endpoint : endpoints_) n += endpoint.idle.size();
  return n;
}

}  // namespace rampart::upstream
