#include "proxy/access_phase.h"

#include <time.h>

#include <cstring>

namespace rampart::proxy {

std::string_view refusalCause(Phase phase, uint16_t status) {
  switch (phase) {
    case Phase::kReadHead:
    case Phase::kCanonicalize:
      return "bad-request";
    case Phase::kShield:
      return "shield";
    case Phase::kRoute:
      return "route";
    case Phase::kAuthenticate:
      // A 429 here is the shield's budget of failed authentications.
      return status == 429 ? "shield" : "auth";
    case Phase::kAuthorize:
      return status == 403 ? "policy" : "authorizer";
    case Phase::kLimit:
      return "rate-limit";
    case Phase::kOverload:
      return "overload";
    default:
      return phaseName(phase);
  }
}

std::string_view upstreamCause(upstream::FailureCause cause) {
  switch (cause) {
    case upstream::FailureCause::kConnectFailure:
      return "upstream-connect-failure";
    case upstream::FailureCause::kConnectTimeout:
      return "upstream-connect-timeout";
    case upstream::FailureCause::kTimeout:
      return "upstream-timeout";
    case upstream::FailureCause::kReset:
      return "upstream-reset";
    case upstream::FailureCause::kBadResponse:
      return "upstream-bad-response";
    case upstream::FailureCause::kNoHealthyUpstream:
      return "upstream-no-healthy-upstream";
  }
  return "upstream";
}

void logAccess(observe::AccessRing& ring, const observe::AccessLogSettings& settings,
               observe::WorkerStats& stats, uint64_t random, const observe::AccessRecord& record) {
  if (!observe::shouldLogAccess(record, settings.sample_success, random)) return;
  char* slot = ring.reserve();
  if (slot == nullptr) {
    stats.access_log_dropped.inc();  // the log thread is behind: counted, never silent
    return;
  }
  ring.publish(observe::formatAccessLine(record, settings.fields, slot));
}

int64_t unixMillis() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace rampart::proxy
