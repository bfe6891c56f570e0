#include "observe/access_log.h"

#include <array>
#include <charconv>
#include <cstring>
#include <ctime>

namespace rampart::observe {

namespace {

constexpr std::array<std::string_view, static_cast<size_t>(AccessField::kCount)> kNames = {
    "time",    "request_id", "client",    "method",     "path",        "route",
    "status",  "bytes_in",   "bytes_out", "rampart_us", "upstream_us", "principal",
    "account", "decision",   "cause",     "trace_id",
};

// Escaped bytes each string field may take. Their sum, the keys and the
// numbers stay under kMaxAccessLine (checked by a unit test with every
// field at its worst).
constexpr size_t kPathBudget = 1536;
constexpr size_t kLongBudget = 512;   // principal
constexpr size_t kMidBudget = 256;    // route, account
constexpr size_t kShortBudget = 128;  // request id, client, method, decision, cause, trace id

// A bounded writer over a caller's buffer; it never writes past `end`
// (formatAccessLine sizes its budgets so that it never has to refuse).
struct Out {
  char* at;
  char* end;
  void put(char c) {
    if (at < end) *at++ = c;
  }
  void put(std::string_view s) {
    size_t n = std::min<size_t>(s.size(), static_cast<size_t>(end - at));
    std::memcpy(at, s.data(), n);
    at += n;
  }
  void number(uint64_t value) {
    char digits[24];
    auto [ptr, ec] = std::to_chars(digits, digits + sizeof(digits), value);
    put(std::string_view(digits, static_cast<size_t>(ptr - digits)));
  }
};

// The escaped form of one byte into `buf`; returns its length (1, 2 or 6).
size_t escapeByte(unsigned char byte, char* buf) {
  static const char kHex[] = "0123456789abcdef";
  if (byte == '"' || byte == '\\') {
    buf[0] = '\\';
    buf[1] = static_cast<char>(byte);
    return 2;
  }
  if (byte < 0x20 || byte >= 0x7f) {
    std::memcpy(buf, "\\u00", 4);
    buf[4] = kHex[byte >> 4];
    buf[5] = kHex[byte & 0xF];
    return 6;
  }
  buf[0] = static_cast<char>(byte);
  return 1;
}

// "value" escaped, cut to `budget` bytes of escaped text; a cut value ends
// in "..." so a reader knows it is not whole.
void putString(Out& out, std::string_view value, size_t budget) {
  out.put('"');
  size_t used = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    char buf[6];
    size_t n = escapeByte(static_cast<unsigned char>(value[i]), buf);
    if (used + n > budget - 3) {
      out.put("...");
      break;
    }
    out.put(std::string_view(buf, n));
    used += n;
  }
  out.put('"');
}

// RFC 3339 in UTC with milliseconds: 2026-12-02T03:44:11.123Z.
void putTime(Out& out, int64_t unix_millis) {
  time_t seconds = static_cast<time_t>(unix_millis / 1000);
  tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  int n = std::snprintf(text, sizeof(text), "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
                        parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour,
                        parts.tm_min, parts.tm_sec, static_cast<int>(unix_millis % 1000));
  out.put(std::string_view(text, static_cast<size_t>(n)));
}

}  // namespace

std::string_view accessFieldName(AccessField field) {
  return kNames[static_cast<size_t>(field)];
}

std::optional<AccessField> accessFieldByName(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<AccessField>(i);
  }
  return std::nullopt;
}

size_t formatAccessLine(const AccessRecord& r, uint32_t fields, char* buffer) {
  Out out{buffer, buffer + kMaxAccessLine - 1};  // room kept for the newline
  out.put('{');
  bool first = true;
  for (size_t i = 0; i < kNames.size(); ++i) {
    auto field = static_cast<AccessField>(i);
    if ((fields & accessFieldBit(field)) == 0) continue;
    if (!first) out.put(',');
    first = false;
    out.put('"');
    out.put(kNames[i]);
    out.put("\":");
    switch (field) {
      case AccessField::kTime:
        putTime(out, r.unix_millis);
        break;
      case AccessField::kRequestId:
        putString(out, r.request_id, kShortBudget);
        break;
      case AccessField::kClient:
        putString(out, r.client, kShortBudget);
        break;
      case AccessField::kMethod:
        putString(out, r.method, kShortBudget);
        break;
      case AccessField::kPath:
        putString(out, r.path, kPathBudget);
        break;
      case AccessField::kRoute:
        putString(out, r.route, kMidBudget);
        break;
      case AccessField::kStatus:
        out.number(r.status);
        break;
      case AccessField::kBytesIn:
        out.number(r.bytes_in);
        break;
      case AccessField::kBytesOut:
        out.number(r.bytes_out);
        break;
      case AccessField::kRampartUs:
        out.number(r.rampart_us);
        break;
      case AccessField::kUpstreamUs:
        out.number(r.upstream_us);
        break;
      case AccessField::kPrincipal:
        putString(out, r.principal, kLongBudget);
        break;
      case AccessField::kAccount:
        putString(out, r.account, kMidBudget);
        break;
      case AccessField::kDecision:
        putString(out, r.decision, kShortBudget);
        break;
      case AccessField::kCause:
        putString(out, r.cause, kShortBudget);
        break;
      case AccessField::kTraceId:
        putString(out, r.trace_id, kShortBudget);
        break;
      case AccessField::kCount:
        break;
    }
  }
  out.put('}');
  *out.at++ = '\n';
  return static_cast<size_t>(out.at - buffer);
}

bool shouldLogAccess(const AccessRecord& record, double sample_success, uint64_t random) {
  if (record.status == 0 || record.status >= 400 || !record.cause.empty()) return true;
  if (sample_success >= 1.0) return true;
  if (sample_success <= 0.0) return false;
  // 2^64 * share, compared against a uniform 64-bit draw.
  auto threshold = static_cast<uint64_t>(sample_success * 18446744073709551616.0);
  return random < threshold;
}

AccessRing::AccessRing(size_t slots)
    : capacity_(slots == 0 ? 1 : slots), slots_(new Slot[capacity_]) {}

char* AccessRing::reserve() {
  const uint64_t head = head_.load(std::memory_order_relaxed);
  if (head - tail_.load(std::memory_order_acquire) >= capacity_) return nullptr;
  return slots_[head % capacity_].bytes;
}

void AccessRing::publish(size_t length) {
  const uint64_t head = head_.load(std::memory_order_relaxed);
  slots_[head % capacity_].length = static_cast<uint32_t>(length);
  head_.store(head + 1, std::memory_order_release);
}

}  // namespace rampart::observe
