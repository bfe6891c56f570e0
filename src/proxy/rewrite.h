// Header rewriting between client and upstream (phases 8 and 9): hop-by-hop
// headers removed, X-Forwarded-*, Via and x-request-id set. Pure functions
// over parsed heads, unit-tested on their own; they append to a buffer.
#pragma once

#include <string_view>

#include "auth/identity.h"
#include "config/config.h"
#include "core/buffer.h"
#include "http/canonical.h"
#include "http/message.h"

namespace rampart::proxy {

struct PipedResponseHead;

struct UpstreamRequestInfo {
  const http::RequestHead* head = nullptr;
  const http::CanonicalTarget* target = nullptr;  // the ONE target: sent upstream as is
  std::string_view client_ip;                     // the socket peer
  bool peer_trusted = false;    // keep incoming X-Forwarded-*, append the peer to XFF
  std::string_view request_id;  // replaces any incoming x-request-id
  std::string_view via;         // e.g. "1.1 rampart"
  // Incoming headers with these names are always dropped; when `identity`
  // is set (phase 5 verified one), Rampart's own values replace them.
  const config::IdentityHeaders* identity_headers = nullptr;
  const auth::Identity* identity = nullptr;
  // The route honours X-HTTP-Method-Override (and X-HTTP-Method,
  // X-Method-Override): forwarded. Otherwise they are removed, as are
  // X-Original-URL and X-Rewrite-URL always: an upstream must never act on a
  // method or path that Rampart did not check.
  bool method_override = false;
  // Headers an external authorizer may set (lowercase): incoming ones are
  // always dropped, so a client can never forge them; `authorizer_lines`
  // ("Name: value\r\n" from the authorizer's answer) is appended instead.
  const std::vector<std::string>* authorizer_headers = nullptr;
  std::string_view authorizer_lines;
  // W3C trace context (proxy/access_phase.h): incoming traceparent and
  // tracestate headers are always dropped; these values, when set, are sent.
  std::string_view traceparent;
  std::string_view tracestate;
  // X-Forwarded-Proto: "https" when the client came over TLS.
  std::string_view proto = "http";
  // A WebSocket upgrade the route allows: Connection and Upgrade are sent.
  bool websocket = false;
};

// Appends the upstream request head: "METHOD canonical HTTP/1.1", end-to-end
// headers, Host, framing (Content-Length or Transfer-Encoding: chunked) and
// the forwarding headers, then the blank line. Expect is not forwarded:
// Rampart answers 100-continue itself.
void appendUpstreamRequestHead(core::Buffer& out, const UpstreamRequestInfo& info);

// How the response body travels to the client.
enum class ClientFraming : uint8_t {
  kNone,             // no body
  kContentLength,    // Content-Length passed on
  kChunked,          // chunked passed through as validated
  kDechunkAndClose,  // HTTP/1.0 client: decoded, delimited by close
  kUntilClose,       // upstream delimits by close, so do we
};

// A WebSocket opening handshake (RFC 6455 4.1): GET over HTTP/1.1 without a
// body, `Upgrade: websocket` and `Connection: upgrade` (tokens, any case).
bool isWebsocketUpgrade(const http::RequestHead& head);

// Chooses the client framing for a response.
ClientFraming chooseClientFraming(const http::ResponseHead& response, http::Version client);

struct DownstreamResponseInfo {
  const http::ResponseHead* head = nullptr;
  ClientFraming framing = ClientFraming::kNone;
  std::string_view request_id;
  std::string_view via;
  bool close = false;              // the client connection closes after this response
  bool http10_keep_alive = false;  // an HTTP/1.0 client asked for keep-alive and gets it
  bool websocket = false;          // a 101 to a WebSocket upgrade: Connection: Upgrade
};

void appendDownstreamResponseHead(core::Buffer& out, const DownstreamResponseInfo& info);

// The same head for an HTTP/2 stream's pipe: the fields appendDownstreamResponseHead
// writes, less the connection-specific ones, names lowered; `piped` is
// cleared first and left ready.
void pipeDownstreamResponseHead(PipedResponseHead& piped, const DownstreamResponseInfo& info);

}  // namespace rampart::proxy
