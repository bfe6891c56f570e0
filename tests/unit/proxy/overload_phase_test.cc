// Phase 7's learned baselines and phase 7b's shedder wired in, through the
// real phase runner on a compiled config: anonymous requests shed before
// authenticated ones, a client refused a moment ago shed first, drop per
// class, count mode, and a client far above its baseline throttled (429 with
// the RateLimit headers) only while the total is far above its own.
#include "proxy/overload_phase.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>

#include "config/config.h"
#include "http/parser.h"
#include "phase_test_support.h"

namespace rampart::proxy {
namespace {

using shield::kSecond;
using shield::RequestClass;
using ::testing::HasSubstr;

class OverloadPhaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_support::makeKeyDir("rampart-overload", {{"key-alice", "alice", "acme"}});
  }
  void TearDown() override { test_support::removeKeyDir(dir_); }

  // `shield` is the body of the shield section (indented by four).
  void load(const std::string& shield) {
    const std::string text = "shield:\n" + shield + R"(
listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
authentication:
  providers:
    - name: keys
      api_keys: {file: keys.yaml}
virtual_hosts:
  - name: v
    routes:
      - name: limited
        match: {prefix: /limited}
        cluster: app
        public: true
        limits: [{name: one, key: address, rate: 1/m, burst: 1}]
      - name: open
        match: {prefix: /}
        cluster: app
        public: true
        auth: {providers: [keys], allow_anonymous: true}
)";
    config::LoadResult result = config::loadString(text, dir_ + "/rampart.yaml");
    ASSERT_TRUE(result.ok()) << (result.errors.empty() ? "" : config::format(result.errors[0]));
    snapshot_ = result.snapshot;
    shield_ = std::make_unique<shield::WorkerShield>(snapshot_->shield, shield::Seed{7, 8});
    overload_ = std::make_unique<shield::WorkerOverload>(
        snapshot_->shield.overload, snapshot_->shield.baselines, 1000, shield::Seed{9, 10});
    auth_ = std::make_unique<auth::AuthWorkerState>(100);
  }

  Verdict run(const std::string& path, const char* peer, shield::Nanos now = kSecond,
              const std::string& extra = "") {
    raw_ = "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
    head_ = http::RequestHead{};
    http::ParseOutcome outcome = http::parseRequestHead(raw_, snapshot_->http.limits, head_);
    EXPECT_EQ(outcome.state, http::ParseOutcome::State::kDone) << raw_;
    peer_ = net::SocketAddress::parseNumeric(std::string(peer) + ":5555").value();
    ctx_ = RequestContext{};
    ctx_.snapshot = snapshot_.get();
    ctx_.head = &head_;
    ctx_.peer = &peer_;
    ctx_.target = &target_;
    ctx_.auth_state = auth_.get();
    ctx_.now = 1'700'000'000;
    ctx_.reply_headers = &headers_;
    ctx_.shield = shield_.get();
    ctx_.overload = overload_.get();
    ctx_.mono_nanos = now;
    return runRequestPhases(ctx_);
  }
  Verdict runAlice(const char* peer) {
    return run("/x", peer, kSecond, "x-api-key: key-alice\r\n");
  }

  std::string dir_;
  std::shared_ptr<const config::Snapshot> snapshot_;
  std::unique_ptr<shield::WorkerShield> shield_;
  std::unique_ptr<shield::WorkerOverload> overload_;
  std::unique_ptr<auth::AuthWorkerState> auth_;
  std::string raw_;
  http::RequestHead head_;
  http::CanonicalTarget target_;
  net::SocketAddress peer_;
  RequestContext ctx_;
  std::string headers_;
};

// Ceilings at capacity 4: authenticated 4, anonymous 2, suspicious 1.
constexpr const char* kShedding = R"(
  overload:
    capacity: 4
    reserved_authenticated: 0.5
    suspicious_share: 0.25
    retry_after: 3s
    action: {suspicious: reject}
)";

