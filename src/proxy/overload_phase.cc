#include "proxy/overload_phase.h"

#include <cmath>

#include "proxy/shield_phase.h"
#include "shield/worker_overload.h"

namespace rampart::proxy {

namespace {

// The RateLimit headers of a baseline's 429: the quota is the client's
// baseline over one window (what it is held to), as a limit's would be.
void appendBaselineHeaders(std::string& out, const shield::BaselineDecision& decision,
                           const shield::BaselinePolicy& policy) {
  const double window_seconds = static_cast<double>(policy.window) / shield::kSecond;
  const auto quota = static_cast<int64_t>(std::floor(decision.baseline * window_seconds));
  const int64_t wait = std::max<int64_t>(shield::Decision::ceilSeconds(decision.retry_after), 1);
  const auto window = std::max<int64_t>(static_cast<int64_t>(std::ceil(window_seconds)), 1);
  out += "Retry-After: " + std::to_string(wait) + "\r\n";
  out += "RateLimit-Policy: \"baseline\";q=" + std::to_string(std::max<int64_t>(quota, 1)) +
         ";w=" + std::to_string(window) + "\r\n";
  out += "RateLimit: \"baseline\";r=0;t=" + std::to_string(wait) + "\r\n";
}

}  // namespace

void noteOverloadRefusal(RequestContext& ctx) {
  if (ctx.overload == nullptr || ctx.client == nullptr) return;
  ctx.overload->noteRefusal(*ctx.client, ctx.mono_nanos);
}

Verdict checkBaseline(RequestContext& ctx) {
  if (ctx.overload == nullptr || !ctx.overload->learning() || ctx.client == nullptr) {
    return Verdict::proceed();
  }
  shield::WorkerOverload& overload = *ctx.overload;
  const auth::Identity* identity = ctx.auth.identity.get();
  const shield::Key key =
      identity != nullptr
          ? overload.baselineKey(identity->account, identity->principal, *ctx.client)
          : overload.baselineKey({}, {}, *ctx.client);
  const shield::BaselineDecision decision = overload.checkBaseline(key, ctx.mono_nanos);
  if (decision.allowed()) return Verdict::proceed();
  // Refused like a limit's 429: escalation and the suspicious class hear of it.
  if (ctx.shield != nullptr) ctx.shield->noteRefusal(*ctx.client, ctx.mono_nanos);
  noteOverloadRefusal(ctx);
  std::string& headers = *ctx.reply_headers;
  headers.clear();
  appendBaselineHeaders(headers, decision, overload.baselinePolicy());
  return Verdict::respond(Phase::kLimit,
                          {429, "Too Many Requests",
                           "request rate far above this client's usual rate while the service is "
                           "under unusual load",
                           false, headers});
}

Verdict admitRequest(RequestContext& ctx) {
  if (ctx.overload == nullptr || !ctx.overload->shedding() || ctx.client == nullptr) {
    return Verdict::proceed();
  }
  shield::WorkerOverload& overload = *ctx.overload;
  const bool authenticated = ctx.auth.identity != nullptr && ctx.auth.identity->authenticated();
  const shield::RequestClass c = overload.classify(authenticated, *ctx.client, ctx.mono_nanos);
  const shield::ShedDecision decision = overload.admit(c);
  if (decision.admitted) {
    ctx.request_class = c;
    ctx.overload_admitted = true;
    return Verdict::proceed();
  }
  if (decision.action == shield::ShedAction::kDrop) return Verdict::drop(Phase::kOverload);
  std::string& headers = *ctx.reply_headers;
  headers.clear();
  headers += "Retry-After: ";
  headers +=
      std::to_string(std::max<int64_t>(shield::Decision::ceilSeconds(decision.retry_after), 1));
  headers += "\r\n";
  return Verdict::respond(
      Phase::kOverload,
      {503, "Service Unavailable", "the service is overloaded; requests of this class are shed",
       false, headers});
}

}  // namespace rampart::proxy
