#include "net/address.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>

namespace rampart::net {

namespace {

// Strictly decimal port: 1 to 5 digits, at most 65535. No sign, no spaces.
std::optional<uint16_t> parsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

struct HostPort {
  std::string_view host;  // without brackets
  std::string_view port;
  bool bracketed = false;
};

// Splits "host:port" or "[v6]:port". An unbracketed host may not contain ':'
// so "::1:80" is refused rather than guessed.
std::optional<HostPort> splitHostPort(std::string_view text) {
  HostPort out;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    out.host = text.substr(1, close - 1);
    out.port = text.substr(close + 2);
    out.bracketed = true;
    return out;
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  out.host = text.substr(0, colon);
  out.port = text.substr(colon + 1);
  if (out.host.find(':') != std::string_view::npos) return std::nullopt;
  return out;
}

SocketAddress makeV4(const in_addr& ip, uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr = ip;
  sin.sin_port = htons(port);
  return SocketAddress(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
}

SocketAddress makeV6(const in6_addr& ip, uint16_t port) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr = ip;
  sin6.sin6_port = htons(port);
  return SocketAddress(reinterpret_cast<const sockaddr*>(&sin6), sizeof(sin6));
}

std::optional<SocketAddress> parseIp(std::string_view host, bool bracketed, uint16_t port) {
  // inet_pton needs a NUL-terminated string; addresses are short.
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  if (bracketed) {
    in6_addr ip6;
    if (inet_pton(AF_INET6, buf, &ip6) != 1) return std::nullopt;
    return makeV6(ip6, port);
  }
  // glibc's inet_pton takes only the four-part dotted decimal form, without
  // leading zeros: "127.1" or "0x7f.0.0.1" are refused here.
  in_addr ip4;
  if (inet_pton(AF_INET, buf, &ip4) != 1) return std::nullopt;
  return makeV4(ip4, port);
}

// True for hosts that getaddrinfo would read as a number ("127.1", "0x7f000001",
// "2130706433"). Such legacy forms are refused rather than resolved, so an
// address means the same to Rampart as to a reader of the config.
bool looksNumeric(const std::string& host) {
  in_addr ignored;
  return inet_aton(host.c_str(), &ignored) != 0;
}

const uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool isV4Mapped(const uint8_t* bytes) {
  return std::memcmp(bytes, kV4MappedPrefix, sizeof(kV4MappedPrefix)) == 0;
}

bool prefixMatches(const uint8_t* a, const uint8_t* b, int prefix) {
  int whole = prefix / 8;
  if (std::memcmp(a, b, static_cast<size_t>(whole)) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

void maskHostBits(uint8_t* bytes, int total_bytes, int prefix) {
  for (int i = 0; i < total_bytes; ++i) {
    int bits_kept = std::clamp(prefix - i * 8, 0, 8);
    bytes[i] &= static_cast<uint8_t>(bits_kept == 0 ? 0 : 0xff << (8 - bits_kept));
  }
}

}  // namespace

SocketAddress::SocketAddress(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr) return;
  size_t copy = std::min(static_cast<size_t>(len), sizeof(storage_));
  std::memcpy(&storage_, sa, copy);
  length_ = static_cast<socklen_t>(copy);
}

std::optional<SocketAddress> SocketAddress::parseNumeric(std::string_view text) {
  std::optional<HostPort> parts = splitHostPort(text);
  if (!parts) return std::nullopt;
  std::optional<uint16_t> port = parsePort(parts->port);
  if (!port) return std::nullopt;
  return parseIp(parts->host, parts->bracketed, *port);
}

std::vector<SocketAddress> SocketAddress::resolve(std::string_view text, std::string* error) {
  auto fail = [&](std::string message) {
    if (error != nullptr) *error = std::move(message);
    return std::vector<SocketAddress>{};
  };
  std::optional<HostPort> parts = splitHostPort(text);
  if (!parts) return fail("expected host:port, a.b.c.d:port or [v6]:port");
  std::optional<uint16_t> port = parsePort(parts->port);
  if (!port) return fail("bad port '" + std::string(parts->port) + "': expected 0-65535");
  if (parts->host.empty()) return fail("missing host");
  if (std::optional<SocketAddress> numeric = parseIp(parts->host, parts->bracketed, *port)) {
    return {*numeric};
  }
  std::string host(parts->host);
  if (parts->bracketed) return fail("bad IPv6 address '" + host + "'");
  if (looksNumeric(host)) return fail("bad IPv4 address '" + host + "': expected a.b.c.d");

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not per socket type
  addrinfo* list = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc != 0) return fail("cannot resolve '" + host + "': " + gai_strerror(rc));

  std::vector<SocketAddress> out;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    SocketAddress address;
    if (ai->ai_family == AF_INET) {
      address = makeV4(reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr, *port);
    } else if (ai->ai_family == AF_INET6) {
      address = makeV6(reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr, *port);
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), address) == out.end()) out.push_back(address);
  }
  freeaddrinfo(list);
  if (out.empty()) return fail("'" + host + "' has no IPv4 or IPv6 address");
  return out;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

