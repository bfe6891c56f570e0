#include "http/parser.h"

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rampart::http {

namespace {

// Byte classes of RFC 9110/9112/3986. One table keeps each hot loop to one
// load and one test per byte.
enum : uint8_t {
  kTchar = 1 << 0,       // token characters
  kFieldChar = 1 << 1,   // field-vchar, SP, HTAB, obs-text: legal inside a field value
  kTargetChar = 1 << 2,  // anything but SP and controls: canonical.h checks the rest
  kHexChar = 1 << 3,
  kHostChar = 1 << 4,  // unreserved, sub-delims and '%': a reg-name or IP-literal byte
  kDigitChar = 1 << 5,
};

constexpr std::array<uint8_t, 256> makeClasses() {
  std::array<uint8_t, 256> table{};
  for (int c = 0x21; c < 0x7F; ++c) table[c] |= kFieldChar | kTargetChar;
  for (int c = 0x80; c < 0x100; ++c) table[c] |= kFieldChar | kTargetChar;
  table[' '] |= kFieldChar;
  table['\t'] |= kFieldChar;
  for (int c = '0'; c <= '9'; ++c) table[c] |= kTchar | kHexChar | kHostChar | kDigitChar;
  for (int c = 'a'; c <= 'z'; ++c) table[c] |= kTchar | kHostChar;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] |= kTchar | kHostChar;
  for (int c = 'a'; c <= 'f'; ++c) table[c] |= kHexChar;
  for (int c = 'A'; c <= 'F'; ++c) table[c] |= kHexChar;
  for (char c : {'!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~'}) {
    table[static_cast<uint8_t>(c)] |= kTchar;
  }
  for (char c : {'-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', '%'}) {
    table[static_cast<uint8_t>(c)] |= kHostChar;
  }
  return table;
}

constexpr std::array<uint8_t, 256> kClasses = makeClasses();

inline bool hasClass(char c, uint8_t cls) {
  return (kClasses[static_cast<uint8_t>(c)] & cls) != 0;
}
inline bool isWhitespace(char c) {
  return c == ' ' || c == '\t';
}

// Values and targets are most of a head's bytes, and the only question about
// each is "control character or not", so they are checked 16 at a time.
// Returns the first byte in [p, end) below `kMin` or DEL; when kMin is SP,
// HTAB passes too (field values), when it is '!', SP stops (targets).
template <char kMin>
inline const char* skipPrintable(const char* p, const char* end) {
  static_assert(kMin == ' ' || kMin == '!');
#if defined(__SSE2__)
  const __m128i low = _mm_set1_epi8(kMin);
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i tab = _mm_set1_epi8(kMin == ' ' ? '\t' : 0x7f);
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i at_least_min = _mm_cmpeq_epi8(_mm_max_epu8(v, low), v);  // unsigned v >= kMin
    __m128i ok = _mm_or_si128(at_least_min, _mm_cmpeq_epi8(v, tab));
    ok = _mm_andnot_si128(_mm_cmpeq_epi8(v, del), ok);
    unsigned bad = ~static_cast<unsigned>(_mm_movemask_epi8(ok)) & 0xFFFFu;
    if (bad != 0) return p + __builtin_ctz(bad);
    p += 16;
  }
#endif
  constexpr uint8_t kClass = kMin == ' ' ? kFieldChar : kTargetChar;
  while (p < end && hasClass(*p, kClass)) ++p;
  return p;
}

