// Cluster definitions: a named set of static endpoints with balancing,
// timeouts and pool settings. Part of the immutable config snapshot.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/address.h"
#include "shield/cluster_admission_policy.h"
#include "tls/client.h"
#include "upstream/breakers.h"
#include "upstream/health.h"
#include "upstream/outlier.h"

namespace rampart::upstream {

enum class BalancePolicy : uint8_t {
  kRoundRobin,
  kLeastRequest,  // power of two random choices over active request counts
};

struct ClusterSpec {
  std::string name;
  std::vector<net::SocketAddress> endpoints;  // resolved at config load
  std::vector<std::string> endpoint_names;    // as written ("localhost:9000"), for logs
  BalancePolicy balance = BalancePolicy::kRoundRobin;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds response_timeout{30000};  // until the response head arrives
  uint32_t max_idle_per_endpoint = 1024;              // per worker
  std::chrono::milliseconds idle_timeout{60000};      // pooled connection lifetime when unused
  uint32_t max_requests =
      0;  // concurrent requests per worker to this cluster; over it: 503. 0: no cap
  // `adaptive_concurrency:`: a latency-driven limit per worker with a fair
  // queue in front of the cluster (proxy/cluster_admission.h). Absent: none.
  std::optional<shield::ClusterAdmissionPolicy> admission;
  // `tls:` (docs/tls.md): requests go over TLS, the certificate verified
  // and its name checked; null: cleartext.
  std::shared_ptr<const tls::ClientTls> tls;

  // Health (docs/upstreams.md; read by config/health.cc).
  std::optional<HealthCheckSpec> health_check;  // active checks from the control thread
  // What the checks last said of each endpoint; set when health_check is.
  // Shared with the HealthChecker, which writes it; workers only read.
  std::shared_ptr<ClusterHealth> health;
  OutlierSpec outlier;           // passive ejection, per worker
  uint32_t panic_threshold = 0;  // percent; below this share usable, balance over all. 0: never

  // Retries and breakers (docs/upstreams.md; read by config/retry.cc).
  // Retries in flight per worker: at most max(min, percent% of the requests
  // on their first attempt).
  uint32_t retry_budget_percent = 20;
  uint32_t retry_budget_min = 3;
  // Per worker. Its max_requests is not used: `max_requests` above is that
  // breaker (kept for the existing key and the authorizer clients).
  BreakerLimits breakers;

  // The cluster as written (its YAML, canonically re-emitted) and its
  // resolved endpoints: two clusters with the same fingerprint behave the
  // same, so a reload keeps the first one's pools, health and outlier state.
  std::string fingerprint;
};

// "localhost:9000 (127.0.0.1:9000)", or just the address when it was written
// as one: names an endpoint in logs.
inline std::string endpointLabel(const ClusterSpec& spec, uint32_t endpoint) {
  std::string address = spec.endpoints[endpoint].toString();
  const std::string& name = spec.endpoint_names[endpoint];
  return name == address ? address : name + " (" + address + ")";
}

}  // namespace rampart::upstream