size_t SocketAddress::formatIp(char* buf, size_t size) const {
  if (buf == nullptr || size == 0) return 0;
  const void* src = nullptr;
  if (family() == AF_INET) {
    src = &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr;
  } else if (family() == AF_INET6) {
    src = &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
  } else {
    buf[0] = '\0';
    return 0;
  }
  if (inet_ntop(family(), src, buf, static_cast<socklen_t>(size)) == nullptr) {
    buf[0] = '\0';
    return 0;
  }
  return std::strlen(buf);
}

std::string SocketAddress::ipString() const {
  char buf[INET6_ADDRSTRLEN];
  size_t n = formatIp(buf, sizeof(buf));
  return std::string(buf, n);
}

std::string SocketAddress::toString() const {
  if (family() != AF_INET && family() != AF_INET6) return "";
  std::string ip = ipString();
  std::string port_text = std::to_string(port());
  return isV4() ? ip + ":" + port_text : "[" + ip + "]:" + port_text;
}

bool SocketAddress::operator==(const SocketAddress& other) const {
  if (family() != other.family()) return false;
  if (family() == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&storage_);
    auto* b = reinterpret_cast<const sockaddr_in*>(&other.storage_);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  if (family() == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&storage_);
    auto* b = reinterpret_cast<const sockaddr_in6*>(&other.storage_);
    return a->sin6_port == b->sin6_port && a->sin6_scope_id == b->sin6_scope_id &&
           std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(in6_addr)) == 0;
  }
  return length_ == other.length_;  // both empty (or an unknown family)
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  size_t slash = text.find('/');
  std::string_view ip_text = text.substr(0, slash);
  if (ip_text.empty() || ip_text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, ip_text.data(), ip_text.size());
  buf[ip_text.size()] = '\0';

  Cidr cidr;
  if (inet_pton(AF_INET, buf, cidr.bytes_) == 1) {
    cidr.family_ = AF_INET;
  } else if (inet_pton(AF_INET6, buf, cidr.bytes_) == 1) {
    cidr.family_ = AF_INET6;
  } else {
    return std::nullopt;
  }
  int max_prefix = cidr.family_ == AF_INET ? 32 : 128;
  cidr.prefix_ = max_prefix;
  if (slash != std::string_view::npos) {
    std::string_view prefix_text = text.substr(slash + 1);
    if (prefix_text.empty() || prefix_text.size() > 3) return std::nullopt;
    int prefix = 0;
    for (char c : prefix_text) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max_prefix) return std::nullopt;
    cidr.prefix_ = prefix;
  }
  // A range inside ::ffff:0:0/96 is an IPv4 range written the IPv6 way; store
  // it as IPv4 so that it prints and matches like one.
  if (cidr.family_ == AF_INET6 && cidr.prefix_ >= 96 && isV4Mapped(cidr.bytes_)) {
    std::memmove(cidr.bytes_, cidr.bytes_ + 12, 4);
    std::memset(cidr.bytes_ + 4, 0, 12);
    cidr.family_ = AF_INET;
    cidr.prefix_ -= 96;
  }
  // "10.1.2.3/8" is accepted as 10.0.0.0/8: the intent is clear.
  maskHostBits(cidr.bytes_, cidr.family_ == AF_INET ? 4 : 16, cidr.prefix_);
  return cidr;
}

bool Cidr::contains(const SocketAddress& address) const {
  // Compare in the CIDR's family. A peer and its IPv4-mapped IPv6 form
  // (::ffff:1.2.3.4, as a dual-stack socket reports IPv4 peers) are the same.
  uint8_t peer[16] = {};
  const sockaddr* sa = address.sockaddrPtr();
  if (address.family() == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    if (family_ == AF_INET) {
      std::memcpy(peer, &sin->sin_addr, 4);
    } else {
      std::memcpy(peer, kV4MappedPrefix, 12);
      std::memcpy(peer + 12, &sin->sin_addr, 4);
    }
  } else if (address.family() == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    const auto* bytes = reinterpret_cast<const uint8_t*>(&sin6->sin6_addr);
    if (family_ == AF_INET) {
      if (!isV4Mapped(bytes)) return false;
      std::memcpy(peer, bytes + 12, 4);
    } else {
      std::memcpy(peer, bytes, 16);
    }
  } else {
    return false;
  }
  return prefixMatches(peer, bytes_, prefix_);
}

std::string Cidr::toString() const {
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(family_, bytes_, buf, sizeof(buf)) == nullptr) return "";
  return std::string(buf) + "/" + std::to_string(prefix_);
}

bool containsAny(const std::vector<Cidr>& ranges, const SocketAddress& address) {
  for (const Cidr& range : ranges) {
    if (range.contains(address)) return true;
  }
  return false;
}

}  // namespace rampart::net
