#include "shield/priority.h"

#include <gtest/gtest.h>

namespace rampart::shield {
namespace {

constexpr Nanos kMs = 1'000'000;
constexpr RequestClass kAuth = RequestClass::kAuthenticated;
constexpr RequestClass kAnon = RequestClass::kAnonymous;
constexpr RequestClass kSusp = RequestClass::kSuspicious;

OverloadPolicy policy(uint32_t capacity) {
  OverloadPolicy p;
  p.capacity = capacity;
  p.reserved_authenticated = 0.2;
  p.suspicious_share = 0.5;
  p.lag_target = 20 * kMs;
  return p;
}

TEST(PriorityTest, ClassifyPutsOverLimitFirst) {
  EXPECT_EQ(classifyRequest(true, false), kAuth);
  EXPECT_EQ(classifyRequest(false, false), kAnon);
  EXPECT_EQ(classifyRequest(true, true), kSusp);
  EXPECT_EQ(classifyRequest(false, true), kSusp);
  EXPECT_STREQ(requestClassName(kAnon), "anonymous");
}

TEST(PriorityTest, CeilingsFollowTheShares) {
  OverloadShedder shedder(policy(100));
  EXPECT_EQ(shedder.ceiling(kAuth), 100u);
  EXPECT_EQ(shedder.ceiling(kAnon), 80u);
  EXPECT_EQ(shedder.ceiling(kSusp), 50u);
}

TEST(PriorityTest, ShedsSuspiciousFirstThenAnonymousAndKeepsTheReserve) {
  OverloadShedder shedder(policy(100));
  // A flood of suspicious requests takes at most half the capacity.
  int admitted = 0;
  for (int i = 0; i < 1'000; ++i) admitted += shedder.admit(kSusp).admitted;
  EXPECT_EQ(admitted, 50);
  const ShedDecision dropped = shedder.admit(kSusp);
  EXPECT_FALSE(dropped.admitted);
  EXPECT_EQ(dropped.action, ShedAction::kDrop);
  // Anonymous load fills up to 80% of capacity in total, then gets 503s.
  admitted = 0;
  for (int i = 0; i < 1'000; ++i) admitted += shedder.admit(kAnon).admitted;
  EXPECT_EQ(admitted, 30);
  const ShedDecision refused = shedder.admit(kAnon);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.action, ShedAction::kRespond);
  EXPECT_EQ(refused.retry_after, kSecond);
  // Whatever the anonymous load, the reserved 20 slots serve the authenticated.
  admitted = 0;
  for (int i = 0; i < 1'000; ++i) admitted += shedder.admit(kAuth).admitted;
  EXPECT_EQ(admitted, 20);
  EXPECT_EQ(shedder.inFlight(), 100u);
  EXPECT_EQ(shedder.inFlight(kAnon), 30u);
  EXPECT_EQ(shedder.stats().shed[1], 971u);
  EXPECT_EQ(shedder.stats().admitted[0], 20u);
  // A release of an authenticated request frees a slot only it can use.
  shedder.release(kAuth);
  EXPECT_FALSE(shedder.admit(kAnon).admitted);
  EXPECT_FALSE(shedder.admit(kSusp).admitted);
  EXPECT_TRUE(shedder.admit(kAuth).admitted);
  // Anonymous work finishing lets anonymous back in, suspicious still not.
  for (int i = 0; i < 40; ++i) shedder.release(kAnon);  // saturates at 0 after 30
  EXPECT_EQ(shedder.inFlight(kAnon), 0u);
  EXPECT_EQ(shedder.inFlight(), 70u);
  EXPECT_FALSE(shedder.admit(kSusp).admitted);
  EXPECT_TRUE(shedder.admit(kAnon).admitted);
}

TEST(PriorityTest, AuthenticatedAloneMayUseEverything) {
  OverloadShedder shedder(policy(10));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(shedder.admit(kAuth).admitted);
  EXPECT_FALSE(shedder.admit(kAuth).admitted);
}

TEST(PriorityTest, LoopLagShrinksCapacityInProportion) {
  OverloadShedder shedder(policy(100));
  shedder.observeLag(20 * kMs);  // at the target: no change
  EXPECT_EQ(shedder.ceiling(kAuth), 100u);
  shedder.observeLag(40 * kMs);  // twice the target: half the capacity
  EXPECT_EQ(shedder.ceiling(kAuth), 50u);
  EXPECT_EQ(shedder.ceiling(kAnon), 40u);
  EXPECT_EQ(shedder.ceiling(kSusp), 25u);
  for (int i = 0; i < 45; ++i) shedder.admit(kAuth);
  EXPECT_FALSE(shedder.admit(kAnon).admitted);  // 45 >= 40
  EXPECT_TRUE(shedder.admit(kAuth).admitted);
  shedder.observeLag(10 * kSecond);  // floor: 10% of capacity
  EXPECT_EQ(shedder.ceiling(kAuth), 10u);
  EXPECT_FALSE(shedder.admit(kAuth).admitted);
  shedder.observeLag(0);
  EXPECT_EQ(shedder.ceiling(kAuth), 100u);
  EXPECT_TRUE(shedder.admit(kAnon).admitted);
}

TEST(PriorityTest, CountModeAdmitsButReports) {
  OverloadPolicy p = policy(10);
  p.count_only = true;
  OverloadShedder shedder(p);
  int would = 0;
  for (int i = 0; i < 20; ++i) {
    const ShedDecision d = shedder.admit(kSusp);
    EXPECT_TRUE(d.admitted);
    would += d.would_shed;
  }
  EXPECT_EQ(would, 15);  // the first 5 are under the suspicious ceiling
  EXPECT_EQ(shedder.stats().would_shed[2], 15u);
  EXPECT_EQ(shedder.stats().shed[2], 0u);
  EXPECT_EQ(shedder.inFlight(), 20u);  // all admitted, all counted
}

TEST(PriorityTest, PolicyIsClampedAndReloadKeepsCounts) {
  OverloadPolicy p = policy(0);
  p.reserved_authenticated = 3;  // out of range: default 0.2
  p.suspicious_share = -1;       // default 0.5
  OverloadShedder shedder(p);
  EXPECT_EQ(shedder.ceiling(kAuth), 1u);
  EXPECT_EQ(shedder.ceiling(kAnon), 1u);
  EXPECT_TRUE(shedder.admit(kAnon).admitted);
  shedder.setPolicy(policy(100));
  EXPECT_EQ(shedder.inFlight(kAnon), 1u);
  EXPECT_EQ(shedder.ceiling(kAnon), 80u);
  OverloadPolicy all = policy(100);
  all.reserved_authenticated = 1;  // everything reserved: anonymous always shed
  shedder.setPolicy(all);
  EXPECT_FALSE(shedder.admit(kAnon).admitted);
  EXPECT_TRUE(shedder.admit(kAuth).admitted);
}

}  // namespace
}  // namespace rampart::shield
