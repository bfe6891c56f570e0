#include "http/canonical.h"

#include <array>

namespace rampart::http {

namespace {

// Byte classes of RFC 3986. A table keeps the hot loop to one load per byte.
enum : uint8_t {
  kUnreserved = 1 << 0,  // ALPHA DIGIT - . _ ~
  kSubDelim = 1 << 1,    // ! $ & ' ( ) * + , ; =
  kPcharExtra = 1 << 2,  // : @  (pchar beyond unreserved and sub-delims)
  kHexDigit = 1 << 3,
  kPathLiteral = kUnreserved | kSubDelim | kPcharExtra,  // copied to the output as is
};

constexpr std::array<uint8_t, 256> makeClasses() {
  std::array<uint8_t, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] |= kUnreserved;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] |= kUnreserved;
  for (int c = '0'; c <= '9'; ++c) table[c] |= kUnreserved | kHexDigit;
  for (int c = 'a'; c <= 'f'; ++c) table[c] |= kHexDigit;
  for (int c = 'A'; c <= 'F'; ++c) table[c] |= kHexDigit;
  for (char c : {'-', '.', '_', '~'}) table[static_cast<uint8_t>(c)] |= kUnreserved;
  for (char c : {'!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '='}) {
    table[static_cast<uint8_t>(c)] |= kSubDelim;
  }
  table[':'] |= kPcharExtra;
  table['@'] |= kPcharExtra;
  return table;
}

constexpr std::array<uint8_t, 256> kClasses = makeClasses();

bool hasClass(char c, uint8_t cls) {
  return (kClasses[static_cast<uint8_t>(c)] & cls) != 0;
}

// Bytes that may appear somewhere in a URI (besides the classes above):
// used only to pick between kBadCharacter and kBadForm in the authority.
bool isUriByte(char c) {
  return hasClass(c, kPathLiteral) || c == '%' || c == '/' || c == '?' || c == '#' || c == '[' ||
         c == ']';
}

uint8_t hexValue(char c) {
  if (c <= '9') return static_cast<uint8_t>(c - '0');
  return static_cast<uint8_t>((c | 0x20) - 'a' + 10);
}

char lowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

constexpr char kUpperHex[] = "0123456789ABCDEF";

// Writes the canonical path for raw[begin, end) (which starts with '/') at
// `w`, which has room for end - begin bytes: decoding and dot removal only
// ever shrink a path. Advances `w` past the written path.
CanonicalError writePath(std::string_view raw, size_t begin, size_t end,
                         const CanonicalOptions& options, char* base, char*& w) {
  size_t i = begin;
  while (i < end) {
    // raw[i] is the '/' opening a segment; its decoded bytes follow it in the output.
    ++i;
    *w++ = '/';
    char* segment = w;
    while (i < end && raw[i] != '/') {
      char c = raw[i];
      if (hasClass(c, kPathLiteral)) {
        if (c == ';' && !options.allow_semicolon) return CanonicalError::kSemicolon;
        *w++ = options.lowercase_path ? lowerAscii(c) : c;
        ++i;
        continue;
      }
      if (c != '%') return CanonicalError::kBadCharacter;
      if (i + 2 >= end || !hasClass(raw[i + 1], kHexDigit) || !hasClass(raw[i + 2], kHexDigit)) {
        return CanonicalError::kBadPercentEncoding;
      }
      auto value = static_cast<uint8_t>(hexValue(raw[i + 1]) << 4 | hexValue(raw[i + 2]));
      i += 3;
      // Unreserved bytes mean the same encoded or not (RFC 3986 6.2.2.2), so
      // decode them: "%2e%2e" must be seen as ".." by everyone after us.
      if (kClasses[value] & kUnreserved) {
        char decoded = static_cast<char>(value);
        *w++ = options.lowercase_path ? lowerAscii(decoded) : decoded;
        continue;
      }
      if (value == 0) return CanonicalError::kEncodedNul;
      // An upstream that decodes %2F or %5C sees a different path than the
      // one we routed and checked, so both are refused unless allowed.
      if (value == '/' && !options.allow_encoded_slash) return CanonicalError::kEncodedSlash;
      if (value == '\\' && !options.allow_encoded_backslash) {
        return CanonicalError::kEncodedBackslash;
      }
      w[0] = '%';
      w[1] = kUpperHex[value >> 4];
      w[2] = kUpperHex[value & 0xF];
      w += 3;
    }
    bool last = i >= end;
    size_t length = static_cast<size_t>(w - segment);
    if (length == 0) {
      // An empty segment in the middle is a repeated slash; the last one is
      // the trailing slash, always kept.
      if (!last && options.merge_slashes) w = segment - 1;
      continue;
    }
    if (segment[0] != '.' || length > 2 || (length == 2 && segment[1] != '.')) continue;
    w = segment - 1;  // drop "/." or "/.."
    if (length == 2) {
      // "..": drop the previous segment too, but never climb above "/".
      if (w == base) return CanonicalError::kClimbsAboveRoot;
      do {
        --w;
      } while (*w != '/');
    }
    // "/a/." and "/a/b/.." name the directory "/a/": keep its trailing slash.
    if (last) *w++ = '/';
  }
  return CanonicalError::kNone;
}

// Checks the query (or fragment) raw[begin, end): pchar / "/" / "?" and
// well-formed escapes. It is forwarded as sent, so nothing is rewritten.
CanonicalError checkQuery(std::string_view raw, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    char c = raw[i];
    if (hasClass(c, kPathLiteral) || c == '/' || c == '?') continue;
    if (c != '%') return CanonicalError::kBadCharacter;
    if (i + 2 >= end || !hasClass(raw[i + 1], kHexDigit) || !hasClass(raw[i + 2], kHexDigit)) {
      return CanonicalError::kBadPercentEncoding;
    }
    i += 2;
  }
  return CanonicalError::kNone;
}

