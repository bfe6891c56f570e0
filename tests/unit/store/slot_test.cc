#include "store/slot.h"

#include <gtest/gtest.h>

namespace rampart::store {
namespace {

// Vectors from the Redis Cluster specification and from CLUSTER KEYSLOT.
TEST(Slot, Crc16MatchesTheSpec) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);  // the spec's check value (XMODEM)
  EXPECT_EQ(crc16(""), 0);
}

TEST(Slot, KnownKeys) {
  EXPECT_EQ(keySlot("foo"), 12182u);  // redis-cli CLUSTER KEYSLOT foo
  EXPECT_EQ(keySlot("bar"), 5061u);
  EXPECT_EQ(keySlot("hello"), 866u);
}

TEST(Slot, HashTags) {
  EXPECT_EQ(keySlot("{user1000}.following"), keySlot("user1000"));
  EXPECT_EQ(keySlot("{user1000}.followers"), keySlot("{user1000}.following"));
  EXPECT_EQ(keySlot("foo{}{bar}"), keySlot("foo{}{bar}"));
  EXPECT_NE(keySlot("foo{}{bar}"), keySlot("bar"));  // empty first tag: the whole key
  EXPECT_EQ(keySlot("foo{{bar}}zap"), keySlot("{bar"));
  EXPECT_EQ(keySlot("foo{bar}{zap}"), keySlot("bar"));  // only the first tag counts
}

}  // namespace
}  // namespace rampart::store
