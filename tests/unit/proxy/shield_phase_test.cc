// Phases 3, 5 and 7 with the shield wired in, through the real phase runner
// on a compiled config: listener limits before routing, route limits keyed
// by identity after authentication, the 429's headers, drop, blocks, the
// auth-failure budget before any credential check, and the trusted-proxy
// client address.
#include "proxy/shield_phase.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config.h"
#include "http/parser.h"
#include "phase_test_support.h"

namespace rampart::proxy {
namespace {

using ::testing::HasSubstr;

class ShieldPhaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_support::makeKeyDir("rampart-shield", {{"key-alice", "alice", "acme"},
                                                       {"key-bob", "bob", "acme"},
                                                       {"key-carol", "carol", "other"}});
  }
  void TearDown() override { test_support::removeKeyDir(dir_); }

  void load(std::string_view text) {
    config::LoadResult result = config::loadString(text, dir_ + "/rampart.yaml");
    ASSERT_TRUE(result.ok()) << (result.errors.empty() ? "" : config::format(result.errors[0]));
    snapshot_ = result.snapshot;
    shield_ = std::make_unique<shield::WorkerShield>(snapshot_->shield, shield::Seed{7, 8});
    auth_ = std::make_unique<auth::AuthWorkerState>(100);
  }

  // Runs phases 2-7 on `raw` (a whole request head) from `peer` at `now_s`.
  Verdict run(const std::string& raw, const char* peer = "192.0.2.10", int64_t now_s = 1000) {
    raw_ = raw;
    head_ = http::RequestHead{};
    http::ParseOutcome outcome = http::parseRequestHead(raw_, snapshot_->http.limits, head_);
    EXPECT_EQ(outcome.state, http::ParseOutcome::State::kDone) << raw;
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
    ctx_.mono_nanos = now_s * shield::kSecond;
    return runRequestPhases(ctx_);
  }

  static std::string get(const std::string& path, const std::string& extra = "") {
    return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
  }

  std::string dir_;
  std::shared_ptr<const config::Snapshot> snapshot_;
  std::unique_ptr<shield::WorkerShield> shield_;
  std::unique_ptr<auth::AuthWorkerState> auth_;
  std::string raw_;
  http::RequestHead head_;
  http::CanonicalTarget target_;
  net::SocketAddress peer_;
  RequestContext ctx_;
  std::string headers_;
};

constexpr const char* kConfig = R"(
shield:
  trusted_proxies: ["10.0.0.0/8"]
  auth_failures: {rate: 1/m, burst: 2}
  escalation: {after: 3, within: 10s, block_for: 5s, max_block: 20s}
listeners:
  - name: main
    address: "127.0.0.1:8080"
    limits:
      - {name: per-ip, key: address, rate: 1/s, burst: 3}
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
authentication:
  providers:
    - name: keys
      api_keys: {file: keys.yaml}
virtual_hosts:
  - name: v
    routes:
      - name: orders
        match: {prefix: /orders}
        cluster: app
        auth: {providers: [keys]}
        public: true
        limits:
          - {name: per-account, key: account, rate: 1/m, burst: 2}
          - {name: per-key, key: api_key, rate: 1/m, burst: 5}
      - name: dropped
        match: {prefix: /drop}
        cluster: app
        public: true
        limits:
          - {name: by-tenant, key: "header:x-tenant", rate: 1/m, burst: 1, action: drop}
      - name: shared
        match: {prefix: /shared}
        cluster: app
        public: true
        limits:
          - {name: whole-route, key: route, rate: 1/m, burst: 1}
      - name: open
        match: {prefix: /}
        cluster: app
        public: true
)";

