// Redis Cluster key slots: CRC16 (XMODEM) of the key, or of its hash tag
// (the text between the first '{' and the next '}' when not empty), mod 16384.
// Pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace rampart::store {

inline constexpr uint32_t kClusterSlots = 16384;

uint16_t crc16(std::string_view data);
uint32_t keySlot(std::string_view key);

}  // namespace rampart::store
