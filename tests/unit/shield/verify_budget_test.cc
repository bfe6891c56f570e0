#include "shield/verify_budget.h"

#include <gtest/gtest.h>

#include "shield/worker_shield.h"

namespace rampart::shield {
namespace {

constexpr Nanos kMs = 1'000'000;
constexpr Nanos kT0 = 1'000 * kSecond;

TEST(VerifyBudgetTest, BurstAtOnceThenRateAcrossTheWholeWorker) {
  VerifyBudget budget(Limit{100, 3});  // one per 10 ms, 3 at once
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(budget.take(kT0).allowed()) << i;
  Decision denied = budget.take(kT0);
  EXPECT_FALSE(denied.allowed());
  EXPECT_EQ(denied.retry_after, 10 * kMs);
  EXPECT_EQ(denied.retryAfterSeconds(), 1);
  // A refusal charges nothing: still one per interval.
  EXPECT_FALSE(budget.take(kT0 + 10 * kMs - 1).allowed());
  EXPECT_TRUE(budget.take(kT0 + 10 * kMs).allowed());
  EXPECT_FALSE(budget.take(kT0 + 10 * kMs).allowed());
  EXPECT_EQ(budget.admitted(), 4u);
  EXPECT_EQ(budget.refused(), 3u);
  // Idle for the whole burst's refill: the full burst again.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(budget.take(kT0 + kSecond).allowed()) << i;
  EXPECT_FALSE(budget.take(kT0 + kSecond).allowed());
}

TEST(VerifyBudgetTest, WorkerShieldHasOneOnlyWhenConfigured) {
  ShieldSettings none;
  WorkerShield without(none, Seed{1, 2});
  EXPECT_EQ(without.verifyBudget(), nullptr);

  ShieldSettings settings;
  settings.signature_verifications = Limit{1, 2};
  WorkerShield with(settings, Seed{1, 2});
  ASSERT_NE(with.verifyBudget(), nullptr);
  EXPECT_TRUE(with.verifyBudget()->take(kT0).allowed());
  EXPECT_TRUE(with.verifyBudget()->take(kT0).allowed());
  EXPECT_FALSE(with.verifyBudget()->take(kT0).allowed());
}

}  // namespace
}  // namespace rampart::shield
