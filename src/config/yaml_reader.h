// Position-aware, typed reading of a yaml-cpp tree for the config loader.
// Every problem becomes a Diagnostic at the node it concerns and reading goes
// on, so one pass reports every error. Used only while loading, on the
// loading thread; lives for one load.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace rampart::config::yaml {

struct Position {
  int line = 0;  // 1-based; 0: unknown
  int column = 0;
};

Position positionOf(const YAML::Node& node);
Position positionOf(const YAML::Mark& mark);

// Pure scalar grammars, shared by the reader and the unit tests.
// "250ms", "10s", "5m", "2h" or "0"; at most kMaxDuration.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);
// "512", "512B", "64KiB", "1MiB", "2GiB".
std::optional<uint64_t> parseSize(std::string_view text);
// A plain decimal integer without sign.
std::optional<uint64_t> parseUnsigned(std::string_view text);

// Long enough for any drain or idle timeout; short enough that deadlines
// stay far from overflowing a millisecond int timeout (epoll_wait).
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::hours(24 * 24);

// A mapping whose keys were checked against the allowed ones.
class Map {
 public:
  const YAML::Node* find(std::string_view key) const;  // nullptr when absent
  Position position() const { return position_; }
  // Position of `key` itself when present, else of the mapping.
  Position keyPosition(std::string_view key) const;

 private:
  friend class Reader;
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
  };
  std::vector<Entry> entries_;
  Position position_;
};

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void error(Position at, std::string message);
  void error(const YAML::Node& at, std::string message) { error(where(at), std::move(message)); }
  void warning(Position at, std::string message);
  // Where to point for `node`. yaml-cpp marks an empty value ("name:") at
  // the next token, often on the next line, so point at its key instead.
  Position where(const YAML::Node& node) const;
  bool hasErrors() const { return !errors_.empty(); }
  std::vector<Diagnostic> takeErrors() { return std::move(errors_); }
  std::vector<Diagnostic> takeWarnings() { return std::move(warnings_); }
  // Takes over another reader's findings (a file this config names, read
  // with its own reader so that its positions name that file).
  void absorb(Reader& other);

  // Each reader below reports "<what>: <problem>" at the node and returns
  // nullopt (or false) when the node does not have the expected shape.

  // A mapping with string keys among `allowed`; unknown and repeated keys
  // are reported, the others kept. `what` names the mapping ("listener").
  std::optional<Map> map(const YAML::Node& node, std::string_view what,
                         std::initializer_list<std::string_view> allowed);
  // A sequence; `what` is the key that holds it.
  bool sequence(const YAML::Node& node, std::string_view what);
  std::optional<std::string> string(const YAML::Node& node, std::string_view what);
  std::optional<bool> boolean(const YAML::Node& node, std::string_view what);
  std::optional<uint64_t> integer(const YAML::Node& node, std::string_view what, uint64_t min,
                                  uint64_t max);
  std::optional<std::chrono::milliseconds> duration(const YAML::Node& node, std::string_view what);
  std::optional<uint64_t> size(const YAML::Node& node, std::string_view what, uint64_t min,
                               uint64_t max);
  std::optional<std::string> oneOf(const YAML::Node& node, std::string_view what,
                                   std::initializer_list<std::string_view> choices);

  // The value of a required key, or nullptr after reporting it missing.
  const YAML::Node* require(const Map& map, std::string_view key, std::string_view what);

  // Field helpers: when `key` is present and valid, store it in `out`;
  // otherwise `out` keeps its default.
  void readBool(const Map& map, std::string_view key, bool* out);
  void readDuration(const Map& map, std::string_view key, std::chrono::milliseconds* out);
  void readString(const Map& map, std::string_view key, std::string* out);
  template <typename T>
  void readInteger(const Map& map, std::string_view key, uint64_t min, uint64_t max, T* out) {
    if (const YAML::Node* node = map.find(key)) {
      if (auto value = integer(*node, key, min, max)) *out = static_cast<T>(*value);
    }
  }
  template <typename T>
  void readSize(const Map& map, std::string_view key, uint64_t min, uint64_t max, T* out) {
    if (const YAML::Node* node = map.find(key)) {
      if (auto value = size(*node, key, min, max)) *out = static_cast<T>(*value);
    }
  }

 private:
  std::optional<std::string> scalar(const YAML::Node& node, std::string_view what,
                                    std::string_view expected);

  std::string file_;
  std::vector<std::pair<YAML::Node, Position>> empty_values_;  // value -> its key's position
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic> warnings_;
};

// "a mapping", "a sequence", "'text'" or "nothing", for "expected X, got Y".
std::string describe(const YAML::Node& node);

}  // namespace rampart::config::yaml
