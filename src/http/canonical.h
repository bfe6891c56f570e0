// The one canonical form of a request target (phase 2, "canonicalize").
// Computed once per request; routing, every check and the upstream request
// use this string, so a check can never disagree with what is forwarded.
// Pure: no sockets, no HTTP messages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rampart::http {

// Each switch defaults to the strict choice; real APIs may loosen one.
struct CanonicalOptions {
  bool merge_slashes = true;             // "//a///b" -> "/a/b"
  bool allow_encoded_slash = false;      // %2F: refuse (false) or keep encoded as %2F (true)
  bool allow_encoded_backslash = false;  // %5C: refuse (false) or keep encoded as %5C (true)
  bool allow_fragment = false;           // "#frag": refuse (false) or strip it (true)
  // ";" in the path: refuse (false) or keep (true). Upstreams disagree on it
  // (Tomcat and Spring cut "/admin;x=1" to "/admin", most servers do not),
  // which makes it the classic way around a path-based check.
  bool allow_semicolon = false;
  // Paths are case-sensitive (false); true lowercases the canonical path, so
  // routing, policy and the upstream all see "/admin" for "/ADMIN".
  bool lowercase_path = false;
};

enum class CanonicalError : uint8_t {
  kNone,
  kEmpty,               // empty target
  kBadForm,             // not origin-form "/...", absolute-form "http://h/..." or "*"
  kBadCharacter,        // a byte no URI may carry (space, control, non-ASCII...)
  kBadPercentEncoding,  // "%" not followed by two hex digits
  kEncodedSlash,        // %2F
  kEncodedBackslash,    // %5C
  kEncodedNul,          // %00, always refused
  kClimbsAboveRoot,     // a ".." that would climb above "/"
  kFragment,            // "#..."
  kSemicolon,           // ";" in the path (matrix parameters)
};

const char* describe(CanonicalError error);

// The canonical target: path, then "?query" when there was a query.
// Reused per connection: its string keeps its capacity across requests.
struct CanonicalTarget {
  std::string text;        // canonical path + ("?" + query)
  size_t path_length = 0;  // text[0, path_length) is the path
  std::string authority;   // from an absolute-form target, else empty
  bool asterisk = false;   // the "*" of OPTIONS *

  std::string_view path() const { return std::string_view(text).substr(0, path_length); }
  std::string_view query() const {
    return path_length < text.size() ? std::string_view(text).substr(path_length + 1)
                                     : std::string_view();
  }
};

// Canonicalizes `raw` into `out`:
//  - percent-decodes unreserved characters (ALPHA DIGIT - . _ ~) in the path,
//    uppercases the hex digits of every other escape;
//  - removes dot-segments (RFC 3986 5.2.4), refusing a ".." above the root;
//  - merges repeated slashes when options.merge_slashes;
//  - refuses %2F, %5C (unless allowed), %00 and a fragment (unless allowed);
//  - keeps the query as sent, after checking its characters.
// Returns kNone on success; on error `out` is unspecified.
CanonicalError canonicalizeTarget(std::string_view raw, const CanonicalOptions& options,
                                  CanonicalTarget& out);

}  // namespace rampart::http
