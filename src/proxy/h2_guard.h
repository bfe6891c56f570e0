// Per-connection counters that cut an HTTP/2 client off when it sends
// cheap-to-send, costly-to-serve frames faster than any real client does
// (docs/http2.md): RST_STREAM (rapid reset, CVE-2023-44487), SETTINGS, PING
// and empty DATA frames. Pure: the caller passes the time; no I/O.
#pragma once

#include <cstdint>

namespace rampart::proxy {

struct H2FloodLimits {
  int64_t window_ms = 1000;       // counters restart every window
  uint32_t max_resets = 100;      // RST_STREAM received per window
  uint32_t max_settings = 20;     // SETTINGS (not ACKs) per window
  uint32_t max_pings = 50;        // PING (not ACKs) per window
  uint32_t max_empty_data = 100;  // DATA without payload or END_STREAM per window
};

class H2FloodGuard {
 public:
  enum class Frame : uint8_t { kReset, kSettings, kPing, kEmptyData };
  // What the connection does after the frame: go on, or GOAWAY
  // ENHANCE_YOUR_CALM for the named cause.
  enum class Verdict : uint8_t { kAllow, kRapidReset, kControlFlood };

  explicit H2FloodGuard(const H2FloodLimits& limits = {}) : limits_(limits) {}

  Verdict note(Frame frame, int64_t now_ms);

 private:
  H2FloodLimits limits_;
  int64_t window_start_ = 0;
  bool started_ = false;
  uint32_t resets_ = 0;
  uint32_t settings_ = 0;
  uint32_t pings_ = 0;
  uint32_t empty_data_ = 0;
};

}  // namespace rampart::proxy
