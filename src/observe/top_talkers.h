// Top talkers: which client addresses sent the most requests lately, in
// fixed memory whatever the number of addresses (the space-saving sketch of
// Metwally et al.: k counters; an address not tracked takes the smallest
// counter's place and inherits its count as its error). One per worker,
// written on its thread only; the admin thread gets a copy by posting to the
// worker's loop (worker.h), never by reading it in place. Lives as long as
// the worker.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace rampart::observe {

// An address without its port, 16 bytes (IPv4 as ::ffff:a.b.c.d, so a
// dual-stack socket's mapped peer and a plain IPv4 peer are one talker).
struct TalkerAddress {
  uint64_t hi = 0;
  uint64_t lo = 0;

  bool operator==(const TalkerAddress&) const = default;
  bool empty() const { return hi == 0 && lo == 0; }
  static TalkerAddress from(const sockaddr* address);
  // "1.2.3.4" for a mapped IPv4 address, "2001:db8::1" otherwise.
  std::string toString() const;
};

struct Talker {
  TalkerAddress address;
  uint64_t count = 0;  // an over-estimate by at most `error`
  uint64_t error = 0;
};

class TopTalkers {
 public:
  static constexpr size_t kCapacity = 32;  // 32 x 32 bytes: 1 KiB per worker

  // One request from `address`. `hint` is the caller's memory of where the
  // address was last time (a connection keeps it): one compare when it is
  // still there, a scan of kCapacity entries otherwise. Worker thread only.
  void record(const TalkerAddress& address, uint8_t* hint);
  // Forgets everything (the start of a new window).
  void clear() { *this = TopTalkers{}; }

  // The tracked addresses, largest count first, at most `most`.
  std::vector<Talker> top(size_t most) const;
  size_t size() const { return used_; }

 private:
  std::array<Talker, kCapacity> entries_{};
  size_t used_ = 0;
};

// Merges several workers' (or windows') lists: counts of one address added;
// largest first, at most `most`.
std::vector<Talker> mergeTalkers(const std::vector<std::vector<Talker>>& lists, size_t most);

}  // namespace rampart::observe
