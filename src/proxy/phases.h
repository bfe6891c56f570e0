// The request path: fixed, named phases and their verdicts (see
// docs/life_of_a_request.md). runRequestPhases() is the one place where the
// order of the per-request decisions is written down; the session drives the
// I/O phases around it (admit, read head, forward, respond, log).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "auth/authenticate.h"
#include "authz/authorizer.h"
#include "config/config.h"
#include "http/canonical.h"
#include "http/message.h"
#include "net/address.h"
#include "routing/router.h"
#include "shield/worker_overload.h"
#include "shield/worker_shield.h"
#include "store/worker_store.h"

namespace rampart::proxy {

enum class Phase : uint8_t {
  kAdmit,         // L4: connection caps, before any byte is read (worker accept)
  kReadHead,      // 1: strict HTTP/1.1 head (session)
  kCanonicalize,  // 2: one canonical target
  kShield,        // 3: address-level budgets, overload (issue: shield)
  kRoute,         // 4: virtual host and route
  kAuthenticate,  // 5: credentials -> identity (issue: authentication)
  kAuthorize,     // 6: policy (issue: authorization)
  kLimit,         // 7: route limits, learned baselines (issue: shield)
  kOverload,      // 7b: priority class, the worker's shedder (issue: shield)
  kForward,       // 8: upstream (session)
  kRespond,       // 9: response rules, local replies (session)
  kLog,           // 10: exactly once per request (session)
};

const char* phaseName(Phase phase);

// A reply Rampart makes itself (problem+json, RFC 9457).
struct LocalReply {
  LocalReply() = default;
  LocalReply(uint16_t status_code, std::string_view title_text, std::string_view detail_text,
             bool close, std::string_view extra = {})
      : status(status_code),
        title(title_text),
        detail(detail_text),
        close_connection(close),
        extra_headers(extra) {}

  uint16_t status = 0;
  std::string_view title;   // short, fixed text for the status ("Not Found")
  std::string_view detail;  // safe to show: never internal addresses or state
  bool close_connection = false;
  std::string_view extra_headers;  // complete "Name: value\r\n" lines (WWW-Authenticate...)
  std::string_view type;           // the problem type URI (a stable cause); empty: "about:blank"
};

// What a phase decided. Never a bool: each kind says what happens next.
struct Verdict {
  enum class Kind : uint8_t {
    kContinue,  // go on to the next phase
    kRespond,   // stop and send `reply` (a deny, a 404, a 429...)
    kWait,      // the phase started an asynchronous call (an external authorizer):
                // the session waits, then resumeRequestPhases() runs that phase again
                // with the answer in the context and goes on from there
    kDrop,      // stop and close the connection without a response (a limit's `action: drop`)
  };
  Kind kind = Kind::kContinue;
  Phase phase = Phase::kAdmit;  // who decided
  LocalReply reply;

  static Verdict proceed() { return {}; }
  static Verdict respond(Phase phase, LocalReply reply) { return {Kind::kRespond, phase, reply}; }
  static Verdict wait(Phase phase) { return {Kind::kWait, phase, {}}; }
  bool waits() const { return kind == Kind::kWait; }
  static Verdict drop(Phase phase) { return {Kind::kDrop, phase, {}}; }
  bool proceeds() const { return kind == Kind::kContinue; }
};

// Everything the per-request phases read and write. Lives in the session and
// is reset for each request; views point into the session's read buffer.
struct RequestContext {
  const config::Snapshot* snapshot = nullptr;
  const http::RequestHead* head = nullptr;
  const net::SocketAddress* peer = nullptr;
  http::CanonicalTarget* target = nullptr;      // filled by kCanonicalize
  const routing::Route* route = nullptr;        // filled by kRoute
  auth::AuthWorkerState* auth_state = nullptr;  // the worker's token cache
  int64_t now = 0;                              // unix seconds, for token expiry
  auth::AuthResult auth;                        // filled by kAuthenticate
  std::string* reply_headers = nullptr;         // session-owned scratch for extra_headers
  // The connection's verified client certificate (TLS listeners with
  // client_certificates; null otherwise) and its identity, made once.
  const tls::PeerCertificate* peer_certificate = nullptr;
  auth::MtlsCache* mtls_cache = nullptr;

  // Filled by kAuthorize.
  enum class Shadow : uint8_t { kNone, kAgrees, kWouldAllow, kWouldDeny };
  Shadow shadow = Shadow::kNone;  // the shadow policy's view, when the route has one
  int32_t enforced_policy = -1;   // index into AuthorizationSettings::policies
  int32_t shadow_policy = -1;
  std::string_view deciding_rule;  // the enforced policy's deciding rule name
  uint32_t listener = 0;           // index of the listener the request came through

  // The external authorizer (kAuthorize, after the local policy allows).
  authz::WorkerAuthz* authz = nullptr;      // the worker's calls, caches and breakers
  authz::Waiter* authz_waiter = nullptr;    // told the answer of a call that goes out
  std::string_view client_ip;               // sent to the authorizer
  std::string_view request_id;              // sent to the authorizer
  authz::CallHandle authz_call;             // the call out, while the session waits
  authz::Answer authz_answer;               // set by the session before resuming
  bool authz_answered = false;              // authz_answer holds the answer
  std::string_view authz_upstream_headers;  // header lines an allow adds upstream
  uint32_t resume_phase = 0;                // kWait: the phase to run again

  // The shield (phases 3, 5 and 7; proxy/shield_phase.h). Null: no shield.
  shield::WorkerShield* shield = nullptr;  // the worker's tables
  int64_t mono_nanos = 0;                  // monotonic time of this event-loop iteration
  // Filled by kShield: the client the limits judge (the peer, or the
  // X-Forwarded-For hop a trusted proxy names; see shield/client_address.h).
  const net::SocketAddress* client = nullptr;
  net::SocketAddress forwarded_client;  // storage when the client came from X-Forwarded-For
  // The store (global limits, revocations; docs/store.md). Null: no `store:`.
  store::WorkerStore* store = nullptr;

  // Overload (phase 7's baselines, phase 7b; proxy/overload_phase.h). Null: none.
  shield::WorkerOverload* overload = nullptr;
  // Filled by kOverload when the shedder admitted the request: the session
  // releases it under this class when the request ends.
  bool overload_admitted = false;
  shield::RequestClass request_class = shield::RequestClass::kAnonymous;
};

// Runs phases 2-7b in order. Returns the first verdict that does not proceed,
// or proceed() when the request may be forwarded (ctx.route is then set).
// kWait when a phase waits for an asynchronous answer: the session keeps
// `ctx`, sets the answer in it and calls resumeRequestPhases().
Verdict runRequestPhases(RequestContext& ctx);
Verdict resumeRequestPhases(RequestContext& ctx);

}  // namespace rampart::proxy
