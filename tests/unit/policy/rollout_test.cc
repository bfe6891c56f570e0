// inRollout: stable per account, about the requested share, 0 and 100 exact.
#include <gtest/gtest.h>

#include <string>

#include "policy/policy.h"

namespace rampart::policy {
namespace {

std::string accountName(int i) {
  std::string name = "account-";
  name += std::to_string(i);
  return name;
}

TEST(RolloutTest, TenPercentSelectsTenPercent) {
  for (uint64_t seed : {0ULL, 1ULL, 0x5eedULL}) {
    int selected = 0;
    for (int i = 0; i < 100000; ++i) selected += inRollout(accountName(i), 10, seed) ? 1 : 0;
    EXPECT_GE(selected, 9000) << "seed " << seed;
    EXPECT_LE(selected, 11000) << "seed " << seed;
  }
}

TEST(RolloutTest, OtherPercentagesAreClose) {
  for (uint32_t percent : {1u, 25u, 50u, 99u}) {
    int selected = 0;
    for (int i = 0; i < 100000; ++i) selected += inRollout(accountName(i), percent, 7) ? 1 : 0;
    EXPECT_NEAR(selected, static_cast<int>(percent) * 1000, 1000) << percent << "%";
  }
}

TEST(RolloutTest, SameAccountSameAnswer) {
  for (int i = 0; i < 1000; ++i) {
    std::string account = accountName(i);
    bool first = inRollout(account, 30, 42);
    for (int k = 0; k < 5; ++k) EXPECT_EQ(inRollout(account, 30, 42), first) << account;
  }
}

TEST(RolloutTest, GrowingPercentOnlyAddsAccounts) {
  for (int i = 0; i < 10000; ++i) {
    std::string account = accountName(i);
    if (inRollout(account, 10, 3)) {
      EXPECT_TRUE(inRollout(account, 20, 3)) << account;
    }
  }
}

TEST(RolloutTest, ZeroAndHundred) {
  for (int i = 0; i < 10000; ++i) {
    EXPECT_FALSE(inRollout(accountName(i), 0, 9));
    EXPECT_TRUE(inRollout(accountName(i), 100, 9));
    EXPECT_TRUE(inRollout(accountName(i), 250, 9));
  }
  EXPECT_FALSE(inRollout("", 0, 0));
  EXPECT_TRUE(inRollout("", 100, 0));
}

TEST(RolloutTest, FixedAcrossBuilds) {
  // Pinned answers: the hash must never change, or rollouts reshuffle.
  std::string bits;
  for (int i = 0; i < 64; ++i) bits += inRollout(accountName(i), 50, 0) ? '1' : '0';
  EXPECT_EQ(bits, "0111011111011000011000110011111101001101100101111000010100100111");
}

TEST(RolloutTest, SeedChangesTheSelection) {
  int differ = 0;
  for (int i = 0; i < 10000; ++i) {
    differ += inRollout(accountName(i), 50, 1) != inRollout(accountName(i), 50, 2) ? 1 : 0;
  }
  EXPECT_NEAR(differ, 5000, 500);
}

}  // namespace
}  // namespace rampart::policy
