// Blocked and deny-listed IPv4 sources dropped by the kernel before the TCP
// handshake: a classic BPF socket filter on each listening socket, so a
// blocked address's SYNs cost no accept(), no close() and no reset, and its
// connect() waits on SYN retransmits instead of coming straight back.
// Refusing at accept stays the authority (IPv6, count mode, what does not
// fit); this is the cheap path in front of it.
//
// KernelDrops (the set, with end times) is owned by one worker's accept
// gate and used on its thread only. compileDropFilter is pure.
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net/address.h"
#include "shield/gcra.h"

namespace rampart::shield {

// An IPv4 range, host byte order, both ends included.
struct V4Range {
  uint32_t first = 0;
  uint32_t last = 0;
  bool operator==(const V4Range&) const = default;
};

// The IPv4 address of `peer` (AF_INET, or IPv4-mapped ::ffff:a.b.c.d) in
// host byte order; nothing for any other address.
std::optional<uint32_t> ipv4Of(const net::SocketAddress& peer);
// `address`'s /prefix_length (0..32).
V4Range v4Prefix(uint32_t address, int prefix_length);

// A program that drops IPv4 packets whose source is in `ranges` and keeps
// every other packet (IPv6 included). Ranges are sorted and merged here and
// searched as a balanced tree (2 instructions per level, then at most 8
// ranges in a row). When the program would pass `max_instructions`, only
// the longest front of `ranges` that fits is used (put first what matters
// most); `*included` says how many of `ranges` are in. No ranges: an empty
// program (detach).
std::vector<sock_filter> compileDropFilter(const std::vector<V4Range>& ranges,
                                           size_t max_instructions, size_t* included);

// The largest program the kernel lets every accepted socket inherit: a
// listening socket's filter is copied to each connection it accepts and
// charged to that socket's option memory (net.core.optmem_max); a filter
// over the limit would make the kernel refuse every connection. Half of
// optmem_max, at most BPF_MAXINSNS.
size_t maxFilterInstructions();

// Attaches `program` to `fd` (SO_ATTACH_FILTER replaces any filter at
// once), or detaches the filter when `program` is empty. False with `error`.
bool attachDropFilter(int fd, const std::vector<sock_filter>& program, std::string* error);

// The dynamic part: ranges blocked until a time. Bounded: past `capacity`
// a new range is not added (it is still refused at accept) and counted.
class KernelDrops {
 public:
  explicit KernelDrops(size_t capacity = 4096) : capacity_(capacity) {}

  // `range` dropped until `until` (a longer end wins).
  void add(const V4Range& range, Nanos until);
  // An operator's unblock: false when `range` was not there.
  bool remove(const V4Range& range);
  // Removes the ranges whose end is at or before `now`.
  void expire(Nanos now);
  // Whether the set changed since the last takeChanged(), which clears it.
  bool takeChanged() { return std::exchange(changed_, false); }
  void clear();

  std::vector<V4Range> ranges() const;
  size_t size() const { return entries_.size(); }
  uint64_t overflowed() const { return overflowed_; }  // adds refused for lack of room

 private:
  struct Entry {
    V4Range range;
    Nanos until;
  };
  size_t capacity_;
  std::vector<Entry> entries_;
  bool changed_ = false;
  uint64_t overflowed_ = 0;
};

}  // namespace rampart::shield
