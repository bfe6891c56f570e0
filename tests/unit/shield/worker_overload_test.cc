// One worker's overload state: the class of a request (suspicious after a
// refusal, for suspicious_for), admission and release through the shedder,
// the baseline key and its fallbacks, reloads that keep what was counted and
// learned, and the state file that carries baselines across a restart.
#include "shield/worker_overload.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::shield {
namespace {

constexpr Seed kSeed{3, 4};

net::SocketAddress ip(const char* text) {
  return net::SocketAddress::parseNumeric(std::string(text) + ":1").value();
}

OverloadSettings shedding(uint32_t capacity) {
  OverloadSettings settings;
  settings.enabled = true;
  settings.policy.capacity = capacity;
  settings.policy.reserved_authenticated = 0.5;
  settings.policy.suspicious_share = 0.25;
  settings.suspicious_for = 10 * kSecond;
  return settings;
}

BaselineSettings learning(BaselineKey key) {
  BaselineSettings settings;
  settings.enabled = true;
  settings.key = key;
  settings.policy.window = kSecond;
  settings.policy.min_windows = 2;
  settings.policy.horizon = 4;
  return settings;
}

TEST(WorkerOverloadTest, NothingConfiguredMeansNoTablesAndNoChecks) {
  WorkerOverload overload({}, {}, 1000, kSeed);
  EXPECT_FALSE(overload.shedding());
  EXPECT_FALSE(overload.learning());
  EXPECT_EQ(overload.memoryBytes(), 0u);
  EXPECT_EQ(overload.shedder(), nullptr);
  EXPECT_EQ(overload.baselines(), nullptr);
  overload.noteRefusal(ip("192.0.2.1"), 0);  // harmless without a table
  overload.release(RequestClass::kAnonymous);
  EXPECT_EQ(overload.classify(false, ip("192.0.2.1"), 0), RequestClass::kAnonymous);
  EXPECT_EQ(overload.exportBaselines(), "");
  EXPECT_FALSE(overload.importBaselines("RBL1"));
}

TEST(WorkerOverloadTest, ARefusedClientIsSuspiciousForSuspiciousFor) {
  WorkerOverload overload(shedding(8), {}, 1000, kSeed);
  const auto client = ip("192.0.2.7");
  EXPECT_EQ(overload.classify(true, client, kSecond), RequestClass::kAuthenticated);
  EXPECT_EQ(overload.classify(false, client, kSecond), RequestClass::kAnonymous);
  overload.noteRefusal(client, 2 * kSecond);
  // A credential does not outweigh being over a limit just now.
  EXPECT_EQ(overload.classify(true, client, 2 * kSecond), RequestClass::kSuspicious);
  EXPECT_EQ(overload.classify(false, client, 11 * kSecond), RequestClass::kSuspicious);
  EXPECT_EQ(overload.classify(false, ip("192.0.2.8"), 3 * kSecond), RequestClass::kAnonymous);
  // suspicious_for after the refusal it is forgotten.
  EXPECT_EQ(overload.classify(false, client, 12 * kSecond), RequestClass::kAnonymous);
  EXPECT_EQ(overload.classify(true, client, 12 * kSecond), RequestClass::kAuthenticated);
}

TEST(WorkerOverloadTest, TheShedderAdmitsByClassAndReleasesFreeSlots) {
  WorkerOverload overload(shedding(4), {}, 1000, kSeed);
  // Ceilings: authenticated 4, anonymous 2, suspicious 1.
  EXPECT_TRUE(overload.admit(RequestClass::kSuspicious).admitted);
  EXPECT_FALSE(overload.admit(RequestClass::kSuspicious).admitted);
  EXPECT_TRUE(overload.admit(RequestClass::kAnonymous).admitted);
  ShedDecision shed = overload.admit(RequestClass::kAnonymous);
  EXPECT_FALSE(shed.admitted);
  EXPECT_EQ(shed.action, ShedAction::kRespond);
  EXPECT_EQ(shed.retry_after, kSecond);
  EXPECT_TRUE(overload.admit(RequestClass::kAuthenticated).admitted);
  EXPECT_TRUE(overload.admit(RequestClass::kAuthenticated).admitted);
  EXPECT_FALSE(overload.admit(RequestClass::kAuthenticated).admitted);
  overload.release(RequestClass::kSuspicious);
  overload.release(RequestClass::kAnonymous);
  // The total in flight decides, whatever the class of what is in flight.
  EXPECT_FALSE(overload.admit(RequestClass::kAnonymous).admitted);
  overload.release(RequestClass::kAuthenticated);
  EXPECT_TRUE(overload.admit(RequestClass::kAnonymous).admitted);
  EXPECT_EQ(overload.shedder()->inFlight(), 2u);
  EXPECT_EQ(overload.shedder()->stats().shed[1], 2u);
}

TEST(WorkerOverloadTest, LagShrinksCapacity) {
  WorkerOverload overload(shedding(100), {}, 1000, kSeed);
  EXPECT_EQ(overload.shedder()->ceiling(RequestClass::kAuthenticated), 100u);
  overload.observeLag(80'000'000);  // 4x the 20 ms target
  EXPECT_EQ(overload.shedder()->ceiling(RequestClass::kAuthenticated), 25u);
  overload.observeLag(0);
  EXPECT_EQ(overload.shedder()->ceiling(RequestClass::kAuthenticated), 100u);
}

TEST(WorkerOverloadTest, ReloadKeepsInFlightAndMayTurnEachPartOn) {
  WorkerOverload overload({}, {}, 1000, kSeed);
  OverloadSettings on = shedding(2);
  overload.reload(on, learning(BaselineKey::kPrefix));
  ASSERT_TRUE(overload.shedding());
  ASSERT_TRUE(overload.learning());
  EXPECT_TRUE(overload.admit(RequestClass::kAuthenticated).admitted);
  on.policy.capacity = 1;
  overload.reload(on, learning(BaselineKey::kPrefix));
  EXPECT_EQ(overload.shedder()->inFlight(), 1u);
  EXPECT_FALSE(overload.admit(RequestClass::kAuthenticated).admitted);
  // Turned off: nothing decided any more, tables kept for a later reload.
  overload.reload({}, {});
  EXPECT_FALSE(overload.shedding());
  EXPECT_FALSE(overload.learning());
  EXPECT_NE(overload.shedder(), nullptr);
}

TEST(WorkerOverloadTest, TheBaselineKeyFallsBackFromAccountToPrincipalToPrefix) {
  WorkerOverload account({}, learning(BaselineKey::kAccount), 100, kSeed);
  WorkerOverload principal({}, learning(BaselineKey::kPrincipal), 100, kSeed);
  WorkerOverload prefix({}, learning(BaselineKey::kPrefix), 100, kSeed);
  const auto a = ip("192.0.2.1");
  const auto b = ip("192.0.2.200");  // same /24
  const auto c = ip("198.51.100.1");
  // account: two principals of one account are one client.
  EXPECT_EQ(account.baselineKey("acme", "alice", a), account.baselineKey("acme", "bob", c));
  EXPECT_NE(account.baselineKey("acme", "alice", a), account.baselineKey("globex", "alice", a));
  EXPECT_EQ(account.baselineKey("", "alice", a), account.baselineKey("", "alice", c));
  EXPECT_NE(account.baselineKey("", "alice", a), account.baselineKey("alice", "", a));
  EXPECT_EQ(account.baselineKey("", "", a), account.baselineKey("", "", b));
  EXPECT_NE(account.baselineKey("", "", a), account.baselineKey("", "", c));
  // principal: the account is not looked at.
  EXPECT_NE(principal.baselineKey("acme", "alice", a), principal.baselineKey("acme", "bob", a));
  EXPECT_EQ(principal.baselineKey("", "", a), principal.baselineKey("", "", b));
  // prefix: the identity is not looked at.
  EXPECT_EQ(prefix.baselineKey("acme", "alice", a), prefix.baselineKey("globex", "bob", b));
  EXPECT_FALSE(prefix.baselineKey("acme", "alice", a).empty());
}

// Teaches `overload` a client at 2 requests per 1 s window for `windows` windows.
void teach(WorkerOverload& overload, const Key& key, int windows) {
  for (int w = 0; w < windows; ++w) {
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(overload.checkBaseline(key, w * kSecond + i * kSecond / 4).allowed());
    }
  }
}

