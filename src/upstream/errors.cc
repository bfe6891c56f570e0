#include "upstream/errors.h"

namespace rampart::upstream {

std::string_view causeType(FailureCause cause) {
  switch (cause) {
    case FailureCause::kConnectFailure:
      return "connect-failure";
    case FailureCause::kConnectTimeout:
      return "connect-timeout";
    case FailureCause::kTimeout:
      return "timeout";
    case FailureCause::kReset:
      return "reset";
    case FailureCause::kBadResponse:
      return "bad-response";
    case FailureCause::kNoHealthyUpstream:
      return "no-healthy-upstream";
  }
  return "unknown";
}

std::string_view causeCounterName(FailureCause cause) {
  switch (cause) {
    case FailureCause::kConnectFailure:
      return "connect_failure";
    case FailureCause::kConnectTimeout:
      return "connect_timeout";
    case FailureCause::kTimeout:
      return "timeout";
    case FailureCause::kReset:
      return "reset";
    case FailureCause::kBadResponse:
      return "bad_response";
    case FailureCause::kNoHealthyUpstream:
      return "no_healthy_upstream";
  }
  return "unknown";
}

}  // namespace rampart::upstream
