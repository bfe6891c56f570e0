#include "shield/address_list.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace rampart::shield {

namespace {

using U128 = unsigned __int128;

constexpr U128 kV4MappedBase = U128{0xffff} << 32;

U128 fromBytes(const uint8_t* bytes, size_t size) {
  U128 value = 0;
  for (size_t i = 0; i < size; ++i) value = (value << 8) | bytes[i];
  return value;
}

// The peer as a point in IPv6 space; false for other families.
bool toPoint(const net::SocketAddress& address, U128* out) {
  if (address.family() == AF_INET) {
    uint32_t ip =
        ntohl(reinterpret_cast<const sockaddr_in*>(address.sockaddrPtr())->sin_addr.s_addr);
    *out = kV4MappedBase | ip;
    return true;
  }
  if (address.family() == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(address.sockaddrPtr());
    *out = fromBytes(reinterpret_cast<const uint8_t*>(&sin6->sin6_addr), 16);
    return true;
  }
  return false;
}

}  // namespace

void AddressList::add(const net::Cidr& cidr) {
  // Cidr keeps its bytes private; its canonical text is exact and cheap to
  // read back at load time.
  const std::string text = cidr.toString();
  const size_t slash = text.find('/');
  const std::string ip = text.substr(0, slash);
  int prefix = slash == std::string::npos ? -1 : std::atoi(text.c_str() + slash + 1);
  uint8_t bytes[16] = {};
  U128 first = 0;
  int bits = 0;
  if (inet_pton(AF_INET, ip.c_str(), bytes) == 1) {
    first = kV4MappedBase | fromBytes(bytes, 4);
    bits = 96 + (prefix < 0 ? 32 : prefix);
  } else if (inet_pton(AF_INET6, ip.c_str(), bytes) == 1) {
    first = fromBytes(bytes, 16);
    bits = prefix < 0 ? 128 : prefix;
  } else {
    return;  // cannot happen for a parsed Cidr
  }
  const U128 host_mask = bits >= 128 ? U128{0} : (~U128{0} >> bits);
  first &= ~host_mask;
  ranges_.push_back(Range{first, first | host_mask});
}

std::vector<V4Range> AddressList::v4Ranges() const {
  constexpr U128 kV4Last = kV4MappedBase | 0xFFFFFFFFu;
  std::vector<V4Range> out;
  for (const Range& range : ranges_) {
    if (range.last < kV4MappedBase || range.first > kV4Last) continue;
    U128 first = std::max(range.first, kV4MappedBase);
    U128 last = std::min(range.last, kV4Last);
    out.push_back(V4Range{static_cast<uint32_t>(first), static_cast<uint32_t>(last)});
  }
  return out;
}

void AddressList::finish() {
  std::sort(ranges_.begin(), ranges_.end(),
            [](const Range& a, const Range& b) { return a.first < b.first; });
  std::vector<Range> merged;
  merged.reserve(ranges_.size());
  for (const Range& range : ranges_) {
    if (!merged.empty() &&
        (merged.back().last == ~U128{0} || range.first <= merged.back().last + 1)) {
      merged.back().last = std::max(merged.back().last, range.last);
    } else {
      merged.push_back(range);
    }
  }
  merged.shrink_to_fit();
  ranges_ = std::move(merged);
}

std::optional<AddressList> AddressList::compile(const std::vector<std::string>& cidrs,
                                                std::string* error) {
  AddressList list;
  list.ranges_.reserve(cidrs.size());
  for (const std::string& text : cidrs) {
    std::optional<net::Cidr> cidr = net::Cidr::parse(text);
    if (!cidr) {
      if (error != nullptr) {
        *error = "bad address range '";
        *error += text;
        *error += "': expected a.b.c.d/n, x::y/n or a bare address";
      }
      return std::nullopt;
    }
    list.add(*cidr);
  }
  list.finish();
  return list;
}

AddressList AddressList::fromCidrs(const std::vector<net::Cidr>& cidrs) {
  AddressList list;
  list.ranges_.reserve(cidrs.size());
  for (const net::Cidr& cidr : cidrs) list.add(cidr);
  list.finish();
  return list;
}

bool AddressList::contains(const net::SocketAddress& address) const {
  U128 point;
  if (ranges_.empty() || !toPoint(address, &point)) return false;
  // The last range starting at or before the point is the only candidate.
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), point,
                             [](U128 p, const Range& r) { return p < r.first; });
  if (it == ranges_.begin()) return false;
  --it;
  return point <= it->last;
}

}  // namespace rampart::shield
