// Allow and deny lists of address ranges, compiled once from CIDR strings
// into one sorted list of disjoint intervals, looked up by binary search.
// Immutable after compile(): built while loading config, owned by the
// snapshot, read from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "net/address.h"
#include "shield/kernel_drop.h"

namespace rampart::shield {

class AddressList {
 public:
  AddressList() = default;  // empty: contains nothing

  // "10.0.0.0/8", "2001:db8::/32", "192.0.2.1" (a /32), "::ffff:10.0.0.0/104"
  // (read as 10.0.0.0/8), with the rules of net::Cidr::parse. Overlapping
  // and adjacent ranges are merged. On a bad entry returns nothing and sets
  // `error` to say which one.
  static std::optional<AddressList> compile(const std::vector<std::string>& cidrs,
                                            std::string* error);
  static AddressList fromCidrs(const std::vector<net::Cidr>& cidrs);

  // True when `address` (port ignored) is in a range. IPv4 peers and their
  // IPv4-mapped IPv6 form (::ffff:a.b.c.d) are the same address: both match
  // IPv4 ranges, and both match an IPv6 range that covers ::ffff:a.b.c.d
  // (as net::Cidr::contains does). Other families match nothing.
  bool contains(const net::SocketAddress& address) const;

  // The IPv4 part (ranges inside ::ffff:0:0/96, clipped to it), for the
  // kernel drop filter.
  std::vector<V4Range> v4Ranges() const;

  bool empty() const { return ranges_.empty(); }
  size_t rangeCount() const { return ranges_.size(); }  // after merging

 private:
  using U128 = unsigned __int128;
  struct Range {
    U128 first;
    U128 last;  // inclusive
  };
  void add(const net::Cidr& cidr);
  void finish();

  // Every address in IPv6 space; IPv4 as ::ffff:a.b.c.d. Sorted by first,
  // disjoint and not adjacent.
  std::vector<Range> ranges_;
};

}  // namespace rampart::shield
