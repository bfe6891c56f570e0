#include "proxy/cluster_choice.h"

#include <spdlog/spdlog.h>

#include <random>

#include "core/clock.h"
#include "http/message.h"

namespace rampart::proxy {

namespace {

// The sticky key of this request, or empty when it has none.
std::string_view stickyKey(const routing::StickySpec& sticky, const http::RequestHead& request,
                           const auth::Identity* identity) {
  switch (sticky.kind) {
    case routing::StickyKind::kNone:
      return {};
    case routing::StickyKind::kAccount:
      return identity != nullptr ? std::string_view(identity->account) : std::string_view();
    case routing::StickyKind::kPrincipal:
      return identity != nullptr ? std::string_view(identity->principal) : std::string_view();
    case routing::StickyKind::kHeader:
      for (const http::Header& header : request.headers) {
        if (http::equalsIgnoreCase(header.name, sticky.name)) return header.value;
      }
      return {};
    case routing::StickyKind::kCookie:
      for (const http::Header& header : request.headers) {
        if (!http::equalsIgnoreCase(header.name, "cookie")) continue;
        std::string_view value = routing::cookieValue(header.value, sticky.name);
        if (!value.empty()) return value;
      }
      return {};
  }
  return {};
}

// Per worker (thread): no sharing, no lock. xorshift64* is ample for
// spreading requests by weight; seeded once per thread.
uint32_t randomPoint() {
  thread_local uint64_t state = [] {
    std::random_device device;
    uint64_t seed = (static_cast<uint64_t>(device()) << 32) ^ device();
    return seed == 0 ? 0x9e3779b97f4a7c15ull : seed;
  }();
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return static_cast<uint32_t>(((state * 0x2545f4914f6cdd1dull) >> 32) % routing::kPoints);
}

}  // namespace

ClusterChoice chooseCluster(const routing::Route& route, const http::RequestHead& request,
                            const auth::Identity* identity) {
  const routing::Split* split = route.split.get();
  if (split == nullptr) return {route.cluster_index, -1};
  std::string_view key = stickyKey(split->spec().sticky, request, identity);
  uint32_t point = key.empty() ? randomPoint() : routing::cohortPoint(key);
  uint32_t target = split->choose(point);
  return {split->spec().targets[target].cluster_index, static_cast<int32_t>(target)};
}

void recordSplitOutcome(const routing::Route& route, int32_t target, uint16_t status,
                        uint64_t micros, observe::WorkerStats& stats) {
  const routing::Split* split = route.split.get();
  if (split == nullptr || target < 0) return;
  // The rollout's timer judges these (proxy/rollouts.h); nothing to decide here.
  if (split->spec().ramp.enabled)
    split->recordRamp(static_cast<uint32_t>(target), status >= 500, micros);
  if (!split->spec().step_back.enabled) return;
  routing::Split::Recorded recorded =
      split->record(static_cast<uint32_t>(target), status >= 500, core::monotonicMillis());
  if (recorded.verdict != routing::StepBackVerdict::kSteppedBack) return;
  stats.cutover_step_backs.inc();
  const routing::StepBackSpec& rule = split->spec().step_back;
  // Once per snapshot: only the caller whose compare-exchange won gets here.
  spdlog::warn(
      "cutover step-back on route '{}': {} of {} requests to cluster '{}' failed in the last {} ms "
      "(over max_error_rate {}); its weight is now {}% until restart",
      route.name, recorded.window.failures, recorded.window.requests, rule.watch_name,
      rule.window_ms, rule.max_error_rate, rule.to);
}

}  // namespace rampart::proxy
