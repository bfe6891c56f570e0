// Helpers shared by the config loader's unit tests: load a config from text
// and print every diagnostic, so a failed expectation shows the loader's own
// file:line:col messages.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace rampart::config::test_support {

// Loads `text` as the file `file`; a leading newline (from a raw string
// literal that starts on its own line) is dropped so line numbers match.
inline LoadResult loadText(std::string_view text, std::string_view file) {
  if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  return loadString(text, std::string(file));
}

// Every diagnostic as "file:line:col: message", one per line.
inline std::string all(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) out += format(d) + "\n";
  return out;
}

}  // namespace rampart::config::test_support