// Length of a case-insensitive "http://" or "https://" at the start of raw, or 0.
size_t schemeLength(std::string_view raw) {
  auto startsWith = [raw](std::string_view scheme) {
    if (raw.size() < scheme.size()) return false;
    for (size_t i = 0; i < scheme.size(); ++i) {
      if (lowerAscii(raw[i]) != scheme[i]) return false;
    }
    return true;
  };
  if (startsWith("http://")) return 7;
  if (startsWith("https://")) return 8;
  return 0;
}

CanonicalError badAuthorityByte(char c) {
  return isUriByte(c) ? CanonicalError::kBadForm : CanonicalError::kBadCharacter;
}

// Validates host[:port] and stores it with the host lowercased. Refuses
// userinfo ("user@host": RFC 9110 4.2.4 says to treat it as an error) and
// percent-encoded hosts, which only serve to make hosts look alike.
CanonicalError parseAuthority(std::string_view authority, std::string& out) {
  if (authority.empty()) return CanonicalError::kBadForm;
  size_t i = 0;
  if (authority[0] == '[') {
    // IP literal: hex digits, ':' and '.' (for an embedded IPv4) inside brackets.
    for (i = 1; i < authority.size() && authority[i] != ']'; ++i) {
      char c = authority[i];
      if (!hasClass(c, kHexDigit) && c != ':' && c != '.') return badAuthorityByte(c);
    }
    if (i == authority.size() || i == 1) return CanonicalError::kBadForm;
    ++i;
  } else {
    for (; i < authority.size() && authority[i] != ':'; ++i) {
      char c = authority[i];
      if (!hasClass(c, kUnreserved) && !hasClass(c, kSubDelim)) return badAuthorityByte(c);
    }
    if (i == 0) return CanonicalError::kBadForm;
  }
  size_t hostLength = i;
  if (i < authority.size()) {
    if (authority[i] != ':') return badAuthorityByte(authority[i]);
    size_t digits = authority.size() - i - 1;
    if (digits > 5) return CanonicalError::kBadForm;
    uint32_t port = 0;
    for (size_t j = i + 1; j < authority.size(); ++j) {
      char c = authority[j];
      if (c < '0' || c > '9') return badAuthorityByte(c);
      port = port * 10 + static_cast<uint32_t>(c - '0');
    }
    if (port > 65535) return CanonicalError::kBadForm;
    // "host:" has an empty port, which means the default (RFC 3986 6.2.3).
    if (digits == 0) authority = authority.substr(0, i);
  }
  out.assign(authority);
  for (size_t j = 0; j < hostLength; ++j) out[j] = lowerAscii(out[j]);
  return CanonicalError::kNone;
}

}  // namespace

