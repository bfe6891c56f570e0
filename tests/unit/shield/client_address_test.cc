// Which address a request is judged by: the socket peer, or X-Forwarded-For
// only from a trusted proxy, read from the right. A client that forges
// X-Forwarded-For must never choose its own key (a bypass test).
#include "shield/client_address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rampart::shield {
namespace {

net::SocketAddress ip(const std::string& text) {
  std::string with_port = text.find(':') != std::string::npos ? "[" + text + "]:1" : text + ":1";
  auto address = net::SocketAddress::parseNumeric(with_port);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(net::SocketAddress());
}

AddressList trusted(std::vector<std::string> cidrs) {
  std::string error;
  auto list = AddressList::compile(cidrs, &error);
  EXPECT_TRUE(list.has_value()) << error;
  return list.value_or(AddressList());
}

// Headers in request order; fed last first, as the proxy does.
std::string resolve(const std::string& peer, const AddressList& list, std::vector<std::string> xff,
                    bool* forwarded = nullptr) {
  ClientAddressResolver resolver(ip(peer), list);
  for (auto it = xff.rbegin(); it != xff.rend() && !resolver.done(); ++it) resolver.feed(*it);
  if (forwarded != nullptr) *forwarded = resolver.forwarded();
  return resolver.address().ipString();
}

TEST(ForwardedAddressTest, ParsesTheFormsProxiesWrite) {
  net::SocketAddress out;
  ASSERT_TRUE(parseForwardedAddress(" 192.0.2.1 ", &out));
  EXPECT_EQ(out.ipString(), "192.0.2.1");
  ASSERT_TRUE(parseForwardedAddress("192.0.2.1:8443", &out));
  EXPECT_EQ(out.ipString(), "192.0.2.1");
  ASSERT_TRUE(parseForwardedAddress("2001:db8::1", &out));
  EXPECT_EQ(out.ipString(), "2001:db8::1");
  ASSERT_TRUE(parseForwardedAddress("[2001:db8::2]", &out));
  EXPECT_EQ(out.ipString(), "2001:db8::2");
  ASSERT_TRUE(parseForwardedAddress("[2001:db8::3]:443", &out));
  EXPECT_EQ(out.ipString(), "2001:db8::3");
}

TEST(ForwardedAddressTest, RefusesWhatIsNotAnAddress) {
  net::SocketAddress out;
  for (const char* bad :
       {"", "unknown", "_hidden", "192.0.2", "192.0.2.1:port", "[2001:db8::1", "[2001:db8::1]x",
        "1.2.3.4.5", "300.1.1.1", "192.0.2.1:123456", "example.com"}) {
    EXPECT_FALSE(parseForwardedAddress(bad, &out)) << bad;
  }
  EXPECT_FALSE(parseForwardedAddress(std::string(100, '1'), &out));
}

TEST(ClientAddressTest, AnUntrustedPeerIsTheClientWhateverItSends) {
  AddressList list = trusted({"10.0.0.0/8"});
  bool forwarded = true;
  // The bypass: a direct client forging X-Forwarded-For to mint fresh keys.
  EXPECT_EQ(resolve("203.0.113.9", list, {"198.51.100.1"}, &forwarded), "203.0.113.9");
  EXPECT_FALSE(forwarded);
  EXPECT_EQ(resolve("203.0.113.9", list, {"10.0.0.1", "198.51.100.2, 10.0.0.2"}), "203.0.113.9");
  // No trusted proxies at all: always the peer.
  EXPECT_EQ(resolve("10.0.0.1", AddressList(), {"198.51.100.1"}), "10.0.0.1");
}

TEST(ClientAddressTest, ATrustedPeerNamesTheRightMostUntrustedHop) {
  AddressList list = trusted({"10.0.0.0/8", "127.0.0.2/32"});
  bool forwarded = false;
  EXPECT_EQ(resolve("127.0.0.2", list, {"198.51.100.7"}, &forwarded), "198.51.100.7");
  EXPECT_TRUE(forwarded);
  // The client prepended a forged hop; the trusted proxy appended the real one.
  EXPECT_EQ(resolve("127.0.0.2", list, {"1.1.1.1, 198.51.100.7"}), "198.51.100.7");
  // A chain of trusted proxies is skipped from the right.
  EXPECT_EQ(resolve("10.0.0.5", list, {"1.1.1.1, 198.51.100.7, 10.0.0.9, 10.1.1.1"}),
            "198.51.100.7");
  // Several headers form one list, in order: the last header holds the right-most hops.
  EXPECT_EQ(resolve("10.0.0.5", list, {"1.1.1.1", "198.51.100.8", "10.0.0.9"}), "198.51.100.8");
  EXPECT_EQ(resolve("10.0.0.5", list, {"1.1.1.1, 198.51.100.8", ""}), "198.51.100.8");
  // IPv6 clients behind the proxy.
  EXPECT_EQ(resolve("10.0.0.5", list, {"[2001:db8::7]:1234"}), "2001:db8::7");
}

TEST(ClientAddressTest, ATrustedPeerWithoutUsableForwardingIsItself) {
  AddressList list = trusted({"10.0.0.0/8"});
  bool forwarded = true;
  EXPECT_EQ(resolve("10.0.0.1", list, {}, &forwarded), "10.0.0.1");
  EXPECT_FALSE(forwarded);
  // Garbage at the right: the last trusted hop, never a value the client chose.
  EXPECT_EQ(resolve("10.0.0.1", list, {"198.51.100.1, unknown"}), "10.0.0.1");
  EXPECT_EQ(resolve("10.0.0.1", list, {"198.51.100.1, garbage, 10.0.0.3"}), "10.0.0.3");
  // Every hop trusted: the left-most one.
  EXPECT_EQ(resolve("10.0.0.1", list, {"10.0.0.7, 10.0.0.8"}), "10.0.0.7");
}

}  // namespace
}  // namespace rampart::shield
