#include "shield/accept_gate.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::shield {
namespace {

constexpr Nanos kS = kSecond;
constexpr Nanos kT0 = 1'000 * kS;

net::SocketAddress ip(const std::string& text) {
  std::string with_port = text.find(':') == std::string::npos ? text : "[" + text + "]";
  with_port += ":5000";
  return *net::SocketAddress::parseNumeric(with_port);
}

std::shared_ptr<const AddressList> listOf(std::vector<std::string> cidrs) {
  return std::make_shared<const AddressList>(*AddressList::compile(cidrs, nullptr));
}

GateConfig config() {
  GateConfig c;
  c.admission.max_concurrent = 2;
  c.admission.accept_rate = Limit{1, 5};
  c.escalation.refusals = 3;
  c.escalation.window = 10 * kS;
  c.escalation.base_block = 60 * kS;
  c.escalation.max_block = 600 * kS;
  c.allow = listOf({"10.0.0.0/8"});
  c.deny = listOf({"192.0.2.0/24"});
  return c;
}

const KeyDeriver kKeys(Seed{1, 2});

TEST(AcceptGateTest, DenyListIsRefusedAndAllowListBypassesCaps) {
  AcceptGate gate(config(), kKeys, 1, 1'000);
  EXPECT_EQ(gate.admit(ip("192.0.2.10"), kT0).verdict, Admission::kDenyListed);
  EXPECT_EQ(gate.admit(ip("::ffff:192.0.2.10"), kT0).verdict, Admission::kDenyListed);
  for (int i = 0; i < 100; ++i) {
    GateTicket t = gate.admit(ip("10.1.1.1"), kT0);
    EXPECT_EQ(t.verdict, Admission::kAdmitted);
    EXPECT_FALSE(t.counted);
  }
  EXPECT_EQ(gate.stats().deny_listed, 2u);
  EXPECT_EQ(gate.stats().allow_listed, 100u);
  EXPECT_FALSE(gate.noteRefusal(ip("10.1.1.1"), kT0));  // never escalates
}

TEST(AcceptGateTest, CapsThenEscalationThenRelease) {
  AcceptGate gate(config(), kKeys, 1, 1'000);
  const auto peer = ip("198.51.100.1");
  GateTicket a = gate.admit(peer, kT0);
  GateTicket b = gate.admit(peer, kT0);
  ASSERT_EQ(a.verdict, Admission::kAdmitted);
  ASSERT_EQ(b.verdict, Admission::kAdmitted);
  EXPECT_EQ(gate.admit(peer, kT0).verdict, Admission::kOverConcurrency);
  gate.release(a);
  GateTicket c = gate.admit(peer, kT0);
  EXPECT_EQ(c.verdict, Admission::kAdmitted);
  gate.release(b);
  gate.release(c);
  // 3 accepts of the burst of 5 used: two more fit, up to the concurrency cap.
  GateTicket d = gate.admit(peer, kT0);
  GateTicket e = gate.admit(peer, kT0);
  ASSERT_EQ(d.verdict, Admission::kAdmitted);
  ASSERT_EQ(e.verdict, Admission::kAdmitted);
  EXPECT_EQ(gate.admit(peer, kT0).verdict, Admission::kOverConcurrency);  // refusal 2
  EXPECT_EQ(gate.stats().blocks_started, 0u);
  EXPECT_EQ(gate.stats().over_concurrency, 2u);
  // The 3rd refusal within 10 s blocks for 60 s.
  EXPECT_EQ(gate.admit(peer, kT0 + kS).verdict, Admission::kOverConcurrency);
  EXPECT_EQ(gate.stats().blocks_started, 1u);
  gate.release(d);
  gate.release(e);
  EXPECT_EQ(gate.admit(peer, kT0 + 2 * kS).verdict, Admission::kBlocked);
  EXPECT_EQ(gate.admit(peer, kT0 + 61 * kS - 1).verdict, Admission::kBlocked);
  EXPECT_EQ(gate.stats().blocked, 2u);
  EXPECT_EQ(gate.admit(ip("198.51.100.2"), kT0 + 2 * kS).verdict, Admission::kAdmitted);
  // Released on time, with the accept rate refilled meanwhile.
  EXPECT_EQ(gate.admit(peer, kT0 + 61 * kS).verdict, Admission::kAdmitted);
}

TEST(AcceptGateTest, AcceptRateCap) {
  GateConfig c = config();
  c.admission.max_concurrent = 0;
  AcceptGate gate(c, kKeys, 1, 1'000);
  const auto peer = ip("2001:db8::1");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(gate.admit(peer, kT0).verdict, Admission::kAdmitted);
  EXPECT_EQ(gate.admit(peer, kT0).verdict, Admission::kOverRate);
  EXPECT_EQ(gate.admit(peer, kT0 + kS).verdict, Admission::kAdmitted);
  EXPECT_EQ(gate.stats().over_rate, 1u);
}

TEST(AcceptGateTest, RequestRefusalsEscalateToo) {
  AcceptGate gate(config(), kKeys, 1, 1'000);
  const auto peer = ip("198.51.100.9");
  EXPECT_FALSE(gate.noteRefusal(peer, kT0));
  EXPECT_FALSE(gate.noteRefusal(peer, kT0));
  EXPECT_TRUE(gate.noteRefusal(peer, kT0));
  EXPECT_EQ(gate.admit(peer, kT0 + kS).verdict, Admission::kBlocked);
}

TEST(AcceptGateTest, CountModeAdmitsButCounts) {
  GateConfig c = config();
  c.dry_run = true;
  AcceptGate gate(c, kKeys, 1, 1'000);
  const auto peer = ip("198.51.100.1");
  EXPECT_EQ(gate.admit(peer, kT0).verdict, Admission::kAdmitted);
  EXPECT_EQ(gate.admit(peer, kT0).verdict, Admission::kAdmitted);
  GateTicket t = gate.admit(peer, kT0);
  EXPECT_EQ(t.verdict, Admission::kAdmitted);
  EXPECT_EQ(t.would, Admission::kOverConcurrency);
  EXPECT_TRUE(t.counted);
  EXPECT_EQ(gate.stats().dry_run_refusals, 1u);
  EXPECT_EQ(gate.stats().admitted, 3u);
  // The deny list is enforced even in count mode.
  EXPECT_EQ(gate.admit(ip("192.0.2.1"), kT0).verdict, Admission::kDenyListed);
  // Escalation is counted, not enforced.
  gate.admit(peer, kT0);
  gate.admit(peer, kT0);
  EXPECT_EQ(gate.stats().blocks_started, 1u);
  GateTicket blocked = gate.admit(peer, kT0 + kS);
  EXPECT_EQ(blocked.verdict, Admission::kAdmitted);
  EXPECT_EQ(blocked.would, Admission::kBlocked);
}

TEST(AcceptGateTest, PrefixKeysShareOneBudget) {
  GateConfig c = config();
  c.by_prefix = true;
  AcceptGate gate(c, kKeys, 1, 1'000);
  EXPECT_EQ(gate.admit(ip("198.51.100.1"), kT0).verdict, Admission::kAdmitted);
  EXPECT_EQ(gate.admit(ip("198.51.100.2"), kT0).verdict, Admission::kAdmitted);
  EXPECT_EQ(gate.admit(ip("198.51.100.3"), kT0).verdict, Admission::kOverConcurrency);
  EXPECT_EQ(gate.admit(ip("198.51.101.3"), kT0).verdict, Admission::kAdmitted);
}

}  // namespace
}  // namespace rampart::shield