const char* describe(CanonicalError error) {
  switch (error) {
    case CanonicalError::kNone:
      return "ok";
    case CanonicalError::kEmpty:
      return "empty request target";
    case CanonicalError::kBadForm:
      return "request target is not origin-form, absolute-form or '*'";
    case CanonicalError::kBadCharacter:
      return "request target carries a byte no URI may carry";
    case CanonicalError::kBadPercentEncoding:
      return "'%' not followed by two hex digits";
    case CanonicalError::kEncodedSlash:
      return "encoded slash (%2F) in the path";
    case CanonicalError::kEncodedBackslash:
      return "encoded backslash (%5C) in the path";
    case CanonicalError::kEncodedNul:
      return "encoded NUL (%00) in the path";
    case CanonicalError::kClimbsAboveRoot:
      return "'..' climbs above the root";
    case CanonicalError::kFragment:
      return "fragment in the request target";
    case CanonicalError::kSemicolon:
      return "';' in the path (matrix parameters are refused)";
  }
  return "unknown canonicalization error";
}

CanonicalError canonicalizeTarget(std::string_view raw, const CanonicalOptions& options,
                                  CanonicalTarget& out) {
  out.authority.clear();
  out.asterisk = false;
  if (raw.empty()) return CanonicalError::kEmpty;
  if (raw == "*") {
    out.text.assign(1, '*');  // not assign("*"): g++ 12 -O3 warns falsely (-Wrestrict)
    out.path_length = 1;
    out.asterisk = true;
    return CanonicalError::kNone;
  }

  size_t pathBegin = 0;
  if (raw[0] != '/') {
    size_t scheme = schemeLength(raw);
    if (scheme == 0) return CanonicalError::kBadForm;
    pathBegin = scheme;
    while (pathBegin < raw.size() && raw[pathBegin] != '/' && raw[pathBegin] != '?' &&
           raw[pathBegin] != '#') {
      ++pathBegin;
    }
    CanonicalError error = parseAuthority(raw.substr(scheme, pathBegin - scheme), out.authority);
    if (error != CanonicalError::kNone) return error;
  }
  size_t pathEnd = pathBegin;
  while (pathEnd < raw.size() && raw[pathEnd] != '?' && raw[pathEnd] != '#') ++pathEnd;
  size_t queryEnd = pathEnd;
  if (pathEnd < raw.size() && raw[pathEnd] == '?') {
    queryEnd = raw.find('#', pathEnd);
    if (queryEnd == std::string_view::npos) queryEnd = raw.size();
  }
  if (queryEnd < raw.size()) {
    if (!options.allow_fragment) return CanonicalError::kFragment;
    // Dropped, but still checked: a bad byte is bad wherever it sits.
    CanonicalError error = checkQuery(raw, queryEnd + 1, raw.size());
    if (error != CanonicalError::kNone) return error;
  }

  // The output never outgrows the input plus the "/" an absolute-form target
  // without a path gets. Resizing a reused string does not allocate.
  out.text.resize(raw.size() + 1);
  char* base = out.text.data();
  char* w = base;
  if (pathBegin == pathEnd) {
    *w++ = '/';  // "http://host" and "http://host?q" have the path "/"
  } else {
    CanonicalError error = writePath(raw, pathBegin, pathEnd, options, base, w);
    if (error != CanonicalError::kNone) return error;
  }
  out.path_length = static_cast<size_t>(w - base);

  // "/a?" and "/a" are the same resource to every server we front, so an
  // empty query is dropped with its "?": the text has a "?" only when the
  // query has at least one byte, matching CanonicalTarget::query().
  if (queryEnd > pathEnd + 1) {
    CanonicalError error = checkQuery(raw, pathEnd + 1, queryEnd);
    if (error != CanonicalError::kNone) return error;
    size_t length = queryEnd - pathEnd;  // with its '?'
    raw.copy(w, length, pathEnd);
    w += length;
  }
  out.text.resize(static_cast<size_t>(w - base));
  return CanonicalError::kNone;
}

}  // namespace rampart::http
