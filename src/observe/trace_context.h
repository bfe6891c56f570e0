// W3C Trace Context (https://www.w3.org/TR/trace-context/): the pure parts.
// A valid incoming `traceparent` keeps its trace id and flags and gets
// Rampart's span id as the new parent id; anything else starts a new trace.
// `tracestate` crosses only with a valid traceparent and within a bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rampart::observe {

struct TraceParent {
  char trace_id[32] = {};  // lowercase hex, not all zero
  char parent_id[16] = {};
  uint8_t flags = 0;
};

enum class TraceParse : uint8_t {
  kValid,
  kWrongLength,   // version 00 is exactly 55 characters; later versions at least 55
  kBadSeparator,  // '-' expected at 2, 35 and 52 (and after 55 in a later version)
  kBadHex,        // not lowercase hex (uppercase included)
  kBadVersion,    // "ff" is forbidden
  kZeroTraceId,   // all zeros
  kZeroParentId,  // all zeros
};

// Parses one traceparent value; `out` is filled only when kValid. A later
// version (01..fe) is read as far as version 00's fields go, as the spec asks.
TraceParse parseTraceParent(std::string_view value, TraceParent* out);

// The traceparent Rampart sends: version 00, the trace id, `span_id` as the
// parent id, the flags. Writes exactly kTraceParentLength bytes.
inline constexpr size_t kTraceParentLength = 55;
void formatTraceParent(const char (&trace_id)[32], const char (&span_id)[16], uint8_t flags,
                       char* out);

// Lowercase hex of two 64-bit draws (a new trace id) or one (a span id);
// an all-zero draw (2^-64) is nudged to 1 so the id stays valid.
void randomTraceId(uint64_t a, uint64_t b, char (&out)[32]);
void randomSpanId(uint64_t a, char (&out)[16]);

// The longest tracestate passed upstream; a longer one is dropped whole
// (cutting it could split a vendor's entry). 512 is what the spec asks
// every vendor to propagate.
inline constexpr size_t kMaxTraceState = 512;

}  // namespace rampart::observe
