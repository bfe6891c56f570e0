// Phase 10: the end of a request as one access-log line (observe/access_log.h),
// and the W3C trace context the request carries upstream
// (observe/trace_context.h). The session fills an AccessNote as the request
// goes; these functions turn it into a line in the worker's ring. Pure apart
// from the ring, which takes no lock and makes no syscall.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "http/message.h"
#include "observe/access_log.h"
#include "observe/stats.h"
#include "observe/trace_context.h"
#include "proxy/phases.h"
#include "upstream/errors.h"

namespace rampart::proxy {

// The trace context of one request: the trace id (incoming when valid, else
// new), Rampart's span id (the parent id upstream sees) and the flags.
struct TraceState {
  char trace_id[32] = {};
  char span_id[16] = {};
  uint8_t flags = 0;
  bool incoming_valid = false;  // a valid traceparent came in: its tracestate may cross
  char traceparent[observe::kTraceParentLength] = {};  // the value sent upstream

  std::string_view traceId() const { return {trace_id, sizeof(trace_id)}; }
  std::string_view traceParent() const { return {traceparent, sizeof(traceparent)}; }
};

// Reads the request's traceparent: exactly one header with a valid value is
// continued; none, several or a malformed one start a new trace from
// `random_a`/`random_b`. `random_span` makes Rampart's span id.
void takeTraceContext(const std::vector<http::Header>& headers, uint64_t random_a,
                      uint64_t random_b, uint64_t random_span, TraceState* out);

// The tracestate to send upstream: the incoming tracestate headers joined
// with ',' (RFC 9110 list semantics) when the traceparent was valid and the
// whole is at most kMaxTraceState bytes; empty otherwise. `buffer` backs the
// answer when several headers had to be joined.
std::string_view forwardedTraceState(const std::vector<http::Header>& headers,
                                     const TraceState& trace,
                                     char (&buffer)[observe::kMaxTraceState]);

// What the access line says about the current request, filled as it goes.
struct AccessNote {
  bool pending = false;            // a request began; its line is not written yet
  bool path_known = false;         // phase 2 ran: the canonical target is the request's
  bool parsed = false;             // the head parsed: the method is the request's
  uint16_t status = 0;             // 0 until a response head went out
  uint32_t route = UINT32_MAX;     // routing::Route::index, once routed
  std::string_view decision;       // allow, deny, error, abort
  std::string_view cause;          // refusalCause(), upstreamCause(); empty when none
  uint64_t start_us = 0;           // monotonic, when the head was read
  uint64_t upstream_start_us = 0;  // monotonic, when the upstream request began
  uint64_t upstream_us = 0;        // upstream request -> response head or failure
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  // A copy: the head's views die when the next pipelined request is read.
  char method[24] = {};
  uint8_t method_length = 0;

  void setMethod(std::string_view text) {
    method_length = static_cast<uint8_t>(std::min(text.size(), sizeof(method)));
    std::memcpy(method, text.data(), method_length);
  }
  std::string_view methodText() const { return {method, method_length}; }

  void begin(uint64_t now_us) {
    *this = AccessNote{};
    pending = true;
    decision = "allow";
    start_us = now_us;
  }
  // The upstream answered or failed: the upstream share of the latency.
  void upstreamDone(uint64_t now_us) {
    if (upstream_start_us != 0 && upstream_us == 0) upstream_us = now_us - upstream_start_us;
  }
};

// The cause of a refusal, by the phase that decided it and its status:
// bad-request, shield, route, auth, policy, authorizer, rate-limit, overload.
std::string_view refusalCause(Phase phase, uint16_t status);
// "upstream-connect-failure", "upstream-timeout"... (upstream/errors.h).
std::string_view upstreamCause(upstream::FailureCause cause);

// Formats `record` into a slot of `ring` when sampling keeps it; a full ring
// counts the line in stats.access_log_dropped. Worker thread only.
void logAccess(observe::AccessRing& ring, const observe::AccessLogSettings& settings,
               observe::WorkerStats& stats, uint64_t random, const observe::AccessRecord& record);

// Wall-clock milliseconds for the line's time (vDSO, no syscall).
int64_t unixMillis();

}  // namespace rampart::proxy
