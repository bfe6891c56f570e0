// The PROXY protocol parser: v1 and v2 headers for IPv4 and IPv6, UNKNOWN and
// LOCAL, every malformation the parser must refuse, and delivery in pieces
// (every prefix needs more or reaches the same verdict as the whole).
#include "net/proxy_protocol.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rampart::net {
namespace {

using Command = ProxyHeader::Command;
using State = ProxyHeader::State;

const std::string kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

std::string u16(uint16_t value) {
  return std::string{static_cast<char>(value >> 8), static_cast<char>(value & 0xFF)};
}

// A v2 header: signature, version/command byte, family byte, then `body`
// with its length (or `length` when given, to lie about it).
std::string v2(uint8_t version_command, uint8_t family, const std::string& body, int length = -1) {
  return kV2Signature + static_cast<char>(version_command) + static_cast<char>(family) +
         u16(static_cast<uint16_t>(length < 0 ? body.size() : length)) + body;
}

std::string ipv4(const char* text) {
  in_addr ip;
  EXPECT_EQ(inet_pton(AF_INET, text, &ip), 1) << text;
  return std::string(reinterpret_cast<const char*>(&ip), 4);
}

std::string ipv6(const char* text) {
  in6_addr ip;
  EXPECT_EQ(inet_pton(AF_INET6, text, &ip), 1) << text;
  return std::string(reinterpret_cast<const char*>(&ip), 16);
}

std::string tlv(uint8_t type, const std::string& value) {
  return std::string(1, static_cast<char>(type)) + u16(static_cast<uint16_t>(value.size())) + value;
}

const std::string kTcp4Block = ipv4("192.0.2.1") + ipv4("198.51.100.2") + u16(56324) + u16(443);
const std::string kTcp6Block = ipv6("2001:db8::1") + ipv6("2001:db8::2") + u16(1) + u16(65535);

// Every strict prefix of a header needs more; the header itself, and
// anything after it, is the whole input's verdict.
void expectByteByByte(const std::string& input, const ProxyHeader& whole) {
  for (size_t size = 0; size <= input.size(); ++size) {
    ProxyHeader part = parseProxyHeader(std::string_view(input).substr(0, size));
    if (part.state == State::kNeedMore) {
      EXPECT_TRUE(whole.state != State::kDone || size < whole.consumed) << size;
      continue;
    }
    EXPECT_EQ(part.state, whole.state) << "prefix of " << size << " bytes";
    EXPECT_EQ(part.error, whole.error) << "prefix of " << size << " bytes";
    EXPECT_EQ(part.consumed, whole.consumed) << "prefix of " << size << " bytes";
    if (whole.state == State::kDone) {
      EXPECT_GE(size, whole.consumed);
    }
  }
}

// ---------------------------------------------------------------- v1

TEST(ProxyProtocolV1, Tcp4NamesTheClientAndLeavesTheRequest) {
  const std::string header = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
  const std::string input = header + "GET / HTTP/1.1\r\n";
  ProxyHeader result = parseProxyHeader(input);
  ASSERT_EQ(result.state, State::kDone) << describe(result.error);
  EXPECT_EQ(result.version, 1);
  EXPECT_EQ(result.command, Command::kProxy);
  EXPECT_EQ(result.consumed, header.size());
  EXPECT_EQ(result.source.toString(), "192.0.2.1:56324");
  EXPECT_EQ(result.destination.toString(), "198.51.100.2:443");
  EXPECT_TRUE(result.source.isV4());
  expectByteByByte(input, result);
}

TEST(ProxyProtocolV1, Tcp6NamesTheClient) {
  const std::string header = "PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n";
  ProxyHeader result = parseProxyHeader(header);
  ASSERT_EQ(result.state, State::kDone) << describe(result.error);
  EXPECT_EQ(result.command, Command::kProxy);
  EXPECT_EQ(result.consumed, header.size());
  EXPECT_EQ(result.source.toString(), "[2001:db8::1]:0");
  EXPECT_EQ(result.destination.toString(), "[2001:db8::2]:65535");
  EXPECT_EQ(result.source.family(), AF_INET6);
  expectByteByByte(header, result);
}

TEST(ProxyProtocolV1, Tcp6TakesAnIpv4MappedAddress) {
  ProxyHeader result = parseProxyHeader("PROXY TCP6 ::ffff:192.0.2.9 ::1 80 81\r\n");
  ASSERT_EQ(result.state, State::kDone) << describe(result.error);
  EXPECT_EQ(result.source.ipString(), "::ffff:192.0.2.9");
}

TEST(ProxyProtocolV1, UnknownAloneOrWithAnythingAfterIt) {
  for (std::string header : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN whatever follows\r\n"}) {
    ProxyHeader result = parseProxyHeader(header + "GET");
    ASSERT_EQ(result.state, State::kDone) << header;
    EXPECT_EQ(result.command, Command::kUnknown);
    EXPECT_EQ(result.consumed, header.size());
    EXPECT_EQ(result.source.length(), 0u) << "no address for UNKNOWN";
  }
}

TEST(ProxyProtocolV1, The107ByteWorstCaseIsTakenAndOneMoreIsNot) {
  const std::string worst =
      "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
  ASSERT_EQ(worst.size(), kMaxProxyV1Bytes);
  ProxyHeader result = parseProxyHeader(worst);
  EXPECT_EQ(result.state, State::kDone);
  EXPECT_EQ(result.consumed, 107u);

  const std::string longer = worst.substr(0, 105) + "5\r\n";
  ASSERT_EQ(longer.size(), 108u);
  result = parseProxyHeader(longer);
  EXPECT_EQ(result.state, State::kError);
  EXPECT_EQ(result.error, ProxyHeaderError::kV1TooLong);
  expectByteByByte(longer, result);
}

TEST(ProxyProtocolV1, NoLineEndWithin107BytesIsTooLongAndBeforeThatNeedsMore) {
  std::string line = "PROXY TCP4 " + std::string(200, '1');
  EXPECT_EQ(parseProxyHeader(line.substr(0, 106)).state, State::kNeedMore);
  ProxyHeader result = parseProxyHeader(line.substr(0, 107));
  EXPECT_EQ(result.state, State::kError);
  EXPECT_EQ(result.error, ProxyHeaderError::kV1TooLong);
  // A CR as the 107th byte leaves no room for its LF.
  result = parseProxyHeader(line.substr(0, 106) + "\r\n");
  EXPECT_EQ(result.error, ProxyHeaderError::kV1TooLong);
}

struct Malformed {
  const char* name;
  std::string input;
  ProxyHeaderError error;
};

class ProxyProtocolV1Malformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(ProxyProtocolV1Malformed, IsRefusedWithItsReason) {
  const Malformed& c = GetParam();
  ProxyHeader result = parseProxyHeader(c.input);
  EXPECT_EQ(result.state, State::kError) << c.input;
  EXPECT_EQ(result.error, c.error) << describe(result.error);
  EXPECT_EQ(result.consumed, 0u);
  EXPECT_FALSE(describe(result.error).empty());
  expectByteByByte(c.input, result);
}

INSTANTIATE_TEST_SUITE_P(
    All, ProxyProtocolV1Malformed,
    ::testing::Values(
        Malformed{"bare_lf", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", ProxyHeaderError::kV1BadLineEnd},
        Malformed{"cr_without_lf", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
                  ProxyHeaderError::kV1BadLineEnd},
        Malformed{"empty_protocol", "PROXY \r\n", ProxyHeaderError::kV1BadSyntax},
        Malformed{"double_space", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
                  ProxyHeaderError::kV1BadSyntax},
        Malformed{"space_between_fields", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
                  ProxyHeaderError::kV1BadSyntax},
        Malformed{"trailing_space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
                  ProxyHeaderError::kV1BadSyntax},
        Malformed{"protocol_alone", "PROXY TCP4\r\n", ProxyHeaderError::kV1BadSyntax},
        Malformed{"missing_port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
                  ProxyHeaderError::kV1BadSyntax},
        Malformed{"extra_field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
                  ProxyHeaderError::kV1BadSyntax},
        Malformed{"tab_separator", "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
                  ProxyHeaderError::kV1BadSyntax},
        Malformed{"udp", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", ProxyHeaderError::kV1BadProtocol},
        Malformed{"lowercase", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
                  ProxyHeaderError::kV1BadProtocol},
        Malformed{"unknown_glued", "PROXY UNKNOWNX\r\n", ProxyHeaderError::kV1BadProtocol},
        Malformed{"v6_in_tcp4", "PROXY TCP4 ::1 ::2 1 2\r\n", ProxyHeaderError::kV1BadAddress},
        Malformed{"v4_in_tcp6", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
                  ProxyHeaderError::kV1BadAddress},
        Malformed{"three_parts", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
                  ProxyHeaderError::kV1BadAddress},
        Malformed{"leading_zero_octet", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
                  ProxyHeaderError::kV1BadAddress},
        Malformed{"octet_over_255", "PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n",
                  ProxyHeaderError::kV1BadAddress},
        Malformed{"host_name", "PROXY TCP4 localhost 5.6.7.8 1 2\r\n",
                  ProxyHeaderError::kV1BadAddress},
        Malformed{"bracketed_v6", "PROXY TCP6 [::1] ::2 1 2\r\n", ProxyHeaderError::kV1BadAddress},
        Malformed{"port_over_65535", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
                  ProxyHeaderError::kV1BadPort},
        Malformed{"port_leading_zero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
                  ProxyHeaderError::kV1BadPort},
        Malformed{"port_sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n",
                  ProxyHeaderError::kV1BadPort},
        Malformed{"port_negative", "PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n",
                  ProxyHeaderError::kV1BadPort},
        Malformed{"port_six_digits", "PROXY TCP4 1.2.3.4 5.6.7.8 1 000002\r\n",
                  ProxyHeaderError::kV1BadPort},
        Malformed{"nul_in_line", std::string("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33),
                  ProxyHeaderError::kV1BadAddress},
        Malformed{"http_request", "GET / HTTP/1.1\r\n\r\n", ProxyHeaderError::kNotProxy},
        Malformed{"proxy_without_space", "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n",
                  ProxyHeaderError::kNotProxy},
        Malformed{"lowercase_signature", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
                  ProxyHeaderError::kNotProxy}),
    [](const ::testing::TestParamInfo<Malformed>& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------- v2

TEST(ProxyProtocolV2, ProxyOverTcp4NamesTheClient) {
  const std::string header = v2(0x21, 0x11, kTcp4Block);
  const std::string input = header + "GET / HTTP/1.1\r\n";
  ProxyHeader result = parseProxyHeader(input);
  ASSERT_EQ(result.state, State::kDone) << describe(result.error);
  EXPECT_EQ(result.version, 2);
  EXPECT_EQ(result.command, Command::kProxy);
  EXPECT_EQ(result.consumed, 16u + 12u);
  EXPECT_EQ(result.source.toString(), "192.0.2.1:56324");
  EXPECT_EQ(result.destination.toString(), "198.51.100.2:443");
  expectByteByByte(input, result);
}

TEST(ProxyProtocolV2, ProxyOverTcp6NamesTheClient) {
  const std::string header = v2(0x21, 0x21, kTcp6Block);
  ProxyHeader result = parseProxyHeader(header + "GET");
  ASSERT_EQ(result.state, State::kDone) << describe(result.error);
  EXPECT_EQ(result.consumed, 16u + 36u);
  EXPECT_EQ(result.source.toString(), "[2001:db8::1]:1");
  EXPECT_EQ(result.destination.toString(), "[2001:db8::2]:65535");
  expectByteByByte(header + "GET", result);
}

TEST(ProxyProtocolV2, TlvsAreSkippedWhenTheyTileTheHeader) {
  // NOOP, an AWS VPC endpoint id, an empty TLV, then HTTP.
  const std::string tlvs =
      tlv(0x04, std::string(5, '\0')) + tlv(0xEA, "\x01vpce-0123456789abcdef") + tlv(0x05, "");
  const std::string header = v2(0x21, 0x11, kTcp4Block + tlvs);
  ProxyHeader result = parseProxyHeader(header + "GET / HTTP/1.1\r\n");
  ASSERT_EQ(result.state, State::kDone) << describe(result.error);
  EXPECT_EQ(result.consumed, header.size());
  EXPECT_EQ(result.source.toString(), "192.0.2.1:56324");
  expectByteByByte(header + "GET", result);
}

TEST(ProxyProtocolV2, LocalCarriesNoClientWhateverItsBlock) {
  for (const std::string& header :
       {v2(0x20, 0x00, ""), v2(0x20, 0x11, kTcp4Block), v2(0x20, 0x31, std::string(216, 'x'))}) {
    ProxyHeader result = parseProxyHeader(header + "GET");
    ASSERT_EQ(result.state, State::kDone) << describe(result.error);
    EXPECT_EQ(result.command, Command::kLocal);
    EXPECT_EQ(result.consumed, header.size());
    EXPECT_EQ(result.source.length(), 0u);
    expectByteByByte(header, result);
  }
}

TEST(ProxyProtocolV2, ProxyOverUnspecIsUnknown) {
  const std::string header = v2(0x21, 0x00, "");
  ProxyHeader result = parseProxyHeader(header);
  ASSERT_EQ(result.state, State::kDone);
  EXPECT_EQ(result.command, Command::kUnknown);
  EXPECT_EQ(result.consumed, 16u);
}

TEST(ProxyProtocolV2, ALengthOverTheLimitIsRefusedFromTheFixedPart) {
  const std::string header = v2(0x21, 0x11, kTcp4Block + tlv(0x04, std::string(200, '\0')));
  EXPECT_EQ(parseProxyHeader(header, 1024).state, State::kDone);
  ProxyHeader result = parseProxyHeader(header.substr(0, 16), 100);
  EXPECT_EQ(result.state, State::kError) << "decided before the rest arrives";
  EXPECT_EQ(result.error, ProxyHeaderError::kV2TooLong);
  // The protocol's own maximum is accepted by default.
  const std::string largest = v2(0x20, 0x00, std::string(65535, 'x'));
  result = parseProxyHeader(largest);
  EXPECT_EQ(result.state, State::kDone);
  EXPECT_EQ(result.consumed, kMaxProxyV2Bytes);
}

TEST(ProxyProtocolV2, TruncatedNeedsMore) {
  const std::string header = v2(0x21, 0x21, kTcp6Block + tlv(0x04, "abc"));
  for (size_t size = 0; size < header.size(); ++size) {
    EXPECT_EQ(parseProxyHeader(header.substr(0, size)).state, State::kNeedMore) << size;
  }
}

class ProxyProtocolV2Malformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(ProxyProtocolV2Malformed, IsRefusedWithItsReason) {
  const Malformed& c = GetParam();
  ProxyHeader result = parseProxyHeader(c.input);
  EXPECT_EQ(result.state, State::kError);
  EXPECT_EQ(result.error, c.error) << describe(result.error);
  EXPECT_EQ(result.consumed, 0u);
  expectByteByByte(c.input, result);
}

INSTANTIATE_TEST_SUITE_P(
    All, ProxyProtocolV2Malformed,
    ::testing::Values(
        Malformed{"version_1", v2(0x11, 0x11, kTcp4Block), ProxyHeaderError::kV2BadVersion},
        Malformed{"version_3", v2(0x31, 0x11, kTcp4Block), ProxyHeaderError::kV2BadVersion},
        Malformed{"version_0", v2(0x01, 0x11, kTcp4Block), ProxyHeaderError::kV2BadVersion},
        Malformed{"command_2", v2(0x22, 0x11, kTcp4Block), ProxyHeaderError::kV2BadCommand},
        Malformed{"command_15", v2(0x2F, 0x11, kTcp4Block), ProxyHeaderError::kV2BadCommand},
        Malformed{"udp4", v2(0x21, 0x12, kTcp4Block), ProxyHeaderError::kV2BadFamily},
        Malformed{"udp6", v2(0x21, 0x22, kTcp6Block), ProxyHeaderError::kV2BadFamily},
        Malformed{"unix_stream", v2(0x21, 0x31, std::string(216, '\0')),
                  ProxyHeaderError::kV2BadFamily},
        Malformed{"unix_dgram", v2(0x21, 0x32, std::string(216, '\0')),
                  ProxyHeaderError::kV2BadFamily},
        Malformed{"inet_unspec_transport", v2(0x21, 0x10, kTcp4Block),
                  ProxyHeaderError::kV2BadFamily},
        Malformed{"family_4", v2(0x21, 0x41, kTcp4Block), ProxyHeaderError::kV2BadFamily},
        Malformed{"tcp4_short", v2(0x21, 0x11, kTcp4Block.substr(0, 11)),
                  ProxyHeaderError::kV2ShortAddresses},
        Malformed{"tcp6_short", v2(0x21, 0x21, kTcp6Block.substr(0, 35)),
                  ProxyHeaderError::kV2ShortAddresses},
        Malformed{"tcp6_with_tcp4_length", v2(0x21, 0x21, kTcp4Block),
                  ProxyHeaderError::kV2ShortAddresses},
        Malformed{"tlv_cut_in_its_header", v2(0x21, 0x11, kTcp4Block + std::string("\x04\x00", 2)),
                  ProxyHeaderError::kV2BadTlv},
        Malformed{"tlv_value_past_the_end",
                  v2(0x21, 0x11, kTcp4Block + tlv(0x04, "abcd").substr(0, 6)),
                  ProxyHeaderError::kV2BadTlv},
        Malformed{"tlv_length_lies", v2(0x21, 0x11, kTcp4Block + "\x04\xff\xff" + "abc"),
                  ProxyHeaderError::kV2BadTlv},
        Malformed{"signature_byte_4", v2(0x21, 0x11, kTcp4Block).replace(4, 1, "X"),
                  ProxyHeaderError::kNotProxy},
        Malformed{"signature_byte_11", v2(0x21, 0x11, kTcp4Block).replace(11, 1, "\r"),
                  ProxyHeaderError::kNotProxy}),
    [](const ::testing::TestParamInfo<Malformed>& info) { return std::string(info.param.name); });

TEST(ProxyProtocolV2, EverySignatureByteMatters) {
  const std::string header = v2(0x21, 0x11, kTcp4Block);
  for (size_t i = 0; i < 12; ++i) {
    std::string broken = header;
    broken[i] = static_cast<char>(broken[i] ^ 0x20);
    ProxyHeader result = parseProxyHeader(broken);
    EXPECT_EQ(result.state, State::kError) << i;
    EXPECT_EQ(result.error, ProxyHeaderError::kNotProxy) << i;
  }
}

// ---------------------------------------------------------------- detection

TEST(ProxySignatureTest, TellsHeadersFromHttp) {
  EXPECT_EQ(detectProxySignature(""), ProxySignature::kPartial);
  EXPECT_EQ(detectProxySignature("P"), ProxySignature::kPartial);
  EXPECT_EQ(detectProxySignature("PROXY"), ProxySignature::kPartial);
  EXPECT_EQ(detectProxySignature("PROXY "), ProxySignature::kV1);
  EXPECT_EQ(detectProxySignature("\r\n\r\n"), ProxySignature::kPartial);
  EXPECT_EQ(detectProxySignature(kV2Signature), ProxySignature::kV2);
  EXPECT_EQ(detectProxySignature("PO"), ProxySignature::kNone);
  EXPECT_EQ(detectProxySignature("PUT / HTTP/1.1\r\n"), ProxySignature::kNone);
  EXPECT_EQ(detectProxySignature("\r\nGET"), ProxySignature::kNone);
  EXPECT_EQ(detectProxySignature("GET / HTTP/1.1\r\n"), ProxySignature::kNone);
}

}  // namespace
}  // namespace rampart::net
