#include "core/hex.h"

#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <random>
#include <string>

namespace rampart::core {
namespace {

std::string viaPrintf(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016" PRIx64, value);
  return text;
}

std::string viaHex64(uint64_t value) {
  char out[16];
  hex64(value, out);
  return std::string(out, 16);
}

TEST(Hex64Test, EdgeValuesMatchPrintf) {
  for (uint64_t value :
       {uint64_t{0}, uint64_t{1}, uint64_t{9}, uint64_t{10}, uint64_t{15}, uint64_t{16},
        uint64_t{0x0123456789abcdefULL}, uint64_t{0xfedcba9876543210ULL},
        uint64_t{0xa0a0a0a09f9f9f9fULL}, UINT64_MAX}) {
    EXPECT_EQ(viaHex64(value), viaPrintf(value));
  }
}

TEST(Hex64Test, EveryNibbleInEveryPositionMatchesPrintf) {
  for (int position = 0; position < 16; ++position) {
    for (uint64_t nibble = 0; nibble < 16; ++nibble) {
      const uint64_t value = nibble << (4 * position);
      ASSERT_EQ(viaHex64(value), viaPrintf(value)) << position << " " << nibble;
    }
  }
}

TEST(Hex64Test, RandomValuesMatchPrintf) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t value = rng();
    ASSERT_EQ(viaHex64(value), viaPrintf(value));
  }
}

}  // namespace
}  // namespace rampart::core
