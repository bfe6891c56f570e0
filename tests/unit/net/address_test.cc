#include "net/address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace rampart::net {
namespace {

SocketAddress v4(const char* ip, uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
  return SocketAddress(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
}

SocketAddress v6(const char* ip, uint16_t port) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
  return SocketAddress(reinterpret_cast<const sockaddr*>(&sin6), sizeof(sin6));
}

Cidr cidr(const char* text) {
  std::optional<Cidr> parsed = Cidr::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(Cidr{});
}

TEST(SocketAddressTest, ParsesNumericIpv4) {
  auto address = SocketAddress::parseNumeric("1.2.3.4:80");
  ASSERT_TRUE(address);
  EXPECT_TRUE(address->isV4());
  EXPECT_EQ(address->family(), AF_INET);
  EXPECT_EQ(address->port(), 80);
  EXPECT_EQ(address->length(), sizeof(sockaddr_in));
  EXPECT_EQ(address->ipString(), "1.2.3.4");
  EXPECT_EQ(address->toString(), "1.2.3.4:80");
  EXPECT_EQ(*address, v4("1.2.3.4", 80));
}

TEST(SocketAddressTest, ParsesNumericIpv6) {
  auto address = SocketAddress::parseNumeric("[::1]:8080");
  ASSERT_TRUE(address);
  EXPECT_FALSE(address->isV4());
  EXPECT_EQ(address->family(), AF_INET6);
  EXPECT_EQ(address->port(), 8080);
  EXPECT_EQ(address->length(), sizeof(sockaddr_in6));
  EXPECT_EQ(address->ipString(), "::1");
  EXPECT_EQ(address->toString(), "[::1]:8080");
  EXPECT_EQ(*address, v6("::1", 8080));
}

TEST(SocketAddressTest, PortBounds) {
  EXPECT_EQ(SocketAddress::parseNumeric("1.2.3.4:0")->port(), 0);
  EXPECT_EQ(SocketAddress::parseNumeric("1.2.3.4:65535")->port(), 65535);
  EXPECT_EQ(SocketAddress::parseNumeric("[2001:db8::1]:443")->port(), 443);
  EXPECT_FALSE(SocketAddress::parseNumeric("1.2.3.4:65536"));
  EXPECT_FALSE(SocketAddress::parseNumeric("1.2.3.4:100000"));
  EXPECT_FALSE(SocketAddress::parseNumeric("1.2.3.4:-1"));
  EXPECT_FALSE(SocketAddress::parseNumeric("1.2.3.4:+80"));
  EXPECT_FALSE(SocketAddress::parseNumeric("1.2.3.4:0x50"));
  EXPECT_FALSE(SocketAddress::parseNumeric("1.2.3.4: 80"));
  EXPECT_FALSE(SocketAddress::parseNumeric("1.2.3.4:80 "));
  EXPECT_FALSE(SocketAddress::parseNumeric("1.2.3.4:"));
}

TEST(SocketAddressTest, RefusesMalformedNumeric) {
  for (const char* text :
       {"", "1.2.3.4", "1.2.3:80", "1.2.3.4.5:80", "256.1.1.1:80", "01.2.3.4:80", "127.1:80",
        "0x7f.0.0.1:80", "::1:80", "[::1]80", "[::1]", "[::1:80", "[1.2.3.4]:80", "[]:80", ":80",
        "localhost:80", " 1.2.3.4:80", "[::g]:80"}) {
    EXPECT_FALSE(SocketAddress::parseNumeric(text)) << text;
  }
}

TEST(SocketAddressTest, DefaultIsEmpty) {
  SocketAddress empty;
  EXPECT_EQ(empty.length(), 0u);
  EXPECT_EQ(empty.port(), 0);
  EXPECT_EQ(empty.toString(), "");
  EXPECT_EQ(empty.ipString(), "");
  EXPECT_EQ(empty, SocketAddress());
  EXPECT_FALSE(empty == v4("0.0.0.0", 0));
}

TEST(SocketAddressTest, Equality) {
  EXPECT_EQ(v4("10.0.0.1", 1), v4("10.0.0.1", 1));
  EXPECT_FALSE(v4("10.0.0.1", 1) == v4("10.0.0.1", 2));
  EXPECT_FALSE(v4("10.0.0.1", 1) == v4("10.0.0.2", 1));
  EXPECT_FALSE(v6("::ffff:10.0.0.1", 1) == v4("10.0.0.1", 1));
  EXPECT_EQ(v6("2001:db8::1", 9), v6("2001:db8:0::1", 9));
}

TEST(SocketAddressTest, FormatIpWritesIntoBuffer) {
  char buf[INET6_ADDRSTRLEN];
  SocketAddress address = v6("2001:db8::42", 1);
  size_t n = address.formatIp(buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, n), "2001:db8::42");
  EXPECT_EQ(v4("192.168.1.10", 1).formatIp(buf, sizeof(buf)), std::strlen("192.168.1.10"));
  EXPECT_STREQ(buf, "192.168.1.10");
  // Too small: nothing written, length 0.
  EXPECT_EQ(v4("192.168.1.10", 1).formatIp(buf, 4), 0u);
  EXPECT_EQ(SocketAddress().formatIp(buf, sizeof(buf)), 0u);
}

