#include "shield/manual_blocks.h"

#include <gtest/gtest.h>

namespace rampart::shield {
namespace {

net::SocketAddress at(const char* text) {
  return *net::SocketAddress::parseNumeric(text);
}
net::Cidr range(const char* text) {
  return *net::Cidr::parse(text);
}

TEST(ManualBlocksTest, BlocksUntilTheDeadline) {
  ManualBlocks blocks;
  EXPECT_TRUE(blocks.empty());
  EXPECT_EQ(blocks.add(range("203.0.113.0/24"), 100 * kSecond, 0), BlockChange::kAdded);
  EXPECT_EQ(blocks.blockedUntil(at("203.0.113.9:5000"), 10 * kSecond), 100 * kSecond);
  EXPECT_EQ(blocks.blockedUntil(at("[::ffff:203.0.113.9]:1"), 10 * kSecond), 100 * kSecond);
  EXPECT_EQ(blocks.blockedUntil(at("203.0.114.9:5000"), 10 * kSecond), 0);
  EXPECT_EQ(blocks.blockedUntil(at("203.0.113.9:5000"), 100 * kSecond), 0);  // expired
}

TEST(ManualBlocksTest, TheSameRangeIsExtendedNotDuplicated) {
  ManualBlocks blocks;
  blocks.add(range("10.0.0.1"), 10 * kSecond, 0);
  EXPECT_EQ(blocks.add(range("10.0.0.1/32"), 50 * kSecond, 0), BlockChange::kExtended);
  EXPECT_EQ(blocks.active(0).size(), 1u);
  EXPECT_EQ(blocks.blockedUntil(at("10.0.0.1:1"), 20 * kSecond), 50 * kSecond);
}

TEST(ManualBlocksTest, RemoveLiftsExactlyThatRange) {
  ManualBlocks blocks;
  blocks.add(range("10.0.0.0/8"), 10 * kSecond, 0);
  blocks.add(range("10.1.0.0/16"), 10 * kSecond, 0);
  EXPECT_FALSE(blocks.remove(range("10.2.0.0/16")));
  EXPECT_TRUE(blocks.remove(range("10.0.0.0/8")));
  EXPECT_EQ(blocks.blockedUntil(at("10.2.3.4:1"), 0), 0);
  EXPECT_NE(blocks.blockedUntil(at("10.1.3.4:1"), 0), 0);
}

TEST(ManualBlocksTest, BoundedAndExpiredEntriesMakeRoom) {
  ManualBlocks blocks;
  for (size_t i = 0; i < ManualBlocks::kMaxEntries; ++i) {
    std::string text = "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".1";
    ASSERT_EQ(blocks.add(range(text.c_str()), 10 * kSecond, 0), BlockChange::kAdded);
  }
  EXPECT_EQ(blocks.add(range("192.0.2.1"), 10 * kSecond, 0), BlockChange::kFull);
  // Once the others expired, there is room again.
  EXPECT_EQ(blocks.add(range("192.0.2.1"), 30 * kSecond, 20 * kSecond), BlockChange::kAdded);
  EXPECT_EQ(blocks.active(20 * kSecond).size(), 1u);
}

}  // namespace
}  // namespace rampart::shield
