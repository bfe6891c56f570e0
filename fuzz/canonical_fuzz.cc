// Fuzzes canonicalizeTarget: it must never crash, and every success must be
// a fixed point with no dot-segments (and no "//" when merging slashes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/canonical.h"

namespace {

using rampart::http::CanonicalError;
using rampart::http::canonicalizeTarget;
using rampart::http::CanonicalOptions;
using rampart::http::CanonicalTarget;

void require(bool condition) {
  if (!condition) std::abort();
}

bool hasDotSegment(std::string_view path) {
  for (std::string_view dot : {"/./", "/../"}) {
    if (path.find(dot) != std::string_view::npos) return true;
  }
  auto endsWith = [path](std::string_view tail) {
    return path.size() >= tail.size() && path.substr(path.size() - tail.size()) == tail;
  };
  return endsWith("/.") || endsWith("/..");
}

void checkOne(std::string_view raw, const CanonicalOptions& options) {
  CanonicalTarget out;
  if (canonicalizeTarget(raw, options, out) != CanonicalError::kNone) return;
  require(out.path_length <= out.text.size());
  std::string_view path = out.path();
  if (out.asterisk) {
    require(out.text == "*");
    return;
  }
  require(!path.empty() && path[0] == '/');
  require(!options.merge_slashes || path.find("//") == std::string_view::npos);
  require(!hasDotSegment(path));
  require(out.path_length == out.text.size() || out.text[out.path_length] == '?');
  require(options.allow_semicolon || path.find(';') == std::string_view::npos);
  if (options.lowercase_path) {
    // Upper case survives only as the hex digits of an escape.
    for (size_t i = 0; i < path.size(); ++i) {
      if (path[i] == '%') {
        i += 2;
        continue;
      }
      require(!(path[i] >= 'A' && path[i] <= 'Z'));
    }
  }

  CanonicalTarget again;
  require(canonicalizeTarget(out.text, options, again) == CanonicalError::kNone);
  require(again.text == out.text);
  require(again.path_length == out.path_length);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte picks the options so every switch is explored; the rest
  // is the target. Seeds in fuzz/corpus/canonical start with '0' (strict
  // defaults), '1' (slashes not merged) or '>' (everything loosened).
  if (size == 0) return 0;
  CanonicalOptions options;
  options.merge_slashes = (data[0] & 1) == 0;
  options.allow_encoded_slash = (data[0] & 2) != 0;
  options.allow_encoded_backslash = (data[0] & 4) != 0;
  options.allow_fragment = (data[0] & 8) != 0;
  options.allow_semicolon = (data[0] & 16) != 0;
  options.lowercase_path = (data[0] & 32) != 0;
  std::string_view raw(reinterpret_cast<const char*>(data + 1), size - 1);
  checkOne(raw, options);
  return 0;
}
