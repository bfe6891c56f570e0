// The overload glue of the request path: learned baselines at the end of
// phase 7, and the shedder's admission right after it (phase 7b), once the
// request's class is known. Thin adapters from a request to the pure engines
// in shield/ (baseline.h, priority.h via worker_overload.h); called by the
// phase runner on the worker thread. Both proceed when ctx.overload is null
// or the part is not configured.
#pragma once

#include "proxy/phases.h"

namespace rampart::proxy {

// Phase 7, after the route's limits: counts the request towards its
// client's and the worker's learned baselines; while the total is far above
// its baseline, a client far above its own is refused (429 with Retry-After
// and RateLimit headers), unless the baselines are in count mode.
Verdict checkBaseline(RequestContext& ctx);

// Phase 7b: classifies the request (authenticated, anonymous, suspicious)
// and asks the worker's shedder to admit it. Admitted: ctx.overload_admitted
// and ctx.request_class are set and the session must release it when the
// request ends. Shed: 503 with Retry-After, or drop, per class.
Verdict admitRequest(RequestContext& ctx);

// A refusal of ctx.client (by a limit, the auth-failure budget or a
// baseline): it makes the client's next requests suspicious.
void noteOverloadRefusal(RequestContext& ctx);

}  // namespace rampart::proxy
