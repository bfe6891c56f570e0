#include "observe/top_talkers.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

namespace rampart::observe {
namespace {

TalkerAddress v4(const char* text) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, text, &sa.sin_addr);
  return TalkerAddress::from(reinterpret_cast<const sockaddr*>(&sa));
}

TalkerAddress v6(const char* text) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  inet_pton(AF_INET6, text, &sa.sin6_addr);
  return TalkerAddress::from(reinterpret_cast<const sockaddr*>(&sa));
}

TEST(TopTalkersTest, AddressesPrintAndMappedIpv4IsIpv4) {
  EXPECT_EQ(v4("203.0.113.7").toString(), "203.0.113.7");
  EXPECT_EQ(v6("2001:db8::1").toString(), "2001:db8::1");
  EXPECT_EQ(v6("::ffff:203.0.113.7"), v4("203.0.113.7"));
}

TEST(TopTalkersTest, CountsExactlyWhileThereIsRoom) {
  TopTalkers top;
  uint8_t hint_a = UINT8_MAX, hint_b = UINT8_MAX;
  for (int i = 0; i < 50; ++i) top.record(v4("10.0.0.1"), &hint_a);
  for (int i = 0; i < 7; ++i) top.record(v4("10.0.0.2"), &hint_b);
  uint8_t stale = 0;  // a hint pointing at another address is only a hint
  top.record(v4("10.0.0.2"), &stale);
  std::vector<Talker> list = top.top(10);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].address, v4("10.0.0.1"));
  EXPECT_EQ(list[0].count, 50u);
  EXPECT_EQ(list[1].count, 8u);
  EXPECT_EQ(list[1].error, 0u);
}

// A heavy hitter among far more addresses than counters is still found, and
// its count is never below the truth (the space-saving guarantee).
TEST(TopTalkersTest, AHeavyHitterSurvivesAFloodOfOthers) {
  TopTalkers top;
  uint8_t heavy_hint = UINT8_MAX;
  for (int round = 0; round < 2000; ++round) {
    top.record(v4("192.0.2.1"), &heavy_hint);
    char text[32];
    snprintf(text, sizeof(text), "10.%d.%d.1", round % 200, round / 200);
    uint8_t hint = UINT8_MAX;
    top.record(v4(text), &hint);
  }
  EXPECT_EQ(top.size(), TopTalkers::kCapacity);  // bounded
  std::vector<Talker> list = top.top(1);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].address, v4("192.0.2.1"));
  EXPECT_GE(list[0].count, 2000u);
  EXPECT_LE(list[0].count - list[0].error, 2000u);
}

TEST(TopTalkersTest, MergingAddsOneAddressAcrossWorkers) {
  std::vector<Talker> a = {{v4("10.0.0.1"), 5, 0}, {v4("10.0.0.2"), 4, 0}};
  std::vector<Talker> b = {{v4("10.0.0.2"), 9, 1}, {v4("10.0.0.3"), 1, 0}};
  std::vector<Talker> merged = mergeTalkers({a, b}, 2);
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].address, v4("10.0.0.2"));
  EXPECT_EQ(merged[0].count, 13u);
  EXPECT_EQ(merged[0].error, 1u);
  EXPECT_EQ(merged[1].address, v4("10.0.0.1"));
}

TEST(TopTalkersTest, ClearForgets) {
  TopTalkers top;
  uint8_t hint = UINT8_MAX;
  top.record(v4("10.0.0.1"), &hint);
  top.clear();
  EXPECT_EQ(top.size(), 0u);
  top.record(v4("10.0.0.9"), &hint);  // the old hint points past the end now
  EXPECT_EQ(top.top(5).at(0).address, v4("10.0.0.9"));
}

}  // namespace
}  // namespace rampart::observe