// Field names are short but there are many of them, and nearly every byte of
// one is a letter, a digit or '-'. Those are recognised 16 at a time; the
// rest of tchar ("!#$%&'*+.^_`|~") is rare and goes through the table.
// Returns the first byte in [p, end) that is not a tchar (the ':' of a
// well-formed line).
inline const char* skipTokenChars(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i case_bit = _mm_set1_epi8(0x20);
  const __m128i before_a = _mm_set1_epi8('a' - 1);
  const __m128i after_z = _mm_set1_epi8('z' + 1);
  const __m128i before_0 = _mm_set1_epi8('0' - 1);
  const __m128i after_9 = _mm_set1_epi8('9' + 1);
  const __m128i dash = _mm_set1_epi8('-');
  for (;;) {
    while (end - p >= 16) {
      // Signed compares: bytes >= 0x80 are negative and fall outside every range.
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      __m128i folded = _mm_or_si128(v, case_bit);  // 'A'-'Z' onto 'a'-'z', nothing else into it
      __m128i letter =
          _mm_and_si128(_mm_cmpgt_epi8(folded, before_a), _mm_cmpgt_epi8(after_z, folded));
      __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, before_0), _mm_cmpgt_epi8(after_9, v));
      __m128i ok = _mm_or_si128(_mm_or_si128(letter, digit), _mm_cmpeq_epi8(v, dash));
      unsigned other = ~static_cast<unsigned>(_mm_movemask_epi8(ok)) & 0xFFFFu;
      if (other != 0) {
        p += __builtin_ctz(other);
        break;
      }
      p += 16;
    }
    if (end - p < 16) break;
    if (!hasClass(*p, kTchar)) return p;
    ++p;  // a rare tchar; the fast scan goes on after it
  }
#endif
  while (p < end && hasClass(*p, kTchar)) ++p;
  return p;
}

// RFC 9112 section 7.1 leaves these bounds to us; real extensions and
// trailers are tiny, so anything near these is an attack or a bug.
constexpr uint32_t kMaxChunkSizeDigits = 16;     // 64 bits of hex
constexpr uint32_t kMaxChunkLineBytes = 4096;    // size + extensions + CRLF
constexpr uint32_t kMaxTrailerBytes = 8 * 1024;  // whole trailer section

// How far a head scan got. kMore means the bytes so far are a valid prefix.
enum class Step : uint8_t { kOk, kMore, kFail };

// A scan over the part of the input that may still belong to the head.
struct Scanner {
  const char* p;
  const char* end;
  ParseError error = ParseError::kNone;

  Step fail(ParseError e) {
    error = e;
    return Step::kFail;
  }

  // Judges a byte that ended a line element too early. CR and LF get their
  // own errors so a smuggling attempt reads as one in the logs; a CR whose
  // successor has not arrived yet waits, so the verdict never depends on how
  // the input was split.
  Step unexpected(const char* at, ParseError fallback) {
    if (*at == '\n') return fail(ParseError::kBareLF);
    if (*at == '\r') {
      if (at + 1 == end) return Step::kMore;
      if (at[1] != '\n') return fail(ParseError::kBareCR);
    }
    return fail(fallback);
  }

  // Expects CRLF at p and steps over it.
  Step lineEnd(ParseError fallback) {
    if (p == end) return Step::kMore;
    if (*p != '\r') return unexpected(p, fallback);
    if (p + 1 == end) return Step::kMore;
    if (p[1] != '\n') return fail(ParseError::kBareCR);
    p += 2;
    return Step::kOk;
  }

  // RFC 9112 section 2.2: at least one empty line before the start line may be ignored.
  Step skipLeadingEmptyLines() {
    while (p < end && (*p == '\r' || *p == '\n')) {
      Step step = lineEnd(ParseError::kBareLF);
      if (step != Step::kOk) return step;
    }
    return Step::kOk;
  }
};

// Facts gathered from the header fields, judged once the head is complete.
struct FieldFacts {
  bool is_request = true;
  Version version = Version::kHttp11;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool chunked = false;
  int host_count = 0;
  std::string_view host;
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool expect_continue = false;
  bool has_upgrade = false;
};

bool parseDecimal(std::string_view text, uint64_t& value) {
  if (text.empty()) return false;
  uint64_t result = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (result > (UINT64_MAX - digit) / 10) return false;
    result = result * 10 + digit;
  }
  value = result;
  return true;
}

