#include "store/resp.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <string>

#include "store/client.h"

namespace rampart::store {
namespace {

TEST(Resp, CommandFormatMatchesHiredis) {
  std::vector<std::string_view> args{"EVALSHA", "abc", "1", std::string_view("k\0ey\r\n", 6), ""};
  std::string ours;
  appendCommand(ours, args);
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* theirs = nullptr;
  int length =
      redisFormatCommandArgv(&theirs, static_cast<int>(argv.size()), argv.data(), lengths.data());
  ASSERT_GT(length, 0);
  EXPECT_EQ(ours, std::string(theirs, static_cast<size_t>(length)));
  redisFreeCommand(theirs);
}

TEST(Resp, ParsesRepliesSplitAcrossReads) {
  ReplyParser parser;
  const std::string wire =
      "*2\r\n:5\r\n$3\r\n120\r\n+OK\r\n-NOSCRIPT No matching script\r\n$-1\r\n";
  Reply reply;
  // Byte by byte: every prefix is incomplete until a reply ends.
  size_t replies = 0;
  std::vector<Reply> got;
  for (char c : wire) {
    parser.feed(&c, 1);
    while (parser.next(&reply) == ReplyParser::Status::kReply) got.push_back(reply);
  }
  replies = got.size();
  ASSERT_EQ(replies, 4u);
  ASSERT_EQ(got[0].type, Reply::Type::kArray);
  ASSERT_EQ(got[0].elements.size(), 2u);
  int64_t value = 0;
  EXPECT_TRUE(got[0].elements[0].asInteger(&value));
  EXPECT_EQ(value, 5);
  EXPECT_TRUE(got[0].elements[1].asInteger(&value));  // a Lua number as a bulk string
  EXPECT_EQ(value, 120);
  EXPECT_EQ(got[1].type, Reply::Type::kStatus);
  EXPECT_EQ(got[1].str, "OK");
  EXPECT_TRUE(got[2].errorIs("NOSCRIPT"));
  EXPECT_FALSE(got[2].errorIs("MOVED"));
  EXPECT_EQ(got[3].type, Reply::Type::kNil);
  EXPECT_EQ(parser.next(&reply), ReplyParser::Status::kIncomplete);
}

TEST(Resp, ProtocolErrorIsReported) {
  ReplyParser parser;
  parser.feed("?what\r\n", 7);
  Reply reply;
  EXPECT_EQ(parser.next(&reply), ReplyParser::Status::kProtocolError);
}

TEST(Resp, Redirects) {
  Reply moved;
  moved.type = Reply::Type::kError;
  moved.str = "MOVED 3999 127.0.0.1:6381";
  Redirect r;
  ASSERT_TRUE(parseRedirect(moved, &r));
  EXPECT_FALSE(r.ask);
  EXPECT_EQ(r.slot, 3999u);
  EXPECT_EQ(r.address, "127.0.0.1:6381");
  moved.str = "ASK 12 10.0.0.1:7000";
  ASSERT_TRUE(parseRedirect(moved, &r));
  EXPECT_TRUE(r.ask);
  EXPECT_EQ(r.slot, 12u);
  moved.str = "MOVED 99999 x:1";  // slot out of range
  EXPECT_FALSE(parseRedirect(moved, &r));
  moved.str = "ERR unknown";
  EXPECT_FALSE(parseRedirect(moved, &r));
  moved.type = Reply::Type::kStatus;
  moved.str = "MOVED 1 a:1";  // not an error reply
  EXPECT_FALSE(parseRedirect(moved, &r));
}

TEST(StoreEvents, RoundTripAndRefusals) {
  StoreEvent event;
  ASSERT_TRUE(parseEvent("block 192.0.2.7 1767225600000", &event));
  EXPECT_EQ(event.kind, StoreEvent::Kind::kBlock);
  EXPECT_EQ(event.subject, "192.0.2.7");
  EXPECT_EQ(event.until_unix_ms, 1767225600000);
  EXPECT_EQ(formatEvent(event), "block 192.0.2.7 1767225600000");
  ASSERT_TRUE(parseEvent("revoke jti:abc 5", &event));
  EXPECT_EQ(event.kind, StoreEvent::Kind::kRevoke);
  EXPECT_EQ(event.subject, "jti:abc");
  for (const char* bad :
       {"", "block", "block x", "block  5", "unblock x 5", "block x 5s", "revoke x -"}) {
    EXPECT_FALSE(parseEvent(bad, &event)) << bad;
  }
}

}  // namespace
}  // namespace rampart::store
