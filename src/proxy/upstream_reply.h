// The replies for upstream failures (docs/upstreams.md): problem+json with a
// stable `type` per cause, so a client can tell a refused connection from a
// timeout or from a cluster with nothing healthy. Pure; any thread.
#pragma once

#include <string_view>

#include "proxy/phases.h"
#include "upstream/errors.h"

namespace rampart::proxy {

// Every upstream problem type starts with this; the cause's name follows
// ("urn:rampart:problem:connect-failure"). A URN, not a URL: nothing to fetch.
inline constexpr std::string_view kProblemTypePrefix = "urn:rampart:problem:";

// The local reply for `cause`: its status (502, 503 or 504), title, a detail
// that names no internal address, and its type. `close`: the request body was
// not read, so the connection cannot carry another request.
LocalReply upstreamFailureReply(upstream::FailureCause cause, bool close);

}  // namespace rampart::proxy
