// Passive outlier detection (docs/upstreams.md): endpoints that fail real
// requests in a row are ejected from balancing for a while. Pure: outcomes
// and the time in, verdicts out; the caller supplies the clock, so tests
// drive it with an injected one.
//
// One detector per cluster per worker, owned by the worker's ClusterPool and
// touched only by its thread. Per worker rather than shared because the
// request path then writes no cache line another core reads: a shared
// detector costs an atomic read-modify-write per response on a line every
// worker writes. The price: each worker counts only the failures it sees, so
// an endpoint that fails everything is ejected by each worker after
// `consecutive_*` of that worker's requests (at most workers x threshold
// failed requests in all), and `max_ejection_percent` bounds each worker's
// own ejections.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace rampart::upstream {

struct OutlierSpec {
  bool enabled = false;                       // the cluster has an `outlier_detection` block
  uint32_t consecutive_5xx = 5;               // 0: this trigger is off
  uint32_t consecutive_connect_failures = 5;  // 0: this trigger is off
  std::chrono::milliseconds base_ejection_time{30000};
  std::chrono::milliseconds max_ejection_time{300000};
  uint32_t max_ejection_percent = 50;  // of the cluster's endpoints, ejected at once
};

class OutlierDetector {
 public:
  using Millis = int64_t;

  // What one outcome did to its endpoint.
  struct Verdict {
    enum class Kind : uint8_t {
      kNone,          // counted; no threshold reached
      kEjected,       // a threshold was reached: out of balancing for `duration`
      kRefusedLimit,  // a threshold was reached, but ejecting it would pass max_ejection_percent
    };
    Kind kind = Kind::kNone;
    Millis duration = 0;      // kEjected: how long
    uint32_t times = 0;       // kEjected: its ejection count, after decay (sets the duration)
    bool by_connect = false;  // the connect-failure trigger (else consecutive 5xx)
  };

  OutlierDetector(const OutlierSpec& spec, uint32_t endpoints);

  bool enabled() const { return spec_.enabled; }

  // A response with a status below 500: both runs of failures end.
  void recordSuccess(uint32_t endpoint);
  // A connection was established: the run of connect failures ends.
  void recordConnected(uint32_t endpoint);
  // A 5xx response, or a failure after connecting (reset, timeout, a
  // response that is not HTTP): the client gets a 5xx either way.
  Verdict recordServerError(uint32_t endpoint, Millis now);
  // The endpoint refused or did not accept the connection in time.
  Verdict recordConnectFailure(uint32_t endpoint, Millis now);

  // Ends the ejections whose time is up; returns how many are still on.
  // Cheap when nothing expires (one comparison), so it runs before each pick.
  uint32_t refresh(Millis now);
  // Ejected at the last refresh().
  bool ejected(uint32_t endpoint) const { return state_[endpoint].ejected; }
  uint32_t ejectedCount() const { return ejected_count_; }
  // How many times `endpoint` has been ejected (decayed at its next ejection).
  uint32_t timesEjected(uint32_t endpoint) const { return state_[endpoint].times_ejected; }

 private:
  struct Endpoint {
    uint32_t consecutive_5xx = 0;
    uint32_t consecutive_connect = 0;
    uint32_t times_ejected = 0;
    Millis ejected_until = 0;
    Millis returned_at = 0;  // when its last ejection ended
    bool ejected = false;
  };

  Verdict maybeEject(uint32_t endpoint, Millis now, bool by_connect);

  OutlierSpec spec_;
  std::vector<Endpoint> state_;
  uint32_t ejected_count_ = 0;
  Millis next_expiry_ = INT64_MAX;  // the earliest ejected_until among the ejected
};

}  // namespace rampart::upstream
