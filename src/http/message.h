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
  std::vector<Header> headers;  // capacity reserved once per connection

  // Facts derived while parsing, so no later phase rescans the headers.
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  std::string_view host;          // the single Host value ("" only for HTTP/1.0 without Host)
  bool keep_alive = true;         // from version and Connection tokens
  bool expect_continue = false;   // Expect: 100-continue
  bool has_upgrade = false;       // an Upgrade header was present

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

// ASCII case-insensitive comparison for header names and tokens.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

}  // namespace rampart::http
