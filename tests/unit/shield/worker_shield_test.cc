// One worker's shield: several limits that must all pass without charging
// each other on a refusal, escalation from request refusals, the
// auth-failure budget, and tables that exist only for what is configured.
#include "shield/worker_shield.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::shield {
namespace {

constexpr Seed kSeed{1, 2};

net::SocketAddress ip(const char* text) {
  return net::SocketAddress::parseNumeric(std::string(text) + ":1").value();
}

RequestLimit limit(const char* name, LimitKey key, double rate, uint32_t burst, uint64_t space) {
  RequestLimit out(name, key, Limit{rate, burst});
  out.space = space;
  return out;
}

TEST(WorkerShieldTest, NothingConfiguredMeansNoTables) {
  ShieldSettings settings;
  WorkerShield shield(settings, kSeed);
  EXPECT_FALSE(shield.gateEnabled());
  EXPECT_EQ(shield.memoryBytes(), 0u);
  EXPECT_EQ(shield.admit(ip("192.0.2.1"), 0).verdict, Admission::kAdmitted);
  Decision decision;
  EXPECT_FALSE(shield.authBudgetExhausted(ip("192.0.2.1"), 0, &decision));
  EXPECT_FALSE(shield.noteRefusal(ip("192.0.2.1"), 0));
}

TEST(WorkerShieldTest, TheMemoryCeilingIsFixedByMaxTrackedKeys) {
  ShieldSettings settings;
  settings.max_tracked_keys = 1000;
  settings.listener_limits.resize(1);
  settings.listener_limits[0].push_back(limit("a", LimitKey::kAddress, 1, 1, 1));
  WorkerShield shield(settings, kSeed);
  const size_t bytes = shield.memoryBytes();
  EXPECT_GT(bytes, 1000 * 32u);
  EXPECT_LT(bytes, 1000 * 64u);
  // 100x more distinct clients than keys: the table stays at its capacity.
  const RequestLimit& a = settings.listener_limits[0][0];
  for (uint32_t i = 0; i < 100000; ++i) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(0x0a000000 + i);
    net::SocketAddress client(reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
    Key key = shield.addressKey(a, client);
    shield.check(&a, &key, 1, i);
  }
  EXPECT_EQ(shield.limiter()->size(), 1000u);
  EXPECT_EQ(shield.memoryBytes(), bytes);
}

TEST(WorkerShieldTest, AllLimitsMustPassAndARefusalChargesNone) {
  ShieldSettings settings;
  settings.route_limits.resize(1);
  auto& limits = settings.route_limits[0];
  limits.push_back(limit("loose", LimitKey::kAccount, 1, 10, 1));
  limits.push_back(limit("tight", LimitKey::kPrincipal, 1, 2, 2));
  WorkerShield shield(settings, kSeed);
  Key keys[2] = {shield.stringKey(limits[0], "acme"), shield.stringKey(limits[1], "alice")};
  const Nanos now = 1000 * kSecond;
  EXPECT_EQ(shield.check(limits.data(), keys, 2, now).denied, nullptr);
  EXPECT_EQ(shield.check(limits.data(), keys, 2, now).denied, nullptr);
  LimitOutcome refused = shield.check(limits.data(), keys, 2, now);
  ASSERT_NE(refused.denied, nullptr);
  EXPECT_EQ(refused.denied->name, "tight");
  EXPECT_EQ(refused.decision.retryAfterSeconds(), 1);
  EXPECT_EQ(shield.stats().limited, 1u);
  // "loose" was charged twice, not three times: 8 more pass for another principal.
  Key bob[2] = {keys[0], shield.stringKey(limits[1], "bob")};
  Key carol[2] = {keys[0], shield.stringKey(limits[1], "carol")};
  Key dave[2] = {keys[0], shield.stringKey(limits[1], "dave")};
  Key erin[2] = {keys[0], shield.stringKey(limits[1], "erin")};
  for (Key* k : {bob, bob, carol, carol, dave, dave, erin, erin}) {
    EXPECT_EQ(shield.check(limits.data(), k, 2, now).denied, nullptr);
  }
  Key frank[2] = {keys[0], shield.stringKey(limits[1], "frank")};
  LimitOutcome loose = shield.check(limits.data(), frank, 2, now);
  ASSERT_NE(loose.denied, nullptr);
  EXPECT_EQ(loose.denied->name, "loose");
}

TEST(WorkerShieldTest, AnEmptyKeyIsNotCounted) {
  ShieldSettings settings;
  settings.route_limits.resize(1);
  auto& limits = settings.route_limits[0];
  limits.push_back(limit("acct", LimitKey::kAccount, 1, 1, 1));
  WorkerShield shield(settings, kSeed);
  Key none[1] = {Key{}};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(shield.check(limits.data(), none, 1, 0).denied, nullptr);
}

TEST(WorkerShieldTest, RequestRefusalsEscalateToABlockThatEnds) {
  ShieldSettings settings;
  settings.gate_enabled = true;
  settings.gate.escalate = true;
  settings.gate.escalation.refusals = 3;
  settings.gate.escalation.window = 10 * kSecond;
  settings.gate.escalation.base_block = 2 * kSecond;
  settings.gate.escalation.max_block = 8 * kSecond;
  std::string error;
  settings.gate.allow = std::make_shared<const AddressList>(
      AddressList::compile({"198.51.100.0/24"}, &error).value());
  WorkerShield shield(settings, kSeed);
  const net::SocketAddress bad = ip("192.0.2.1");
  const Nanos t0 = 100 * kSecond;
  EXPECT_FALSE(shield.noteRefusal(bad, t0));
  EXPECT_FALSE(shield.noteRefusal(bad, t0 + 1));
  EXPECT_TRUE(shield.noteRefusal(bad, t0 + 2));
  EXPECT_EQ(shield.stats().escalations, 1u);
  EXPECT_EQ(shield.blockedUntil(bad, t0 + 3), t0 + 2 + 2 * kSecond);
  EXPECT_EQ(shield.admit(bad, t0 + 3).verdict, Admission::kBlocked);
  EXPECT_EQ(shield.blockedUntil(bad, t0 + 2 + 2 * kSecond), 0);
  EXPECT_EQ(shield.admit(bad, t0 + 3 * kSecond).verdict, Admission::kAdmitted);
  // The allow list is never escalated.
  const net::SocketAddress friendly = ip("198.51.100.5");
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(shield.noteRefusal(friendly, t0 + i));
  EXPECT_EQ(shield.blockedUntil(friendly, t0 + 20), 0);
}

TEST(WorkerShieldTest, AuthFailuresUseUpABudgetPerAddress) {
  ShieldSettings settings;
  settings.auth_failures = Limit{1, 3};
  WorkerShield shield(settings, kSeed);
  const net::SocketAddress a = ip("192.0.2.1");
  const net::SocketAddress b = ip("192.0.2.2");
  const Nanos now = 50 * kSecond;
  Decision decision;
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(shield.authBudgetExhausted(a, now, &decision)) << i;
    shield.noteAuthFailure(a, now);
  }
  ASSERT_TRUE(shield.authBudgetExhausted(a, now, &decision));
  EXPECT_EQ(decision.retryAfterSeconds(), 1);
  EXPECT_FALSE(shield.authBudgetExhausted(b, now, &decision));            // per address
  EXPECT_FALSE(shield.authBudgetExhausted(a, now + kSecond, &decision));  // refilled by one
  EXPECT_EQ(shield.stats().auth_failures, 3u);
  EXPECT_EQ(shield.stats().auth_limited, 1u);
}

