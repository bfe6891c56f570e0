// The server's part of the store (docs/store.md): one StoreClient for the
// process, started before the worker threads; what it receives goes to every
// worker's loop; its state goes to /stats and /metrics.
#include "proxy/server.h"

namespace rampart::proxy {

void Server::startStore() {
  if (!snapshot_->store.enabled) return;
  store_ = std::make_unique<store::StoreClient>(snapshot_->store,
                                                [this](const store::StoreEvent& event) {
                                                  for (auto& worker : workers_)
                                                    worker->applyStoreEvent(event);
                                                });
  for (auto& worker : workers_) worker->setStore(store_.get());
  store_->start();
}

void Server::addStoreSources(observe::MetricsSources* sources) const {
  if (!store_) return;
  observe::MetricsSources::StoreState& out = sources->store;
  out.enabled = true;
  out.up = store_->up();
  const store::StoreStats& s = store_->stats();
  auto add = [&out](const char* name, uint64_t value) { out.counters.emplace_back(name, value); };
  add("commands", s.commands.load(std::memory_order_relaxed));
  add("leases", s.leases.load(std::memory_order_relaxed));
  add("lease_failures", s.lease_failures.load(std::memory_order_relaxed));
  add("errors", s.errors.load(std::memory_order_relaxed));
  add("down_transitions", s.down_transitions.load(std::memory_order_relaxed));
  add("redirects", s.redirects.load(std::memory_order_relaxed));
  add("events_received", s.events_received.load(std::memory_order_relaxed));
  add("events_published", s.events_published.load(std::memory_order_relaxed));
  struct Field {
    const char* name;
    std::atomic<uint64_t> store::WorkerStoreStats::*member;
  };
  static const Field kFields[] = {
      {"lease_hits", &store::WorkerStoreStats::lease_hits},
      {"lease_requests", &store::WorkerStoreStats::lease_requests},
      {"bridged", &store::WorkerStoreStats::bridged},
      {"degraded", &store::WorkerStoreStats::degraded},
      {"denied", &store::WorkerStoreStats::denied},
      {"revoked_refused", &store::WorkerStoreStats::revoked_refused},
      {"blocks_applied", &store::WorkerStoreStats::blocks_applied},
      {"revocations_applied", &store::WorkerStoreStats::revocations_applied},
  };
  for (const Field& field : kFields) {
    uint64_t sum = 0;
    for (const auto& worker : workers_) {
      if (const store::WorkerStore* ws = worker->store()) {
        sum += (ws->stats().*field.member).load(std::memory_order_relaxed);
      }
    }
    add(field.name, sum);
  }
}

}  // namespace rampart::proxy
