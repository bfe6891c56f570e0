#include "core/buffer.h"

#include <gtest/gtest.h>

namespace rampart::core {
namespace {

TEST(BufferTest, ProduceConsumeAndMakeRoom) {
  Buffer buffer(8);
  std::memcpy(buffer.writePtr(), "abcdefgh", 8);
  buffer.produce(8);
  EXPECT_EQ(buffer.writable(), 0u);
  buffer.consume(5);
  EXPECT_EQ(buffer.readable(), "fgh");
  buffer.makeRoom();
  EXPECT_EQ(buffer.writable(), 5u);
  EXPECT_EQ(buffer.readable(), "fgh");
  buffer.consume(3);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.writable(), 8u);  // fully consumed resets positions
}

TEST(BufferTest, AppendGrowsAndKeepsData) {
  Buffer buffer(4);
  buffer.append("hello ");
  buffer.append("world");
  EXPECT_EQ(buffer.readable(), "hello world");
  EXPECT_GE(buffer.capacity(), 11u);
}

TEST(BufferTest, MakeWritableReclaimsConsumedSpaceBeforeGrowing) {
  Buffer buffer(16);
  buffer.append("0123456789abcdef");
  buffer.consume(10);
  buffer.makeWritable(8);  // 10 consumed bytes are enough: no growth
  EXPECT_EQ(buffer.capacity(), 16u);
  EXPECT_GE(buffer.writable(), 8u);
  EXPECT_EQ(buffer.readable(), "abcdef");
  buffer.makeWritable(64);  // more than the storage holds: it grows, data kept
  EXPECT_GE(buffer.writable(), 64u);
  EXPECT_EQ(buffer.readable(), "abcdef");
}

TEST(BufferTest, EraseRemovesAMiddleRangeAndKeepsTheRestInOrder) {
  Buffer buffer(32);
  buffer.append("xxhead|cut-this|tail");
  buffer.consume(2);
  buffer.erase(5, 9);
  EXPECT_EQ(buffer.readable(), "head|tail");
  buffer.erase(0, buffer.size());
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.writable(), 32u);
}

TEST(BufferTest, ReserveKeepsUnreadData) {
  Buffer buffer(4);
  buffer.append("abcd");
  buffer.consume(2);
  buffer.reserve(64);
  EXPECT_EQ(buffer.readable(), "cd");
  EXPECT_EQ(buffer.capacity(), 64u);
}

}  // namespace
}  // namespace rampart::core
