// Keys for the shield's tables: 128-bit values derived with a keyed hash
// (SipHash-2-4, 128-bit output) from an address, an address prefix or a
// string, always under a namespace so two limits never share state.
// A KeyDeriver is built once (per process or snapshot) and is read-only after.
#pragma once

#include <cstdint>
#include <string_view>

#include "net/address.h"

namespace rampart::shield {

// Never {0, 0} (that value marks an empty table slot). With 128 bits and a
// secret seed, two distinct inputs share a key with probability ~n^2 / 2^129
// (about 1e-27 for a million keys), and nobody without the seed can aim for a
// collision, so tables treat equal keys as the same client and do not store
// the input.
struct Key {
  uint64_t hi = 0;
  uint64_t lo = 0;

  bool empty() const { return hi == 0 && lo == 0; }
  bool operator==(const Key&) const = default;
};

// Prefix lengths for prefix keys: by default a /24 for IPv4 and a /56 for
// IPv6 (a typical customer allocation), so one client cannot dodge a limit by
// rotating through its own addresses.
struct PrefixLengths {
  int v4 = 24;  // 0..32
  int v6 = 56;  // 0..128
};

// SipHash-2-4 with 64-bit output (for tests and for namespaceId) and with
// 128-bit output; `k0`/`k1` are the 128-bit secret.
uint64_t sipHash64(uint64_t k0, uint64_t k1, const void* data, size_t size);
Key sipHash128(uint64_t k0, uint64_t k1, const void* data, size_t size);

// 128 random bits from the OS (getrandom), for a deriver's seed at startup.
// Not for the request path.
struct Seed {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
};
Seed randomSeed();

class KeyDeriver {
 public:
  // `seed` should be random per process (randomSeed()): keys then differ per
  // run and cannot be precomputed. Tests pass a fixed seed.
  explicit KeyDeriver(Seed seed) : seed_(seed) {}

  // A namespace id from a limit's name ("route:/api#per-ip"); any distinct
  // uint64 per limit works as well (e.g. its index in the snapshot).
  uint64_t namespaceId(std::string_view name) const;

  // The peer address in full, port ignored. An IPv4-mapped IPv6 address
  // (::ffff:1.2.3.4, as a dual-stack socket reports IPv4 peers) gives the
  // same key as 1.2.3.4. An address of neither family gives one shared key.
  Key address(uint64_t space, const net::SocketAddress& address) const;

  // The address cut to its prefix: 10.1.2.3 and 10.1.2.200 share a key under
  // the default /24. IPv4-mapped addresses use the IPv4 length.
  Key prefix(uint64_t space, const net::SocketAddress& address,
             PrefixLengths lengths = PrefixLengths{}) const;

  // An API key, principal, account or header value, byte for byte.
  Key string(uint64_t space, std::string_view value) const;

 private:
  Key derive(uint64_t space, uint8_t kind, uint8_t bits, const uint8_t* data, size_t size) const;

  Seed seed_;
};

}  // namespace rampart::shield
