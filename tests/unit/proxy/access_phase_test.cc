#include "proxy/access_phase.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rampart::proxy {
namespace {

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