// uri-host [ ":" port ] (RFC 9110 section 7.2): a reg-name with valid
// percent-escapes, or an IP-literal in brackets, then an optional port.
bool isValidHost(std::string_view host) {
  size_t i = 0;
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (i = 1; i < close; ++i) {
      if (host[i] != ':' && !hasClass(host[i], kHostChar)) return false;
    }
    i = close + 1;
  } else {
    for (; i < host.size() && host[i] != ':'; ++i) {
      if (!hasClass(host[i], kHostChar)) return false;
      if (host[i] == '%') {
        if (i + 2 >= host.size() || !hasClass(host[i + 1], kHexChar) ||
            !hasClass(host[i + 2], kHexChar)) {
          return false;
        }
        i += 2;
      }
    }
    if (i == 0) return false;  // empty: no authority to route on
  }
  if (i == host.size()) return true;
  if (host[i] != ':') return false;
  for (++i; i < host.size(); ++i) {
    if (!hasClass(host[i], kDigitChar)) return false;
  }
  return true;
}

// Connection is a comma-separated list and may repeat; only two tokens matter here.
void readConnectionTokens(std::string_view value, FieldFacts& facts) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    while (!item.empty() && isWhitespace(item.front())) item.remove_prefix(1);
    while (!item.empty() && isWhitespace(item.back())) item.remove_suffix(1);
    if (equalsIgnoreCase(item, "close")) facts.connection_close = true;
    if (equalsIgnoreCase(item, "keep-alive")) facts.connection_keep_alive = true;
  }
}

// Records what one field says about framing and routing. Errors come as soon
// as a field makes the message ambiguous, before any later field is read.
Step noteField(Scanner& scan, std::string_view name, std::string_view value, FieldFacts& facts) {
  switch (name.size()) {  // the length rules out most names with one compare
    case 4:
      if (!facts.is_request || !equalsIgnoreCase(name, "host")) break;
      if (++facts.host_count > 1) return scan.fail(ParseError::kDuplicateHost);
      if (!isValidHost(value)) return scan.fail(ParseError::kBadHost);
      facts.host = value;
      break;
    case 6:
      if (equalsIgnoreCase(name, "expect") && equalsIgnoreCase(value, "100-continue")) {
        facts.expect_continue = true;
      }
      break;
    case 7:
      if (equalsIgnoreCase(name, "upgrade")) facts.has_upgrade = true;
      break;
    case 10:
      if (equalsIgnoreCase(name, "connection")) readConnectionTokens(value, facts);
      break;
    case 14: {
      if (!equalsIgnoreCase(name, "content-length")) break;
      uint64_t length = 0;
      // Strict: a list such as "5, 5" is refused even when its members agree.
      if (!parseDecimal(value, length)) return scan.fail(ParseError::kBadContentLength);
      if (facts.chunked) return scan.fail(ParseError::kContentLengthAndTransferEncoding);
      if (facts.has_content_length && facts.content_length != length) {
        return scan.fail(ParseError::kConflictingContentLength);
      }
      facts.has_content_length = true;
      facts.content_length = length;
      break;
    }
    case 17:
      if (!equalsIgnoreCase(name, "transfer-encoding")) break;
      // Exactly one "chunked" and nothing else: any other coding, a list or a
      // second field is where request smuggling lives (RFC 9112 section 6.1).
      if (facts.chunked || facts.version == Version::kHttp10 ||
          !equalsIgnoreCase(value, "chunked")) {
        return scan.fail(ParseError::kBadTransferEncoding);
      }
      if (facts.has_content_length) {
        return scan.fail(ParseError::kContentLengthAndTransferEncoding);
      }
      facts.chunked = true;
      break;
    default:
      break;
  }
  return Step::kOk;
}

