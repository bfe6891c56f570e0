#include "proxy/h2_guard.h"

#include <gtest/gtest.h>

namespace rampart::proxy {
namespace {

using Frame = H2FloodGuard::Frame;
using Verdict = H2FloodGuard::Verdict;

TEST(H2FloodGuard, ResetsOverTheCapInOneWindowAreRapidReset) {
  H2FloodLimits limits;
  limits.max_resets = 3;
  H2FloodGuard guard(limits);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(guard.note(Frame::kReset, 10 + i), Verdict::kAllow);
  EXPECT_EQ(guard.note(Frame::kReset, 20), Verdict::kRapidReset);
}

TEST(H2FloodGuard, ANewWindowStartsCountingAgain) {
  H2FloodLimits limits;
  limits.max_resets = 2;
  limits.window_ms = 100;
  H2FloodGuard guard(limits);
  EXPECT_EQ(guard.note(Frame::kReset, 0), Verdict::kAllow);
  EXPECT_EQ(guard.note(Frame::kReset, 50), Verdict::kAllow);
  // A steady client under the rate is never cut off.
  for (int64_t t = 100; t < 2000; t += 60) EXPECT_EQ(guard.note(Frame::kReset, t), Verdict::kAllow);
}

TEST(H2FloodGuard, ControlFramesAreCountedApart) {
  H2FloodLimits limits;
  limits.max_settings = 1;
  limits.max_pings = 2;
  limits.max_empty_data = 1;
  H2FloodGuard guard(limits);
  EXPECT_EQ(guard.note(Frame::kSettings, 0), Verdict::kAllow);
  EXPECT_EQ(guard.note(Frame::kPing, 0), Verdict::kAllow);
  EXPECT_EQ(guard.note(Frame::kPing, 0), Verdict::kAllow);
  EXPECT_EQ(guard.note(Frame::kEmptyData, 0), Verdict::kAllow);
  EXPECT_EQ(guard.note(Frame::kReset, 0), Verdict::kAllow);
  EXPECT_EQ(guard.note(Frame::kPing, 1), Verdict::kControlFlood);
  EXPECT_EQ(guard.note(Frame::kSettings, 1), Verdict::kControlFlood);
  EXPECT_EQ(guard.note(Frame::kEmptyData, 1), Verdict::kControlFlood);
}

}  // namespace
}  // namespace rampart::proxy