TEST(SocketAddressTest, MappedAddressFormatsAsIpv6) {
  EXPECT_EQ(v6("::ffff:1.2.3.4", 80).toString(), "[::ffff:1.2.3.4]:80");
}

TEST(SocketAddressTest, ResolveNumericNeedsNoLookup) {
  std::string error;
  auto addresses = SocketAddress::resolve("[::1]:9000", &error);
  ASSERT_EQ(addresses.size(), 1u);
  EXPECT_EQ(addresses[0], v6("::1", 9000));
  addresses = SocketAddress::resolve("10.1.2.3:9000", &error);
  ASSERT_EQ(addresses.size(), 1u);
  EXPECT_EQ(addresses[0], v4("10.1.2.3", 9000));
}

TEST(SocketAddressTest, ResolvesLocalhost) {
  std::string error;
  auto addresses = SocketAddress::resolve("localhost:9000", &error);
  ASSERT_FALSE(addresses.empty()) << error;
  EXPECT_NE(std::find(addresses.begin(), addresses.end(), v4("127.0.0.1", 9000)), addresses.end());
  for (size_t i = 0; i < addresses.size(); ++i) {
    EXPECT_EQ(addresses[i].port(), 9000);
    for (size_t j = i + 1; j < addresses.size(); ++j) {
      EXPECT_FALSE(addresses[i] == addresses[j]) << "duplicate " << addresses[i].toString();
    }
  }
}

TEST(SocketAddressTest, ResolveReportsErrors) {
  struct Case {
    const char* text;
    const char* error_part;
  };
  for (const Case& c :
       {Case{"localhost", "expected host:port"}, Case{"localhost:99999", "bad port"},
        Case{"localhost:http", "bad port"}, Case{":80", "missing host"},
        Case{"[::zz]:80", "bad IPv6 address"}, Case{"127.1:80", "bad IPv4 address"},
        Case{"2130706433:80", "bad IPv4 address"}, Case{"0x7f000001:80", "bad IPv4 address"},
        Case{"::1:80", "expected host:port"}, Case{"no-such-host.invalid:80", "cannot resolve"}}) {
    std::string error;
    EXPECT_TRUE(SocketAddress::resolve(c.text, &error).empty()) << c.text;
    EXPECT_NE(error.find(c.error_part), std::string::npos) << c.text << " -> " << error;
  }
  // A null error pointer is allowed.
  EXPECT_TRUE(SocketAddress::resolve("bad", nullptr).empty());
}

TEST(CidrTest, ParsesAndFormats) {
  EXPECT_EQ(cidr("10.0.0.0/8").toString(), "10.0.0.0/8");
  EXPECT_EQ(cidr("2001:db8::/32").toString(), "2001:db8::/32");
  EXPECT_EQ(cidr("0.0.0.0/0").toString(), "0.0.0.0/0");
  EXPECT_EQ(cidr("::/0").toString(), "::/0");
}

TEST(CidrTest, BareAddressIsAHostRange) {
  EXPECT_EQ(cidr("192.168.1.7").toString(), "192.168.1.7/32");
  EXPECT_EQ(cidr("::1").toString(), "::1/128");
}

TEST(CidrTest, HostBitsAreMasked) {
  EXPECT_EQ(cidr("10.1.2.3/8").toString(), "10.0.0.0/8");
  EXPECT_EQ(cidr("192.168.1.255/23").toString(), "192.168.0.0/23");
  EXPECT_EQ(cidr("2001:db8:ffff::1/33").toString(), "2001:db8:8000::/33");
  EXPECT_TRUE(cidr("10.1.2.3/8").contains(v4("10.200.0.1", 1)));
}

TEST(CidrTest, RefusesMalformed) {
  for (const char* text :
       {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/ 8",
        "10.0.0.0/8/8", "10.0.0/8", "10.0.0.0/0x8", "[::1]/128", "host/8", "10.0.0.0/1000"}) {
    EXPECT_FALSE(Cidr::parse(text)) << text;
  }
}

