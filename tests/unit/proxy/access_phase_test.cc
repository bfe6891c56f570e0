#include "proxy/access_phase.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rampart::proxy {
namespace {

constexpr std::string_view kIncoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(AccessPhaseTest, RefusalCauseByPhaseAndStatus) {
  EXPECT_EQ(refusalCause(Phase::kReadHead, 400), "bad-request");
  EXPECT_EQ(refusalCause(Phase::kCanonicalize, 400), "bad-request");
  EXPECT_EQ(refusalCause(Phase::kShield, 429), "shield");
  EXPECT_EQ(refusalCause(Phase::kRoute, 404), "route");
  EXPECT_EQ(refusalCause(Phase::kAuthenticate, 401), "auth");
  EXPECT_EQ(refusalCause(Phase::kAuthenticate, 403), "auth");
  EXPECT_EQ(refusalCause(Phase::kAuthenticate, 429), "shield");  // the auth-failure budget
  EXPECT_EQ(refusalCause(Phase::kAuthorize, 403), "policy");
  EXPECT_EQ(refusalCause(Phase::kAuthorize, 503), "authorizer");
  EXPECT_EQ(refusalCause(Phase::kLimit, 429), "rate-limit");
  EXPECT_EQ(refusalCause(Phase::kOverload, 503), "overload");
}

TEST(AccessPhaseTest, UpstreamCausesAreNamed) {
  EXPECT_EQ(upstreamCause(upstream::FailureCause::kTimeout), "upstream-timeout");
  EXPECT_EQ(upstreamCause(upstream::FailureCause::kConnectFailure), "upstream-connect-failure");
  EXPECT_EQ(upstreamCause(upstream::FailureCause::kNoHealthyUpstream),
            "upstream-no-healthy-upstream");
}

TEST(AccessPhaseTest, ValidTraceparentIsContinuedWithOurSpan) {
  TraceState trace;
  takeTraceContext({{"Host", "x"}, {"traceparent", kIncoming}}, 1, 2, 0xabc, &trace);
  EXPECT_TRUE(trace.incoming_valid);
  EXPECT_EQ(trace.traceId(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(trace.traceParent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000abc-01");
}

TEST(AccessPhaseTest, AbsentInvalidOrRepeatedTraceparentStartsANewTrace) {
  const std::vector<std::vector<http::Header>> cases = {
      {},
      {{"traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}},
      {{"traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
      {{"traceparent", kIncoming}, {"traceparent", kIncoming}},
  };
  for (const auto& headers : cases) {
    TraceState trace;
    takeTraceContext(headers, 0x1111, 0x2222, 0x3333, &trace);
    EXPECT_FALSE(trace.incoming_valid);
    EXPECT_EQ(trace.traceParent(), "00-00000000000011110000000000002222-0000000000003333-00");
  }
}

TEST(AccessPhaseTest, TracestateOnlyAfterAValidTraceparentAndWithinTheBound) {
  char buffer[observe::kMaxTraceState];
  TraceState valid;
  takeTraceContext({{"traceparent", kIncoming}}, 1, 2, 3, &valid);
  EXPECT_EQ(forwardedTraceState({{"tracestate", "a=1"}}, valid, buffer), "a=1");
  EXPECT_EQ(forwardedTraceState({{"tracestate", "a=1"}, {"TraceState", "b=2"}}, valid, buffer),
            "a=1,b=2");
  std::string big(observe::kMaxTraceState, 'x');
  EXPECT_EQ(forwardedTraceState({{"tracestate", big}}, valid, buffer), big);
  EXPECT_EQ(forwardedTraceState({{"tracestate", big}, {"tracestate", "b=2"}}, valid, buffer), "");
  TraceState fresh;
  takeTraceContext({}, 1, 2, 3, &fresh);
  EXPECT_EQ(forwardedTraceState({{"tracestate", "a=1"}}, fresh, buffer), "");
}

TEST(AccessPhaseTest, AFullRingCountsTheDropAndSamplingSkipsOnlySuccesses) {
  observe::AccessRing ring(16);
  observe::AccessLogSettings settings;
  settings.sample_success = 0.0;
  observe::WorkerStats stats;
  observe::AccessRecord ok;
  ok.status = 200;
  logAccess(ring, settings, stats, 0, ok);  // sampled out: neither written nor dropped
  EXPECT_EQ(ring.drain([](std::string_view) {}), 0u);
  observe::AccessRecord refused;
  refused.status = 429;
  refused.cause = "rate-limit";
  for (int i = 0; i < 20; ++i) logAccess(ring, settings, stats, 0, refused);
  EXPECT_EQ(stats.access_log_dropped.get(), 4u);
  size_t lines = ring.drain([](std::string_view line) {
    EXPECT_NE(line.find("\"cause\":\"rate-limit\""), std::string_view::npos) << line;
  });
  EXPECT_EQ(lines, 16u);
}

}  // namespace
}  // namespace rampart::proxy
