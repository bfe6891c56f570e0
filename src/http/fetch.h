// A small blocking HTTP/1.1 GET for the control thread (JWKS refresh, active
// health checks): one request per connection, bounded in time and
// size, the response read by the same strict parser the proxy uses. Never
// called on a worker thread. http:// only until the TLS issue lands.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/address.h"

namespace rampart::http {

struct FetchUrl {
  std::string host;  // as written: name, IPv4, or [IPv6] without brackets
  uint16_t port = 80;
  std::string path = "/";  // path and query
};

// Splits "http://host[:port]/path". False with `error` set for anything
// else (https, userinfo, a fragment, a bad port).
bool parseFetchUrl(std::string_view url, FetchUrl* out, std::string* error);

struct FetchResult {
  bool ok = false;  // a complete response arrived (any status)
  uint16_t status = 0;
  std::string body;
  std::string error;  // when !ok: what failed ("connect: Connection refused", "timed out")
};

// GETs `url`; the whole exchange (resolve, connect, send, receive) must end
// within `timeout`, and the body must fit in `max_body_bytes`.
FetchResult fetch(const FetchUrl& url, std::chrono::milliseconds timeout, size_t max_body_bytes);

// GETs `path` from an address already resolved (an upstream endpoint's
// health check), sending `host` as the Host header; the same bounds.
FetchResult fetchFrom(const net::SocketAddress& address, std::string_view host,
                      std::string_view path, std::chrono::milliseconds timeout,
                      size_t max_body_bytes);

}  // namespace rampart::http
