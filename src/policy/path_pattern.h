// Compiled path patterns of the policy engine (exact, prefix, segment glob
// with params) and their allocation-free matcher. Internal to policy/;
// built while compiling a Policy and immutable for its lifetime.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/identity.h"
#include "policy/policy.h"

namespace rampart::policy {

struct GlobSegment {
  enum class Kind : uint8_t {
    kLiteral,  // equals `text`
    kOne,      // "*" or an unconstrained "{name}": any one non-empty segment
    kAny,      // "**": zero or more segments
    kParam,    // "{name}" under param_equals: equals the caller's `attribute`
  };
  Kind kind = Kind::kLiteral;
  std::string text;  // the literal, or the param name
  Attribute attribute = Attribute::kAccount;
};

struct CompiledPattern {
  PathPatternKind kind = PathPatternKind::kPrefix;
  std::string text;
  std::vector<GlobSegment> segments;  // kGlob only
  bool rooted = true;                 // kGlob: starts with '/' (else it matches nothing)
};

// Parses `pattern`. Returns false with `error` set (without the rule index)
// on bad glob syntax: a '*' or "**" or '{' that is not a whole segment, an
// unclosed '{', an empty or non-[A-Za-z0-9_] param name, a duplicate name.
bool compilePattern(const PathPattern& pattern, CompiledPattern* out, std::string* error);

// Turns the kParam segments named in `equals` into attribute comparisons.
// Returns the names of `equals` the pattern does not declare.
std::vector<std::string> bindParams(const std::vector<ParamEquals>& equals,
                                    CompiledPattern* pattern);

// Segments a request path holds in place; longer paths are matched by
// walking the string instead (same results, a little slower).
inline constexpr size_t kMaxSegments = 64;

// A request path, split into segments once (lazily, on the first glob) and
// shared by every rule tried for the request. Lives on the evaluating
// thread's stack for one evaluate() call.
class SplitPath {
 public:
  explicit SplitPath(std::string_view path) : path_(path) {}
  std::string_view path() const { return path_; }
  // The segments after the leading '/' ("/" has none), or null when the path
  // is not rooted or has more than kMaxSegments segments.
  const std::string_view* segments(size_t* count) const;

 private:
  std::string_view path_;
  mutable bool split_ = false;
  mutable bool fits_ = false;
  mutable size_t count_ = 0;
  mutable std::string_view segments_[kMaxSegments];
};

// True when the path matches. `caller` is the authenticated identity or null
// (then a kParam segment never matches). No allocation, no segment limit.
// Globs match greedily, backtracking only to the last "**":
// O(segments x pattern) at worst.
bool matchPattern(const CompiledPattern& pattern, const SplitPath& path,
                  const auth::Identity* caller);

// Prefix on a segment boundary, the router's semantics.
bool prefixMatches(std::string_view prefix, std::string_view path);

// The caller's attribute.
std::string_view attributeOf(const auth::Identity& identity, Attribute attribute);

// True when `text` is a canonical path: starts with '/', no "//", no "."
// or ".." segment.
bool isCanonicalPath(std::string_view text);

// The first path segment a pattern requires, for the index: "api" for
// exact "/api/x", prefix "/api" or "/api/", glob "/api/**"; "" for exact
// "/" or glob "/"; nullopt when the pattern can start with any segment.
std::optional<std::string> requiredFirstSegment(const CompiledPattern& pattern);

// The first segment of a request path ("" for "/"), nullopt when the path
// does not start with '/'.
std::optional<std::string_view> firstSegment(std::string_view path);

}  // namespace rampart::policy
