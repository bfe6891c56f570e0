#include "proxy/phases.h"

#include "http/canonical.h"
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
  auth::AuthInput input{ctx.head, ctx.target->query(), ctx.now};
  ctx.auth = auth::authenticate(requirement, settings.providers, input, *ctx.auth_state);
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

// Phase 7: the route's limits (proxy/shield_phase.cc).
Verdict limit(RequestContext& ctx) {
  return limitRequest(ctx);
}

}  // namespace

Verdict runRequestPhases(RequestContext& ctx) {
  using PhaseFn = Verdict (*)(RequestContext&);
  // THE order of the request path's decisions.
  static constexpr PhaseFn kPhases[] = {canonicalize, shield,    route,
                                        authenticate, authorize, limit};
  for (PhaseFn phase : kPhases) {
    Verdict verdict = phase(ctx);
    if (!verdict.proceeds()) return verdict;
  }
  return Verdict::proceed();
}

}  // namespace rampart::proxy
