#include "proxy/phases.h"

#include <iterator>

#include "http/canonical.h"
#include "proxy/overload_phase.h"
#include "proxy/shield_phase.h"

namespace rampart::proxy {

const char* phaseName(Phase phase) {
  switch (phase) {
    case Phase::kAdmit:
      return "admit";
    case Phase::kReadHead:
      return "read_head";
    case Phase::kCanonicalize:
      return "canonicalize";
    case Phase::kShield:
      return "shield";
    case Phase::kRoute:
      return "route";
    case Phase::kAuthenticate:
      return "authenticate";
    case Phase::kAuthorize:
      return "authorize";
    case Phase::kLimit:
      return "limit";
    case Phase::kOverload:
      return "overload";
    case Phase::kForward:
      return "forward";
    case Phase::kRespond:
      return "respond";
    case Phase::kLog:
      return "log";
  }
  return "unknown";
}

namespace {

// Phase 2: one canonical target for everything after this point.
Verdict canonicalize(RequestContext& ctx) {
  http::CanonicalError error =
      http::canonicalizeTarget(ctx.head->target, ctx.snapshot->canonical, *ctx.target);
  if (error != http::CanonicalError::kNone) {
    return Verdict::respond(Phase::kCanonicalize,
                            {400, "Bad Request", http::describe(error), true});
  }
  if (ctx.target->asterisk && ctx.head->method != "OPTIONS") {
    return Verdict::respond(Phase::kCanonicalize,
                            {400, "Bad Request", "asterisk-form target is only for OPTIONS", true});
  }
  return Verdict::proceed();
}

// Phase 3: address-level shield (proxy/shield_phase.cc). Connection
// admission already ran at accept.
Verdict shield(RequestContext& ctx) {
  return shieldRequest(ctx);
}

// Phase 4: virtual host and route, on the canonical path.
Verdict route(RequestContext& ctx) {
  routing::MatchInput input;
  input.host =
      ctx.target->authority.empty() ? ctx.head->host : std::string_view(ctx.target->authority);
  input.path = ctx.target->path();
  input.method = ctx.head->method;
  input.headers = &ctx.head->headers;
  ctx.route = ctx.snapshot->routes.match(input);
  if (ctx.route == nullptr) {
    return Verdict::respond(Phase::kRoute,
                            {404, "Not Found", "no route matches this request", false});
  }
  uint64_t limit = ctx.route->max_body_bytes;
  if (limit != 0 && ctx.head->framing == http::BodyFraming::kContentLength &&
      ctx.head->content_length > limit) {
    return Verdict::respond(
        Phase::kRoute, {413, "Content Too Large", "request body exceeds the route's limit", true});
  }
  return Verdict::proceed();
}

// WWW-Authenticate for a refusal (RFC 9110 11.6.1, RFC 6750 3): a missing
// credential lists every scheme the route takes; a bad one says why, for the
// scheme that refused it.
std::string_view challenge(RequestContext& ctx, const auth::RouteRequirement& requirement) {
  std::string& out = *ctx.reply_headers;
  out.clear();
  const auto& providers = ctx.snapshot->auth.providers;
  const auth::AuthResult& result = ctx.auth;
  if (result.provider == nullptr) {
    for (uint32_t index : requirement.providers) {
      out += "WWW-Authenticate: ";
      out += providers[index].challenge;
      out += "\r\n";
    }
    return out;
  }
  out += "WWW-Authenticate: ";
  out += result.provider->challenge;
  out += result.outcome == auth::AuthOutcome::kInsufficientScope ? ", error=\"insufficient_scope\""
                                                                 : ", error=\"invalid_token\"";
  out += "\r\n";
  return out;
}

// Phase 5: the route's credentials -> an identity, or 401/403.
Verdict authenticate(RequestContext& ctx) {
  const config::AuthSettings& settings = ctx.snapshot->auth;
  if (ctx.route->index >= settings.routes.size()) return Verdict::proceed();
  const auth::RouteRequirement& requirement = settings.routes[ctx.route->index];
  if (requirement.providers.empty()) return Verdict::proceed();  // the route checks nothing
  // An address over its budget of failed credentials is refused before any
  // credential is looked at, let alone a signature verified.
  Verdict over_budget;
  if (authBudgetExhausted(ctx, &over_budget)) return over_budget;
  auth::AuthInput input{ctx.head, ctx.target->query(), ctx.now, &settings.identity_headers};
  SignatureBudgetGate budget(ctx);
  input.signature_gate = budget.gate();
  input.peer_certificate = ctx.peer_certificate;
  input.mtls_cache = ctx.mtls_cache;
  ctx.auth = auth::authenticate(requirement, settings.providers, input, *ctx.auth_state);
  if (ctx.auth.outcome == auth::AuthOutcome::kAuthenticated && ctx.store != nullptr &&
      ctx.store->revoked(ctx.auth.identity->token_id, ctx.now * 1000)) {
    // Revoked through the store (docs/store.md): refused like a bad credential.
    ctx.store->stats().revoked_refused.fetch_add(1, std::memory_order_relaxed);
    ctx.auth.outcome = auth::AuthOutcome::kInvalid;
    ctx.auth.reason = "credential revoked";
    ctx.auth.identity.reset();
  }
  if (ctx.auth.outcome == auth::AuthOutcome::kMissing ||
      ctx.auth.outcome == auth::AuthOutcome::kInvalid) {
    noteAuthFailure(ctx);
  }
  switch (ctx.auth.outcome) {
    case auth::AuthOutcome::kAuthenticated:
    case auth::AuthOutcome::kAnonymous:
      return Verdict::proceed();
    case auth::AuthOutcome::kMissing:
    case auth::AuthOutcome::kInvalid: {
      LocalReply reply{401, "Unauthorized", ctx.auth.reason, false};
      reply.extra_headers = challenge(ctx, requirement);
      return Verdict::respond(Phase::kAuthenticate, reply);
    }
    case auth::AuthOutcome::kInsufficientScope: {
      LocalReply reply{403, "Forbidden", ctx.auth.reason, false};
      reply.extra_headers = challenge(ctx, requirement);
      return Verdict::respond(Phase::kAuthenticate, reply);
    }
    case auth::AuthOutcome::kBusy:
      return signatureBudgetSpent(ctx, budget.decision());
  }
  return Verdict::proceed();
}

// The method the upstream will act on: the request's own, or, on a route that
// honours X-HTTP-Method-Override (and kin), the override. More than one
// override is ambiguous and refused.
std::string_view effectiveMethod(const RequestContext& ctx, bool* ambiguous) {
  std::string_view method = ctx.head->method;
  if (!ctx.route->method_override) return method;
  int seen = 0;
  for (const http::Header& header : ctx.head->headers) {
    if (http::equalsIgnoreCase(header.name, "x-http-method-override") ||
        http::equalsIgnoreCase(header.name, "x-http-method") ||
        http::equalsIgnoreCase(header.name, "x-method-override")) {
      if (++seen == 1) method = header.value;
    }
  }
  *ambiguous = seen > 1;
  return method;
}

// Phase 6: the route's policy decides; a shadow policy is evaluated beside it
// and its disagreement reported to the session, never enforced.
Verdict authorize(RequestContext& ctx) {
  const config::AuthorizationSettings& settings = ctx.snapshot->authorization;
  const LocalReply denied{403, "Forbidden", "access to this resource is denied", false};
  if (ctx.route->index >= settings.routes.size()) {
    return Verdict::respond(Phase::kAuthorize, denied);
  }
  const config::RoutePolicy& route = settings.routes[ctx.route->index];
  if (route.is_public) return Verdict::proceed();
  bool ambiguous = false;
  std::string_view method = effectiveMethod(ctx, &ambiguous);
  if (ambiguous) {
    return Verdict::respond(Phase::kAuthorize,
                            {400, "Bad Request", "more than one method override header", true});
  }
  // No policy but an external authorizer: it alone decides (next phase step).
  if (route.external && route.enforced == config::RoutePolicy::kNone &&
      route.rollout == config::RoutePolicy::kNone) {
    return Verdict::proceed();
  }
  const auth::Identity* identity = ctx.auth.identity.get();
  int32_t enforced = route.enforced;
  int32_t shadow = route.shadow;
  if (route.rollout != config::RoutePolicy::kNone) {
    bool selected =
        identity != nullptr && !identity->account.empty() &&
        policy::inRollout(identity->account, route.rollout_percent, settings.rollout_seed);
    // Each side of a rollout watches the other, unless a shadow is named.
    int32_t other = selected ? route.enforced : route.rollout;
    if (selected) enforced = route.rollout;
    if (shadow == config::RoutePolicy::kNone) shadow = other;
  }
  // The listener's shadow watches every route that has none of its own.
  if (shadow == config::RoutePolicy::kNone && ctx.listener < ctx.snapshot->listeners.size()) {
    shadow = ctx.snapshot->listeners[ctx.listener].shadow_policy;
  }
  ctx.enforced_policy = enforced;
  ctx.shadow_policy = shadow;
  if (enforced == config::RoutePolicy::kNone) return Verdict::respond(Phase::kAuthorize, denied);
  policy::Request request{method, ctx.target->path(), identity, ctx.peer};
  policy::Verdict verdict = settings.policies[enforced].evaluate(request);
  ctx.deciding_rule = verdict.rule_name;
  if (shadow != config::RoutePolicy::kNone) {
    bool shadow_allows = settings.policies[shadow].evaluate(request).allowed;
    if (shadow_allows == verdict.allowed) {
      ctx.shadow = RequestContext::Shadow::kAgrees;
    } else {
      ctx.shadow =
          shadow_allows ? RequestContext::Shadow::kWouldAllow : RequestContext::Shadow::kWouldDeny;
    }
  }
  if (!verdict.allowed) return Verdict::respond(Phase::kAuthorize, denied);
  return Verdict::proceed();
}
// Phase 6, second step: the route's external authorizer, once the local
// policy allowed (a local deny never costs a call). A fresh cached decision
// answers at once; otherwise the call goes out and the session waits (kWait)
// and runs this phase again with the answer. An authorizer that cannot
// answer is a 503 (fail closed) unless the route says failure_mode: allow.
Verdict externalAuthorize(RequestContext& ctx) {
  const config::ExtAuthzSettings& settings = ctx.snapshot->ext_authz;
  if (ctx.route->index >= settings.routes.size()) return Verdict::proceed();
  const authz::RouteExtAuthz& route = settings.routes[ctx.route->index];
  if (route.authorizer < 0 || ctx.authz == nullptr) return Verdict::proceed();
  auto authorizer = static_cast<uint32_t>(route.authorizer);
  if (!ctx.authz_answered) {
    bool ambiguous = false;
    authz::CheckInput input;
    input.method = effectiveMethod(ctx, &ambiguous);  // one override at most: phase 6 checked
    input.target = ctx.target->text;
    input.path = ctx.target->path();
    input.host =
        ctx.target->authority.empty() ? ctx.head->host : std::string_view(ctx.target->authority);
    input.route = ctx.route->name;
    input.client_ip = ctx.client_ip;
    input.request_id = ctx.request_id;
    input.identity = ctx.auth.identity.get();
    input.headers = &ctx.head->headers;
    if (ctx.authz->check(authorizer, input, ctx.authz_waiter, &ctx.authz_call, &ctx.authz_answer) ==
        authz::WorkerAuthz::Start::kWaiting) {
      return Verdict::wait(Phase::kAuthorize);
    }
    ctx.authz_answered = true;
  }
  const authz::Answer& answer = ctx.authz_answer;
  switch (answer.decision) {
    case authz::Decision::kAllow:
      ctx.authz_upstream_headers = answer.upstream_headers;
      return Verdict::proceed();
    case authz::Decision::kDeny:
      return Verdict::respond(Phase::kAuthorize,
                              {403, "Forbidden", "the authorizer denied this request", false});
    case authz::Decision::kError:
      break;
  }
  if (route.allow_on_error) {
    ctx.authz->stats(authorizer).failed_open.inc();
    return Verdict::proceed();
  }
  ctx.authz->stats(authorizer).failed_closed.inc();
  return Verdict::respond(Phase::kAuthorize, {503, "Service Unavailable",
                                              "the authorization service is unavailable", false});
}

// Phase 7: the route's limits (proxy/shield_phase.cc), then the learned
// baselines (proxy/overload_phase.cc): a request a limit refuses is not
// counted towards any baseline.
Verdict limit(RequestContext& ctx) {
  Verdict verdict = limitRequest(ctx);
  if (!verdict.proceeds()) return verdict;
  return checkBaseline(ctx);
}

// Phase 7b: the request's priority class and the worker's shedder
// (proxy/overload_phase.cc); last, so only a request that is about to be
// forwarded takes a slot.
Verdict overload(RequestContext& ctx) {
  return admitRequest(ctx);
}

using PhaseFn = Verdict (*)(RequestContext&);
// THE order of the request path's decisions.
constexpr PhaseFn kPhases[] = {canonicalize,      shield, route,   authenticate, authorize,
                               externalAuthorize, limit,  overload};

Verdict runPhasesFrom(RequestContext& ctx, uint32_t first) {
  for (uint32_t i = first; i < std::size(kPhases); ++i) {
    Verdict verdict = kPhases[i](ctx);
    if (verdict.waits()) ctx.resume_phase = i;  // run again with the answer
    if (!verdict.proceeds()) return verdict;
  }
  return Verdict::proceed();
}

}  // namespace

Verdict runRequestPhases(RequestContext& ctx) {
  return runPhasesFrom(ctx, 0);
}

Verdict resumeRequestPhases(RequestContext& ctx) {
  return runPhasesFrom(ctx, ctx.resume_phase);
}

}  // namespace rampart::proxy
