// Why a request to an upstream failed: one cause per way it can go wrong,
// each with a stable name that the client sees in the problem+json `type`
// (docs/upstreams.md) and that names its per-cluster counter. Plain values,
// shared by the pools (which count) and the session (which replies).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rampart::upstream {

enum class FailureCause : uint8_t {
  kConnectFailure,     // the endpoint refused the connection (or no socket could be made)
  kConnectTimeout,     // the endpoint did not accept the connection within connect_timeout
  kTimeout,            // the response head did not arrive within response_timeout
  kReset,              // the connection closed or reset before a response head
  kBadResponse,        // what came back was not an acceptable HTTP/1.1 response head
  kNoHealthyUpstream,  // every endpoint unhealthy or ejected, and no panic mode
};
inline constexpr size_t kFailureCauseCount = 6;

// "connect-failure", "no-healthy-upstream": the end of the problem `type`.
std::string_view causeType(FailureCause cause);
// "connect_failure": the counter's name in logs (and later metrics).
std::string_view causeCounterName(FailureCause cause);

}  // namespace rampart::upstream