TEST(WorkerShieldTest, AReloadedGateKeepsCountsAndBlocks) {
  ShieldSettings settings;
  settings.gate_enabled = true;
  settings.gate.admission.max_concurrent = 1;
  settings.gate.escalate = true;
  settings.gate.escalation.refusals = 2;
  WorkerShield shield(settings, kSeed);
  const net::SocketAddress a = ip("192.0.2.1");
  const net::SocketAddress b = ip("192.0.2.2");
  GateTicket open = shield.admit(a, 0);
  ASSERT_EQ(open.verdict, Admission::kAdmitted);
  shield.noteRefusal(b, 0);
  ASSERT_TRUE(shield.noteRefusal(b, 1));
  // New lists and a deny for a third address; the open connection and the block survive.
  GateConfig next = settings.gate;
  std::string error;
  next.deny =
      std::make_shared<const AddressList>(AddressList::compile({"192.0.2.3/32"}, &error).value());
  shield.reloadGate(true, next);
  EXPECT_EQ(shield.admit(a, 2).verdict, Admission::kOverConcurrency);
  EXPECT_EQ(shield.admit(b, 2).verdict, Admission::kBlocked);
  EXPECT_EQ(shield.admit(ip("192.0.2.3"), 2).verdict, Admission::kDenyListed);
  EXPECT_TRUE(shield.denyListed(ip("192.0.2.3")));
  shield.release(open);
  EXPECT_EQ(shield.admit(a, 3).verdict, Admission::kAdmitted);
  // Turned off: everyone is admitted; turned on from nothing: a gate is built.
  shield.reloadGate(false, next);
  EXPECT_FALSE(shield.gateEnabled());
  EXPECT_EQ(shield.admit(ip("192.0.2.3"), 4).verdict, Admission::kAdmitted);
  const ShieldSettings none;  // the shield keeps a reference: it must outlive it
  WorkerShield fresh(none, kSeed);
  fresh.reloadGate(true, next);
  EXPECT_TRUE(fresh.gateEnabled());
  EXPECT_EQ(fresh.admit(ip("192.0.2.3"), 0).verdict, Admission::kDenyListed);
}