TEST_F(OverloadPhaseTest, AnonymousRequestsAreShedBeforeAuthenticatedOnes) {
  load(kShedding);
  ASSERT_TRUE(run("/x", "192.0.2.1").proceeds());
  EXPECT_TRUE(ctx_.overload_admitted);
  EXPECT_EQ(ctx_.request_class, RequestClass::kAnonymous);
  ASSERT_TRUE(run("/x", "192.0.2.2").proceeds());
  Verdict shed = run("/x", "192.0.2.3");
  ASSERT_EQ(shed.kind, Verdict::Kind::kRespond);
  EXPECT_EQ(shed.phase, Phase::kOverload);
  EXPECT_EQ(shed.reply.status, 503);
  EXPECT_EQ(shed.reply.extra_headers, "Retry-After: 3\r\n");
  EXPECT_FALSE(ctx_.overload_admitted);
  // The reserved half is the authenticated class's alone.
  ASSERT_TRUE(runAlice("192.0.2.4").proceeds());
  EXPECT_EQ(ctx_.request_class, RequestClass::kAuthenticated);
  ASSERT_TRUE(runAlice("192.0.2.5").proceeds());
  EXPECT_EQ(runAlice("192.0.2.6").reply.status, 503);
  // Requests that end give their slots back.
  overload_->release(RequestClass::kAnonymous);
  EXPECT_EQ(run("/x", "192.0.2.3").reply.status, 503);  // 3 in flight: still over 2
  overload_->release(RequestClass::kAuthenticated);
  overload_->release(RequestClass::kAuthenticated);
  EXPECT_TRUE(run("/x", "192.0.2.3").proceeds());
  const auto& stats = overload_->shedder()->stats();
  EXPECT_EQ(stats.admitted[0], 2u);
  EXPECT_EQ(stats.admitted[1], 3u);
  EXPECT_EQ(stats.shed[0], 1u);
  EXPECT_EQ(stats.shed[1], 2u);
}

TEST_F(OverloadPhaseTest, AClientRefusedAMomentAgoIsSuspiciousAndShedFirst) {
  load(kShedding);
  ASSERT_TRUE(run("/limited", "192.0.2.9").proceeds());
  overload_->release(ctx_.request_class);
  EXPECT_EQ(run("/limited", "192.0.2.9").reply.status, 429);  // over the route's limit
  ASSERT_TRUE(run("/x", "192.0.2.1").proceeds());             // one in flight
  Verdict shed = run("/x", "192.0.2.9");
  EXPECT_EQ(shed.reply.status, 503);
  // Its credential does not make it good: a key flooding is suspicious too.
  EXPECT_EQ(run("/x", "192.0.2.9", kSecond, "x-api-key: key-alice\r\n").reply.status, 503);
  EXPECT_EQ(overload_->shedder()->stats().shed[2], 2u);
  // Another anonymous client still gets the second anonymous slot.
  EXPECT_TRUE(run("/x", "192.0.2.2").proceeds());
  // After suspicious_for (60 s by default) it is anonymous again.
  EXPECT_EQ(run("/x", "192.0.2.9", 62 * kSecond).reply.status, 503);
  EXPECT_EQ(overload_->shedder()->stats().shed[1], 1u);
}

TEST_F(OverloadPhaseTest, DropIsPerClass) {
  load(R"(
  overload: {capacity: 2, reserved_authenticated: 0.5, action: {anonymous: drop}}
)");
  ASSERT_TRUE(run("/x", "192.0.2.1").proceeds());
  Verdict verdict = run("/x", "192.0.2.2");
  EXPECT_EQ(verdict.kind, Verdict::Kind::kDrop);
  EXPECT_EQ(verdict.phase, Phase::kOverload);
  ASSERT_TRUE(runAlice("192.0.2.3").proceeds());
  EXPECT_EQ(runAlice("192.0.2.4").reply.status, 503);  // authenticated: reject (503)
}

