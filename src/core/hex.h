// Lowercase hexadecimal for the random identifiers made per request (the
// request id, trace and span ids): all sixteen digits of a 64-bit value in
// a few word operations instead of a table lookup per digit.
#pragma once

#include <cstdint>
#include <cstring>

namespace rampart::core {

namespace detail {

// The eight nibbles of `v` as the eight ASCII digits of one word, the
// least significant nibble in the lowest byte.
inline uint64_t hexDigits8(uint32_t v) {
  uint64_t x = v;
  x = (x | x << 16) & 0x0000FFFF0000FFFFULL;
  x = (x | x << 8) & 0x00FF00FF00FF00FFULL;
  x = (x | x << 4) & 0x0F0F0F0F0F0F0F0FULL;  // one nibble per byte
  // 1 in each byte holding 10-15 (adding 6 carries into bit 4, never out of the byte).
  const uint64_t letter = ((x + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
  return x + 0x3030303030303030ULL + letter * ('a' - '0' - 10);
}

}  // namespace detail

// Writes the 16 hex digits of `value`, most significant first, to out[0..15].
inline void hex64(uint64_t value, char* out) {
  // Byte-swapped so the most significant nibble lands first in memory.
  const uint64_t high = __builtin_bswap64(detail::hexDigits8(static_cast<uint32_t>(value >> 32)));
  const uint64_t low = __builtin_bswap64(detail::hexDigits8(static_cast<uint32_t>(value)));
  std::memcpy(out, &high, 8);
  std::memcpy(out + 8, &low, 8);
}

}  // namespace rampart::core
