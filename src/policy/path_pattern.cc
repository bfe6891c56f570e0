#include "policy/path_pattern.h"

#include <algorithm>

namespace rampart::policy {

namespace {

constexpr size_t kEnd = std::string_view::npos;

bool isParamChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Splits the text after the leading '/' into segments ("" -> none).
std::vector<std::string_view> splitSegments(std::string_view rest) {
  std::vector<std::string_view> out;
  if (rest.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t slash = rest.find('/', start);
    out.push_back(rest.substr(start, slash == kEnd ? kEnd : slash - start));
    if (slash == kEnd) break;
    start = slash + 1;
  }
  return out;
}

bool parseSegment(std::string_view text, GlobSegment* out, std::string* error) {
  if (text == "**") {
    out->kind = GlobSegment::Kind::kAny;
    return true;
  }
  if (text == "*") {
    out->kind = GlobSegment::Kind::kOne;
    return true;
  }
  if (!text.empty() && text.front() == '{') {
    if (text.back() != '}' || text.size() < 2) {
      *error = "unclosed '{' in segment '";
      *error += text;
      *error += "'";
      return false;
    }
    std::string_view name = text.substr(1, text.size() - 2);
    if (name.empty() || !std::all_of(name.begin(), name.end(), isParamChar)) {
      *error = "bad parameter name in segment '";
      *error += text;
      *error += "' (want {[A-Za-z0-9_]+})";
      return false;
    }
    out->kind = GlobSegment::Kind::kOne;
    out->text = std::string(name);
    return true;
  }
  if (text.find("**") != kEnd) {
    *error = "'**' must be a whole segment, got '";
    *error += text;
    *error += "'";
    return false;
  }
  if (text.find('*') != kEnd) {
    *error = "'*' must be a whole segment, got '";
    *error += text;
    *error += "'";
    return false;
  }
  if (text.find('{') != kEnd || text.find('}') != kEnd) {
    *error = "a '{name}' parameter must be a whole segment, got '";
    *error += text;
    *error += "'";
    return false;
  }
  out->kind = GlobSegment::Kind::kLiteral;
  out->text = std::string(text);
  return true;
}

// Cursors over the segments of a path: `start()` the first position, kEnd
// when there are none; `at(pos)` the segment; `next(pos)` the position after
// it or kEnd. InPlace walks the string (any length); Split reads the array.
struct InPlace {
  std::string_view rest;  // the path after its leading '/'

  size_t start() const { return rest.empty() ? kEnd : 0; }
  std::string_view at(size_t pos) const {
    size_t slash = rest.find('/', pos);
    return rest.substr(pos, slash == kEnd ? kEnd : slash - pos);
  }
  size_t next(size_t pos) const {
    size_t slash = rest.find('/', pos);
    return slash == kEnd ? kEnd : slash + 1;
  }
};

struct Split {
  const std::string_view* segments;
  size_t count;