TEST(WorkerOverloadTest, LearnedBaselinesSurviveTheStateFileWithTheSameSeed) {
  const BaselineSettings settings = learning(BaselineKey::kPrincipal);
  WorkerOverload before({}, settings, 100, kSeed);
  const Key alice = before.baselineKey("", "alice", ip("192.0.2.1"));
  teach(before, alice, 4);
  ASSERT_TRUE(before.baselines()->totalKnown());
  BaselineFile file{kSeed, {before.exportBaselines(), before.exportBaselines()}};
  const std::string bytes = encodeBaselineFile(file);

  std::optional<BaselineFile> read = decodeBaselineFile(bytes);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->seed.k0, kSeed.k0);
  EXPECT_EQ(read->seed.k1, kSeed.k1);
  ASSERT_EQ(read->workers.size(), 2u);
  // A new process starts with another seed; the file's is set before import.
  WorkerOverload after({}, settings, 100, Seed{99, 100});
  after.setSeed(read->seed);
  ASSERT_TRUE(after.importBaselines(read->workers[1]));
  const Key same = after.baselineKey("", "alice", ip("203.0.113.9"));
  EXPECT_EQ(same, alice);
  EXPECT_TRUE(after.baselines()->known(same));
  EXPECT_TRUE(after.baselines()->totalKnown());
  EXPECT_DOUBLE_EQ(after.baselines()->baseline(same), before.baselines()->baseline(alice));
}

TEST(WorkerOverloadTest, AMalformedStateFileIsRefused) {
  const std::string good = encodeBaselineFile(BaselineFile{kSeed, {"abc", ""}});
  ASSERT_TRUE(decodeBaselineFile(good).has_value());
  EXPECT_EQ(decodeBaselineFile(good)->workers[0], "abc");
  EXPECT_FALSE(decodeBaselineFile("").has_value());
  EXPECT_FALSE(decodeBaselineFile("RBSX" + good.substr(4)).has_value());
  EXPECT_FALSE(decodeBaselineFile(good.substr(0, good.size() - 1)).has_value());
  EXPECT_FALSE(decodeBaselineFile(good + "x").has_value());
  std::string version = good;
  version[4] = 9;
  EXPECT_FALSE(decodeBaselineFile(version).has_value());
  // A worker's part that is not an export: importBaselines() refuses it.
  WorkerOverload overload({}, learning(BaselineKey::kPrefix), 100, kSeed);
  EXPECT_FALSE(overload.importBaselines("abc"));
}

}  // namespace
}  // namespace rampart::shield