// Field lines up to and including the empty line that ends the head.
Step parseFields(Scanner& scan, const Limits& limits, std::vector<Header>& headers,
                 FieldFacts& facts) {
  const char*& p = scan.p;
  const char* end = scan.end;
  for (;;) {
    if (p == end) return Step::kMore;
    char first = *p;
    if (first == '\r' || first == '\n') return scan.lineEnd(ParseError::kBareLF);
    if (isWhitespace(first)) return scan.fail(ParseError::kObsFold);

    const char* name_start = p;
    p = skipTokenChars(p, end);
    if (p == end) return Step::kMore;
    if (*p != ':' || p == name_start) {
      if (p == name_start) return scan.unexpected(p, ParseError::kBadHeaderName);
      if (!isWhitespace(*p)) return scan.unexpected(p, ParseError::kBadHeaderName);
      const char* gap = p;
      while (gap < end && isWhitespace(*gap)) ++gap;
      if (gap == end) return Step::kMore;
      return scan.fail(*gap == ':' ? ParseError::kWhitespaceBeforeColon
                                   : ParseError::kBadHeaderName);
    }
    std::string_view name(name_start, static_cast<size_t>(p - name_start));
    ++p;  // ':'

    while (p < end && isWhitespace(*p)) ++p;
    const char* value_start = p;
    p = skipPrintable<' '>(p, end);
    const char* value_end = p;
    Step step = scan.lineEnd(ParseError::kBadHeaderValue);
    if (step != Step::kOk) return step;
    while (value_end > value_start && isWhitespace(value_end[-1])) --value_end;

    if (headers.size() >= limits.max_headers) return scan.fail(ParseError::kTooManyHeaders);
    std::string_view value(value_start, static_cast<size_t>(value_end - value_start));
    headers.push_back({name, value});
    if (noteField(scan, name, value, facts) != Step::kOk) return Step::kFail;
  }
}

Step parseRequestLine(Scanner& scan, const Limits& limits, RequestHead& out) {
  const char*& p = scan.p;
  const char* end = scan.end;

  const char* method_start = p;
  while (p < end && hasClass(*p, kTchar)) ++p;
  if (p == end) return Step::kMore;
  if (*p != ' ' || p == method_start) {
    // A printable non-token byte ("GE(T") is a bad method; SP or a control breaks the line.
    if (hasClass(*p, kTargetChar)) return scan.fail(ParseError::kBadMethod);
    return scan.unexpected(p, ParseError::kBadRequestLine);
  }
  out.method = std::string_view(method_start, static_cast<size_t>(p - method_start));
  ++p;

  // The length check runs on partial input too, so an endless target earns
  // its 414 without waiting for the head limit.
  const char* target_start = p;
  size_t room = static_cast<size_t>(end - p);
  const char* scan_end = p + std::min<size_t>(room, size_t{limits.max_target_bytes} + 1);
  p = skipPrintable<'!'>(p, scan_end);
  if (static_cast<size_t>(p - target_start) > limits.max_target_bytes) {
    return scan.fail(ParseError::kTargetTooLong);
  }
  if (p == end) return Step::kMore;
  if (*p != ' ' || p == target_start) return scan.unexpected(p, ParseError::kBadRequestLine);
  out.target = std::string_view(target_start, static_cast<size_t>(p - target_start));
  ++p;

  // Nearly every request line ends "HTTP/1.1" CRLF: checked in one compare.
  if (end - p >= 10 && std::memcmp(p, "HTTP/1.", 7) == 0 && (p[7] == '1' || p[7] == '0') &&
      p[8] == '\r') {
    out.version = p[7] == '1' ? Version::kHttp11 : Version::kHttp10;
    p += 8;
    return scan.lineEnd(ParseError::kBadRequestLine);
  }
  // Otherwise the version is judged once its terminator is in: "GET /a b
  // HTTP/1.1" is then a broken line, not a bad version, whatever the split
  // of the input.
  const char* version_start = p;
  while (p < end && p - version_start <= 8 && hasClass(*p, kTargetChar)) ++p;
  std::string_view version(version_start, static_cast<size_t>(p - version_start));
  if (version.size() > 8) return scan.fail(ParseError::kBadVersion);
  if (p == end) return Step::kMore;
  if (*p == ' ' || version.empty()) return scan.unexpected(p, ParseError::kBadRequestLine);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return scan.fail(*p == '\n' ? ParseError::kBareLF : ParseError::kBadVersion);
  }
  out.version = version[7] == '1' ? Version::kHttp11 : Version::kHttp10;
  return scan.lineEnd(ParseError::kBadRequestLine);
}

