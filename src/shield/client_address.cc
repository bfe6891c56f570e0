#include "shield/client_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace rampart::shield {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool allDigits(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

bool parseForwardedAddress(std::string_view text, net::SocketAddress* out) {
  text = trim(text);
  if (text.empty() || text.size() > 64) return false;
  std::string_view host = text;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && allDigits(rest.substr(1)))) return false;
  } else {
    size_t colon = text.find(':');
    // Exactly one colon: IPv4 with a port. More: a bare IPv6 address.
    if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
      if (!allDigits(text.substr(colon + 1))) return false;
      host = text.substr(0, colon);
    }
  }
  char buf[64];
  if (host.empty() || host.size() >= sizeof(buf)) return false;
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  if (host.find(':') == std::string_view::npos) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    if (inet_pton(AF_INET, buf, &sin.sin_addr) != 1) return false;
    *out = net::SocketAddress(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
    return true;
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  if (inet_pton(AF_INET6, buf, &sin6.sin6_addr) != 1) return false;
  *out = net::SocketAddress(reinterpret_cast<const sockaddr*>(&sin6), sizeof(sin6));
  return true;
}

void ClientAddressResolver::feed(std::string_view value) {
  while (!done_) {
    size_t comma = value.rfind(',');
    std::string_view entry = comma == std::string_view::npos ? value : value.substr(comma + 1);
    if (!trim(entry).empty()) {
      net::SocketAddress hop;
      if (!parseForwardedAddress(entry, &hop)) {
        done_ = true;  // keep the last trusted hop: never a value the client chose
        return;
      }
      address_ = hop;
      forwarded_ = true;
      if (!trusted_.contains(hop)) done_ = true;
    }
    if (comma == std::string_view::npos) return;
    value = value.substr(0, comma);
  }
}

}  // namespace rampart::shield
