#include "shield/key.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace rampart::shield {
namespace {

net::SocketAddress ip(const char* text) {
  std::string with_port(text);
  with_port += ":443";
  auto address = net::SocketAddress::parseNumeric(with_port);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(net::SocketAddress());
}

const KeyDeriver& deriver() {
  static const KeyDeriver keys(Seed{0x0123456789abcdefULL, 0xfedcba9876543210ULL});
  return keys;
}

TEST(SipHashTest, ReferenceVectors) {
  // From the SipHash paper's reference implementation: key 00..0f, message 00..(n-1).
  const uint64_t k0 = 0x0706050403020100ULL;
  const uint64_t k1 = 0x0f0e0d0c0b0a0908ULL;
  uint8_t message[64];
  for (int i = 0; i < 64; ++i) message[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(sipHash64(k0, k1, message, 0), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(sipHash64(k0, k1, message, 15), 0xa129ca6149be45e5ULL);
  Key wide = sipHash128(k0, k1, message, 0);
  EXPECT_EQ(wide.lo, 0xe6a825ba047f81a3ULL);
  EXPECT_EQ(wide.hi, 0x930255c71472f66dULL);
}

TEST(KeyDeriverTest, AddressIgnoresThePortAndTellsAddressesApart) {
  const uint64_t space = deriver().namespaceId("per-ip");
  Key a = deriver().address(space, ip("192.0.2.1"));
  auto other_port = net::SocketAddress::parseNumeric("192.0.2.1:8080");
  EXPECT_EQ(a, deriver().address(space, *other_port));
  EXPECT_NE(a, deriver().address(space, ip("192.0.2.2")));
  EXPECT_FALSE(a.empty());
}

TEST(KeyDeriverTest, Ipv4MappedIpv6IsTheSameAsIpv4) {
  const uint64_t space = 7;
  EXPECT_EQ(deriver().address(space, ip("192.0.2.1")),
            deriver().address(space, ip("[::ffff:192.0.2.1]")));
  EXPECT_EQ(deriver().prefix(space, ip("192.0.2.1")),
            deriver().prefix(space, ip("[::ffff:192.0.2.77]")));
  // Not to be confused with the deprecated IPv4-compatible form.
  EXPECT_NE(deriver().address(space, ip("192.0.2.1")),
            deriver().address(space, ip("[::192.0.2.1]")));
}

TEST(KeyDeriverTest, SamePrefixSameKey) {
  const uint64_t space = 7;
  Key a = deriver().prefix(space, ip("10.1.2.3"));
  EXPECT_EQ(a, deriver().prefix(space, ip("10.1.2.200")));
  EXPECT_NE(a, deriver().prefix(space, ip("10.1.3.3")));
  EXPECT_NE(a, deriver().address(space, ip("10.1.2.3")));  // kinds never meet

  Key v6 = deriver().prefix(space, ip("[2001:db8:1:2300::1]"));
  EXPECT_EQ(v6, deriver().prefix(space, ip("[2001:db8:1:23ff:ffff::9]")));  // same /56
  EXPECT_NE(v6, deriver().prefix(space, ip("[2001:db8:1:2400::1]")));

  // Configurable lengths.
  PrefixLengths wide{16, 32};
  EXPECT_EQ(deriver().prefix(space, ip("10.1.2.3"), wide),
            deriver().prefix(space, ip("10.1.99.99"), wide));
  EXPECT_NE(deriver().prefix(space, ip("10.1.2.3"), wide), a);  // /16 is not /24
  EXPECT_EQ(deriver().prefix(space, ip("[2001:db8::1]"), wide),
            deriver().prefix(space, ip("[2001:db8:ffff::1]"), wide));
  PrefixLengths full{32, 128};
  EXPECT_NE(deriver().prefix(space, ip("10.1.2.3"), full),
            deriver().prefix(space, ip("10.1.2.4"), full));
  // Out-of-range lengths are clamped, not undefined.
  PrefixLengths silly{99, -3};
  EXPECT_NE(deriver().prefix(space, ip("10.1.2.3"), silly),
            deriver().prefix(space, ip("10.1.2.4"), silly));
  EXPECT_EQ(deriver().prefix(space, ip("[2001:db8::1]"), silly),
            deriver().prefix(space, ip("[ffff::1]"), silly));
}

TEST(KeyDeriverTest, NamespacesNeverShare) {
  const uint64_t a = deriver().namespaceId("route-a");
  const uint64_t b = deriver().namespaceId("route-b");
  EXPECT_NE(a, b);
  EXPECT_NE(deriver().address(a, ip("192.0.2.1")), deriver().address(b, ip("192.0.2.1")));
  EXPECT_NE(deriver().string(a, "key-123"), deriver().string(b, "key-123"));
  EXPECT_NE(deriver().prefix(a, ip("192.0.2.1")), deriver().prefix(b, ip("192.0.2.1")));
}

TEST(KeyDeriverTest, StringsAreExactAndSeeded) {
  const uint64_t space = 1;
  EXPECT_EQ(deriver().string(space, "alice"), deriver().string(space, "alice"));
  EXPECT_NE(deriver().string(space, "alice"), deriver().string(space, "Alice"));
  EXPECT_NE(deriver().string(space, ""), deriver().string(space, std::string(1, '\0')));
  // Long strings (past the on-stack path) are exact too.
  std::string long_a(500, 'a');
  std::string long_b = long_a;
  long_b.back() = 'b';
  EXPECT_EQ(deriver().string(space, long_a), deriver().string(space, long_a));
  EXPECT_NE(deriver().string(space, long_a), deriver().string(space, long_b));
  // Another seed, other keys.
  KeyDeriver other(Seed{1, 2});
  EXPECT_NE(other.string(space, "alice"), deriver().string(space, "alice"));
}

TEST(KeyDeriverTest, NoCollisionsAmongManyKeys) {
  std::set<std::pair<uint64_t, uint64_t>> seen;
  for (int i = 0; i < 200'000; ++i) {
    std::string value = "client-";
    value += std::to_string(i);
    Key key = deriver().string(3, value);
    EXPECT_TRUE(seen.insert({key.hi, key.lo}).second) << value;
  }
}

TEST(KeyDeriverTest, RandomSeedsDiffer) {
  Seed a = randomSeed();
  Seed b = randomSeed();
  EXPECT_FALSE(a.k0 == b.k0 && a.k1 == b.k1);
}

}  // namespace
}  // namespace rampart::shield