// "HTTP/1.x SP 3DIGIT [SP reason] CRLF": servers that omit the reason also
// omit its SP, so "HTTP/1.1 200\r\n" is accepted.
constexpr char kStatusPattern[] = "HTTP/1.v ddd";  // v: version digit, d: status digit

// "HTTP/1.v ddd" byte by byte: partial input waits, a wrong byte fails.
Step walkStatusStart(Scanner& scan, Version& version, uint16_t& status) {
  const char*& p = scan.p;
  for (size_t i = 0; i + 1 < sizeof(kStatusPattern); ++i, ++p) {
    if (p == scan.end) return Step::kMore;
    char want = kStatusPattern[i];
    char c = *p;
    bool ok = want == 'v'   ? (c == '0' || c == '1')
              : want == 'd' ? hasClass(c, kDigitChar)
                            : c == want;
    if (!ok) return scan.unexpected(p, ParseError::kBadStatusLine);
    if (want == 'v') version = c == '1' ? Version::kHttp11 : Version::kHttp10;
    if (want == 'd') status = static_cast<uint16_t>(status * 10 + (c - '0'));
  }
  return Step::kOk;
}

// The status line as nearly every origin writes it, whole in the input,
// checked without the byte-by-byte pattern walk. False: take the slow walk,
// which also names what is wrong.
bool takeCommonStatusStart(const char*& p, const char* end, Version& version, uint16_t& status) {
  if (end - p < static_cast<std::ptrdiff_t>(sizeof(kStatusPattern) - 1)) return false;
  if (std::memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ') {
    return false;
  }
  if (!hasClass(p[9], kDigitChar) || !hasClass(p[10], kDigitChar) || !hasClass(p[11], kDigitChar)) {
    return false;
  }
  version = p[7] == '1' ? Version::kHttp11 : Version::kHttp10;
  status = static_cast<uint16_t>((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
  p += sizeof(kStatusPattern) - 1;
  return true;
}

Step parseStatusLine(Scanner& scan, ResponseHead& out) {
  const char*& p = scan.p;
  const char* end = scan.end;
  uint16_t status = 0;
  if (!takeCommonStatusStart(p, end, out.version, status)) {
    if (Step step = walkStatusStart(scan, out.version, status); step != Step::kOk) return step;
  }
  if (status < 100 || status > 599) return scan.fail(ParseError::kBadStatusLine);
  out.status = status;
  if (p == end) return Step::kMore;
  if (*p == ' ') {
    const char* reason_start = ++p;
    while (p < end && hasClass(*p, kFieldChar)) ++p;
    out.reason = std::string_view(reason_start, static_cast<size_t>(p - reason_start));
  }
  return scan.lineEnd(ParseError::kBadStatusLine);
}

// Runs `parse` over at most max_head_bytes and turns its Step into an outcome.
// A head still incomplete when the input is past the limit will never fit.
template <typename Parse>
ParseOutcome runHead(std::string_view input, const Limits& limits, Parse&& parse) {
  size_t window = std::min<size_t>(input.size(), limits.max_head_bytes);
  Scanner scan{input.data(), input.data() + window};
  ParseOutcome outcome;
  switch (parse(scan)) {
    case Step::kOk:
      outcome.state = ParseOutcome::State::kDone;
      outcome.consumed = static_cast<size_t>(scan.p - input.data());
      break;
    case Step::kMore:
      if (input.size() > limits.max_head_bytes) {
        outcome.state = ParseOutcome::State::kError;
        outcome.error = ParseError::kHeadTooLarge;
      }
      break;
    case Step::kFail:
      outcome.state = ParseOutcome::State::kError;
      outcome.error = scan.error;
      break;
  }
  return outcome;
}

}  // namespace

const char* describe(ParseError error) {
  switch (error) {
    case ParseError::kNone:
      return "no error";
    case ParseError::kBadRequestLine:
      return "malformed request line";
    case ParseError::kBadMethod:
      return "invalid method";
    case ParseError::kBadVersion:
      return "unsupported http version";
    case ParseError::kTargetTooLong:
      return "request target too long";
    case ParseError::kHeadTooLarge:
      return "request head too large";
    case ParseError::kTooManyHeaders:
      return "too many header fields";
    case ParseError::kBadHeaderName:
      return "invalid header field name";
    case ParseError::kWhitespaceBeforeColon:
      return "whitespace before colon in header field";
    case ParseError::kObsFold:
      return "obsolete line folding in header field";
    case ParseError::kBadHeaderValue:
      return "invalid character in header field value";
    case ParseError::kBareCR:
      return "bare cr in message head";
    case ParseError::kBareLF:
      return "bare lf in message head";
    case ParseError::kContentLengthAndTransferEncoding:
      return "both content-length and transfer-encoding";
    case ParseError::kBadContentLength:
      return "invalid content-length";
    case ParseError::kConflictingContentLength:
      return "conflicting content-length";
    case ParseError::kBadTransferEncoding:
      return "unsupported transfer-encoding";
    case ParseError::kMissingHost:
      return "missing host header";
    case ParseError::kDuplicateHost:
      return "duplicate host header";
    case ParseError::kBadHost:
      return "invalid host header";
    case ParseError::kBadStatusLine:
      return "malformed status line";
    case ParseError::kBadChunkSize:
      return "invalid chunk size";
    case ParseError::kBadChunkFraming:
      return "malformed chunked encoding";
  }
  return "malformed message";
}

uint16_t statusFor(ParseError error) {
  switch (error) {
    case ParseError::kTargetTooLong:
      return 414;
    case ParseError::kHeadTooLarge:
    case ParseError::kTooManyHeaders:
      return 431;
    default:
      return 400;
  }
}

ParseOutcome parseRequestHead(std::string_view input, const Limits& limits, RequestHead& out) {
  out.clear();
  return runHead(input, limits, [&](Scanner& scan) {
    Step step = scan.skipLeadingEmptyLines();
    if (step == Step::kOk) step = parseRequestLine(scan, limits, out);
    if (step != Step::kOk) return step;
    FieldFacts facts;
    facts.version = out.version;
    step = parseFields(scan, limits, out.headers, facts);
    if (step != Step::kOk) return step;
    if (facts.host_count == 0 && out.version == Version::kHttp11) {
      return scan.fail(ParseError::kMissingHost);
    }
    out.host = facts.host;
    if (facts.chunked) {
      out.framing = BodyFraming::kChunked;
    } else if (facts.has_content_length) {
      out.framing = BodyFraming::kContentLength;
      out.content_length = facts.content_length;
    }
    out.keep_alive = out.version == Version::kHttp11
                         ? !facts.connection_close
                         : facts.connection_keep_alive && !facts.connection_close;
    out.expect_continue = facts.expect_continue;
    out.has_upgrade = facts.has_upgrade;
    return Step::kOk;
  });
}

BodyFraming responseFraming(bool request_method_head, uint16_t status, bool chunked,
                            bool has_content_length) {
  if (request_method_head || status < 200 || status == 204 || status == 304) {
    return BodyFraming::kNone;
  }
  if (chunked) return BodyFraming::kChunked;
  if (has_content_length) return BodyFraming::kContentLength;
  return BodyFraming::kUntilClose;
}

ParseOutcome parseResponseHead(std::string_view input, const Limits& limits,
                               bool request_method_head, ResponseHead& out) {
  out.clear();
  return runHead(input, limits, [&](Scanner& scan) {
    Step step = scan.skipLeadingEmptyLines();
    if (step == Step::kOk) step = parseStatusLine(scan, out);
    if (step != Step::kOk) return step;
    FieldFacts facts;
    facts.is_request = false;
    facts.version = out.version;
    step = parseFields(scan, limits, out.headers, facts);
    if (step != Step::kOk) return step;
    out.framing =
        responseFraming(request_method_head, out.status, facts.chunked, facts.has_content_length);
    if (out.framing == BodyFraming::kContentLength) out.content_length = facts.content_length;
    out.keep_alive =
        out.framing != BodyFraming::kUntilClose &&
        (out.version == Version::kHttp11 ? !facts.connection_close
                                         : facts.connection_keep_alive && !facts.connection_close);
    return Step::kOk;
  });
}

// ---------------------------------------------------------------------------
// Chunked bodies.

namespace {

// Positions inside "chunk-size *( BWS ";" BWS name [ BWS "=" BWS value ] )".
// After the size digits the decoder is in kAfterValue: '=' may only follow a name.
enum ExtState : uint8_t {
  kAfterValue,
  kWsAfterValue,
  kAfterName,
  kWsAfterName,
  kBeforeName,
  kInName,
  kBeforeValue,
  kInToken,
  kInQuoted,
  kQuotedEscape,
};

// Positions inside a trailer field line.
enum TrailerState : uint8_t { kTrailerName, kTrailerValue };

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One byte of a chunk extension. Returns false when it cannot continue one;
// `line_done` is set when the byte is the CR that ends the size line.
bool stepExtension(uint8_t& state, char c, bool& line_done) {
  switch (state) {
    case kAfterValue:
    case kAfterName:
      if (c == '\r') {
        line_done = true;
        return true;
      }
      [[fallthrough]];
    case kWsAfterValue:
    case kWsAfterName:
      if (isWhitespace(c)) {
        state = state == kAfterName || state == kWsAfterName ? kWsAfterName : kWsAfterValue;
      } else if (c == ';') {
        state = kBeforeName;
      } else if (c == '=' && (state == kAfterName || state == kWsAfterName)) {
        state = kBeforeValue;
      } else {
        return false;  // includes "5 \r\n": BWS must lead to ';' or '='
      }
      return true;
    case kBeforeName:
    case kInName:
      if (hasClass(c, kTchar)) {
        state = kInName;
        return true;
      }
      if (state == kBeforeName) return isWhitespace(c);
      state = kAfterName;
      return stepExtension(state, c, line_done);
    case kBeforeValue:
      if (isWhitespace(c)) return true;
      if (c == '"') {
        state = kInQuoted;
        return true;
      }
      if (!hasClass(c, kTchar)) return false;
      state = kInToken;
      return true;
    case kInToken:
      if (hasClass(c, kTchar)) return true;
      state = kAfterValue;
      return stepExtension(state, c, line_done);
    case kInQuoted:
      if (c == '"') {
        state = kAfterValue;
      } else if (c == '\\') {
        state = kQuotedEscape;
      } else if (!hasClass(c, kFieldChar)) {  // qdtext: HTAB, SP, VCHAR but '"' '\', obs-text
        return false;
      }
      return true;
    case kQuotedEscape:
      if (!hasClass(c, kFieldChar)) return false;
      state = kInQuoted;
      return true;
    default:
      return false;
  }
}

}  // namespace

void ChunkedDecoder::reset() {
  *this = ChunkedDecoder();
}

ChunkedDecoder::Progress ChunkedDecoder::feed(std::string_view input, std::string* payload_out) {
  Progress progress;
  const char* begin = input.data();
  const char* p = begin;
  const char* end = begin + input.size();

  auto fail = [&](ParseError error) {
    state_ = State::kError;
    error_ = error;
  };

  while (p < end && state_ != State::kDone && state_ != State::kError) {
    if (state_ == State::kData) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_remaining_, end - p));
      if (payload_out != nullptr) payload_out->append(p, n);
      p += n;
      chunk_remaining_ -= n;
      payload_bytes_ += n;
      if (chunk_remaining_ == 0) state_ = State::kDataCR;
      continue;
    }

    // Every framing byte counts toward the bound of its line (size line) or
    // section (trailers); the counter restarts when a new one begins.
    bool in_trailer = state_ >= State::kTrailerLineStart;  // the trailer states close the enum
    if (++line_bytes_ > (in_trailer ? kMaxTrailerBytes : kMaxChunkLineBytes)) {
      fail(ParseError::kBadChunkFraming);
      continue;
    }
    char c = *p;
    switch (state_) {
      case State::kSize: {
        int digit = hexValue(c);
        if (digit >= 0) {
          if (++size_digits_ > kMaxChunkSizeDigits) {
            fail(ParseError::kBadChunkSize);
            continue;
          }
          chunk_remaining_ = (chunk_remaining_ << 4) | static_cast<uint64_t>(digit);
          break;
        }
        if (size_digits_ == 0) {
          fail(ParseError::kBadChunkSize);
          continue;
        }
        if (c != '\r' && c != ';' && !isWhitespace(c)) {
          fail(c == '\n' ? ParseError::kBadChunkFraming
                         : ParseError::kBadChunkSize);  // "5x", "0x5"
          continue;
        }
        state_ = State::kExtension;
        sub_state_ = kAfterValue;
        [[fallthrough]];
      }
      case State::kExtension: {
        bool line_done = false;
        if (!stepExtension(sub_state_, c, line_done)) {
          fail(ParseError::kBadChunkFraming);
          continue;
        }
        if (line_done) state_ = State::kSizeLF;
        break;
      }
      case State::kSizeLF:
        if (c != '\n') {
          fail(ParseError::kBadChunkFraming);
          continue;
        }
        if (chunk_remaining_ == 0) {
          state_ = State::kTrailerLineStart;
          line_bytes_ = 0;
        } else {
          state_ = State::kData;
        }
        break;
      case State::kDataCR:
        if (c != '\r') {
          fail(ParseError::kBadChunkFraming);
          continue;
        }
        state_ = State::kDataLF;
        break;
      case State::kDataLF:
        if (c != '\n') {
          fail(ParseError::kBadChunkFraming);
          continue;
        }
        state_ = State::kSize;
        size_digits_ = 0;
        line_bytes_ = 0;
        break;
      case State::kTrailerLineStart:
        if (c == '\r') {
          state_ = State::kFinalLF;
        } else if (hasClass(c, kTchar)) {
          state_ = State::kTrailerLine;
          sub_state_ = kTrailerName;
        } else {
          fail(ParseError::kBadChunkFraming);  // bare LF, obs-fold, empty name
          continue;
        }
        break;
      case State::kTrailerLine:
        if (sub_state_ == kTrailerName) {
          if (c == ':') {
            sub_state_ = kTrailerValue;
          } else if (!hasClass(c, kTchar)) {
            fail(ParseError::kBadChunkFraming);
            continue;
          }
        } else if (c == '\r') {
          state_ = State::kTrailerLF;
        } else if (!hasClass(c, kFieldChar)) {
          fail(ParseError::kBadChunkFraming);
          continue;
        }
        break;
      case State::kTrailerLF:
        if (c != '\n') {
          fail(ParseError::kBadChunkFraming);
          continue;
        }
        state_ = State::kTrailerLineStart;
        break;
      case State::kFinalLF:
        if (c != '\n') {
          fail(ParseError::kBadChunkFraming);
          continue;
        }
        state_ = State::kDone;
        break;
      default:
        break;
    }
    ++p;
  }

  progress.consumed = static_cast<size_t>(p - begin);
  progress.done = state_ == State::kDone;
  progress.error = state_ == State::kError ? error_ : ParseError::kNone;
  return progress;
}

}  // namespace rampart::http
