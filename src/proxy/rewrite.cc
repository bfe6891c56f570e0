#include "proxy/rewrite.h"

#include <cstring>

#include <fmt/format.h>

#include <array>

#include "proxy/h2_translate.h"
#include "proxy/stream_pipe.h"

namespace rampart::proxy {

namespace {

using http::equalsIgnoreCase;

// Headers named by Connection: at most this many are honoured; more names
// than that in Connection is not a real client.
constexpr size_t kMaxConnectionTokens = 16;

struct ConnectionTokens {
  std::array<std::string_view, kMaxConnectionTokens> names;
  size_t count = 0;

  bool contains(std::string_view name) const {
    for (size_t i = 0; i < count; ++i) {
      if (equalsIgnoreCase(names[i], name)) return true;
    }
    return false;
  }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ConnectionTokens collectConnectionTokens(const std::vector<http::Header>& headers) {
  ConnectionTokens tokens;
  for (const http::Header& header : headers) {
    if (!equalsIgnoreCase(header.name, "connection")) continue;
    std::string_view rest = header.value;
    while (!rest.empty() && tokens.count < kMaxConnectionTokens) {
      size_t comma = rest.find(',');
      std::string_view token = trim(rest.substr(0, comma));
      if (!token.empty()) tokens.names[tokens.count++] = token;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return tokens;
}

// Headers that never cross Rampart as they are (RFC 9110 7.6.1 plus the
// framing and identity headers Rampart sets itself).
enum class HeaderClass : uint8_t {
  kEndToEnd,
  kHopByHop,
  kHost,
  kContentLength,
  kExpect,
  kForwardedFor,
  kForwardedOther,  // X-Forwarded-Proto, X-Forwarded-Host
  kRequestId,
  kVia,
  kRewriteUrl,      // X-Original-URL, X-Rewrite-URL: never honoured, never forwarded
  kMethodOverride,  // X-HTTP-Method-Override and kin: forwarded only where a route allows it
  kTraceContext,    // traceparent, tracestate: Rampart sends its own
};

HeaderClass classify(std::string_view name) {
  switch (name.size()) {
    case 2:
      if (equalsIgnoreCase(name, "te")) return HeaderClass::kHopByHop;
      break;
    case 3:
      if (equalsIgnoreCase(name, "via")) return HeaderClass::kVia;
      break;
    case 4:
      if (equalsIgnoreCase(name, "host")) return HeaderClass::kHost;
      break;
    case 6:
      if (equalsIgnoreCase(name, "expect")) return HeaderClass::kExpect;
      break;
    case 7:
      if (equalsIgnoreCase(name, "trailer") || equalsIgnoreCase(name, "upgrade")) {
        return HeaderClass::kHopByHop;
      }
      break;
    case 10:
      if (equalsIgnoreCase(name, "connection") || equalsIgnoreCase(name, "keep-alive")) {
        return HeaderClass::kHopByHop;
      }
      if (equalsIgnoreCase(name, "tracestate")) return HeaderClass::kTraceContext;
      break;
    case 11:
      if (equalsIgnoreCase(name, "traceparent")) return HeaderClass::kTraceContext;
      break;
    case 12:
      if (equalsIgnoreCase(name, "x-request-id")) return HeaderClass::kRequestId;
      break;
    case 13:
      if (equalsIgnoreCase(name, "x-rewrite-url")) return HeaderClass::kRewriteUrl;
      if (equalsIgnoreCase(name, "x-http-method")) return HeaderClass::kMethodOverride;
      break;
    case 14:
      if (equalsIgnoreCase(name, "content-length")) return HeaderClass::kContentLength;
      if (equalsIgnoreCase(name, "x-original-url")) return HeaderClass::kRewriteUrl;
      break;
    case 15:
      if (equalsIgnoreCase(name, "x-forwarded-for")) return HeaderClass::kForwardedFor;
      break;
    case 16:
      if (equalsIgnoreCase(name, "proxy-connection")) return HeaderClass::kHopByHop;
      if (equalsIgnoreCase(name, "x-forwarded-host")) return HeaderClass::kForwardedOther;
      break;
    case 17:
      if (equalsIgnoreCase(name, "transfer-encoding")) return HeaderClass::kHopByHop;
      if (equalsIgnoreCase(name, "x-forwarded-proto")) return HeaderClass::kForwardedOther;
      if (equalsIgnoreCase(name, "x-method-override")) return HeaderClass::kMethodOverride;
      break;
    case 18:
      if (equalsIgnoreCase(name, "proxy-authenticate")) return HeaderClass::kHopByHop;
      break;
    case 19:
      if (equalsIgnoreCase(name, "proxy-authorization")) return HeaderClass::kHopByHop;
      break;
    case 22:
      if (equalsIgnoreCase(name, "x-http-method-override")) return HeaderClass::kMethodOverride;
      break;
    default:
      break;
  }
  return HeaderClass::kEndToEnd;
}

// One room check and four copies for "name: value\r\n": called for every
// field of every head Rampart writes.
void appendHeader(core::Buffer& out, std::string_view name, std::string_view value) {
  const size_t n = name.size() + value.size() + 4;
  if (out.writable() < n) out.makeWritable(n);
  char* at = out.writePtr();
  if (!name.empty()) std::memcpy(at, name.data(), name.size());
  at += name.size();
  std::memcpy(at, ": ", 2);
  at += 2;
  if (!value.empty()) std::memcpy(at, value.data(), value.size());
  at += value.size();
  std::memcpy(at, "\r\n", 2);
  out.produce(n);
}

// Several X-Forwarded-For headers are one list: a trusted peer's values are
// emitted as one header, the socket peer last; an untrusted peer's are dropped.
void appendForwardedFor(core::Buffer& out, const std::vector<http::Header>& headers,
                        const UpstreamRequestInfo& info) {
  out.append("X-Forwarded-For: ");
  if (info.peer_trusted) {
    for (const http::Header& header : headers) {
      if (classify(header.name) != HeaderClass::kForwardedFor) continue;
      out.append(header.value);
      out.append(", ");
    }
  }
  out.append(info.client_ip);
  out.append("\r\n");
}

// A client never sends an identity header upstream: only Rampart does.
bool isIdentityHeader(const UpstreamRequestInfo& info, std::string_view name) {
  const config::IdentityHeaders* names = info.identity_headers;
  if (names == nullptr) return false;
  return equalsIgnoreCase(name, names->principal) || equalsIgnoreCase(name, names->account) ||
         equalsIgnoreCase(name, names->scopes) || equalsIgnoreCase(name, names->roles) ||
         equalsIgnoreCase(name, names->issuer);
}

bool isAuthorizerHeader(const UpstreamRequestInfo& info, std::string_view name) {
  if (info.authorizer_headers == nullptr) return false;
  for (const std::string& known : *info.authorizer_headers) {
    if (equalsIgnoreCase(name, known)) return true;
  }
  return false;
}

// The verified identity, in the configured headers. Phase 5 only accepts
// identities whose values are safe in a header line (no CR, LF or NUL).
void appendIdentity(core::Buffer& out, const UpstreamRequestInfo& info) {
  if (info.identity == nullptr || info.identity_headers == nullptr) return;
  auth::appendIdentityHeaderLines(out, *info.identity_headers, *info.identity);
}

}  // namespace

void appendUpstreamRequestHead(core::Buffer& out, const UpstreamRequestInfo& info) {
  const http::RequestHead& head = *info.head;
  out.append(head.method);
  out.append(' ');
  out.append(info.target->text);
  out.append(" HTTP/1.1\r\n");

  ConnectionTokens named = collectConnectionTokens(head.headers);
  bool kept_proto = false;
  bool kept_host = false;
  for (const http::Header& header : head.headers) {
    HeaderClass cls = classify(header.name);
    switch (cls) {
      case HeaderClass::kEndToEnd:
        if (named.contains(header.name) || isIdentityHeader(info, header.name) ||
            isAuthorizerHeader(info, header.name)) {
          continue;
        }
        appendHeader(out, header.name, header.value);
        break;
      case HeaderClass::kForwardedFor:
        break;  // joined into one header after the loop
      case HeaderClass::kForwardedOther:
        if (info.peer_trusted && !named.contains(header.name)) {
          appendHeader(out, header.name, header.value);
          (header.name.size() == 17 ? kept_proto : kept_host) = true;
        }
        break;
      case HeaderClass::kVia:
        appendHeader(out, header.name, header.value);
        break;
      case HeaderClass::kMethodOverride:
        if (info.method_override) appendHeader(out, header.name, header.value);
        break;
      default:
        break;  // hop-by-hop, Host, Content-Length, Expect: set below
    }
  }
  appendForwardedFor(out, head.headers, info);
  std::string_view host =
      info.target->authority.empty() ? head.host : std::string_view(info.target->authority);
  if (!host.empty()) appendHeader(out, "Host", host);
  // An untrusted peer's forwarding headers were dropped above: Rampart states
  // its own. A trusted peer's are kept, ours fill the gaps. The request id is
  // the session's (a trusted peer's own id when it sent one).
  if (!kept_proto) appendHeader(out, "X-Forwarded-Proto", info.proto);
  if (!kept_host && !host.empty()) appendHeader(out, "X-Forwarded-Host", host);
  appendHeader(out, "x-request-id", info.request_id);
  if (!info.traceparent.empty()) appendHeader(out, "traceparent", info.traceparent);
  if (!info.tracestate.empty()) appendHeader(out, "tracestate", info.tracestate);
  appendHeader(out, "Via", info.via);
  appendIdentity(out, info);
  if (!info.authorizer_lines.empty()) out.append(info.authorizer_lines);
  if (head.framing == http::BodyFraming::kContentLength) {
    char digits[24];
    auto end = fmt::format_to(digits, "{}", head.content_length);
    appendHeader(out, "Content-Length", std::string_view(digits, end - digits));
  } else if (head.framing == http::BodyFraming::kChunked) {
    appendHeader(out, "Transfer-Encoding", "chunked");
  }
  if (info.websocket) out.append("Connection: Upgrade\r\nUpgrade: websocket\r\n");
  out.append("\r\n");
}

bool isWebsocketUpgrade(const http::RequestHead& head) {
  if (head.method != "GET" || head.version != http::Version::kHttp11 ||
      head.framing != http::BodyFraming::kNone) {
    return false;
  }
  if (!collectConnectionTokens(head.headers).contains("upgrade")) return false;
  for (const http::Header& header : head.headers) {
    if (!equalsIgnoreCase(header.name, "upgrade")) continue;
    std::string_view rest = header.value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      if (equalsIgnoreCase(trim(rest.substr(0, comma)), "websocket")) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

ClientFraming chooseClientFraming(const http::ResponseHead& response, http::Version client) {
  switch (response.framing) {
    case http::BodyFraming::kNone:
      return ClientFraming::kNone;
    case http::BodyFraming::kContentLength:
      return ClientFraming::kContentLength;
    case http::BodyFraming::kChunked:
      return client == http::Version::kHttp10 ? ClientFraming::kDechunkAndClose
                                              : ClientFraming::kChunked;
    case http::BodyFraming::kUntilClose:
      return ClientFraming::kUntilClose;
  }
  return ClientFraming::kUntilClose;
}

namespace {

// The downstream response head's fields in order, each passed to
// `emit(name, value, class)`: one list of rules for the HTTP/1.1 bytes and
// for the fields piped to an HTTP/2 stream.
template <typename Emit>
void forEachDownstreamField(const DownstreamResponseInfo& info, Emit&& emit) {
  const http::ResponseHead& head = *info.head;
  ConnectionTokens named = collectConnectionTokens(head.headers);
  bool content_length_sent = false;
  bool request_id_sent = false;
  for (const http::Header& header : head.headers) {
    HeaderClass cls = classify(header.name);
    if (cls == HeaderClass::kHopByHop && !equalsIgnoreCase(header.name, "trailer")) continue;
    if (named.contains(header.name)) continue;
    if (cls == HeaderClass::kContentLength) {
      // Kept for Content-Length framing and for HEAD/304 (informative);
      // the parser already refused differing duplicates.
      if (content_length_sent || info.framing == ClientFraming::kDechunkAndClose ||
          info.framing == ClientFraming::kUntilClose) {
        continue;
      }
      content_length_sent = true;
    }
    if (cls == HeaderClass::kRequestId) request_id_sent = true;
    emit(header.name, header.value, cls);
  }
  if (info.framing == ClientFraming::kChunked) {
    emit("Transfer-Encoding", "chunked", HeaderClass::kHopByHop);
  }
  if (!request_id_sent) emit("x-request-id", info.request_id, HeaderClass::kRequestId);
  emit("Via", info.via, HeaderClass::kVia);
  if (info.websocket) {
    emit("Connection", "Upgrade", HeaderClass::kHopByHop);
    emit("Upgrade", "websocket", HeaderClass::kHopByHop);
  } else if (info.close) {
    emit("Connection", "close", HeaderClass::kHopByHop);
  } else if (info.http10_keep_alive) {
    emit("Connection", "keep-alive", HeaderClass::kHopByHop);
  }
}

}  // namespace

void appendDownstreamResponseHead(core::Buffer& out, const DownstreamResponseInfo& info) {
  const http::ResponseHead& head = *info.head;
  char status_line[64];
  auto end = fmt::format_to(status_line, "HTTP/1.1 {} ", head.status);
  out.append(std::string_view(status_line, end - status_line));
  out.append(head.reason);
  out.append("\r\n");
  forEachDownstreamField(info, [&out](std::string_view name, std::string_view value, HeaderClass) {
    appendHeader(out, name, value);
  });
  out.append("\r\n");
}

void pipeDownstreamResponseHead(PipedResponseHead& piped, const DownstreamResponseInfo& info) {
  const http::ResponseHead& head = *info.head;
  piped.clear();
  piped.status = head.status;
  // "HTTP/1.1 NNN " reason CRLF, the fields, CRLF: what the bytes would have been.
  piped.http11_bytes = 13 + head.reason.size() + 2 + 2;
  forEachDownstreamField(info, [&](std::string_view name, std::string_view value, HeaderClass cls) {
    piped.http11_bytes += name.size() + value.size() + 4;
    if (cls == HeaderClass::kContentLength) {
      piped.has_content_length = true;
      piped.content_length = head.content_length;
    }
    if (!connectionSpecific(name)) piped.add(name, value);
  });
  piped.chunked = info.framing == ClientFraming::kChunked;
  piped.ready = true;
}

}  // namespace rampart::proxy
