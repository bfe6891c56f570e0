// Blocks an operator sets through the admin API (POST /clients/block): an
// address or a range refused at accept until a deadline, whatever the
// shield's config says (the gate need not be configured). The admin thread
// keeps the list of record and posts a copy to every worker; each worker
// checks its copy at accept, on its own thread (no lock). Bounded: at most
// kMaxEntries ranges; a check is a scan of them, only when there are any.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/address.h"
#include "shield/gcra.h"

namespace rampart::shield {

struct ManualBlock {
  net::Cidr range;
  std::string text;  // the range as the operator wrote it, normalised (toString)
  Nanos until = 0;   // monotonic
};

enum class BlockChange : uint8_t {
  kAdded,     // a new range
  kExtended,  // the range was blocked already: its deadline is replaced
  kFull,      // kMaxEntries ranges are blocked already: refused
};

class ManualBlocks {
 public:
  static constexpr size_t kMaxEntries = 1024;

  // Blocks `range` until `until`; expired entries are dropped first.
  BlockChange add(const net::Cidr& range, Nanos until, Nanos now);
  // Lifts the block on exactly `range`; false when there was none.
  bool remove(const net::Cidr& range);
  // When the block covering `peer` ends (the latest of several), or 0.
  Nanos blockedUntil(const net::SocketAddress& peer, Nanos now) const;
  bool empty() const { return entries_.empty(); }
  // The ranges still blocked at `now`.
  std::vector<ManualBlock> active(Nanos now) const;

 private:
  void expire(Nanos now);
  std::vector<ManualBlock> entries_;
};

}  // namespace rampart::shield