TEST_F(OverloadPhaseTest, CountModeShedsNothingButCountsWhatItWould) {
  load(R"(
  overload: {mode: count, capacity: 1, reserved_authenticated: 0}
)");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(run("/x", "192.0.2.1").proceeds()) << i;
    EXPECT_TRUE(ctx_.overload_admitted);
  }
  const auto& stats = overload_->shedder()->stats();
  EXPECT_EQ(stats.admitted[1], 5u);
  EXPECT_EQ(stats.would_shed[1], 4u);
  EXPECT_EQ(stats.shed[1], 0u);
  EXPECT_EQ(overload_->shedder()->inFlight(), 5u);
}

TEST_F(OverloadPhaseTest, WithoutOverloadNothingIsAdmittedOrCounted) {
  load("  max_tracked_keys: 100\n");
  ASSERT_TRUE(run("/x", "192.0.2.1").proceeds());
  EXPECT_FALSE(ctx_.overload_admitted);
}

constexpr const char* kBaselines = R"(
  baselines:
    key: prefix
    window: 1s
    min_windows: 2
    horizon: 4
    factor: 3
    retry_after: 2s
)";

// Two clients (two /24s) at 2 requests per 1 s window, windows 0 to 3.
void teach(OverloadPhaseTest* test, const std::function<Verdict(const char*, shield::Nanos)>& run) {
  for (int w = 0; w < 4; ++w) {
    for (int i = 0; i < 2; ++i) {
      const shield::Nanos at = w * kSecond + i * kSecond / 4;
      ASSERT_TRUE(run("192.0.2.1", at).proceeds());
      ASSERT_TRUE(run("198.51.100.1", at).proceeds());
    }
  }
  (void)test;
}

TEST_F(OverloadPhaseTest, AClientFarAboveItsBaselineIsThrottledOnlyWhileTheTotalIs) {
  load(kBaselines);
  auto at = [this](const char* peer, shield::Nanos now) { return run("/x", peer, now); };
  teach(this, at);
  // Window 4, half way: prev window weighs 0.5. The flood from 192.0.2.0/24
  // pushes the total over 3 x 4/s; the client is over 3 x 2/s long before.
  const shield::Nanos now = 4 * kSecond + kSecond / 2;
  int served = 0;
  Verdict refused;
  for (int i = 0; i < 40; ++i) {
    Verdict verdict = run("/x", "192.0.2.77", now);
    if (!verdict.proceeds()) {
      refused = verdict;
      break;
    }
    ++served;
  }
  ASSERT_EQ(refused.kind, Verdict::Kind::kRespond) << "never throttled";
  EXPECT_EQ(refused.phase, Phase::kLimit);
  EXPECT_EQ(refused.reply.status, 429);
  // The total went over 12/s: 2 (half of the last window) + 11 this window.
  EXPECT_EQ(served, 10);
  EXPECT_EQ(refused.reply.extra_headers,
            "Retry-After: 2\r\nRateLimit-Policy: \"baseline\";q=2;w=1\r\n"
            "RateLimit: \"baseline\";r=0;t=2\r\n");
  // A known client inside its baseline is untouched, even now.
  EXPECT_TRUE(run("/x", "198.51.100.1", now).proceeds());
  EXPECT_EQ(overload_->baselines()->stats().throttled, 1u);
}

TEST_F(OverloadPhaseTest, BaselinesInCountModeReportButNeverThrottle) {
  load(std::string(kBaselines) + "    mode: count\n");
  auto at = [this](const char* peer, shield::Nanos now) { return run("/x", peer, now); };
  teach(this, at);
  const shield::Nanos now = 4 * kSecond + kSecond / 2;
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(run("/x", "192.0.2.77", now).proceeds()) << i;
  EXPECT_EQ(overload_->baselines()->stats().throttled, 0u);
  EXPECT_GT(overload_->baselines()->stats().would_throttle, 0u);
}

}  // namespace
}  // namespace rampart::proxy
