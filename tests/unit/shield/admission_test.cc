#include "shield/admission.h"

#include <gtest/gtest.h>

namespace rampart::shield {
namespace {

constexpr Nanos kMs = 1'000'000;
constexpr Nanos kT0 = 100 * kSecond;

Key key(uint64_t i) {
  return Key{i + 1, i * 0x9e3779b97f4a7c15ULL};
}

TEST(AdmissionTest, ConcurrencyCapCountsOpenConnections) {
  ConnectionAdmission admission(AdmissionLimits{3, std::nullopt}, 100);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(admission.admit(key(1), kT0), Admission::kAdmitted);
  EXPECT_EQ(admission.admit(key(1), kT0), Admission::kOverConcurrency);
  EXPECT_EQ(admission.open(key(1)), 3u);
  EXPECT_EQ(admission.admit(key(2), kT0), Admission::kAdmitted);  // per key
  admission.release(key(1));
  EXPECT_EQ(admission.open(key(1)), 2u);
  EXPECT_EQ(admission.admit(key(1), kT0), Admission::kAdmitted);
  EXPECT_EQ(admission.admit(key(1), kT0), Admission::kOverConcurrency);
  for (int i = 0; i < 10; ++i) admission.release(key(1));  // saturates at zero
  EXPECT_EQ(admission.open(key(1)), 0u);
  admission.release(key(99));  // unknown: nothing happens
  EXPECT_EQ(admission.open(key(99)), 0u);
}

TEST(AdmissionTest, AcceptRateCap) {
  ConnectionAdmission admission(AdmissionLimits{0, Limit{10, 2}}, 100);
  EXPECT_EQ(admission.admit(key(1), kT0), Admission::kAdmitted);
  EXPECT_EQ(admission.admit(key(1), kT0), Admission::kAdmitted);
  EXPECT_EQ(admission.admit(key(1), kT0), Admission::kOverRate);
  EXPECT_EQ(admission.admit(key(1), kT0 + 100 * kMs - 1), Admission::kOverRate);
  EXPECT_EQ(admission.admit(key(1), kT0 + 100 * kMs), Admission::kAdmitted);
  EXPECT_EQ(admission.open(key(1)), 3u);  // no concurrency cap: all counted
}

TEST(AdmissionTest, ConcurrencyRefusalDoesNotSpendTheRate) {
  ConnectionAdmission admission(AdmissionLimits{1, Limit{1, 2}}, 100);
  EXPECT_EQ(admission.admit(key(1), kT0), Admission::kAdmitted);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(admission.admit(key(1), kT0), Admission::kOverConcurrency);
  admission.release(key(1));
  EXPECT_EQ(admission.admit(key(1), kT0), Admission::kAdmitted);  // the 2nd of the burst
  admission.release(key(1));
  EXPECT_EQ(admission.admit(key(1), kT0), Admission::kOverRate);
}

TEST(AdmissionTest, CountModeCountsButAdmits) {
  ConnectionAdmission admission(AdmissionLimits{1, std::nullopt}, 100);
  EXPECT_EQ(admission.admit(key(1), kT0, false), Admission::kAdmitted);
  EXPECT_EQ(admission.admit(key(1), kT0, false), Admission::kOverConcurrency);
  EXPECT_EQ(admission.open(key(1)), 2u);  // counted as open anyway
}

TEST(AdmissionTest, OpenConnectionsKeepTheirEntriesWhileTheTableFits) {
  ConnectionAdmission admission(AdmissionLimits{2, Limit{1000, 10}}, 1'000);
  // 500 keys hold a connection each; 100,000 one-off keys connect and close.
  for (uint64_t i = 0; i < 500; ++i) ASSERT_EQ(admission.admit(key(i), kT0), Admission::kAdmitted);
  for (uint64_t i = 0; i < 100'000; ++i) {
    const Nanos now = kT0 + static_cast<Nanos>(i) * kMs;
    ASSERT_EQ(admission.admit(key(10'000 + i), now), Admission::kAdmitted);
    admission.release(key(10'000 + i));
  }
  EXPECT_GT(admission.evictions(), 0u);
  EXPECT_LE(admission.size(), 1'000u);
  for (uint64_t i = 0; i < 500; ++i) EXPECT_EQ(admission.open(key(i)), 1u) << i;
}

TEST(AdmissionTest, ReloadKeepsCounts) {
  ConnectionAdmission admission(AdmissionLimits{5, std::nullopt}, 100);
  for (int i = 0; i < 3; ++i) admission.admit(key(1), kT0);
  admission.setLimits(AdmissionLimits{3, std::nullopt});
  EXPECT_EQ(admission.admit(key(1), kT0), Admission::kOverConcurrency);
  EXPECT_STREQ(admissionName(Admission::kOverRate), "over_rate");
}

}  // namespace
}  // namespace rampart::shield