TEST(CidrTest, ContainsIpv4) {
  Cidr range = cidr("10.0.0.0/8");
  EXPECT_TRUE(range.contains(v4("10.0.0.0", 1)));
  EXPECT_TRUE(range.contains(v4("10.255.255.255", 1)));
  EXPECT_FALSE(range.contains(v4("11.0.0.0", 1)));
  EXPECT_FALSE(range.contains(v4("9.255.255.255", 1)));
  Cidr odd = cidr("192.168.0.0/23");
  EXPECT_TRUE(odd.contains(v4("192.168.1.200", 1)));
  EXPECT_FALSE(odd.contains(v4("192.168.2.0", 1)));
  EXPECT_TRUE(cidr("0.0.0.0/0").contains(v4("203.0.113.9", 1)));
  EXPECT_TRUE(cidr("203.0.113.9").contains(v4("203.0.113.9", 4444)));
  EXPECT_FALSE(cidr("203.0.113.9").contains(v4("203.0.113.10", 4444)));
}

TEST(CidrTest, ContainsIpv6) {
  Cidr range = cidr("2001:db8::/32");
  EXPECT_TRUE(range.contains(v6("2001:db8::1", 1)));
  EXPECT_TRUE(range.contains(v6("2001:db8:ffff:ffff::1", 1)));
  EXPECT_FALSE(range.contains(v6("2001:db9::1", 1)));
  EXPECT_TRUE(cidr("::1").contains(v6("::1", 1)));
  EXPECT_FALSE(cidr("::1").contains(v6("::2", 1)));
  EXPECT_TRUE(cidr("fe80::/10").contains(v6("febf::1", 1)));
  EXPECT_FALSE(cidr("fe80::/10").contains(v6("fec0::1", 1)));
}

TEST(CidrTest, FamiliesDoNotMix) {
  EXPECT_FALSE(cidr("10.0.0.0/8").contains(v6("2001:db8::1", 1)));
  EXPECT_FALSE(cidr("2001:db8::/32").contains(v4("10.0.0.1", 1)));
  EXPECT_FALSE(cidr("10.0.0.0/8").contains(SocketAddress()));
}

TEST(CidrTest, MappedPeerMatchesIpv4Range) {
  EXPECT_TRUE(cidr("10.0.0.0/8").contains(v6("::ffff:10.1.2.3", 1)));
  EXPECT_FALSE(cidr("10.0.0.0/8").contains(v6("::ffff:11.1.2.3", 1)));
  EXPECT_TRUE(cidr("127.0.0.1").contains(v6("::ffff:127.0.0.1", 1)));
  // Not mapped: 10.1.2.3 in the low bits of some other IPv6 address.
  EXPECT_FALSE(cidr("10.0.0.0/8").contains(v6("::10.1.2.3", 1)));
  EXPECT_FALSE(cidr("10.0.0.0/8").contains(v6("64:ff9b::10.1.2.3", 1)));
}

TEST(CidrTest, MappedRangeIsIpv4) {
  Cidr range = cidr("::ffff:10.0.0.0/104");
  EXPECT_EQ(range.toString(), "10.0.0.0/8");
  EXPECT_TRUE(range.contains(v4("10.9.9.9", 1)));
  EXPECT_TRUE(range.contains(v6("::ffff:10.9.9.9", 1)));
  EXPECT_FALSE(range.contains(v4("11.0.0.0", 1)));
}

TEST(CidrTest, Ipv6RangeSeesIpv4PeerAsMapped) {
  // A v4 peer and its mapped form are one address, whichever way it arrives.
  EXPECT_TRUE(cidr("::/0").contains(v4("1.2.3.4", 1)));
  EXPECT_TRUE(cidr("::/0").contains(v6("::ffff:1.2.3.4", 1)));
  EXPECT_FALSE(cidr("2001:db8::/32").contains(v4("1.2.3.4", 1)));
}

TEST(CidrTest, ContainsAny) {
  std::vector<Cidr> ranges = {cidr("10.0.0.0/8"), cidr("2001:db8::/32")};
  EXPECT_TRUE(containsAny(ranges, v4("10.3.3.3", 1)));
  EXPECT_TRUE(containsAny(ranges, v6("2001:db8::5", 1)));
  EXPECT_TRUE(containsAny(ranges, v6("::ffff:10.3.3.3", 1)));
  EXPECT_FALSE(containsAny(ranges, v4("192.0.2.1", 1)));
  EXPECT_FALSE(containsAny({}, v4("10.3.3.3", 1)));
}

}  // namespace
}  // namespace rampart::net
