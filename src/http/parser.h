// Strict HTTP/1.1 parsing (RFC 9110/9112) of request heads, response heads and
// chunked bodies. Pure functions over byte spans: no sockets, no allocation
// beyond the caller's reserved header vector. Anything ambiguous is an error,
// never a guess: the session answers 400 and closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/message.h"

namespace rampart::http {

// Why a message was refused. Every value has a test in tests/unit/http.
enum class ParseError : uint8_t {
  kNone,
  kBadRequestLine,         // not exactly "METHOD SP target SP HTTP/x.y"
  kBadMethod,              // method is not a token
  kBadVersion,             // not HTTP/1.0 or HTTP/1.1
  kTargetTooLong,          // over Limits::max_target_bytes (414)
  kHeadTooLarge,           // over Limits::max_head_bytes (431)
  kTooManyHeaders,         // over Limits::max_headers (431)
  kBadHeaderName,          // empty or non-token field name
  kWhitespaceBeforeColon,  // "Name : value"
  kObsFold,                // a line starting with SP/HTAB (obsolete folding)
  kBadHeaderValue,         // NUL or other control character in a value
  kBareCR,                 // CR not followed by LF
  kBareLF,                 // LF not preceded by CR
  kContentLengthAndTransferEncoding,
  kBadContentLength,          // not a plain decimal, or overflows
  kConflictingContentLength,  // several values that differ
  kBadTransferEncoding,       // anything but exactly one "chunked" (incl. a second TE header)
  kMissingHost,               // HTTP/1.1 without Host
  kDuplicateHost,             // two Host headers
  kBadHost,                   // Host with characters no authority can have
  kBadStatusLine,             // response: not "HTTP/x.y SP 3DIGIT SP reason"
  kBadChunkSize,              // not hex, empty, or overflows
  kBadChunkFraming,           // missing CRLF after chunk data, bad extension, bad trailer
};

// Human-readable reason, safe to show to clients ("conflicting Content-Length").
const char* describe(ParseError error);
// The status a server answers for this error: 400, or 414/431 for size limits.
uint16_t statusFor(ParseError error);

struct ParseOutcome {
  enum class State : uint8_t { kDone, kNeedMore, kError };
  State state = State::kNeedMore;
  size_t consumed = 0;  // bytes of the head including the final CRLFCRLF (kDone only)
  ParseError error = ParseError::kNone;
};

// Parses a request head at the start of `input`. kNeedMore while the head is
// incomplete and still within limits; the caller reads more and calls again
// with the whole buffer (parsing restarts; heads are small).
// `out.headers` must have capacity reserved; it is cleared first.
ParseOutcome parseRequestHead(std::string_view input, const Limits& limits, RequestHead& out);

// Parses an upstream response head. `request_method_head` and the status
// decide framing: HEAD, 1xx, 204 and 304 have no body.
ParseOutcome parseResponseHead(std::string_view input, const Limits& limits,
                               bool request_method_head, ResponseHead& out);

// A response body's framing from what its head says (RFC 9112 section 6.3,
// in its order): HEAD answers, 1xx, 204 and 304 have none whatever they say;
// then chunked, then Content-Length, else it ends with the connection. The
// parser's rule, for heads that reach HTTP/2 streams as fields.
BodyFraming responseFraming(bool request_method_head, uint16_t status, bool chunked,
                            bool has_content_length);

// Incremental validator/decoder of a chunked body (RFC 9112 section 7.1),
// including chunk extensions (validated, ignored) and trailer fields
// (validated). The proxy forwards the consumed raw bytes unchanged: every byte
// it forwards has been checked here first.
class ChunkedDecoder {
 public:
  struct Progress {
    size_t consumed = 0;  // raw bytes of `input` accepted (framing + payload)
    bool done = false;    // the last chunk and the trailer section are complete
    ParseError error = ParseError::kNone;
  };

  // Accepts as much of `input` as forms valid chunked framing. When
  // `payload_out` is not null the decoded payload bytes are appended to it.
  // After done or an error, further calls consume nothing.
  Progress feed(std::string_view input, std::string* payload_out = nullptr);

  // Starts a new body.
  void reset();

  // True once the last chunk and the trailer section are complete.
  bool finished() const { return state_ == State::kDone; }

  // Total decoded payload bytes so far.
  uint64_t payloadBytes() const { return payload_bytes_; }

  // The trailer section: true from just after the last chunk's line until
  // the body is complete; trailerBytes() is how many raw bytes of it were
  // consumed so far (field lines and, once finished, the final CRLF).
  bool inTrailerSection() const {
    return state_ >= State::kTrailerLineStart && state_ < State::kDone;
  }
  uint32_t trailerBytes() const {
    return state_ >= State::kTrailerLineStart && state_ != State::kError ? line_bytes_ : 0;
  }

 private:
  enum class State : uint8_t {
    kSize,
    kExtension,
    kSizeLF,
    kData,
    kDataCR,
    kDataLF,
    kTrailerLineStart,
    kTrailerLine,
    kTrailerLF,
    kFinalLF,
    kDone,
    kError
  };
  State state_ = State::kSize;
  uint64_t chunk_remaining_ = 0;
  uint64_t payload_bytes_ = 0;
  uint32_t size_digits_ = 0;
  uint32_t line_bytes_ = 0;  // bounds the chunk-size line and the trailer section
  uint8_t sub_state_ = 0;    // position inside a chunk extension or a trailer field line
  ParseError error_ = ParseError::kNone;
};

}  // namespace rampart::http
