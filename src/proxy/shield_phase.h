// The shield's request-path glue: phase 3 (client address, blocks, listener
// limits), the auth-failure budget around phase 5, and phase 7 (route
// limits). Thin adapters from a request to the pure engines in shield/;
// called by the phase runner on the worker thread. Every function is a
// no-op that proceeds when ctx.shield is null.
#pragma once

#include "proxy/phases.h"

namespace rampart::proxy {

// Phase 3: sets ctx.client; refuses a blocked client (429, closing), a
// deny-listed client named by a trusted proxy (403, closing), and requests
// over a listener limit (429 or drop).
Verdict shieldRequest(RequestContext& ctx);

// Phase 7: the route's limits, all of which must pass (429 or drop).
Verdict limitRequest(RequestContext& ctx);

// Phase 5, before the credential is checked: true (with a 429 in `out`) when
// the client has used up its budget of failed credentials.
bool authBudgetExhausted(RequestContext& ctx, Verdict* out);
// Phase 5, after a 401: charges the client's budget.
void noteAuthFailure(RequestContext& ctx);

// Appends the 429's extra headers for `limit` and `decision`:
// Retry-After, RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers).
void appendRateLimitHeaders(std::string& out, const shield::RequestLimit& limit,
                            const shield::Decision& decision);

}  // namespace rampart::proxy
