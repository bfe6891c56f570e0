#include "config/yaml_reader.h"

namespace rampart::config::yaml {

namespace {

constexpr std::string_view kDurationHint = "expected a duration like 250ms, 10s, 5m";
constexpr std::string_view kSizeHint =
    "expected a size like 512, 64KiB, 1MiB (units: B, KiB, MiB, GiB)";

// Splits "123unit" into its leading digits and the rest.
std::pair<std::string_view, std::string_view> splitNumber(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  return {text.substr(0, digits), text.substr(digits)};
}

std::string joined(std::initializer_list<std::string_view> words) {
  std::string out;
  for (std::string_view word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

// Sizes print in the largest unit that divides them exactly: "64KiB", "1000B".
std::string formatSize(uint64_t bytes) {
  struct Unit {
    uint64_t factor;
    const char* name;
  };
  for (Unit unit : {Unit{1ull << 30, "GiB"}, Unit{1ull << 20, "MiB"}, Unit{1ull << 10, "KiB"}}) {
    if (bytes >= unit.factor && bytes % unit.factor == 0) {
      return std::to_string(bytes / unit.factor) + unit.name;
    }
  }
  return std::to_string(bytes) + "B";
}

std::string prefixed(std::string_view what, std::string_view message) {
  return std::string(what) + ": " + std::string(message);
}

}  // namespace

Position positionOf(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

Position positionOf(const YAML::Node& node) {
  if (!node.IsDefined()) return {};
  return positionOf(node.Mark());
}

std::optional<uint64_t> parseUnsigned(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;  // 19 digits always fit 64 bits
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds(0);
  auto [digits, unit] = splitNumber(text);
  std::optional<uint64_t> value = parseUnsigned(digits);
  if (!value) return std::nullopt;
  uint64_t factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60 * 1000;
  } else if (unit == "h") {
    factor = 60 * 60 * 1000;
  } else {
    return std::nullopt;
  }
  uint64_t millis = 0;
  if (__builtin_mul_overflow(*value, factor, &millis)) return std::nullopt;
  if (millis > static_cast<uint64_t>(kMaxDuration.count())) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(millis));
}

std::optional<uint64_t> parseSize(std::string_view text) {
  auto [digits, unit] = splitNumber(text);
  std::optional<uint64_t> value = parseUnsigned(digits);
  if (!value) return std::nullopt;
  uint64_t factor = 0;
  if (unit.empty() || unit == "B") {
    factor = 1;
  } else if (unit == "KiB") {
    factor = 1ull << 10;
  } else if (unit == "MiB") {
    factor = 1ull << 20;
  } else if (unit == "GiB") {
    factor = 1ull << 30;
  } else {
    return std::nullopt;
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(*value, factor, &bytes)) return std::nullopt;
  return bytes;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar: {
      std::string text = node.Scalar();
      if (text.size() > 40) text = text.substr(0, 37) + "...";
      return "'" + text + "'";
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

const YAML::Node* Map::find(std::string_view key) const {
  for (const Entry& entry : entries_) {
    if (entry.key == key) return &entry.value;
  }
  return nullptr;
}

Position Map::keyPosition(std::string_view key) const {
  for (const Entry& entry : entries_) {
    if (entry.key == key) return positionOf(entry.key_node);
  }
  return position_;
}

void Reader::error(Position at, std::string message) {
  errors_.push_back(Diagnostic{file_, at.line, at.column, std::move(message)});
}

Position Reader::where(const YAML::Node& node) const {
  if (node.IsNull()) {
    for (const auto& [value, position] : empty_values_) {
      if (value.is(node)) return position;
    }
  }
  return positionOf(node);
}

void Reader::warning(Position at, std::string message) {
  warnings_.push_back(Diagnostic{file_, at.line, at.column, std::move(message)});
}

std::optional<Map> Reader::map(const YAML::Node& node, std::string_view what,
                               std::initializer_list<std::string_view> allowed) {
  if (!node.IsMap()) {
    error(node, prefixed(what, "expected a mapping, got " + describe(node)));
    return std::nullopt;
  }
  Map out;
  out.position_ = positionOf(node);
  for (auto it = node.begin(); it != node.end(); ++it) {
    YAML::Node key = it->first;  // a copy: `it->` returns a temporary proxy
    if (!key.IsScalar()) {
      error(key, prefixed(what, "expected a string key, got " + describe(key)));
      continue;
    }
    const std::string& name = key.Scalar();
    bool known = false;
    for (std::string_view candidate : allowed) known = known || candidate == name;
    if (!known) {
      error(key, "unknown key '" + name + "' in " + std::string(what) +
                     "; allowed keys: " + joined(allowed));
      continue;
    }
    // yaml-cpp keeps repeated keys; refuse them rather than pick one silently.
    if (out.find(name) != nullptr) {
      error(key, "duplicate key '" + name + "' in " + std::string(what) + " (first at line " +
                     std::to_string(out.keyPosition(name).line) + ")");
      continue;
    }
    YAML::Node value = it->second;
    if (value.IsNull()) empty_values_.emplace_back(value, positionOf(key));
    out.entries_.push_back(Map::Entry{name, key, value});
  }
  return out;
}

void Reader::absorb(Reader& other) {
  for (Diagnostic& d : other.errors_) errors_.push_back(std::move(d));
  for (Diagnostic& d : other.warnings_) warnings_.push_back(std::move(d));
  other.errors_.clear();
  other.warnings_.clear();
}

bool Reader::sequence(const YAML::Node& node, std::string_view what) {
  if (node.IsSequence()) return true;
  error(node, prefixed(what, "expected a sequence, got " + describe(node)));
  return false;
}

std::optional<std::string> Reader::scalar(const YAML::Node& node, std::string_view what,
                                          std::string_view expected) {
  if (node.IsScalar()) return node.Scalar();
  error(node, prefixed(what, "expected " + std::string(expected) + ", got " + describe(node)));
  return std::nullopt;
}

std::optional<std::string> Reader::string(const YAML::Node& node, std::string_view what) {
  return scalar(node, what, "a string");
}

std::optional<bool> Reader::boolean(const YAML::Node& node, std::string_view what) {
  std::optional<std::string> text = scalar(node, what, "a boolean (true or false)");
  if (!text) return std::nullopt;
  // Only the two YAML 1.2 spellings: "yes", "on" or "1" are typos here.
  if (*text == "true") return true;
  if (*text == "false") return false;
  error(node, prefixed(what, "expected a boolean (true or false), got " + describe(node)));
  return std::nullopt;
}

std::optional<uint64_t> Reader::integer(const YAML::Node& node, std::string_view what, uint64_t min,
                                        uint64_t max) {
  std::optional<std::string> text = scalar(node, what, "an integer");
  if (!text) return std::nullopt;
  std::optional<uint64_t> value = parseUnsigned(*text);
  if (!value) {
    error(node, prefixed(what, "expected an integer, got " + describe(node)));
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    error(node, prefixed(what, "expected an integer from " + std::to_string(min) + " to " +
                                   std::to_string(max) + ", got " + *text));
    return std::nullopt;
  }
  return value;
}

std::optional<std::chrono::milliseconds> Reader::duration(const YAML::Node& node,
                                                          std::string_view what) {
  std::optional<std::string> text = scalar(node, what, "a duration");
  if (!text) return std::nullopt;
  std::optional<std::chrono::milliseconds> value = parseDuration(*text);
  if (!value) {
    error(node,
          prefixed(what, std::string(kDurationHint) + " (at most 576h), got " + describe(node)));
  }
  return value;
}

std::optional<uint64_t> Reader::size(const YAML::Node& node, std::string_view what, uint64_t min,
                                     uint64_t max) {
  std::optional<std::string> text = scalar(node, what, "a size");
  if (!text) return std::nullopt;
  std::optional<uint64_t> value = parseSize(*text);
  if (!value) {
    error(node, prefixed(what, std::string(kSizeHint) + ", got " + describe(node)));
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    error(node, prefixed(what, "expected a size from " + formatSize(min) + " to " +
                                   formatSize(max) + ", got " + *text));
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> Reader::oneOf(const YAML::Node& node, std::string_view what,
                                         std::initializer_list<std::string_view> choices) {
  std::string expected = "one of " + joined(choices);
  std::optional<std::string> text = scalar(node, what, expected);
  if (!text) return std::nullopt;
  for (std::string_view choice : choices) {
    if (*text == choice) return text;
  }
  error(node, prefixed(what, "expected " + expected + ", got " + describe(node)));
  return std::nullopt;
}

const YAML::Node* Reader::require(const Map& map, std::string_view key, std::string_view what) {
  const YAML::Node* node = map.find(key);
  if (node == nullptr) {
    error(map.position(),
          "missing required key '" + std::string(key) + "' in " + std::string(what));
  }
  return node;
}

void Reader::readBool(const Map& map, std::string_view key, bool* out) {
  if (const YAML::Node* node = map.find(key)) {
    if (auto value = boolean(*node, key)) *out = *value;
  }
}

void Reader::readDuration(const Map& map, std::string_view key, std::chrono::milliseconds* out) {
  if (const YAML::Node* node = map.find(key)) {
    if (auto value = duration(*node, key)) *out = *value;
  }
}

void Reader::readString(const Map& map, std::string_view key, std::string* out) {
  if (const YAML::Node* node = map.find(key)) {
    if (auto value = string(*node, key)) *out = std::move(*value);
  }
}

}  // namespace rampart::config::yaml
