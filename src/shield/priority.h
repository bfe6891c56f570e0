// Priority classes and the overload shedder: each request gets a class
// (authenticated in good standing, anonymous, suspicious), and under overload
// the lowest class is shed first while a share of capacity stays reserved
// for the authenticated. Owned by one worker and used on its thread only (no
// lock); lives as long as the worker (the policy can change on reload).
//
// The overload signal is the worker's own: requests in flight against a
// capacity, and the event loop's lag (how late the loop came back to its
// timers, measured once per iteration). When the lag is over `lag_target`
// the usable capacity shrinks in proportion (target / lag), so a worker that
// is falling behind takes fewer requests even before its in-flight count is
// at the cap. Each class may take a request while the total in flight is
// under its ceiling:
//
//   authenticated: capacity
//   anonymous:     capacity * (1 - reserved_authenticated)
//   suspicious:    capacity * min(suspicious_share, 1 - reserved_authenticated)
//
// so as load rises, suspicious requests are refused first, then anonymous,
// and the last reserved_authenticated of capacity is only ever used by the
// authenticated class, whatever the anonymous load.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "shield/gcra.h"

namespace rampart::shield {

enum class RequestClass : uint8_t {
  kAuthenticated = 0,  // a verified principal, not recently over a limit
  kAnonymous = 1,      // no credential
  kSuspicious = 2,     // recently over a limit (refused, escalated), credential or not
};
inline constexpr size_t kRequestClasses = 3;

const char* requestClassName(RequestClass c);

// The class of one request, decided once after authentication: being over a
// limit recently outweighs a credential (a stolen key flooding is suspicious).
inline RequestClass classifyRequest(bool authenticated, bool recently_over_limit) {
  if (recently_over_limit) return RequestClass::kSuspicious;
  return authenticated ? RequestClass::kAuthenticated : RequestClass::kAnonymous;
}

// What a shed request gets.
enum class ShedAction : uint8_t {
  kRespond,  // 503 with Retry-After
  kDrop,     // close the connection without a response (costs the least)
};

// Filled by the config loader; out-of-range values are clamped.
struct OverloadPolicy {
  uint32_t capacity = 1000;             // requests in flight on the worker at full load (>= 1)
  double reserved_authenticated = 0.2;  // share only the authenticated may use: [0, 1]
  double suspicious_share = 0.5;        // suspicious only while in flight is under this: [0, 1]
  Nanos lag_target = 20'000'000;        // loop lag above this shrinks capacity (> 0)
  double min_capacity_share = 0.1;      // ... to no less than this share of it: (0, 1]
  Nanos retry_after = kSecond;          // Retry-After of a 503
  std::array<ShedAction, kRequestClasses> action = {ShedAction::kRespond, ShedAction::kRespond,
                                                    ShedAction::kDrop};
  bool count_only = false;  // count mode: decide and count, but admit everything
};

struct ShedDecision {
  bool admitted = true;     // serve it (in count mode: always); call release() once when done
  bool would_shed = false;  // the policy refuses it (in count mode: reported, not applied)
  ShedAction action = ShedAction::kRespond;  // when !admitted
  Nanos retry_after = 0;                     // when !admitted and kRespond
};

class OverloadShedder {
 public:
  explicit OverloadShedder(const OverloadPolicy& policy);

  // The event loop's lag at the start of this iteration (0 when on time):
  // called once per iteration, it sets the ceilings every admit() compares
  // against.
  void observeLag(Nanos lag);

  // Decides on one request of class `c`. Admitted requests (all of them in
  // count mode) count as in flight until release(c).
  ShedDecision admit(RequestClass c) {
    const size_t i = static_cast<size_t>(c);
    const bool shed = total_ >= ceiling_[i];
    if (shed) {
      ++stats_.would_shed[i];
      if (!policy_.count_only) {
        ++stats_.shed[i];
        const ShedAction action = policy_.action[i];
        return ShedDecision{false, true, action,
                            action == ShedAction::kRespond ? policy_.retry_after : 0};
      }
    }
    ++total_;
    ++in_flight_[i];
    ++stats_.admitted[i];
    return ShedDecision{true, shed, ShedAction::kRespond, 0};
  }

  // An admitted request of class `c` finished. Saturates at zero.
  void release(RequestClass c) {
    const size_t i = static_cast<size_t>(c);
    if (in_flight_[i] == 0) return;
    --in_flight_[i];
    --total_;
  }

  uint32_t inFlight() const { return total_; }
  uint32_t inFlight(RequestClass c) const { return in_flight_[static_cast<size_t>(c)]; }
  // The total in flight under which class `c` is admitted, at the last lag.
  uint32_t ceiling(RequestClass c) const { return ceiling_[static_cast<size_t>(c)]; }

  // A reloaded policy; in-flight counts are kept.
  void setPolicy(const OverloadPolicy& policy);

  struct Stats {
    std::array<uint64_t, kRequestClasses> admitted{};
    std::array<uint64_t, kRequestClasses> shed{};        // refused (never in count mode)
    std::array<uint64_t, kRequestClasses> would_shed{};  // refused by the policy, either mode
  };
  const Stats& stats() const { return stats_; }

 private:
  OverloadPolicy policy_;
  Nanos lag_ = 0;
  uint32_t total_ = 0;
  std::array<uint32_t, kRequestClasses> in_flight_{};
  std::array<uint32_t, kRequestClasses> ceiling_{};
  Stats stats_;
};

}  // namespace rampart::shield
