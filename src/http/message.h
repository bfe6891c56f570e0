// HTTP/1.x message heads as views into the connection's read buffer.
// Owned by one connection on one worker; valid until that buffer is compacted
// (the session copies what it needs before reading more).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace rampart::http {

struct Header {
  std::string_view name;
  std::string_view value;  // leading and trailing whitespace already trimmed
};

enum class Version : uint8_t { kHttp10, kHttp11 };

// How the body of a message is delimited (RFC 9112 section 6.3).
enum class BodyFraming : uint8_t {
  kNone,           // no body at all
  kContentLength,  // exactly content_length bytes
  kChunked,        // Transfer-Encoding: chunked
  kUntilClose,     // responses only: body runs until the upstream closes
};

// Size limits of a message head; defaults are the documented config defaults.
struct Limits {
  uint32_t max_head_bytes = 64 * 1024;   // request line/status line + all headers
  uint32_t max_headers = 100;            // header fields
  uint32_t max_target_bytes = 8 * 1024;  // request target
};

struct RequestHead {
  std::string_view method;
  std::string_view target;  // raw, as sent; canonicalized later by canonical.h
  Version version = Version::kHttp11;
  std::vector<Header> headers;  // grown by the first heads of a connection, then reused

  // Facts derived while parsing, so no later phase rescans the headers.
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  std::string_view host;         // the single Host value ("" only for HTTP/1.0 without Host)
  bool keep_alive = true;        // from version and Connection tokens
  bool expect_continue = false;  // Expect: 100-continue
  bool has_upgrade = false;      // an Upgrade header was present

  void clear() {
    method = {};
    target = {};
    version = Version::kHttp11;
    headers.clear();
    framing = BodyFraming::kNone;
    content_length = 0;
    host = {};
    keep_alive = true;
    expect_continue = false;
    has_upgrade = false;
  }
};

struct ResponseHead {
  uint16_t status = 0;
  std::string_view reason;
  Version version = Version::kHttp11;
  std::vector<Header> headers;

  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  bool keep_alive = true;  // the upstream may reuse the connection after this response

  void clear() {
    status = 0;
    reason = {};
    version = Version::kHttp11;
    headers.clear();
    framing = BodyFraming::kNone;
    content_length = 0;
    keep_alive = true;
  }
};

namespace detail {

// Eight bytes at a time, ASCII 'A'-'Z' lowered and every other byte kept
// (bytes >= 0x80 included): the per-byte tests are done on all eight lanes
// with additions that cannot carry across lanes (each lane is < 0x80 first).
inline uint64_t lowerAscii8(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  uint64_t low7 = x & ~kHigh;
  uint64_t at_least_a = low7 + kOnes * (0x80 - 'A');   // high bit: lane >= 'A'
  uint64_t above_z = low7 + kOnes * (0x80 - 'Z' - 1);  // high bit: lane > 'Z'
  uint64_t upper = (at_least_a & ~above_z) & ~x & kHigh;
  return x | (upper >> 2);  // 0x80 >> 2 = 0x20: the lowercase bit
}

inline uint64_t load8(const char* p) {
  uint64_t v;
  __builtin_memcpy(&v, p, 8);
  return v;
}

inline uint64_t load4(const char* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

}  // namespace detail

// Lowers ASCII 'A'-'Z' in place, eight bytes per step (an HTTP/2 field
// name, RFC 9113 8.2.1). The last 1-7 bytes are done as the last eight,
// overlapping: lowering twice changes nothing.
inline void lowercaseInPlace(char* text, size_t n) {
  if (n < 8) {
    for (size_t i = 0; i < n; ++i) {
      if (text[i] >= 'A' && text[i] <= 'Z') text[i] = static_cast<char>(text[i] + ('a' - 'A'));
    }
    return;
  }
  auto lower = [text](size_t at) {
    uint64_t v = detail::lowerAscii8(detail::load8(text + at));
    __builtin_memcpy(text + at, &v, 8);
  };
  for (size_t i = 0; i + 8 <= n; i += 8) lower(i);
  if (n % 8 != 0) lower(n - 8);
}

// ASCII case-insensitive comparison for header names and tokens. Called for
// most headers of every request (hop-by-hop, identity, credential lookups),
// so it compares eight bytes per step rather than one.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  const size_t n = a.size();
  if (n >= 8) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      if (detail::lowerAscii8(detail::load8(x + i)) != detail::lowerAscii8(detail::load8(y + i))) {
        return false;
      }
    }
    // The last 1-7 bytes as the last eight, overlapping what was compared:
    // fixed-size loads, no variable-length copy.
    return i == n || detail::lowerAscii8(detail::load8(x + n - 8)) ==
                         detail::lowerAscii8(detail::load8(y + n - 8));
  }
  if (n >= 4) {  // the first four and the last four, overlapping
    return detail::lowerAscii8(detail::load4(x) | detail::load4(x + n - 4) << 32) ==
           detail::lowerAscii8(detail::load4(y) | detail::load4(y + n - 4) << 32);
  }
  for (size_t i = 0; i < n; ++i) {
    if (detail::lowerAscii8(static_cast<uint8_t>(x[i])) !=
        detail::lowerAscii8(static_cast<uint8_t>(y[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace rampart::http
