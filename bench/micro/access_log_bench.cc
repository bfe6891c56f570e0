// The worker's share of one access-log line: format a typical request into
// a ring slot and publish it (the log thread's side drained outside the
// timing), and the trace context of a request (parse, new span, format).
// Figures are taken on a quiet machine (docs/performance.md), not here.
#include <benchmark/benchmark.h>

#include "observe/access_log.h"
#include "observe/trace_context.h"

namespace {

using namespace rampart::observe;

AccessRecord typical() {
  AccessRecord r;
  r.unix_millis = 1'796'183'051'123;
  r.request_id = "3f9a1c0e7b2d4a6f8e1b2c3d4e5f6a7b";
  r.client = "203.0.113.7";
  r.method = "GET";
  r.path = "/api/v1/accounts/acme/orders/12345";
  r.route = "orders";
  r.status = 200;
  r.bytes_in = 412;
  r.bytes_out = 2048;
  r.rampart_us = 38;
  r.upstream_us = 1200;
  r.principal = "svc-checkout";
  r.account = "acme";
  r.decision = "allow";
  r.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  return r;
}

void BM_FormatAccessLine(benchmark::State& state) {
  AccessRecord record = typical();
  static char line[kMaxAccessLine];
  for (auto _ : state) {
    benchmark::DoNotOptimize(formatAccessLine(record, kAllAccessFields, line));
  }
}
BENCHMARK(BM_FormatAccessLine);

void BM_LogIntoRing(benchmark::State& state) {
  AccessRecord record = typical();
  AccessRing ring(1024);
  size_t n = 0;
  for (auto _ : state) {
    char* slot = ring.reserve();
    ring.publish(formatAccessLine(record, kAllAccessFields, slot));
    if (++n == 1024) {  // the log thread's side, outside the timing
      state.PauseTiming();
      ring.drain([](std::string_view) {});
      n = 0;
      state.ResumeTiming();
    }
  }
}
BENCHMARK(BM_LogIntoRing);

void BM_TraceContext(benchmark::State& state) {
  const std::string_view incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  uint64_t x = 88172645463325252ULL;
  for (auto _ : state) {
    TraceParent parent;
    parseTraceParent(incoming, &parent);
    char span[16];
    randomSpanId(x++, span);
    char out[kTraceParentLength];
    formatTraceParent(parent.trace_id, span, parent.flags, out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_TraceContext);

}  // namespace
