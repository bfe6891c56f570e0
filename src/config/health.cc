// A cluster's health keys (see docs/upstreams.md): `health_check`,
// `outlier_detection` and `panic_threshold`, compiled into its ClusterSpec
// with every mistake reported at its file:line:col. Loading thread only.
#include <limits>

#include "config/sections.h"

namespace rampart::config::detail {

namespace {

constexpr uint64_t kMaxThreshold = 1000;
constexpr uint64_t kMaxConsecutive = 1'000'000;
constexpr std::chrono::milliseconds kMinInterval{10};

constexpr const char* kStatusHint = "expected a status from 100 to 599 or a range like 200-399";

// "204" or "200-399", each status 100..599, low <= high.
std::optional<upstream::StatusRange> parseStatusRange(std::string_view text) {
  size_t dash = text.find('-');
  std::string_view low_text = text.substr(0, dash);
  std::string_view high_text = dash == std::string_view::npos ? low_text : text.substr(dash + 1);
  std::optional<uint64_t> low = yaml::parseUnsigned(low_text);
  std::optional<uint64_t> high = yaml::parseUnsigned(high_text);
  if (!low || !high || *low < 100 || *high > 599 || *low > *high) return std::nullopt;
  return upstream::StatusRange{static_cast<uint16_t>(*low), static_cast<uint16_t>(*high)};
}

void readExpectedStatuses(yaml::Reader& reader, const YAML::Node& node,
                          std::vector<upstream::StatusRange>* out) {
  std::vector<upstream::StatusRange> ranges;
  auto one = [&](const YAML::Node& item) {
    std::optional<std::string> text = reader.string(item, "expected_statuses");
    if (!text) return;
    std::optional<upstream::StatusRange> range = parseStatusRange(*text);
    if (!range) {
      reader.error(
          item, std::string("expected_statuses: ") + kStatusHint + ", got " + yaml::describe(item));
      return;
    }
    ranges.push_back(*range);
  };
  if (node.IsScalar()) {
    one(node);
  } else {
    if (!reader.sequence(node, "expected_statuses")) return;
    if (node.size() == 0) {
      reader.error(node, "expected_statuses: give at least one status or range");
      return;
    }
    for (const YAML::Node& item : node) one(item);
  }
  if (!ranges.empty()) *out = std::move(ranges);
}

// The path of the check request: an origin-form target sent as written.
bool validCheckPath(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  for (char c : path) {
    if (c <= 0x20 || c >= 0x7f || c == '#') return false;
  }
  return true;
}

// A Host header value: visible ASCII, no spaces or separators that could
// end the header line.
bool validHost(std::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    if (c <= 0x20 || c >= 0x7f || c == ',' || c == '/') return false;
  }
  return true;
}

// A duration that must be above zero.
void readPositiveDuration(yaml::Reader& reader, const yaml::Map& map, std::string_view key,
                          std::chrono::milliseconds min, std::chrono::milliseconds* out) {
  const YAML::Node* node = map.find(key);
  if (node == nullptr) return;
  std::optional<std::chrono::milliseconds> value = reader.duration(*node, key);
  if (!value) return;
  if (*value < min) {
    reader.error(*node, std::string(key) + ": must be at least " + std::to_string(min.count()) +
                            "ms, got " + yaml::describe(*node));
    return;
  }
  *out = *value;
}

void readHealthCheck(yaml::Reader& reader, const YAML::Node& node, upstream::ClusterSpec* spec) {
  std::optional<yaml::Map> map = reader.map(node, "health_check",
                                            {"path", "expected_statuses", "interval", "timeout",
                                             "healthy_threshold", "unhealthy_threshold", "host"});
  if (!map) return;
  upstream::HealthCheckSpec check;
  bool ok = true;
  if (const YAML::Node* path = reader.require(*map, "path", "health_check")) {
    std::optional<std::string> text = reader.string(*path, "path");
    if (text && !validCheckPath(*text)) {
      reader.error(*path,
                   "path: expected a path from '/' without spaces, control characters "
                   "or '#', got " +
                       yaml::describe(*path));
      ok = false;
    } else if (text) {
      check.path = *text;
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  if (const YAML::Node* host = map->find("host")) {
    std::optional<std::string> text = reader.string(*host, "host");
    if (text && !validHost(*text)) {
      reader.error(*host, "host: expected a host name (and port) for the Host header, got " +
                              yaml::describe(*host));
    } else if (text) {
      check.host = *text;
    }
  }
  if (const YAML::Node* statuses = map->find("expected_statuses")) {
    readExpectedStatuses(reader, *statuses, &check.expected);
  }
  readPositiveDuration(reader, *map, "interval", kMinInterval, &check.interval);
  readPositiveDuration(reader, *map, "timeout", std::chrono::milliseconds(1), &check.timeout);
  reader.readInteger(*map, "healthy_threshold", 1, kMaxThreshold, &check.healthy_threshold);
  reader.readInteger(*map, "unhealthy_threshold", 1, kMaxThreshold, &check.unhealthy_threshold);
  if (!ok) return;
  spec->health_check = std::move(check);
}

void readOutlierDetection(yaml::Reader& reader, const YAML::Node& node,
                          upstream::ClusterSpec* spec) {
  std::optional<yaml::Map> map =
      reader.map(node, "outlier_detection",
                 {"consecutive_5xx", "consecutive_connect_failures", "base_ejection_time",
                  "max_ejection_time", "max_ejection_percent"});
  if (!map) return;
  upstream::OutlierSpec outlier;
  outlier.enabled = true;
  reader.readInteger(*map, "consecutive_5xx", 0, kMaxConsecutive, &outlier.consecutive_5xx);
  reader.readInteger(*map, "consecutive_connect_failures", 0, kMaxConsecutive,
                     &outlier.consecutive_connect_failures);
  readPositiveDuration(reader, *map, "base_ejection_time", std::chrono::milliseconds(1),
                       &outlier.base_ejection_time);
  readPositiveDuration(reader, *map, "max_ejection_time", std::chrono::milliseconds(1),
                       &outlier.max_ejection_time);
  reader.readInteger(*map, "max_ejection_percent", 0, 100, &outlier.max_ejection_percent);
  if (outlier.consecutive_5xx == 0 && outlier.consecutive_connect_failures == 0) {
    reader.error(map->position(),
                 "outlier_detection: consecutive_5xx and consecutive_connect_failures are both "
                 "0, so nothing would ever be ejected (remove the block to turn it off)");
  }
  if (outlier.max_ejection_time < outlier.base_ejection_time) {
    const YAML::Node* at = map->find("max_ejection_time");
    yaml::Position where = at != nullptr ? reader.where(*at) : map->position();
    reader.error(where, "max_ejection_time: must be at least base_ejection_time (" +
                            std::to_string(outlier.base_ejection_time.count()) + "ms), got " +
                            std::to_string(outlier.max_ejection_time.count()) + "ms");
  }
  spec->outlier = outlier;
}

}  // namespace

void readClusterHealth(yaml::Reader& reader, const yaml::Map& map, upstream::ClusterSpec* spec) {
  if (const YAML::Node* node = map.find("health_check")) readHealthCheck(reader, *node, spec);
  if (const YAML::Node* node = map.find("outlier_detection")) {
    readOutlierDetection(reader, *node, spec);
  }
  reader.readInteger(map, "panic_threshold", 0, 100, &spec->panic_threshold);
  // The workers' view of the checks' verdicts, sized once the endpoints are known.
  if (spec->health_check && !spec->endpoints.empty()) {
    spec->health = std::make_shared<upstream::ClusterHealth>(spec->endpoints.size());
  }
}

}  // namespace rampart::config::detail
