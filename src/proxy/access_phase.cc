#include "proxy/access_phase.h"

#include <time.h>

#include <cstring>

namespace rampart::proxy {

void takeTraceContext(const std::vector<http::Header>& headers, uint64_t random_a,
                      uint64_t random_b, uint64_t random_span, TraceState* out) {
  const http::Header* found = nullptr;
  size_t count = 0;
  for (const http::Header& header : headers) {
    if (header.name.size() == 11 && http::equalsIgnoreCase(header.name, "traceparent")) {
      found = &header;
      ++count;
    }
  }
  observe::TraceParent incoming;
  // Several traceparents cannot be told apart: none is trusted.
  out->incoming_valid = count == 1 && observe::parseTraceParent(found->value, &incoming) ==
                                          observe::TraceParse::kValid;
  if (out->incoming_valid) {
    std::memcpy(out->trace_id, incoming.trace_id, sizeof(out->trace_id));
    out->flags = incoming.flags;
  } else {
    observe::randomTraceId(random_a, random_b, out->trace_id);
    out->flags = 0;  // Rampart records no spans: an upstream's own sampler decides
  }
  observe::randomSpanId(random_span, out->span_id);
  observe::formatTraceParent(out->trace_id, out->span_id, out->flags, out->traceparent);
}

std::string_view forwardedTraceState(const std::vector<http::Header>& headers,
                                     const TraceState& trace,
                                     char (&buffer)[observe::kMaxTraceState]) {
  if (!trace.incoming_valid) return {};
  std::string_view single;
  size_t used = 0;
  size_t count = 0;
  for (const http::Header& header : headers) {
    if (header.name.size() != 10 || !http::equalsIgnoreCase(header.name, "tracestate")) continue;
    if (header.value.empty()) continue;
    size_t need = header.value.size() + (count > 0 ? 1 : 0);
    if (used + need > sizeof(buffer)) return {};  // over the bound: dropped whole
    if (count > 0) buffer[used++] = ',';
    std::memcpy(buffer + used, header.value.data(), header.value.size());
    used += header.value.size();
    single = header.value;
    ++count;
  }
  if (count == 1) return single;
  return {buffer, used};
}

std::string_view refusalCause(Phase phase, uint16_t status) {
  switch (phase) {
    case Phase::kReadHead:
    case Phase::kCanonicalize:
      return "bad-request";
    case Phase::kShield:
      return "shield";
    case Phase::kRoute:
      return "route";
    case Phase::kAuthenticate:
      // A 429 here is the shield's budget of failed authentications.
      return status == 429 ? "shield" : "auth";
    case Phase::kAuthorize:
      return status == 403 ? "policy" : "authorizer";
    case Phase::kLimit:
      return "rate-limit";
    case Phase::kOverload:
      return "overload";
    default:
      return phaseName(phase);
  }
}

std::string_view upstreamCause(upstream::FailureCause cause) {
  switch (cause) {
    case upstream::FailureCause::kConnectFailure:
      return "upstream-connect-failure";
    case upstream::FailureCause::kConnectTimeout:
      return "upstream-connect-timeout";
    case upstream::FailureCause::kTimeout:
      return "upstream-timeout";
    case upstream::FailureCause::kReset:
      return "upstream-reset";
    case upstream::FailureCause::kBadResponse:
      return "upstream-bad-response";
    case upstream::FailureCause::kNoHealthyUpstream:
      return "upstream-no-healthy-upstream";
  }
  return "upstream";
}

void logAccess(observe::AccessRing& ring, const observe::AccessLogSettings& settings,
               observe::WorkerStats& stats, uint64_t random, const observe::AccessRecord& record) {
  if (!observe::shouldLogAccess(record, settings.sample_success, random)) return;
  char* slot = ring.reserve();
  if (slot == nullptr) {
    stats.access_log_dropped.inc();  // the log thread is behind: counted, never silent
    return;
  }
  ring.publish(observe::formatAccessLine(record, settings.fields, slot));
}

int64_t unixMillis() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace rampart::proxy
