// JWKS URLs kept fresh in the background: the control thread fetches each
// issuer's key set on a schedule, swaps it into the issuer's verifier, and
// bumps the provider's key epoch so cached tokens are checked again. Workers
// only ever set a flag (an unknown "kid" asks for an early refresh, which the
// refresher rate-limits), so the request path takes no lock and makes no
// syscall for it. A refresher lives as long as the snapshot it serves.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/periodic_thread.h"
#include "http/fetch.h"

namespace rampart::auth {

struct Provider;

// One issuer's JWKS URL and its schedule. Built by the config loader; shared
// by the snapshot (workers set refresh_wanted) and the refresher.
struct JwksSource {
  std::string issuer;
  std::string url_text;  // as configured, for logs
  http::FetchUrl url;
  std::chrono::milliseconds refresh_interval{5 * 60 * 1000};  // normal schedule
  // While fetches fail, the last good keys keep verifying for this long after
  // the last successful fetch; then they are dropped and the issuer's tokens
  // are refused until the URL answers again.
  std::chrono::milliseconds stale_after{60 * 60 * 1000};
  // Early refreshes asked for by unknown kids: at most one per this interval,
  // so forged kids cannot make Rampart hammer the key server.
  std::chrono::milliseconds min_refresh_interval{30 * 1000};
  std::chrono::milliseconds fetch_timeout{5 * 1000};
  size_t max_bytes = 1 << 20;

  std::atomic<bool> refresh_wanted{false};  // set by workers, cleared by the refresher
  // Counters, written by the refresher only.
  std::atomic<uint64_t> fetches{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> early_refreshes{0};  // refreshes an unknown kid triggered

  // Worker side: asks for an early refresh; a plain flag, cheap to set twice.
  void requestRefresh() {
    if (!refresh_wanted.load(std::memory_order_relaxed)) {
      refresh_wanted.store(true, std::memory_order_relaxed);
    }
  }
};

class JwksRefresher {
 public:
  // `providers` must outlive the refresher (they live in the same snapshot).
  explicit JwksRefresher(const std::vector<Provider>& providers);
  ~JwksRefresher();
  JwksRefresher(const JwksRefresher&) = delete;
  JwksRefresher& operator=(const JwksRefresher&) = delete;

  bool empty() const { return sources_.empty(); }
  // Fetches every source once, synchronously (each bounded by its timeout),
  // so the first requests find keys; then starts the background thread.
  // A failed first fetch is logged and retried in the background.
  void start();
  // Stops and joins the thread (also done by the destructor).
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  struct Tracked {
    const Provider* provider = nullptr;
    JwksSource* source = nullptr;
    Clock::time_point last_attempt{};
    Clock::time_point last_success{};
    Clock::time_point next_due{};
    std::chrono::milliseconds retry_delay{1000};
    bool have_keys = false;  // a fetch has succeeded and its keys are in use
    std::string kids;        // the key ids last installed, to log changes
  };

  void pollOnce(Clock::time_point now);
  void refresh(Tracked& tracked, Clock::time_point now);
  void onFailure(Tracked& tracked, Clock::time_point now, const std::string& why);

  std::vector<Tracked> sources_;
  core::PeriodicThread thread_;
};

}  // namespace rampart::auth