  size_t start() const { return count == 0 ? kEnd : 0; }
  std::string_view at(size_t pos) const { return segments[pos]; }
  size_t next(size_t pos) const { return pos + 1 == count ? kEnd : pos + 1; }
};

bool segmentMatches(const GlobSegment& segment, std::string_view text,
                    const auth::Identity* caller) {
  switch (segment.kind) {
    case GlobSegment::Kind::kLiteral:
      return text == segment.text;
    case GlobSegment::Kind::kOne:
      return !text.empty();
    case GlobSegment::Kind::kParam: {
      if (caller == nullptr || text.empty()) return false;
      return text == attributeOf(*caller, segment.attribute);
    }
    case GlobSegment::Kind::kAny:
      return true;
  }
  return false;
}

// Classic wildcard matching, one segment per "character": every element but
// "**" is a predicate on exactly one segment, so the greedy placement with
// backtracking to the last "**" finds a match whenever one exists.
template <typename Cursor>
bool globMatches(const std::vector<GlobSegment>& segments, const Cursor& cursor,
                 const auth::Identity* caller) {
  const size_t count = segments.size();
  size_t pi = 0;
  size_t pos = cursor.start();
  size_t star = kEnd;   // index of the last "**" seen
  size_t star_pos = 0;  // where that "**" currently stops
  while (pos != kEnd) {
    if (pi < count && segments[pi].kind == GlobSegment::Kind::kAny) {
      star = pi++;
      star_pos = pos;
      continue;
    }
    if (pi < count && segmentMatches(segments[pi], cursor.at(pos), caller)) {
      ++pi;
      pos = cursor.next(pos);
      continue;
    }
    if (star == kEnd) return false;
    // Let the last "**" take one more segment and retry after it.
    pi = star + 1;
    star_pos = cursor.next(star_pos);
    pos = star_pos;
  }
  while (pi < count && segments[pi].kind == GlobSegment::Kind::kAny) ++pi;
  return pi == count;
}

}  // namespace

bool prefixMatches(std::string_view prefix, std::string_view path) {
  if (!path.starts_with(prefix)) return false;
  if (prefix.empty()) return true;
  return path.size() == prefix.size() || prefix.back() == '/' || path[prefix.size()] == '/';
}

std::string_view attributeOf(const auth::Identity& identity, Attribute attribute) {
  switch (attribute) {
    case Attribute::kPrincipal:
      return identity.principal;
    case Attribute::kAccount:
      return identity.account;
    case Attribute::kIssuer:
      return identity.issuer;
  }
  return {};
}

bool isCanonicalPath(std::string_view text) {
  if (text.empty() || text.front() != '/') return false;
  if (text.find("//") != kEnd) return false;
  for (std::string_view segment : splitSegments(text.substr(1))) {
    if (segment == "." || segment == "..") return false;
  }
  return true;
}

bool compilePattern(const PathPattern& pattern, CompiledPattern* out, std::string* error) {
  out->kind = pattern.kind;
  out->text = pattern.pattern;
  out->segments.clear();
  if (pattern.kind != PathPatternKind::kGlob) return true;
  std::string_view text = pattern.pattern;
  out->rooted = !text.empty() && text.front() == '/';
  if (!out->rooted) return true;  // matches nothing; the linter warns
  for (std::string_view piece : splitSegments(text.substr(1))) {
    GlobSegment segment;
    if (!parseSegment(piece, &segment, error)) return false;
    if (segment.kind == GlobSegment::Kind::kOne && !segment.text.empty()) {
      for (const GlobSegment& earlier : out->segments) {
        if (earlier.kind == GlobSegment::Kind::kOne && earlier.text == segment.text) {
          *error = "duplicate parameter '{";
          *error += segment.text;
          *error += "}'";
          return false;
        }
      }
    }
    out->segments.push_back(std::move(segment));
  }
  return true;
}

std::vector<std::string> bindParams(const std::vector<ParamEquals>& equals,
                                    CompiledPattern* pattern) {
  std::vector<std::string> unknown;
  for (const ParamEquals& entry : equals) {
    bool found = false;
    for (GlobSegment& segment : pattern->segments) {
      if (segment.kind == GlobSegment::Kind::kOne && segment.text == entry.param) {
        segment.kind = GlobSegment::Kind::kParam;
        segment.attribute = entry.attribute;
        found = true;
      }
    }
    if (!found) unknown.push_back(entry.param);
  }
  return unknown;
}

const std::string_view* SplitPath::segments(size_t* count) const {
  if (!split_) {
    split_ = true;
    if (!path_.empty() && path_.front() == '/') {
      fits_ = true;
      std::string_view rest = path_.substr(1);
      size_t start = 0;
      while (!rest.empty()) {
        if (count_ == kMaxSegments) {
          fits_ = false;
          break;
        }
        size_t slash = rest.find('/', start);
        segments_[count_++] = rest.substr(start, slash == kEnd ? kEnd : slash - start);
        if (slash == kEnd) break;
        start = slash + 1;
      }
    }
  }
  *count = count_;
  return fits_ ? segments_ : nullptr;
}

bool matchPattern(const CompiledPattern& pattern, const SplitPath& path,
                  const auth::Identity* caller) {
  switch (pattern.kind) {
    case PathPatternKind::kExact:
      return path.path() == pattern.text;
    case PathPatternKind::kPrefix:
      return prefixMatches(pattern.text, path.path());
    case PathPatternKind::kGlob: {
      if (!pattern.rooted) return false;
      std::string_view text = path.path();
      if (text.empty() || text.front() != '/') return false;
      size_t count = 0;
      if (const std::string_view* segments = path.segments(&count)) {
        return globMatches(pattern.segments, Split{segments, count}, caller);
      }
      return globMatches(pattern.segments, InPlace{text.substr(1)}, caller);
    }
  }
  return false;
}

std::optional<std::string> requiredFirstSegment(const CompiledPattern& pattern) {
  const std::string& text = pattern.text;
  switch (pattern.kind) {
    case PathPatternKind::kExact:
    case PathPatternKind::kPrefix: {
      if (text.empty() || text.front() != '/') return std::nullopt;
      if (pattern.kind == PathPatternKind::kPrefix && text == "/") return std::nullopt;
      size_t slash = text.find('/', 1);
      return text.substr(1, slash == kEnd ? kEnd : slash - 1);
    }
    case PathPatternKind::kGlob:
      if (!pattern.rooted) return std::nullopt;
      if (pattern.segments.empty()) return std::string();
      if (pattern.segments.front().kind != GlobSegment::Kind::kLiteral) return std::nullopt;
      return pattern.segments.front().text;
  }
  return std::nullopt;
}

std::optional<std::string_view> firstSegment(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  size_t slash = path.find('/', 1);
  return path.substr(1, slash == kEnd ? kEnd : slash - 1);
}

}  // namespace rampart::policy
