#include "shield/key.h"

#include <sys/random.h>

#include <algorithm>
#include <cstring>

namespace rampart::shield {

namespace {

inline uint64_t rotl(uint64_t x, int b) {
  return (x << b) | (x >> (64 - b));
}

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // SipHash is defined little-endian; Rampart targets x86-64 and arm64 LE
}

struct SipState {
  uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
};

// Compression of the whole message; leaves the state ready for finalization.
SipState sipCompress(uint64_t k0, uint64_t k1, const uint8_t* in, size_t size, bool wide) {
  SipState s{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
             k1 ^ 0x7465646279746573ULL};
  if (wide) s.v1 ^= 0xee;
  const size_t whole = size - size % 8;
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m = load64(in + i);
    s.v3 ^= m;
    s.round();
    s.round();
    s.v0 ^= m;
  }
  uint64_t last = static_cast<uint64_t>(size) << 56;
  for (size_t i = 0; i < size % 8; ++i) last |= static_cast<uint64_t>(in[whole + i]) << (8 * i);
  s.v3 ^= last;
  s.round();
  s.round();
  s.v0 ^= last;
  return s;
}

constexpr uint8_t kKindAddress = 1;
constexpr uint8_t kKindPrefix = 2;
constexpr uint8_t kKindString = 3;
constexpr uint8_t kFamilyV4 = 4;
constexpr uint8_t kFamilyV6 = 6;
constexpr uint8_t kFamilyOther = 0;

const uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// The peer's bytes in its canonical family: 4 bytes for IPv4 and
// IPv4-mapped IPv6, 16 for other IPv6, none otherwise.
uint8_t canonicalBytes(const net::SocketAddress& address, uint8_t* out) {
  if (address.family() == AF_INET) {
    std::memcpy(out, &reinterpret_cast<const sockaddr_in*>(address.sockaddrPtr())->sin_addr, 4);
    return kFamilyV4;
  }
  if (address.family() == AF_INET6) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in6*>(address.sockaddrPtr())->sin6_addr);
    if (std::memcmp(bytes, kV4Mapped, sizeof(kV4Mapped)) == 0) {
      std::memcpy(out, bytes + 12, 4);
      return kFamilyV4;
    }
    std::memcpy(out, bytes, 16);
    return kFamilyV6;
  }
  return kFamilyOther;
}

size_t familySize(uint8_t family) {
  return family == kFamilyV4 ? 4 : family == kFamilyV6 ? 16 : 0;
}

void maskTo(uint8_t* bytes, size_t size, int prefix) {
  for (size_t i = 0; i < size; ++i) {
    int kept = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
    bytes[i] &= static_cast<uint8_t>(kept == 0 ? 0 : 0xff << (8 - kept));
  }
}

}  // namespace

uint64_t sipHash64(uint64_t k0, uint64_t k1, const void* data, size_t size) {
  SipState s = sipCompress(k0, k1, static_cast<const uint8_t*>(data), size, false);
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

Key sipHash128(uint64_t k0, uint64_t k1, const void* data, size_t size) {
  SipState s = sipCompress(k0, k1, static_cast<const uint8_t*>(data), size, true);
  s.v2 ^= 0xee;
  for (int i = 0; i < 4; ++i) s.round();
  Key out;
  out.lo = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
  s.v1 ^= 0xdd;
  for (int i = 0; i < 4; ++i) s.round();
  out.hi = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
  return out;
}

Seed randomSeed() {
  Seed seed;
  uint64_t words[2] = {0, 0};
  size_t got = 0;
  auto* bytes = reinterpret_cast<uint8_t*>(words);
  while (got < sizeof(words)) {
    ssize_t n = getrandom(bytes + got, sizeof(words) - got, 0);
    if (n <= 0) continue;  // EINTR; getrandom does not fail otherwise once seeded
    got += static_cast<size_t>(n);
  }
  seed.k0 = words[0];
  seed.k1 = words[1];
  return seed;
}

uint64_t KeyDeriver::namespaceId(std::string_view name) const {
  return sipHash64(seed_.k0 ^ 0x6e616d6573706163ULL, seed_.k1, name.data(), name.size());
}

Key KeyDeriver::derive(uint64_t space, uint8_t kind, uint8_t bits, const uint8_t* data,
                       size_t size) const {
  // Input: namespace (8) | kind (1) | prefix bits (1) | data. The fixed
  // header keeps kinds and namespaces apart without separators.
  uint8_t small[64];
  if (size <= sizeof(small) - 10) {
    std::memcpy(small, &space, 8);
    small[8] = kind;
    small[9] = bits;
    std::memcpy(small + 10, data, size);
    Key key = sipHash128(seed_.k0, seed_.k1, small, size + 10);
    if (key.empty()) key.lo = 1;
    return key;
  }
  // Long strings: hash the header into the seed, then the bytes in place.
  uint8_t header[10];
  std::memcpy(header, &space, 8);
  header[8] = kind;
  header[9] = bits;
  Key inner = sipHash128(seed_.k0, seed_.k1, header, sizeof(header));
  Key key = sipHash128(inner.lo, inner.hi, data, size);
  if (key.empty()) key.lo = 1;
  return key;
}

Key KeyDeriver::address(uint64_t space, const net::SocketAddress& address) const {
  uint8_t bytes[16];
  uint8_t family = canonicalBytes(address, bytes);
  return derive(space, kKindAddress, family, bytes, familySize(family));
}

Key KeyDeriver::prefix(uint64_t space, const net::SocketAddress& address,
                       PrefixLengths lengths) const {
  uint8_t bytes[16];
  uint8_t family = canonicalBytes(address, bytes);
  const size_t size = familySize(family);
  const int bits =
      std::clamp(family == kFamilyV4 ? lengths.v4 : lengths.v6, 0, static_cast<int>(size * 8));
  maskTo(bytes, size, bits);
  // The family and the length go into the kind byte pair, so 10.0.0.0/8 and
  // 10.0.0.0/16 (or a v4 and a v6 prefix with equal bytes) never meet.
  return derive(space, static_cast<uint8_t>(kKindPrefix | (family << 4)),
                static_cast<uint8_t>(bits), bytes, size);
}

Key KeyDeriver::string(uint64_t space, std::string_view value) const {
  return derive(space, kKindString, 0, reinterpret_cast<const uint8_t*>(value.data()),
                value.size());
}

}  // namespace rampart::shield
