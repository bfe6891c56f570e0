#include "proxy/rewrite.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "http/parser.h"
#include "proxy/h2_translate.h"
#include "proxy/stream_pipe.h"

namespace rampart::proxy {
namespace {

http::RequestHead makeRequest(std::vector<http::Header> headers) {
  http::RequestHead head;
  head.method = "GET";
  head.target = "/raw/../x";
  head.host = "api.example.com";
  head.headers = std::move(headers);
  return head;
}

std::string upstreamHead(const http::RequestHead& head, bool trusted, bool method_override = false,
                         const auth::Identity* identity = nullptr) {
  static const config::IdentityHeaders kNames;
  http::CanonicalTarget target;
  target.text = "/x?q=1";
  target.path_length = 2;
  core::Buffer out(64);
  UpstreamRequestInfo info;
  info.head = &head;
  info.target = &target;
  info.client_ip = "192.0.2.7";
  info.peer_trusted = trusted;
  info.request_id = "rid-1";
  info.via = "1.1 rampart";
  info.method_override = method_override;
  info.identity_headers = &kNames;
  info.identity = identity;
  appendUpstreamRequestHead(out, info);
  return std::string(out.readable());
}

TEST(RewriteTest, SendsTheCanonicalTargetNotTheRawOne) {
  std::string head = upstreamHead(makeRequest({{"Host", "api.example.com"}}), false);
  EXPECT_EQ(head.rfind("GET /x?q=1 HTTP/1.1\r\n", 0), 0u) << head;
  EXPECT_EQ(head.find("/raw"), std::string::npos);
  EXPECT_NE(head.find("\r\nHost: api.example.com\r\n"), std::string::npos);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}

// A client's trace headers never cross as they are: Rampart's replace them
// (proxy/access_phase.h decides the values), or none are sent.
TEST(RewriteTest, TraceHeadersAreRampartsOwn) {
  http::RequestHead request =
      makeRequest({{"Host", "api.example.com"},
                   {"TraceParent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                   {"tracestate", "forged=1"}});
  http::CanonicalTarget target;
  target.text = "/x";
  target.path_length = 2;
  core::Buffer out(64);
  UpstreamRequestInfo info;
  info.head = &request;
  info.target = &target;
  info.client_ip = "192.0.2.7";
  info.request_id = "rid-1";
  info.via = "1.1 rampart";
  info.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01";
  info.tracestate = "vendor=1";
  appendUpstreamRequestHead(out, info);
  std::string head(out.readable());
  EXPECT_NE(
      head.find("\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01\r\n"),
      std::string::npos)
      << head;
  EXPECT_NE(head.find("\r\ntracestate: vendor=1\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("00f067aa0ba902b7"), std::string::npos) << head;
  EXPECT_EQ(head.find("forged"), std::string::npos) << head;
  // Without values of Rampart's, the incoming ones are still dropped.
  std::string bare = upstreamHead(request, /*trusted=*/true);
  EXPECT_EQ(bare.find("TraceParent"), std::string::npos) << bare;
  EXPECT_EQ(bare.find("forged"), std::string::npos) << bare;
}

// Headers that make some upstreams act on another path or method than the
// one Rampart checked.
TEST(RewriteTest, RewriteUrlAndMethodOverrideHeadersAreRemoved) {
  http::RequestHead request = makeRequest({{"Host", "api.example.com"},
                                           {"X-Original-URL", "/admin"},
                                           {"x-rewrite-url", "/admin"},
                                           {"X-HTTP-Method-Override", "DELETE"},
                                           {"X-HTTP-Method", "DELETE"},
                                           {"X-Method-Override", "DELETE"},
                                           {"Accept", "*/*"}});
  std::string head = upstreamHead(request, /*trusted=*/true);
  for (const char* gone : {"X-Original-URL", "x-rewrite-url", "X-HTTP-Method", "X-Method-Override",
                           "DELETE", "/admin"}) {
    EXPECT_EQ(head.find(gone), std::string::npos) << gone << " in\n" << head;
  }
  EXPECT_NE(head.find("\r\nAccept: */*\r\n"), std::string::npos);
  // A route that honours method override forwards those headers, never the URL ones.
  head = upstreamHead(request, true, /*method_override=*/true);
  EXPECT_NE(head.find("\r\nX-HTTP-Method-Override: DELETE\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("X-Original-URL"), std::string::npos);
  EXPECT_EQ(head.find("x-rewrite-url"), std::string::npos);
}

TEST(RewriteTest, IdentityHeadersComeOnlyFromTheVerifiedIdentity) {
  http::RequestHead request = makeRequest({{"Host", "api.example.com"},
                                           {"X-Auth-Subject", "root"},
                                           {"x-auth-account", "evil"},
                                           {"X-AUTH-SCOPES", "admin"},
                                           {"x-auth-roles", "admin"},
                                           {"x-auth-issuer", "me"}});
  std::string anonymous = upstreamHead(request, /*trusted=*/true);
  EXPECT_EQ(anonymous.find("root"), std::string::npos) << anonymous;
  EXPECT_EQ(anonymous.find("evil"), std::string::npos);
  EXPECT_EQ(anonymous.find("admin"), std::string::npos);
  EXPECT_EQ(anonymous.find(": me\r\n"), std::string::npos);
  auth::Identity alice;
  alice.kind = auth::CredentialKind::kJwt;
  alice.issuer = "https://id.test";
  alice.principal = "alice";
  alice.account = "acme";
  alice.scopes = {"orders:read", "orders:write"};
  alice.roles = {"buyer"};
  std::string head = upstreamHead(request, true, false, &alice);
  EXPECT_NE(head.find("\r\nx-auth-subject: alice\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nx-auth-account: acme\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nx-auth-scopes: orders:read orders:write\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nx-auth-roles: buyer\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nx-auth-issuer: https://id.test\r\n"), std::string::npos);
  EXPECT_EQ(head.find("root"), std::string::npos);
  EXPECT_EQ(head.find("evil"), std::string::npos);
}

// A cached token's identity carries its header lines rendered once at
// verification; the upstream must see byte for byte what rendering on use
// gives, including the empty account and issuer that are left out.
TEST(RewriteTest, PreRenderedIdentityLinesMatchRenderingOnUse) {
  http::RequestHead request = makeRequest({{"Host", "api.example.com"}, {"X-Auth-Subject", "x"}});
  auth::Identity bob;
  bob.kind = auth::CredentialKind::kApiKey;
  bob.principal = "bob";
  bob.scopes = {"a", "b", "c"};
  std::string on_use = upstreamHead(request, false, false, &bob);
  bob.header_lines = auth::renderIdentityHeaders(config::IdentityHeaders{}, bob);
  EXPECT_EQ(bob.header_lines, "x-auth-subject: bob\r\nx-auth-scopes: a b c\r\n");
  std::string pre_rendered = upstreamHead(request, false, false, &bob);
  EXPECT_EQ(pre_rendered, on_use);
  EXPECT_EQ(pre_rendered.find("X-Auth-Subject: x"), std::string::npos);
  auth::Identity anonymous;
  EXPECT_EQ(auth::renderIdentityHeaders(config::IdentityHeaders{}, anonymous), "");
}

TEST(RewriteTest, RemovesHopByHopAndConnectionNamedHeaders) {
  std::string head = upstreamHead(makeRequest({{"Host", "api.example.com"},
                                               {"Connection", "keep-alive, X-Secret"},
                                               {"X-Secret", "s"},
                                               {"Keep-Alive", "timeout=5"},
                                               {"TE", "trailers"},
                                               {"Trailer", "x"},
                                               {"Upgrade", "websocket"},
                                               {"Proxy-Connection", "keep-alive"},
                                               {"Proxy-Authorization", "Basic abc"},
                                               {"Expect", "100-continue"},
                                               {"Accept", "*/*"}}),
                                  false);
  for (const char* gone : {"Connection:", "X-Secret", "Keep-Alive", "TE:", "Trailer", "Upgrade",
                           "Proxy-Connection", "Proxy-Authorization", "Expect"}) {
    EXPECT_EQ(head.find(gone), std::string::npos) << gone << " in\n" << head;
  }
  EXPECT_NE(head.find("\r\nAccept: */*\r\n"), std::string::npos);
}

TEST(RewriteTest, UntrustedPeerForwardingHeadersAreReplaced) {
  std::string head = upstreamHead(makeRequest({{"Host", "api.example.com"},
                                               {"X-Forwarded-For", "6.6.6.6"},
                                               {"X-Forwarded-Proto", "https"},
                                               {"X-Forwarded-Host", "evil"},
                                               {"x-request-id", "spoofed"}}),
                                  false);
  EXPECT_EQ(head.find("6.6.6.6"), std::string::npos);
  EXPECT_EQ(head.find("spoofed"), std::string::npos);
  EXPECT_EQ(head.find("evil"), std::string::npos);
  EXPECT_NE(head.find("\r\nX-Forwarded-For: 192.0.2.7\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nX-Forwarded-Proto: http\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nX-Forwarded-Host: api.example.com\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nx-request-id: rid-1\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nVia: 1.1 rampart\r\n"), std::string::npos);
}

TEST(RewriteTest, TrustedPeerForwardingHeadersAreKeptAndExtended) {
  std::string head = upstreamHead(makeRequest({{"Host", "api.example.com"},
                                               {"X-Forwarded-For", "1.1.1.1"},
                                               {"X-Forwarded-For", "2.2.2.2"},
                                               {"X-Forwarded-Proto", "https"}}),
                                  true);
  EXPECT_NE(head.find("\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, 192.0.2.7\r\n"), std::string::npos)
      << head;
  EXPECT_NE(head.find("\r\nX-Forwarded-Proto: https\r\n"), std::string::npos);
  EXPECT_EQ(head.find("X-Forwarded-Proto: http\r\n"), std::string::npos);
}

TEST(RewriteTest, FramingHeadersComeFromTheParsedHead) {
  http::RequestHead request = makeRequest({{"Host", "h"}, {"Content-Length", "5"}});
  request.framing = http::BodyFraming::kContentLength;
  request.content_length = 5;
  std::string head = upstreamHead(request, false);
  EXPECT_NE(head.find("\r\nContent-Length: 5\r\n"), std::string::npos);

  request = makeRequest({{"Host", "h"}, {"Transfer-Encoding", "chunked"}});
  request.framing = http::BodyFraming::kChunked;
  head = upstreamHead(request, false);
  EXPECT_NE(head.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos);
}

TEST(RewriteTest, ResponseHeadDropsHopByHopAndAddsOurs) {
  http::ResponseHead response;
  response.status = 200;
  response.reason = "OK";
  response.framing = http::BodyFraming::kChunked;
  response.headers = {{"Connection", "X-Internal"},
                      {"X-Internal", "1"},
                      {"Keep-Alive", "timeout=5"},
                      {"Transfer-Encoding", "chunked"},
                      {"Content-Type", "text/plain"}};
  core::Buffer out(64);
  DownstreamResponseInfo info;
  info.head = &response;
  info.framing = chooseClientFraming(response, http::Version::kHttp11);
  info.request_id = "rid-2";
  info.via = "1.1 rampart";
  appendDownstreamResponseHead(out, info);
  std::string head(out.readable());
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(head.find("X-Internal"), std::string::npos);
  EXPECT_EQ(head.find("Keep-Alive"), std::string::npos);
  EXPECT_NE(head.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nx-request-id: rid-2\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nContent-Type: text/plain\r\n"), std::string::npos);
}

// An HTTP/2 stream's piped head must say what the HTTP/1.1 bytes say: the
// same fields in the same order (names lowered, connection-specific ones
// left out), the same framing facts, and the bytes' size for bytes_out.
TEST(RewriteTest, PipedResponseHeadMatchesTheHttp11Bytes) {
  struct Case {
    uint16_t status;
    http::BodyFraming framing;
    uint64_t content_length;
    std::vector<http::Header> headers;
    bool close;
    bool http10_keep_alive;
  };
  const std::vector<Case> cases = {
      {200,
       http::BodyFraming::kContentLength,
       2,
       {{"Server", "nginx"},
        {"Content-Type", "text/plain"},
        {"Content-Length", "2"},
        {"Connection", "keep-alive"}},
       false,
       false},
      {200,
       http::BodyFraming::kChunked,
       0,
       {{"Connection", "X-Internal"},
        {"X-Internal", "1"},
        {"Transfer-Encoding", "chunked"},
        {"Trailer", "X-Checksum"},
        {"TE", "trailers"},
        {"X-Request-Id", "upstream-id"}},
       true,
       false},
      {200, http::BodyFraming::kUntilClose, 0, {{"Content-Type", "text/html"}}, true, false},
      {304,
       http::BodyFraming::kNone,
       0,
       {{"ETag", "\"x\""}, {"Content-Length", "10"}},
       false,
       true},
      {404,
       http::BodyFraming::kContentLength,
       0,
       {{"Content-Length", "0"}, {"Content-Length", "0"}, {"Keep-Alive", "timeout=5"}},
       false,
       false},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    http::ResponseHead response;
    response.status = c.status;
    response.reason = "Reason";
    response.framing = c.framing;
    response.content_length = c.content_length;
    response.headers = c.headers;
    DownstreamResponseInfo info;
    info.head = &response;
    info.framing = chooseClientFraming(response, http::Version::kHttp11);
    info.request_id = "rid-3";
    info.via = "1.1 rampart";
    info.close = c.close;
    info.http10_keep_alive = c.http10_keep_alive;
    core::Buffer out(64);
    appendDownstreamResponseHead(out, info);
    PipedResponseHead piped;
    piped.fields.push_back({0, 0, 0, 0});  // left from an earlier exchange: cleared
    pipeDownstreamResponseHead(piped, info);

    http::ResponseHead bytes;
    http::Limits limits;
    ASSERT_EQ(http::parseResponseHead(out.readable(), limits, false, bytes).state,
              http::ParseOutcome::State::kDone)
        << i;
    EXPECT_TRUE(piped.ready);
    EXPECT_EQ(piped.http11_bytes, out.size()) << i;
    EXPECT_EQ(piped.status, bytes.status) << i;
    EXPECT_EQ(piped.chunked, bytes.framing == http::BodyFraming::kChunked) << i;
    bool has_length = false;
    std::vector<std::pair<std::string, std::string>> want;
    for (const http::Header& header : bytes.headers) {
      if (http::equalsIgnoreCase(header.name, "content-length")) has_length = true;
      if (connectionSpecific(header.name)) continue;
      std::string name(header.name);
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      want.emplace_back(name, std::string(header.value));
    }
    EXPECT_EQ(piped.has_content_length, has_length) << i;
    if (has_length) {
      EXPECT_EQ(piped.content_length, bytes.content_length) << i;
    }
    std::vector<std::pair<std::string, std::string>> got;
    for (const PipedResponseHead::Field& field : piped.fields) {
      got.emplace_back(std::string(piped.name(field)), std::string(piped.value(field)));
    }
    EXPECT_EQ(got, want) << i;
  }
}

TEST(RewriteTest, Http10ClientsGetChunkedBodiesDecodedAndCloseDelimited) {
  http::ResponseHead response;
  response.framing = http::BodyFraming::kChunked;
  EXPECT_EQ(chooseClientFraming(response, http::Version::kHttp10), ClientFraming::kDechunkAndClose);
  EXPECT_EQ(chooseClientFraming(response, http::Version::kHttp11), ClientFraming::kChunked);
  response.framing = http::BodyFraming::kUntilClose;
  EXPECT_EQ(chooseClientFraming(response, http::Version::kHttp11), ClientFraming::kUntilClose);
}

TEST(RewriteTest, WebsocketUpgradesAreRecognisedByTheirTokens) {
  http::RequestHead head = makeRequest({{"Host", "a"},
                                        {"Connection", "keep-alive, Upgrade"},
                                        {"Upgrade", "WebSocket"},
                                        {"Sec-WebSocket-Key", "x"}});
  EXPECT_TRUE(isWebsocketUpgrade(head));
  head.method = "POST";
  EXPECT_FALSE(isWebsocketUpgrade(head));
  head.method = "GET";
  head.version = http::Version::kHttp10;
  EXPECT_FALSE(isWebsocketUpgrade(head));
  EXPECT_FALSE(isWebsocketUpgrade(makeRequest({{"Upgrade", "websocket"}})));  // no Connection token
  EXPECT_FALSE(isWebsocketUpgrade(makeRequest({{"Connection", "upgrade"}, {"Upgrade", "h2c"}})));
}

TEST(RewriteTest, AnAllowedUpgradeIsForwardedWithRampartsOwnUpgradeHeaders) {
  http::RequestHead head = makeRequest({{"Host", "a"},
                                        {"Connection", "Upgrade"},
                                        {"Upgrade", "websocket"},
                                        {"Sec-WebSocket-Key", "k"}});
  http::CanonicalTarget target;
  target.text = "/ws";
  target.path_length = 3;
  core::Buffer out(64);
  UpstreamRequestInfo info;
  info.head = &head;
  info.target = &target;
  info.request_id = "r";
  info.via = "1.1 rampart";
  info.proto = "https";
  info.websocket = true;
  appendUpstreamRequestHead(out, info);
  std::string text(out.readable());
  EXPECT_NE(text.find("\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("\r\nSec-WebSocket-Key: k\r\n"), std::string::npos);
  EXPECT_NE(text.find("\r\nX-Forwarded-Proto: https\r\n"), std::string::npos);
  // The client's own Connection and Upgrade are gone: each appears once.
  EXPECT_EQ(text.find("Upgrade: websocket"), text.rfind("Upgrade: websocket"));
  EXPECT_EQ(text.find("Connection:"), text.rfind("Connection:"));
}

}  // namespace
}  // namespace rampart::proxy
