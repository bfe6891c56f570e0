#include "observe/trace_context.h"

#include "core/hex.h"

namespace rampart::observe {

namespace {

bool isLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool allLowerHex(std::string_view s) {
  for (char c : s) {
    if (!isLowerHex(c)) return false;
  }
  return true;
}

bool allZero(std::string_view s) {
  return s.find_first_not_of('0') == std::string_view::npos;
}

uint8_t hexValue(char c) {
  return static_cast<uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10);
}

}  // namespace

TraceParse parseTraceParent(std::string_view value, TraceParent* out) {
  if (value.size() < kTraceParentLength) return TraceParse::kWrongLength;
  std::string_view version = value.substr(0, 2);
  if (!allLowerHex(version)) return TraceParse::kBadHex;
  if (version == "ff") return TraceParse::kBadVersion;
  if (version == "00" && value.size() != kTraceParentLength) return TraceParse::kWrongLength;
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return TraceParse::kBadSeparator;
  // A later version may append fields, always after a '-'.
  if (value.size() > kTraceParentLength && value[kTraceParentLength] != '-') {
    return TraceParse::kBadSeparator;
  }
  std::string_view trace_id = value.substr(3, 32);
  std::string_view parent_id = value.substr(36, 16);
  std::string_view flags = value.substr(53, 2);
  if (!allLowerHex(trace_id) || !allLowerHex(parent_id) || !allLowerHex(flags)) {
    return TraceParse::kBadHex;
  }
  if (allZero(trace_id)) return TraceParse::kZeroTraceId;
  if (allZero(parent_id)) return TraceParse::kZeroParentId;
  trace_id.copy(out->trace_id, 32);
  parent_id.copy(out->parent_id, 16);
  out->flags = static_cast<uint8_t>(hexValue(flags[0]) << 4 | hexValue(flags[1]));
  return TraceParse::kValid;
}

void formatTraceParent(const char (&trace_id)[32], const char (&span_id)[16], uint8_t flags,
                       char* out) {
  static const char kHex[] = "0123456789abcdef";
  out[0] = '0';
  out[1] = '0';
  out[2] = '-';
  for (size_t i = 0; i < 32; ++i) out[3 + i] = trace_id[i];
  out[35] = '-';
  for (size_t i = 0; i < 16; ++i) out[36 + i] = span_id[i];
  out[52] = '-';
  out[53] = kHex[flags >> 4];
  out[54] = kHex[flags & 0xF];
}

void randomTraceId(uint64_t a, uint64_t b, char (&out)[32]) {
  if (a == 0 && b == 0) b = 1;
  core::hex64(a, out);
  core::hex64(b, out + 16);
}

void randomSpanId(uint64_t a, char (&out)[16]) {
  core::hex64(a == 0 ? 1 : a, out);
}

}  // namespace rampart::observe
