#include "admin/client_orders.h"

#include <gtest/gtest.h>

#include "admin/admin_server.h"

namespace rampart::admin {
namespace {

TEST(ClientOrdersTest, Durations) {
  EXPECT_EQ(parseBlockDuration("90"), 90);
  EXPECT_EQ(parseBlockDuration("90s"), 90);
  EXPECT_EQ(parseBlockDuration("15m"), 900);
  EXPECT_EQ(parseBlockDuration("2h"), 7200);
  EXPECT_EQ(parseBlockDuration("7d"), kMaxBlockSeconds);
  for (const char* bad : {"", "0", "8d", "1y", "-5", "m", "1.5h", "99999999999999"}) {
    EXPECT_FALSE(parseBlockDuration(bad).has_value()) << bad;
  }
}

TEST(ClientOrdersTest, BlockOrders) {
  std::string error;
  auto order = parseBlockOrder(R"({"address":"203.0.113.7","duration":"10m"})", &error);
  ASSERT_TRUE(order) << error;
  EXPECT_EQ(order->text, "203.0.113.7/32");
  EXPECT_EQ(order->seconds, 600);
  order = parseBlockOrder(R"({"address":"10.1.2.3/8","duration":30})", &error);
  ASSERT_TRUE(order) << error;
  EXPECT_EQ(order->text, "10.0.0.0/8");
  EXPECT_EQ(order->seconds, 30);
  order = parseBlockOrder(R"({"address":"2001:db8::1"})", &error);
  ASSERT_TRUE(order) << error;
  EXPECT_EQ(order->text, "2001:db8::1/128");
  EXPECT_EQ(order->seconds, kDefaultBlockSeconds);
}

TEST(ClientOrdersTest, BadBodiesSayWhy) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "not valid JSON"},
      {"[1]", "a JSON object"},
      {"{}", "\"address\""},
      {R"({"address":5})", "\"address\""},
      {R"({"address":"example.com"})", "not an IPv4/IPv6"},
      {R"({"address":"10.0.0.1","duration":0})", "\"duration\""},
      {R"({"address":"10.0.0.1","duration":"1w"})", "\"duration\""},
      {R"({"address":"10.0.0.1","until":"tomorrow"})", "unknown field \"until\""},
  };
  for (const auto& [body, reason] : cases) {
    std::string error;
    EXPECT_FALSE(parseBlockOrder(body, &error)) << body;
    EXPECT_NE(error.find(reason), std::string::npos) << body << " -> " << error;
  }
  std::string error;
  EXPECT_FALSE(parseUnblockOrder(R"({"duration":"1m"})", &error));
  auto unblock = parseUnblockOrder(R"({"address":"127.0.0.5"})", &error);
  ASSERT_TRUE(unblock);
  EXPECT_EQ(unblock->text, "127.0.0.5/32");
}

TEST(ClientOrdersTest, BodyLengthLimits) {
  EXPECT_EQ(adminBodyLength(false, 0).error_status, 0);
  EXPECT_EQ(adminBodyLength(false, kMaxAdminBody).length, kMaxAdminBody);
  EXPECT_EQ(adminBodyLength(false, kMaxAdminBody + 1).error_status, 413);
  EXPECT_EQ(adminBodyLength(true, 0).error_status, 411);
}

}  // namespace
}  // namespace rampart::admin
