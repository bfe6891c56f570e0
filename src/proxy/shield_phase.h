// The shield's request-path glue: phase 3 (client address, blocks, listener
// limits), the auth-failure budget around phase 5, and phase 7 (route
// limits). Thin adapters from a request to the pure engines in shield/;
// called by the phase runner on the worker thread. Every function is a
// no-op that proceeds when ctx.shield is null.
#pragma once

#include "auth/jwt.h"
#include "proxy/phases.h"
#include "shield/verify_budget.h"

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

// Phase 5: the worker's budget of signature verifications, handed to the
// JWT engine, which asks it right before a signature (a token not in the
// cache, past every check that costs nothing). Lives on the stack of one
// authentication.
class SignatureBudgetGate final : public auth::SignatureGate {
 public:
  explicit SignatureBudgetGate(RequestContext& ctx)
      : budget_(ctx.shield == nullptr ? nullptr : ctx.shield->verifyBudget()),
        now_(ctx.mono_nanos) {}
  // Null when no budget is configured: every token is verified.
  auth::SignatureGate* gate() { return budget_ == nullptr ? nullptr : this; }
  bool admit() override {
    decision_ = budget_->take(now_);
    return decision_.allowed();
  }
  const shield::Decision& decision() const { return decision_; }

 private:
  shield::VerifyBudget* budget_;
  shield::Nanos now_;
  shield::Decision decision_;
};

// Phase 5, when that budget refused a verification: 503 with Retry-After,
// keeping the connection. Not a judgement of the credential (no auth failure
// is charged), but a refusal for escalation, so an address that keeps
// sending new tokens into a spent budget is soon blocked at accept.
Verdict signatureBudgetSpent(RequestContext& ctx, const shield::Decision& decision);

// Appends the 429's extra headers for `limit` and `decision`:
// Retry-After, RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers).
void appendRateLimitHeaders(std::string& out, const shield::RequestLimit& limit,
                            const shield::Decision& decision);

}  // namespace rampart::proxy
