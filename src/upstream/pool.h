// Per-worker upstream connection pools and endpoint selection (phase 8,
// "forward"). Owned by one worker thread; lives as long as the worker.
// No lock: each worker has its own pools, its own idle lists and its own
// active-request counts.
#pragma once

#include <cstdint>
#include <vector>

#include "core/buffer.h"
#include "core/event_loop.h"
#include "upstream/cluster.h"

namespace rampart::upstream {

class ClusterPool;

// The object using an upstream connection (a proxy session) gets its events.
class ConnectionUser {
 public:
  virtual ~ConnectionUser() = default;
  virtual void onUpstreamEvents(uint32_t events) = 0;
  virtual void onUpstreamTimeout() = 0;
};

// One TCP connection to one endpoint. Either lent to a user, or idle in its pool.
class Connection final : public core::EventHandler, public core::Timer, public core::Deferred {
 public:
  int fd() const { return fd_; }
  core::Buffer& input() { return input_; }
  bool reused() const { return reused_; }   // served an earlier request already
  bool connected() const { return connected_; }
  void setConnected() { connected_ = true; }
  uint32_t endpoint() const { return endpoint_; }

  void onEvents(uint32_t events) override;

 protected:
  void onTimeout() override;

 private:
  friend class ClusterPool;
  Connection(ClusterPool* pool, uint32_t endpoint, int fd);
  ~Connection() override;

  ClusterPool* pool_;
  uint32_t endpoint_;
  int fd_;
  bool connected_ = false;
  bool reused_ = false;
  ConnectionUser* user_ = nullptr;
  core::Buffer input_;
};

// Selects endpoints with the cluster's policy. Pure: counts in, index out.
class Balancer {
 public:
  Balancer(BalancePolicy policy, uint32_t endpoints, uint64_t seed);
  // `active[i]` is endpoint i's active request count (least-request only).
  uint32_t pick(const uint32_t* active);

 private:
  uint64_t nextRandom();
  BalancePolicy policy_;
  uint32_t endpoints_;
  uint32_t next_ = 0;
  uint64_t state_;
};

class ClusterPool {
 public:
  ClusterPool(const ClusterSpec* spec, core::EventLoop* loop, uint64_t seed);
  ~ClusterPool();
  ClusterPool(const ClusterPool&) = delete;
  ClusterPool& operator=(const ClusterPool&) = delete;

  const ClusterSpec& spec() const { return *spec_; }

  // Admission to the cluster: false when max_requests is reached (answer 503).
  bool tryBeginRequest();
  void endRequest();

  // The endpoint for the next attempt.
  uint32_t pickEndpoint();

  // A connection to `endpoint` for `user`: an idle pooled one when available
  // (reused() true), else a new non-blocking connect (connected() false until
  // the first writable event). nullptr when the socket could not be created.
  Connection* acquire(uint32_t endpoint, ConnectionUser* user);

  // Gives a connection back. Reusable connections go to the idle list (or
  // are closed over max_idle); others are closed.
  void release(Connection* connection, bool reusable);

  uint64_t connectsMade() const { return connects_; }
  size_t idleCount() const;

 private:
  friend class Connection;
  void closeConnection(Connection* connection);
  void removeIdle(Connection* connection);

  struct Endpoint {
    std::vector<Connection*> idle;  // most recently used last (LIFO keeps warm sockets)
    uint32_t active = 0;
  };

  const ClusterSpec* spec_;
  core::EventLoop* loop_;
  Balancer balancer_;
  std::vector<Endpoint> endpoints_;
  std::vector<uint32_t> active_counts_;  // mirrors Endpoint::active for the balancer
  uint32_t active_requests_ = 0;
  uint64_t connects_ = 0;
};

}  // namespace rampart::upstream
