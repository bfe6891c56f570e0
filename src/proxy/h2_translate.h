// The pure translations between an HTTP/2 stream and the HTTP/1.1 request
// and response its Session sees (docs/http2.md). No I/O, no nghttp2.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rampart::proxy {

// Connection-specific fields: never carried between HTTP/1.1 and HTTP/2
// (RFC 9113 8.2.2), either way.
bool connectionSpecific(std::string_view name);

// A request's fields as HTTP/2 gave them (names lowercase, values checked
// by nghttp2: no CR, LF or NUL).
struct H2Request {
  std::string method, path, authority, host;
  std::string protocol;  // :protocol of an extended CONNECT (RFC 8441), "websocket"
  std::string cookie;    // every `cookie` field, joined with "; " (RFC 9113 8.2.3)
  std::string fields;    // the other fields, "name: value\r\n" each, in order
  bool has_content_length = false;

  // Empty again, each string keeping its buffer for the next header block.
  void clear();
};

// Appends the HTTP/1.1 head for it to `out`. `end_stream`: the HEADERS
// frame ended the stream (no body). *chunked: the body goes chunked (no
// content-length). Keep-alive: the Session serves later streams of the
// connection too.
void appendHttp11Head(const H2Request& request, bool end_stream, bool* chunked, std::string* out);

// An extended CONNECT with `:protocol: websocket` (RFC 8441 4-5) as the
// RFC 6455 opening handshake an HTTP/1.1 upstream expects: a GET with
// `connection: upgrade`, `upgrade: websocket`, `sec-websocket-version`
// (13 unless the client named one) and `key` as `sec-websocket-key` (HTTP/2
// clients send none; a client's own is dropped). The body that follows is
// the tunnel's raw bytes, never chunked.
std::string http11WebsocketHead(const H2Request& request, std::string_view key);

// A Sec-WebSocket-Key (RFC 6455 4.1): 16 bytes in base64.
std::string websocketKey(const unsigned char (&nonce)[16]);

// The trailer fields at the end of a chunked body's raw framing: `tail`
// ends with "0[;ext]\r\n", the field lines and the empty line (the decoder
// validated them). Names are lowercased; fields HTTP/2 forbids in trailers
// are dropped. Empty when `tail` does not reach back to the last-chunk line.
std::vector<std::pair<std::string, std::string>> chunkedTrailers(std::string_view tail);

}  // namespace rampart::proxy
