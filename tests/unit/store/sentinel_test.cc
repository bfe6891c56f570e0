#include "store/sentinel.h"

#include <gtest/gtest.h>

namespace rampart::store {
namespace {

Reply text(std::string value, Reply::Type type = Reply::Type::kString) {
  Reply r;
  r.type = type;
  r.str = std::move(value);
  return r;
}

Reply array(std::vector<Reply> elements) {
  Reply r;
  r.type = Reply::Type::kArray;
  r.elements = std::move(elements);
  return r;
}

TEST(SentinelReplies, MasterAddressFromTheSentinelsAnswer) {
  std::string address;
  ASSERT_TRUE(parseMasterAddress(array({text("127.0.0.1"), text("6380")}), &address));
  EXPECT_EQ(address, "127.0.0.1:6380");
  ASSERT_TRUE(parseMasterAddress(array({text("::1"), text("26379")}), &address));
  EXPECT_EQ(address, "[::1]:26379");
}

TEST(SentinelReplies, NoMasterIsNotAnAddress) {
  std::string address = "unchanged";
  Reply nil;  // an unknown master name
  EXPECT_FALSE(parseMasterAddress(nil, &address));
  EXPECT_FALSE(parseMasterAddress(text("ERR unknown command", Reply::Type::kError), &address));
  EXPECT_FALSE(parseMasterAddress(array({text("127.0.0.1")}), &address));
  EXPECT_FALSE(parseMasterAddress(array({text("127.0.0.1"), text("0")}), &address));
  EXPECT_FALSE(parseMasterAddress(array({text("127.0.0.1"), text("70000")}), &address));
  EXPECT_FALSE(parseMasterAddress(array({text("127.0.0.1"), text("63x")}), &address));
  EXPECT_FALSE(parseMasterAddress(array({text(""), text("6379")}), &address));
  EXPECT_EQ(address, "unchanged");
}

TEST(SentinelReplies, Role) {
  Reply offset;
  offset.type = Reply::Type::kInteger;
  EXPECT_EQ(parseRole(array({text("master"), offset, array({})})), Role::kMaster);
  EXPECT_EQ(parseRole(array({text("slave"), text("127.0.0.1"), offset})), Role::kReplica);
  EXPECT_EQ(parseRole(array({text("sentinel"), array({})})), Role::kSentinel);
  EXPECT_EQ(parseRole(array({})), Role::kUnknown);
  EXPECT_EQ(parseRole(text("NOPERM", Reply::Type::kError)), Role::kUnknown);
  EXPECT_EQ(parseRole(array({text("primary")})), Role::kUnknown);
}

TEST(SentinelReplies, SwitchMasterForOurNameOnly) {
  std::string address;
  ASSERT_TRUE(parseSwitchMaster("mymaster 127.0.0.1 6379 127.0.0.1 6380", "mymaster", &address));
  EXPECT_EQ(address, "127.0.0.1:6380");
  address = "unchanged";
  EXPECT_FALSE(parseSwitchMaster("other 127.0.0.1 6379 127.0.0.1 6380", "mymaster", &address));
  EXPECT_FALSE(parseSwitchMaster("mymaster 127.0.0.1 6379 127.0.0.1", "mymaster", &address));
  EXPECT_FALSE(parseSwitchMaster("mymaster 127.0.0.1 6379 127.0.0.1 6380 x", "mymaster", &address));
  EXPECT_FALSE(parseSwitchMaster("mymaster 1 2 127.0.0.1 port", "mymaster", &address));
  EXPECT_FALSE(parseSwitchMaster("", "mymaster", &address));
  EXPECT_EQ(address, "unchanged");
}

TEST(SentinelCursor, TheSentinelThatAnsweredIsAskedAgain) {
  SentinelCursor cursor(3);
  EXPECT_EQ(cursor.current(), 0u);
  cursor.succeeded();
  EXPECT_EQ(cursor.current(), 0u);
}

TEST(SentinelCursor, FailuresMoveOnInOrderAndARoundIsReported) {
  SentinelCursor cursor(3);
  EXPECT_FALSE(cursor.failed());
  EXPECT_EQ(cursor.current(), 1u);
  EXPECT_FALSE(cursor.failed());
  EXPECT_EQ(cursor.current(), 2u);
  EXPECT_TRUE(cursor.failed());  // all three failed: the caller backs off
  EXPECT_EQ(cursor.current(), 0u);
  EXPECT_FALSE(cursor.failed());
  EXPECT_EQ(cursor.current(), 1u);
  cursor.succeeded();  // sentinel 1 answered: it stays first, the round restarts
  EXPECT_EQ(cursor.current(), 1u);
  EXPECT_FALSE(cursor.failed());
  EXPECT_FALSE(cursor.failed());
  EXPECT_TRUE(cursor.failed());
  EXPECT_EQ(cursor.current(), 1u);
}

TEST(SentinelCursor, OneSentinelIsARoundByItself) {
  SentinelCursor cursor(1);
  EXPECT_TRUE(cursor.failed());
  EXPECT_EQ(cursor.current(), 0u);
}

}  // namespace
}  // namespace rampart::store
