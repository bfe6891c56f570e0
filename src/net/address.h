// Socket addresses and CIDR ranges: parsing, formatting, matching.
// Plain values, copied freely; no thread affinity.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::net {

// An IPv4 or IPv6 address with a port.
class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(const sockaddr* sa, socklen_t len);

  // Parses a numeric "1.2.3.4:80" or "[::1]:80". No name resolution.
  static std::optional<SocketAddress> parseNumeric(std::string_view text);
  // Parses "host:port", "1.2.3.4:80" or "[::1]:80", resolving a host name
  // through getaddrinfo (call only while loading config, never per request).
  // Every address the name resolves to is returned; empty with `error` set on failure.
  static std::vector<SocketAddress> resolve(std::string_view text, std::string* error);

  const sockaddr* sockaddrPtr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  bool isV4() const { return family() == AF_INET; }

  // "1.2.3.4:80" or "[::1]:80".
  std::string toString() const;
  // Just the address, "1.2.3.4" or "::1".
  std::string ipString() const;
  // Writes the bare IP into `buf` (at least INET6_ADDRSTRLEN), returns its length.
  size_t formatIp(char* buf, size_t size) const;

  bool operator==(const SocketAddress& other) const;

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

// An address range such as 10.0.0.0/8 or 2001:db8::/32.
class Cidr {
 public:
  // Parses "a.b.c.d/n", "x::y/n", or a bare address (a /32 or /128).
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const SocketAddress& address) const;
  std::string toString() const;

 private:
  int family_ = AF_INET;
  uint8_t bytes_[16] = {};
  int prefix_ = 0;
};

// True when `address` is inside one of `ranges`.
bool containsAny(const std::vector<Cidr>& ranges, const SocketAddress& address);

}  // namespace rampart::net
