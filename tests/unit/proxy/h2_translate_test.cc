#include "proxy/h2_translate.h"

#include <gtest/gtest.h>

namespace rampart::proxy {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

std::string http11Head(const H2Request& request, bool end_stream, bool* chunked) {
  std::string out;
  appendHttp11Head(request, end_stream, chunked, &out);
  return out;
}

TEST(H2Translate, AGetBecomesAnHttp11Head) {
  H2Request request;
  request.method = "GET";
  request.path = "/a?b=1";
  request.authority = "api.test";
  request.host = "ignored.test";
  request.cookie = "a=1; b=2";
  request.fields = "x-one: 1\r\naccept: */*\r\n";
  bool chunked = true;
  EXPECT_EQ(http11Head(request, /*end_stream=*/true, &chunked),
            "GET /a?b=1 HTTP/1.1\r\nhost: api.test\r\nx-one: 1\r\naccept: */*\r\n"
            "cookie: a=1; b=2\r\n\r\n");
  EXPECT_FALSE(chunked);
}

TEST(H2Translate, ABodyWithoutALengthGoesChunked) {
  H2Request request;
  request.method = "POST";
  request.path = "/up";
  request.host = "h.test";  // no :authority: the host field names the host
  bool chunked = false;
  std::string head = http11Head(request, /*end_stream=*/false, &chunked);
  EXPECT_TRUE(chunked);
  EXPECT_EQ(head, "POST /up HTTP/1.1\r\nhost: h.test\r\ntransfer-encoding: chunked\r\n\r\n");
  request.has_content_length = true;
  request.fields = "content-length: 5\r\n";
  head = http11Head(request, /*end_stream=*/false, &chunked);
  EXPECT_FALSE(chunked);
  EXPECT_EQ(head.find("transfer-encoding"), std::string::npos);
}

TEST(H2Translate, TheHeadIsAppendedAfterWhatTheBufferHolds) {
  H2Request request;
  request.method = "GET";
  request.path = "/";
  request.authority = "a.test";
  std::string out = "kept";
  bool chunked = true;
  appendHttp11Head(request, /*end_stream=*/true, &chunked, &out);
  EXPECT_EQ(out, "keptGET / HTTP/1.1\r\nhost: a.test\r\n\r\n");
}

TEST(H2Translate, ClearEmptiesEveryFieldAndKeepsTheBuffers) {
  H2Request request;
  request.method = "POST";
  request.path = std::string(100, 'p');
  request.authority = "a.test";
  request.host = "h.test";
  request.protocol = "websocket";
  request.cookie = "c=1";
  request.fields = std::string(100, 'f');
  request.has_content_length = true;
  const size_t capacity = request.fields.capacity();
  request.clear();
  EXPECT_TRUE(request.method.empty() && request.path.empty() && request.authority.empty() &&
              request.host.empty() && request.protocol.empty() && request.cookie.empty() &&
              request.fields.empty());
  EXPECT_FALSE(request.has_content_length);
  EXPECT_EQ(request.fields.capacity(), capacity);
}

TEST(H2Translate, AnExtendedConnectBecomesAWebsocketOpeningHandshake) {
  H2Request request;
  request.method = "CONNECT";
  request.protocol = "websocket";
  request.path = "/chat?room=1";
  request.authority = "ws.test";
  request.cookie = "s=1";
  // A client's own key is dropped (HTTP/2 has none); its version is kept.
  request.fields =
      "sec-websocket-key: client-key\r\nsec-websocket-version: 13\r\n"
      "sec-websocket-protocol: chat\r\n";
  EXPECT_EQ(http11WebsocketHead(request, "AAAAAAAAAAAAAAAAAAAAAA=="),
            "GET /chat?room=1 HTTP/1.1\r\nhost: ws.test\r\nsec-websocket-version: 13\r\n"
            "sec-websocket-protocol: chat\r\ncookie: s=1\r\n"
            "sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"
            "connection: upgrade\r\nupgrade: websocket\r\n\r\n");
  request.fields.clear();  // no version named: 13, the only one (RFC 6455 4.1)
  request.cookie.clear();
  EXPECT_EQ(http11WebsocketHead(request, "k"),
            "GET /chat?room=1 HTTP/1.1\r\nhost: ws.test\r\nsec-websocket-version: 13\r\n"
            "sec-websocket-key: k\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n");
}

TEST(H2Translate, AWebsocketKeyIsSixteenBytesInBase64) {
  const unsigned char zeros[16] = {};
  EXPECT_EQ(websocketKey(zeros), "AAAAAAAAAAAAAAAAAAAAAA==");
  unsigned char bytes[16];
  for (int i = 0; i < 16; ++i) bytes[i] = static_cast<unsigned char>(0xf0 + i);
  EXPECT_EQ(websocketKey(bytes), "8PHy8/T19vf4+fr7/P3+/w==");
}

TEST(H2Translate, ConnectionSpecificFieldsAreNamed) {
  for (const char* name :
       {"Connection", "keep-alive", "Proxy-Connection", "transfer-encoding", "upgrade", "TE"}) {
    EXPECT_TRUE(connectionSpecific(name)) << name;
  }
  EXPECT_FALSE(connectionSpecific("content-type"));
  EXPECT_FALSE(connectionSpecific("x-connection"));
}

TEST(H2Translate, TrailersAreReadFromTheEndOfTheChunkedFraming) {
  EXPECT_EQ(chunkedTrailers("\r\n5\r\nhello\r\n0\r\nX-Checksum:  abc \r\nGrpc-Status: 0\r\n\r\n"),
            (Fields{{"x-checksum", "abc"}, {"grpc-status", "0"}}));
  EXPECT_EQ(chunkedTrailers("\r\n0\r\n\r\n"), Fields{});
  // A chunk extension on the last chunk, and forbidden fields dropped.
  EXPECT_EQ(chunkedTrailers("\r\n0;x=\"a:b\"\r\nContent-Length: 3\r\nConnection: x\r\n"
                            "X-Ok: 1\r\n\r\n"),
            (Fields{{"x-ok", "1"}}));
  // Payload that looks like framing does not matter: only the tail is read.
  EXPECT_EQ(chunkedTrailers("\r\n9\r\n\r\n0\r\nA: b\r\n0\r\nx-t: v\r\n\r\n"),
            (Fields{{"x-t", "v"}}));
}

TEST(H2Translate, ATailThatDoesNotReachTheLastChunkGivesNothing) {
  EXPECT_EQ(chunkedTrailers("cksum: abc\r\nx-b: 2\r\n\r\n"), Fields{});
}

}  // namespace
}  // namespace rampart::proxy
