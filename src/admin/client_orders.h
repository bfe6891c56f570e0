// The bodies of the admin API's client actions, parsed: POST /clients/block
// {"address": "203.0.113.7" or "203.0.113.0/24", "duration": "10m" or 600}
// and POST /clients/unblock {"address": ...}. Pure functions, no I/O; the
// admin thread calls them on a body of at most 4 KiB.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/address.h"

namespace rampart::admin {

inline constexpr int64_t kDefaultBlockSeconds = 3600;
inline constexpr int64_t kMaxBlockSeconds = 7 * 24 * 3600;

struct BlockOrder {
  net::Cidr range;
  std::string text;  // range.toString(): "203.0.113.7/32"
  int64_t seconds = kDefaultBlockSeconds;
};

struct UnblockOrder {
  net::Cidr range;
  std::string text;
};

// "90" (seconds), "90s", "15m", "2h", "1d": whole seconds in 1..kMaxBlockSeconds,
// or nullopt.
std::optional<int64_t> parseBlockDuration(std::string_view text);

// nullopt with a one-line reason in `error` (for a 400 problem).
std::optional<BlockOrder> parseBlockOrder(std::string_view body, std::string* error);
std::optional<UnblockOrder> parseUnblockOrder(std::string_view body, std::string* error);

}  // namespace rampart::admin
