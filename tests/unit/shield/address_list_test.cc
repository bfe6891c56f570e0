#include "shield/address_list.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace rampart::shield {
namespace {

net::SocketAddress ip(const std::string& text) {
  std::string with_port = text.find(':') == std::string::npos ? text : "[" + text + "]";
  with_port += ":1";
  auto address = net::SocketAddress::parseNumeric(with_port);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(net::SocketAddress());
}

AddressList list(const std::vector<std::string>& cidrs) {
  std::string error;
  auto out = AddressList::compile(cidrs, &error);
  EXPECT_TRUE(out.has_value()) << error;
  return out.value_or(AddressList());
}

TEST(AddressListTest, EmptyContainsNothing) {
  AddressList empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_FALSE(empty.contains(ip("10.0.0.1")));
  EXPECT_FALSE(empty.contains(net::SocketAddress()));
}

TEST(AddressListTest, Ipv4Ranges) {
  AddressList l = list({"10.0.0.0/8", "192.168.1.0/24", "203.0.113.7"});
  EXPECT_TRUE(l.contains(ip("10.0.0.0")));
  EXPECT_TRUE(l.contains(ip("10.255.255.255")));
  EXPECT_FALSE(l.contains(ip("11.0.0.0")));
  EXPECT_FALSE(l.contains(ip("9.255.255.255")));
  EXPECT_TRUE(l.contains(ip("192.168.1.77")));
  EXPECT_FALSE(l.contains(ip("192.168.2.1")));
  EXPECT_TRUE(l.contains(ip("203.0.113.7")));
  EXPECT_FALSE(l.contains(ip("203.0.113.8")));
  EXPECT_FALSE(l.contains(ip("::1")));
  EXPECT_FALSE(l.contains(net::SocketAddress()));
}

TEST(AddressListTest, Ipv4MappedPeersMatchIpv4Ranges) {
  AddressList l = list({"10.0.0.0/8"});
  EXPECT_TRUE(l.contains(ip("::ffff:10.1.2.3")));
  EXPECT_FALSE(l.contains(ip("::ffff:11.1.2.3")));
  EXPECT_FALSE(l.contains(ip("::10.1.2.3")));  // IPv4-compatible is not IPv4
  // A mapped range written the IPv6 way is an IPv4 range.
  AddressList mapped = list({"::ffff:192.0.2.0/120"});
  EXPECT_TRUE(mapped.contains(ip("192.0.2.9")));
  EXPECT_TRUE(mapped.contains(ip("::ffff:192.0.2.9")));
  EXPECT_FALSE(mapped.contains(ip("192.0.3.9")));
}

TEST(AddressListTest, Ipv6Ranges) {
  AddressList l = list({"2001:db8::/32", "fe80::/10", "::1"});
  EXPECT_TRUE(l.contains(ip("2001:db8::1")));
  EXPECT_TRUE(l.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(l.contains(ip("2001:db9::")));
  EXPECT_TRUE(l.contains(ip("febf::1")));
  EXPECT_FALSE(l.contains(ip("fec0::1")));
  EXPECT_TRUE(l.contains(ip("::1")));
  EXPECT_FALSE(l.contains(ip("::2")));
  EXPECT_FALSE(l.contains(ip("10.0.0.1")));
}

TEST(AddressListTest, EverythingAndMerging) {
  AddressList all = list({"0.0.0.0/0", "::/0"});
  EXPECT_EQ(all.rangeCount(), 1u);  // IPv4 lives inside ::/0
  EXPECT_TRUE(all.contains(ip("1.2.3.4")));
  EXPECT_TRUE(all.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  AddressList v4 = list({"0.0.0.0/0"});
  EXPECT_TRUE(v4.contains(ip("255.255.255.255")));
  EXPECT_FALSE(v4.contains(ip("2001:db8::1")));
  // Overlapping and adjacent ranges merge.
  AddressList merged = list({"10.0.0.0/25", "10.0.0.128/25", "10.0.0.5", "10.0.1.0/24"});
  EXPECT_EQ(merged.rangeCount(), 1u);
  EXPECT_TRUE(merged.contains(ip("10.0.1.255")));
  EXPECT_FALSE(merged.contains(ip("10.0.2.0")));
  // Host bits are ignored, as net::Cidr does.
  EXPECT_TRUE(list({"10.1.2.3/8"}).contains(ip("10.200.0.1")));
}

TEST(AddressListTest, BadEntriesAreNamed) {
  std::string error;
  EXPECT_FALSE(AddressList::compile({"10.0.0.0/8", "10.0.0.0/33"}, &error).has_value());
  EXPECT_NE(error.find("10.0.0.0/33"), std::string::npos);
  EXPECT_FALSE(AddressList::compile({"example.com"}, &error).has_value());
  EXPECT_FALSE(AddressList::compile({""}, &error).has_value());
}

TEST(AddressListTest, AgreesWithCidrContainsOnRandomRanges) {
  std::mt19937 rng(42);
  std::vector<std::string> texts;
  std::vector<net::Cidr> cidrs;
  for (int i = 0; i < 300; ++i) {
    std::string text;
    if (i % 3 == 0) {
      text = "2001:db8:";
      text += std::to_string(rng() % 16);
      text += "::/";
      text += std::to_string(36 + rng() % 60);
    } else {
      text = std::to_string(rng() % 4 + 10);
      for (int j = 0; j < 3; ++j) {
        text += ".";
        text += std::to_string(rng() % 256);
      }
      text += "/";
      text += std::to_string(8 + rng() % 25);
    }
    texts.push_back(text);
    cidrs.push_back(*net::Cidr::parse(text));
  }
  AddressList l = list(texts);
  AddressList from = AddressList::fromCidrs(cidrs);
  for (int i = 0; i < 20'000; ++i) {
    std::string text;
    if (i % 3 == 0) {
      text = "2001:db8:";
      text += std::to_string(rng() % 16);
      text += ":";
      text += std::to_string(rng() % 9999);
      text += "::1";
    } else {
      text = i % 3 == 1 ? "" : "::ffff:";
      text += std::to_string(rng() % 5 + 9);
      for (int j = 0; j < 3; ++j) {
        text += ".";
        text += std::to_string(rng() % 256);
      }
    }
    net::SocketAddress a = ip(text);
    ASSERT_EQ(l.contains(a), net::containsAny(cidrs, a)) << text;
    ASSERT_EQ(from.contains(a), l.contains(a)) << text;
  }
}

}  // namespace
}  // namespace rampart::shield
