// `shield.overload` (priority classes and shedding) and `shield.baselines`
// (learned baselines): compiled into shield::OverloadSettings and
// shield::BaselineSettings, with every mistake reported at its file:line:col
// (see docs/shield.md#overload). Loading thread only.
#include <charconv>
#include <cmath>
#include <limits>

#include "config/sections.h"

namespace rampart::config::detail {

namespace {

using yaml::Map;

constexpr uint64_t kMaxCapacity = 10'000'000;
constexpr uint64_t kMaxHorizon = 10'000'000;
constexpr uint64_t kMaxMinWindows = 65535;
constexpr double kMaxFactor = 1000;

shield::Nanos toNanos(std::chrono::milliseconds millis) {
  return static_cast<shield::Nanos>(millis.count()) * 1'000'000;
}

// A plain decimal number ("0.2", "3", "2.5"); "20%" is read as 0.2 when
// `percent` is allowed.
std::optional<double> parseNumber(std::string_view text, bool percent) {
  double scale = 1;
  if (percent && !text.empty() && text.back() == '%') {
    text.remove_suffix(1);
    scale = 0.01;
  }
  if (text.empty() || text.front() == '+' || text.front() == '-') return std::nullopt;
  double value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value * scale;
}

// A share of capacity: 0..1 (or 0%..100%); `positive` refuses 0.
void readShare(yaml::Reader& reader, const Map& map, std::string_view key, bool positive,
               double* out) {
  const YAML::Node* node = map.find(key);
  if (node == nullptr) return;
  std::optional<std::string> text = reader.string(*node, key);
  if (!text) return;
  std::optional<double> value = parseNumber(*text, true);
  if (!value || *value > 1 || (positive && *value <= 0)) {
    reader.error(*node, std::string(key) + ": expected a share " +
                            (positive ? "above 0 and at most 1" : "from 0 to 1") +
                            " like 0.2 or 20%, got " + yaml::describe(*node));
    return;
  }
  *out = *value;
}

// A duration that must be more than zero, in nanoseconds.
void readPositiveDuration(yaml::Reader& reader, const Map& map, std::string_view key,
                          shield::Nanos* out) {
  const YAML::Node* node = map.find(key);
  if (node == nullptr) return;
  std::optional<std::chrono::milliseconds> value = reader.duration(*node, key);
  if (!value) return;
  if (value->count() == 0) {
    reader.error(*node, std::string(key) + ": must be more than 0");
    return;
  }
  *out = toNanos(*value);
}

// `mode: enforce | count`; true for count.
void readMode(yaml::Reader& reader, const Map& map, bool* count_only) {
  const YAML::Node* node = map.find("mode");
  if (node == nullptr) return;
  if (auto text = reader.oneOf(*node, "mode", {"enforce", "count"})) *count_only = *text == "count";
}

std::optional<shield::ShedAction> readAction(yaml::Reader& reader, const YAML::Node& node,
                                             std::string_view what) {
  auto text = reader.oneOf(node, what, {"reject", "drop"});
  if (!text) return std::nullopt;
  return *text == "drop" ? shield::ShedAction::kDrop : shield::ShedAction::kRespond;
}

// `action: reject | drop` for every class, or one per class:
// `action: {authenticated: reject, anonymous: reject, suspicious: drop}`.
void readActions(yaml::Reader& reader, const YAML::Node& node, shield::OverloadPolicy* policy) {
  if (node.IsScalar()) {
    if (auto action = readAction(reader, node, "action")) policy->action.fill(*action);
    return;
  }
  std::optional<Map> map = reader.map(node, "action", {"authenticated", "anonymous", "suspicious"});
  if (!map) return;
  for (size_t i = 0; i < shield::kRequestClasses; ++i) {
    const char* name = shield::requestClassName(static_cast<shield::RequestClass>(i));
    if (const YAML::Node* value = map->find(name)) {
      if (auto action = readAction(reader, *value, name)) policy->action[i] = *action;
    }
  }
}

// A rate in requests per second ("1/s", "30/m"); `zero` also takes "0".
void readRate(yaml::Reader& reader, const Map& map, std::string_view key, bool zero, double* out) {
  const YAML::Node* node = map.find(key);
  if (node == nullptr) return;
  std::optional<std::string> text = reader.string(*node, key);
  if (!text) return;
  if (zero && *text == "0") {
    *out = 0;
    return;
  }
  std::optional<double> rate = parseRate(*text);
  if (!rate) {
    reader.error(*node, std::string(key) + ": expected a rate like 1/s, 30/m or 100/h" +
                            (zero ? " (or 0)" : "") + ", got " + yaml::describe(*node));
    return;
  }
  *out = *rate;
}

}  // namespace

void readOverload(yaml::Reader& reader, const YAML::Node& node, shield::OverloadSettings* out) {
  std::optional<Map> map =
      reader.map(node, "overload",
                 {"mode", "capacity", "reserved_authenticated", "suspicious_share", "lag_target",
                  "min_capacity_share", "retry_after", "suspicious_for", "action"});
  if (!map) return;
  shield::OverloadPolicy& policy = out->policy;
  readMode(reader, *map, &policy.count_only);
  reader.readInteger(*map, "capacity", 1, kMaxCapacity, &policy.capacity);
  readShare(reader, *map, "reserved_authenticated", false, &policy.reserved_authenticated);
  readShare(reader, *map, "suspicious_share", false, &policy.suspicious_share);
  readShare(reader, *map, "min_capacity_share", true, &policy.min_capacity_share);
  readPositiveDuration(reader, *map, "lag_target", &policy.lag_target);
  readPositiveDuration(reader, *map, "suspicious_for", &out->suspicious_for);
  if (const YAML::Node* retry = map->find("retry_after")) {
    if (auto value = reader.duration(*retry, "retry_after")) policy.retry_after = toNanos(*value);
  }
  if (const YAML::Node* action = map->find("action")) readActions(reader, *action, &policy);
  out->enabled = true;
}

void readBaselines(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                   shield::BaselineSettings* out) {
  std::optional<Map> map =
      reader.map(node, "baselines",
                 {"mode", "key", "window", "horizon", "min_windows", "factor", "default_rate",
                  "floor_rate", "retry_after", "state_file", "prefix_v4", "prefix_v6"});
  if (!map) return;
  shield::BaselinePolicy& policy = out->policy;
  readMode(reader, *map, &policy.count_only);
  if (const YAML::Node* key = map->find("key")) {
    if (auto text = reader.oneOf(*key, "key", {"account", "principal", "prefix"})) {
      out->key = *text == "account"     ? shield::BaselineKey::kAccount
                 : *text == "principal" ? shield::BaselineKey::kPrincipal
                                        : shield::BaselineKey::kPrefix;
    }
  }
  readPositiveDuration(reader, *map, "window", &policy.window);
  reader.readInteger(*map, "horizon", 1, kMaxHorizon, &policy.horizon);
  reader.readInteger(*map, "min_windows", 1, kMaxMinWindows, &policy.min_windows);
  if (const YAML::Node* factor = map->find("factor")) {
    std::optional<std::string> text = reader.string(*factor, "factor");
    std::optional<double> value = text ? parseNumber(*text, false) : std::nullopt;
    if (text && (!value || *value <= 1 || *value > kMaxFactor)) {
      reader.error(*factor, "factor: expected a number above 1 (at most 1000) like 3 or 2.5, got " +
                                yaml::describe(*factor));
    } else if (value) {
      policy.factor = *value;
    }
  }
  readRate(reader, *map, "default_rate", false, &policy.default_rate);
  readRate(reader, *map, "floor_rate", true, &policy.floor_rate);
  if (const YAML::Node* retry = map->find("retry_after")) {
    if (auto value = reader.duration(*retry, "retry_after")) policy.retry_after = toNanos(*value);
  }
  if (const YAML::Node* file = map->find("state_file")) {
    if (auto path = reader.string(*file, "state_file")) {
      if (path->empty()) {
        reader.error(*file, "state_file: expected a file path, got ''");
      } else {
        out->state_file = path->front() == '/' ? *path : base_dir + "/" + *path;
      }
    }
  }
  reader.readInteger(*map, "prefix_v4", 1, 32, &out->prefix.v4);
  reader.readInteger(*map, "prefix_v6", 1, 128, &out->prefix.v6);
  out->enabled = true;
}

}  // namespace rampart::config::detail
