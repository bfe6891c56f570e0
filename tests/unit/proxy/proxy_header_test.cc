// What the first bytes of a connection decide on a PROXY-protocol listener:
// a trusted proxy must send a header (which may name the client), anyone
// else may not send one; both are decided before the HTTP parser runs.
#include "proxy/proxy_header.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::proxy {
namespace {

using Kind = ProxyHeaderVerdict::Kind;

const std::string kV1 = "PROXY TCP4 203.0.113.7 10.0.0.1 40000 443\r\n";
const std::string kRequest = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

std::string v2Local() {
  return std::string("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);
}

TEST(ProxyHeaderTest, TheRuleFollowsTheListenerAndThePeer) {
  EXPECT_EQ(proxyHeaderRule(false, true), ProxyHeaderRule::kNone);
  EXPECT_EQ(proxyHeaderRule(false, false), ProxyHeaderRule::kNone);
  EXPECT_EQ(proxyHeaderRule(true, true), ProxyHeaderRule::kRequired);
  EXPECT_EQ(proxyHeaderRule(true, false), ProxyHeaderRule::kForbidden);
}

TEST(ProxyHeaderTest, ATrustedProxysHeaderNamesTheClient) {
  ProxyHeaderVerdict verdict = readProxyHeader(kV1 + kRequest, ProxyHeaderRule::kRequired);
  ASSERT_EQ(verdict.kind, Kind::kProceed);
  EXPECT_EQ(verdict.consumed, kV1.size());
  EXPECT_TRUE(verdict.named_client);
  EXPECT_EQ(verdict.client.toString(), "203.0.113.7:40000");
}

TEST(ProxyHeaderTest, LocalAndUnknownKeepTheSocketPeer) {
  for (const std::string& header : {v2Local(), std::string("PROXY UNKNOWN\r\n")}) {
    ProxyHeaderVerdict verdict = readProxyHeader(header + kRequest, ProxyHeaderRule::kRequired);
    ASSERT_EQ(verdict.kind, Kind::kProceed);
    EXPECT_EQ(verdict.consumed, header.size());
    EXPECT_FALSE(verdict.named_client);
  }
}

TEST(ProxyHeaderTest, ATrustedProxyWithoutAHeaderIsRefused) {
  ProxyHeaderVerdict verdict = readProxyHeader(kRequest, ProxyHeaderRule::kRequired);
  EXPECT_EQ(verdict.kind, Kind::kRefuse);
  EXPECT_EQ(verdict.reason, "no PROXY header from a trusted proxy");
}

TEST(ProxyHeaderTest, AMalformedHeaderIsRefusedWithTheParsersReason) {
  ProxyHeaderVerdict verdict =
      readProxyHeader("PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n", ProxyHeaderRule::kRequired);
  EXPECT_EQ(verdict.kind, Kind::kRefuse);
  EXPECT_NE(verdict.reason.find("port"), std::string_view::npos) << verdict.reason;
}

TEST(ProxyHeaderTest, AHeaderBeyondTheSessionsBufferIsRefusedNotBuffered) {
  std::string header = std::string("\r\n\r\n\0\r\nQUIT\n\x20\x00", 14);
  header += static_cast<char>(0x40);  // 16 KiB + 0x40 bytes follow
  header += static_cast<char>(0x40);
  ProxyHeaderVerdict verdict = readProxyHeader(header, ProxyHeaderRule::kRequired);
  EXPECT_EQ(verdict.kind, Kind::kRefuse);
}

TEST(ProxyHeaderTest, AnIncompleteHeaderWaits) {
  for (size_t size = 1; size < kV1.size(); ++size) {
    EXPECT_EQ(readProxyHeader(kV1.substr(0, size), ProxyHeaderRule::kRequired).kind,
              Kind::kNeedMore)
        << size;
  }
}

TEST(ProxyHeaderTest, AnUntrustedPeersHeaderIsRefusedNotHonoured) {
  for (const std::string& input : {kV1 + kRequest, v2Local() + kRequest}) {
    ProxyHeaderVerdict verdict = readProxyHeader(input, ProxyHeaderRule::kForbidden);
    EXPECT_EQ(verdict.kind, Kind::kRefuse);
    EXPECT_FALSE(verdict.named_client);
  }
}

TEST(ProxyHeaderTest, AnUntrustedPeerSpeakingHttpIsServedAsItself) {
  for (const std::string& input : {kRequest, std::string("POST / HTTP/1.1\r\n"), std::string("PUT"),
                                   std::string("\r\nGET / HTTP/1.1\r\n")}) {
    ProxyHeaderVerdict verdict = readProxyHeader(input, ProxyHeaderRule::kForbidden);
    EXPECT_EQ(verdict.kind, Kind::kProceed) << input;
    EXPECT_EQ(verdict.consumed, 0u);
    EXPECT_FALSE(verdict.named_client);
  }
  // Until the first bytes could still be a signature, it waits.
  EXPECT_EQ(readProxyHeader("PROX", ProxyHeaderRule::kForbidden).kind, Kind::kNeedMore);
  EXPECT_EQ(readProxyHeader("\r\n\r", ProxyHeaderRule::kForbidden).kind, Kind::kNeedMore);
}

TEST(ProxyHeaderTest, WithoutTheListenerOptionNothingIsRead) {
  ProxyHeaderVerdict verdict = readProxyHeader(kV1 + kRequest, ProxyHeaderRule::kNone);
  EXPECT_EQ(verdict.kind, Kind::kProceed);
  EXPECT_EQ(verdict.consumed, 0u);
}

}  // namespace
}  // namespace rampart::proxy