TEST_F(ShieldPhaseTest, AListenerLimitRefusesWith429AndTheRateLimitHeaders) {
  load(kConfig);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(run(get("/x")).proceeds()) << i;
  Verdict verdict = run(get("/x"));
  ASSERT_EQ(verdict.kind, Verdict::Kind::kRespond);
  EXPECT_EQ(verdict.phase, Phase::kShield);
  EXPECT_EQ(verdict.reply.status, 429);
  EXPECT_EQ(verdict.reply.detail, "rate limit 'per-ip' exceeded");
  EXPECT_FALSE(verdict.reply.close_connection);
  EXPECT_EQ(verdict.reply.extra_headers,
            "Retry-After: 1\r\nRateLimit-Policy: \"per-ip\";q=1;w=1\r\n"
            "RateLimit: \"per-ip\";r=0;t=1\r\n");
  // Before routing: even a path no route would reach is limited.
  EXPECT_EQ(ctx_.route, nullptr);
  // Another address has its own budget; a second later one more passes.
  EXPECT_TRUE(run(get("/x"), "192.0.2.11").proceeds());
  EXPECT_TRUE(run(get("/x"), "192.0.2.10", 1001).proceeds());
}

TEST_F(ShieldPhaseTest, RouteLimitsKeyByAccountAndApiKeyAfterAuthentication) {
  load(kConfig);
  // Alice and Bob share account acme (burst 2); Carol's account is separate.
  EXPECT_TRUE(run(get("/orders", "x-api-key: key-alice\r\n"), "192.0.2.1").proceeds());
  EXPECT_TRUE(run(get("/orders", "x-api-key: key-bob\r\n"), "192.0.2.2").proceeds());
  Verdict verdict = run(get("/orders", "x-api-key: key-bob\r\n"), "192.0.2.3");
  ASSERT_EQ(verdict.kind, Verdict::Kind::kRespond);
  EXPECT_EQ(verdict.phase, Phase::kLimit);
  EXPECT_EQ(verdict.reply.status, 429);
  EXPECT_EQ(verdict.reply.detail, "rate limit 'per-account' exceeded");
  EXPECT_THAT(std::string(verdict.reply.extra_headers), HasSubstr("Retry-After: 60\r\n"));
  EXPECT_THAT(std::string(verdict.reply.extra_headers),
              HasSubstr("RateLimit-Policy: \"per-account\";q=1;w=60\r\n"));
  EXPECT_TRUE(run(get("/orders", "x-api-key: key-carol\r\n"), "192.0.2.4").proceeds());
  // Anonymous requests never reach the limit phase here: the route needs a key (401).
  EXPECT_EQ(run(get("/orders"), "192.0.2.5").reply.status, 401);
}

TEST_F(ShieldPhaseTest, DropClosesWithoutAReplyAndARequestWithoutTheHeaderIsNotCounted) {
  load(kConfig);
  EXPECT_TRUE(run(get("/drop", "x-tenant: t1\r\n")).proceeds());
  Verdict verdict = run(get("/drop", "X-Tenant: t1\r\n"), "192.0.2.99");
  EXPECT_EQ(verdict.kind, Verdict::Kind::kDrop);
  EXPECT_EQ(verdict.phase, Phase::kLimit);
  EXPECT_TRUE(run(get("/drop", "x-tenant: t2\r\n"), "192.0.2.98").proceeds());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(run(get("/drop"), "192.0.2.97", 1000 + i).proceeds());
}

TEST_F(ShieldPhaseTest, ARouteKeyIsOneBucketForEveryClient) {
  load(kConfig);
  EXPECT_TRUE(run(get("/shared"), "192.0.2.1").proceeds());
  EXPECT_EQ(run(get("/shared"), "192.0.2.2").reply.status, 429);
  EXPECT_TRUE(run(get("/elsewhere"), "192.0.2.3").proceeds());
}

TEST_F(ShieldPhaseTest, ForgedForwardedForFromAnUntrustedPeerIsIgnored) {
  load(kConfig);
  // The bypass attempt: a fresh X-Forwarded-For per request from one socket address.
  for (int i = 0; i < 3; ++i) {
    std::string xff = "x-forwarded-for: 198.51.100." + std::to_string(i) + "\r\n";
    ASSERT_TRUE(run(get("/x", xff), "192.0.2.50").proceeds());
    EXPECT_EQ(ctx_.client, ctx_.peer);
  }
  EXPECT_EQ(run(get("/x", "x-forwarded-for: 198.51.100.77\r\n"), "192.0.2.50").reply.status, 429);
}

