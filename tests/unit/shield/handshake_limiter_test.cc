#include "shield/handshake_limiter.h"

#include <gtest/gtest.h>

namespace rampart::shield {
namespace {

net::SocketAddress address(const char* text) {
  return *net::SocketAddress::parseNumeric(text);
}

TEST(HandshakeLimiterTest, AnAddressGetsItsBurstThenItsRate) {
  HandshakeLimiter limiter(100, Seed{1, 2});
  limiter.setLimits({Limit{1, 3}, std::nullopt});
  const net::SocketAddress flood = address("10.0.0.1:1000");
  EXPECT_TRUE(limiter.admit(0, flood, 0));
  EXPECT_TRUE(limiter.admit(0, flood, 0));
  EXPECT_TRUE(limiter.admit(0, flood, 0));
  EXPECT_FALSE(limiter.admit(0, flood, 0));
  EXPECT_FALSE(limiter.admit(0, address("10.0.0.1:2000"), 0));  // the port does not matter
  EXPECT_TRUE(limiter.admit(0, address("10.0.0.2:1000"), 0));   // another address does
  EXPECT_TRUE(limiter.admit(0, flood, kSecond));                // one more a second later
  EXPECT_FALSE(limiter.admit(0, flood, kSecond));
}

TEST(HandshakeLimiterTest, ListenersWithoutALimitAndSeparateBudgets) {
  HandshakeLimiter limiter(100, Seed{1, 2});
  limiter.setLimits({Limit{1, 1}, std::nullopt, Limit{1, 1}});
  const net::SocketAddress peer = address("10.0.0.1:1000");
  EXPECT_FALSE(limiter.limited(1));
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.admit(1, peer, 0));
  EXPECT_TRUE(limiter.admit(0, peer, 0));
  EXPECT_FALSE(limiter.admit(0, peer, 0));
  EXPECT_TRUE(limiter.admit(2, peer, 0));  // listener 2 has its own budget
  EXPECT_FALSE(limiter.limited(7));
  EXPECT_TRUE(limiter.admit(7, peer, 0));  // an unknown listener is not limited
}

TEST(HandshakeLimiterTest, AFullTableForgetsIdleAddressesFirst) {
  HandshakeLimiter limiter(4, Seed{1, 2});
  limiter.setLimits({Limit{1, 1}});
  const net::SocketAddress flood = address("10.0.0.1:1");
  EXPECT_TRUE(limiter.admit(0, flood, 0));
  // Many addresses, each once, long after: the flooder's state stays charged
  // only while it is not idle; a table of 4 holds at most 4 of them.
  char text[32];
  for (int i = 0; i < 50; ++i) {
    std::snprintf(text, sizeof(text), "10.1.0.%d:1", i);
    EXPECT_TRUE(limiter.admit(0, address(text), 0));
  }
  EXPECT_TRUE(limiter.admit(0, flood, 2 * kSecond));
}

}  // namespace
}  // namespace rampart::shield
