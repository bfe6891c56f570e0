#include "shield/escalation.h"

#include <gtest/gtest.h>

namespace rampart::shield {
namespace {

constexpr Nanos kT0 = 10'000 * kSecond;
constexpr Nanos kS = kSecond;

Key key(uint64_t i) {
  return Key{i + 1, i * 0x9e3779b97f4a7c15ULL};
}

EscalationPolicy policy() {
  EscalationPolicy p;
  p.refusals = 5;
  p.window = 10 * kS;
  p.base_block = 60 * kS;
  p.max_block = 300 * kS;
  p.quiet_period = 600 * kS;
  return p;
}

// Refusals 1 s apart, starting at `at`; returns the last result.
Escalated refuse(Escalation& escalation, const Key& k, Nanos at, int count) {
  Escalated last;
  for (int i = 0; i < count; ++i) last = escalation.noteRefusal(k, at + i * kS);
  return last;
}

TEST(EscalationTest, BlocksAfterNRefusalsWithinTheWindow) {
  Escalation escalation(policy(), 100);
  Escalated e = refuse(escalation, key(1), kT0, 4);
  EXPECT_EQ(e.verdict, EscalationVerdict::kNoted);
  EXPECT_FALSE(escalation.isBlocked(key(1), kT0 + 4 * kS));
  e = escalation.noteRefusal(key(1), kT0 + 4 * kS);  // the 5th, within 10 s
  EXPECT_EQ(e.verdict, EscalationVerdict::kBlocked);
  EXPECT_TRUE(e.started);
  EXPECT_EQ(e.offences, 1u);
  EXPECT_EQ(e.until, kT0 + 64 * kS);
  EXPECT_EQ(escalation.blockedUntil(key(1), kT0 + 10 * kS), kT0 + 64 * kS);
  EXPECT_TRUE(escalation.isBlocked(key(1), kT0 + 64 * kS - 1));
  EXPECT_FALSE(escalation.isBlocked(key(1), kT0 + 64 * kS));  // released on time
  EXPECT_EQ(escalation.blockedUntil(key(1), kT0 + 64 * kS), 0);
  EXPECT_FALSE(escalation.isBlocked(key(2), kT0));  // per key
}

TEST(EscalationTest, RefusalsSpreadBeyondTheWindowDoNotBlock) {
  Escalation escalation(policy(), 100);
  for (int i = 0; i < 100; ++i) {
    // 4 per 10 s window, forever: never 5 within one window.
    Escalated e = escalation.noteRefusal(key(1), kT0 + i * 2500 * 1'000'000LL);
    ASSERT_EQ(e.verdict, EscalationVerdict::kNoted) << i;
  }
}

TEST(EscalationTest, RefusalsWhileBlockedDoNotExtendTheBlock) {
  Escalation escalation(policy(), 100);
  refuse(escalation, key(1), kT0, 5);
  for (int i = 0; i < 50; ++i) {
    Escalated e = escalation.noteRefusal(key(1), kT0 + (5 + i) * kS);
    EXPECT_EQ(e.verdict, EscalationVerdict::kBlocked);
    EXPECT_FALSE(e.started);
    EXPECT_EQ(e.until, kT0 + 64 * kS);
  }
  EXPECT_EQ(escalation.offences(key(1), kT0 + 60 * kS), 1u);
}

TEST(EscalationTest, RepeatOffencesDoubleUpToTheCap) {
  Escalation escalation(policy(), 100);
  Nanos now = kT0;
  const Nanos expected[] = {60 * kS, 120 * kS, 240 * kS, 300 * kS, 300 * kS};
  for (int offence = 0; offence < 5; ++offence) {
    Escalated e = refuse(escalation, key(1), now, 5);
    ASSERT_EQ(e.verdict, EscalationVerdict::kBlocked);
    EXPECT_EQ(e.offences, static_cast<uint32_t>(offence + 1));
    const Nanos last = now + 4 * kS;
    EXPECT_EQ(e.until - last, expected[offence]) << offence;
    now = e.until + 30 * kS;  // come back soon after the release (well within the quiet period)
  }
}

TEST(EscalationTest, OffencesDecayAfterQuietPeriods) {
  Escalation escalation(policy(), 100);
  Nanos now = kT0;
  for (int offence = 0; offence < 3; ++offence) now = refuse(escalation, key(1), now, 5).until;
  // Three offences; the last block ended at `now`.
  EXPECT_EQ(escalation.offences(key(1), now), 3u);
  EXPECT_EQ(escalation.offences(key(1), now + 600 * kS - 1), 3u);
  EXPECT_EQ(escalation.offences(key(1), now + 600 * kS), 2u);
  // A new offence after one quiet period blocks as the third, not the fourth.
  Escalated e = refuse(escalation, key(1), now + 700 * kS, 5);
  EXPECT_EQ(e.offences, 3u);
  EXPECT_EQ(e.until - (now + 704 * kS), 240 * kS);
  // Long quiet: back to a first offence.
  const Nanos later = e.until + 3 * 600 * kS;
  EXPECT_EQ(escalation.offences(key(1), later), 0u);
  e = refuse(escalation, key(1), later, 5);
  EXPECT_EQ(e.offences, 1u);
  EXPECT_EQ(e.until - (later + 4 * kS), 60 * kS);
}

TEST(EscalationTest, ClockGoingBackwardsDoesNotBlockForever) {
  Escalation escalation(policy(), 100);
  refuse(escalation, key(1), kT0, 5);
  // A day back: still blocked, but for at most max_block from the new now.
  const Nanos back = kT0 - 86'400 * kS;
  const Nanos until = escalation.blockedUntil(key(1), back);
  EXPECT_GT(until, back);
  EXPECT_LE(until - back, 300 * kS);
  EXPECT_FALSE(escalation.isBlocked(key(1), back + 300 * kS));
}

TEST(EscalationTest, BoundedAndBlockedKeysOutliveIdleOnes) {
  Escalation escalation(policy(), 1'000);
  for (uint64_t i = 0; i < 100; ++i) refuse(escalation, key(i), kT0, 5);
  // 100,000 addresses refused once each, a second apart, while the 100 stay blocked.
  for (uint64_t i = 0; i < 100'000; ++i) {
    escalation.noteRefusal(key(1'000 + i), kT0 + 5 * kS + static_cast<Nanos>(i) * 500'000);
  }
  EXPECT_EQ(escalation.size(), 1'000u);
  EXPECT_GT(escalation.evictions(), 0u);
  for (uint64_t i = 0; i < 100; ++i) EXPECT_TRUE(escalation.isBlocked(key(i), kT0 + 55 * kS)) << i;
}

// A block another instance decided (docs/store.md): applied as given, capped
// at max_block, never shortening a longer one, and recording no offence.
TEST(EscalationTest, ImposedBlocksFromElsewhere) {
  Escalation escalation(policy(), 100);
  escalation.impose(key(1), kT0 + 30 * kS, kT0);
  EXPECT_EQ(escalation.blockedUntil(key(1), kT0 + kS), kT0 + 30 * kS);
  EXPECT_FALSE(escalation.isBlocked(key(1), kT0 + 30 * kS));
  EXPECT_EQ(escalation.offences(key(1), kT0 + 31 * kS), 0u);
  escalation.impose(key(2), kT0 + 10'000 * kS, kT0);  // beyond max_block (300 s)
  EXPECT_EQ(escalation.blockedUntil(key(2), kT0), kT0 + 300 * kS);
  escalation.impose(key(2), kT0 + 10 * kS, kT0);  // shorter: the longer block stays
  EXPECT_EQ(escalation.blockedUntil(key(2), kT0), kT0 + 300 * kS);
  escalation.impose(key(3), kT0 - kS, kT0);  // already over: nothing
  EXPECT_FALSE(escalation.isBlocked(key(3), kT0));
}

}  // namespace
}  // namespace rampart::shield