TEST_F(ShieldPhaseTest, ATrustedProxysForwardedForNamesTheClient) {
  load(kConfig);
  // Many clients behind one proxy each get their own budget...
  for (int i = 0; i < 5; ++i) {
    std::string xff = "x-forwarded-for: 198.51.100." + std::to_string(i) + "\r\n";
    ASSERT_TRUE(run(get("/x", xff), "10.0.0.1").proceeds()) << i;
    EXPECT_EQ(ctx_.client->ipString(), "198.51.100." + std::to_string(i));
  }
  // ... and a client cannot escape its own by prepending a forged hop.
  const std::string client = "198.51.100.200";
  for (int i = 0; i < 3; ++i) {
    std::string xff = "x-forwarded-for: 7.7.7." + std::to_string(i) + ", " + client + "\r\n";
    ASSERT_TRUE(run(get("/x", xff), "10.0.0.1").proceeds()) << i;
  }
  Verdict verdict = run(get("/x", "x-forwarded-for: 8.8.8.8, " + client + "\r\n"), "10.0.0.1");
  EXPECT_EQ(verdict.reply.status, 429);
  EXPECT_EQ(ctx_.client->ipString(), client);
}

TEST_F(ShieldPhaseTest, RepeatedRefusalsBlockTheClientThenItIsReleased) {
  load(kConfig);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(run(get("/x")).proceeds());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(run(get("/x")).reply.detail, "rate limit 'per-ip' exceeded");
  // The third refusal started a 5 s block: requests on open connections are refused and closed.
  Verdict blocked = run(get("/x"), "192.0.2.10", 1001);
  EXPECT_EQ(blocked.reply.status, 429);
  EXPECT_EQ(blocked.reply.detail, "this client is temporarily blocked");
  EXPECT_TRUE(blocked.reply.close_connection);
  EXPECT_EQ(blocked.reply.extra_headers, "Retry-After: 4\r\n");
  EXPECT_EQ(shield_->admit(peer_, 1001 * shield::kSecond).verdict, shield::Admission::kBlocked);
  EXPECT_TRUE(run(get("/x"), "192.0.2.10", 1006).proceeds());
  EXPECT_EQ(shield_->stats().blocked, 1u);
}

TEST_F(ShieldPhaseTest, AnAddressOverItsAuthFailureBudgetGets429BeforeAnyCredentialCheck) {
  load(kConfig);
  EXPECT_EQ(run(get("/orders", "x-api-key: wrong-1\r\n")).reply.status, 401);
  EXPECT_EQ(run(get("/orders", "x-api-key: wrong-2\r\n"), "192.0.2.10", 1001).reply.status, 401);
  const uint64_t misses = auth_->cache_misses;
  Verdict verdict = run(get("/orders", "x-api-key: key-alice\r\n"), "192.0.2.10", 1002);
  EXPECT_EQ(verdict.reply.status, 429);
  EXPECT_EQ(verdict.phase, Phase::kAuthenticate);
  EXPECT_EQ(verdict.reply.detail, "too many failed credentials from this address");
  EXPECT_THAT(std::string(verdict.reply.extra_headers), HasSubstr("Retry-After: "));
  EXPECT_EQ(ctx_.auth.outcome, auth::AuthOutcome::kAnonymous);  // never authenticated
  EXPECT_EQ(auth_->cache_misses, misses);
  // Other addresses are unaffected; routes without auth are unaffected.
  EXPECT_TRUE(run(get("/orders", "x-api-key: key-alice\r\n"), "192.0.2.20", 1002).proceeds());
  EXPECT_TRUE(run(get("/open"), "192.0.2.10", 1003).proceeds());
}

TEST_F(ShieldPhaseTest, WithoutAShieldEveryPhaseProceeds) {
  load(kConfig);
  for (int i = 0; i < 10; ++i) {
    raw_ = get("/shared");
    head_ = http::RequestHead{};
    http::parseRequestHead(raw_, snapshot_->http.limits, head_);
    ctx_ = RequestContext{};
    peer_ = net::SocketAddress::parseNumeric("192.0.2.1:1").value();
    ctx_.snapshot = snapshot_.get();
    ctx_.head = &head_;
    ctx_.peer = &peer_;
    ctx_.target = &target_;
    ctx_.auth_state = auth_.get();
    ctx_.reply_headers = &headers_;
    EXPECT_TRUE(runRequestPhases(ctx_).proceeds());
  }
}

}  // namespace
}  // namespace rampart::proxy