// A reload hands the shield the new snapshot's settings: the limiter table
// and what it holds are kept (an unchanged limit keeps its key space, so its
// client stays over it), and a table a new setting needs is created.
TEST(WorkerShieldTest, RebindKeepsLimiterStateAndCreatesNewTables) {
  ShieldSettings first;
  first.max_tracked_keys = 100;
  first.route_limits.resize(1);
  first.route_limits[0].push_back(limit("per-ip", LimitKey::kAddress, 1.0 / 60, 2, 77));
  WorkerShield shield(first, kSeed);
  const net::SocketAddress client = ip("192.0.2.7");
  const RequestLimit& a = first.route_limits[0][0];
  Key key = shield.addressKey(a, client);
  EXPECT_EQ(shield.check(&a, &key, 1, 0).denied, nullptr);
  EXPECT_EQ(shield.check(&a, &key, 1, 1).denied, nullptr);
  EXPECT_NE(shield.check(&a, &key, 1, 2).denied, nullptr);

  ShieldSettings second = first;  // the same limit (same space) in a new snapshot
  second.auth_failures = Limit{1.0 / 60, 1};
  shield.rebind(second);
  const RequestLimit& same = second.route_limits[0][0];
  Key again = shield.addressKey(same, client);
  EXPECT_NE(shield.check(&same, &again, 1, 3).denied, nullptr) << "limiter state was lost";
  // A changed limit has another space: counted afresh.
  RequestLimit changed = limit("per-ip", LimitKey::kAddress, 1.0 / 60, 5, 78);
  Key fresh = shield.addressKey(changed, client);
  EXPECT_EQ(shield.check(&changed, &fresh, 1, 4).denied, nullptr);
  // The auth-failure budget turned on by the reload works at once.
  Decision decision;
  EXPECT_FALSE(shield.authBudgetExhausted(client, 5, &decision));
  shield.noteAuthFailure(client, 5);
  EXPECT_TRUE(shield.authBudgetExhausted(client, 6, &decision));
  // And turned off again: no budget, no crash.
  shield.rebind(first);
  EXPECT_FALSE(shield.authBudgetExhausted(client, 7, &decision));
  EXPECT_EQ(&shield.settings(), &first);
}

}  // namespace
}  // namespace rampart::shield
