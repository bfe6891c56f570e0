// A route's `mirror:` (docs/cutover.md): the shadow cluster, the share of
// requests copied to it, and whether its answers are compared with the
// primary's. Read while loading; compiled into a routing::Mirror that the
// route carries for the lifetime of the snapshot.
#include <charconv>
#include <cmath>

#include "config/sections.h"

namespace rampart::config::detail {

namespace {

// "10", "0.5" or "12.25": a percentage in (0, 100] with at most two
// decimals, as points of 10000.
std::optional<uint32_t> parsePercentPoints(std::string_view text) {
  if (text.ends_with('%')) text.remove_suffix(1);
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  if (!(value > 0 && value <= 100)) return std::nullopt;
  double points = value * 100;
  if (std::fabs(points - std::round(points)) > 1e-6) return std::nullopt;
  return static_cast<uint32_t>(std::lround(points));
}

}  // namespace

std::shared_ptr<const routing::Mirror> readRouteMirror(
    yaml::Reader& reader, const YAML::Node& node, uint32_t primary_cluster,
    const std::vector<upstream::ClusterSpec>& clusters) {
  std::optional<yaml::Map> map =
      reader.map(node, "mirror",
                 {"cluster", "percent", "diff", "max_body_bytes", "max_active", "timeout",
                  "compare_headers", "ignore_json_fields"});
  if (!map) return nullptr;
  bool ok = true;
  routing::MirrorSpec spec;
  if (const YAML::Node* name_node = reader.require(*map, "cluster", "mirror")) {
    std::optional<std::string> name = reader.string(*name_node, "cluster");
    bool found = false;
    for (size_t i = 0; name && i < clusters.size(); ++i) {
      if (clusters[i].name != *name) continue;
      found = true;
      spec.cluster_index = static_cast<uint32_t>(i);
      spec.cluster_name = *name;
    }
    if (name && !found) {
      std::string known;
      for (const upstream::ClusterSpec& cluster : clusters)
        known += (known.empty() ? "" : ", ") + cluster.name;
      reader.error(*name_node,
                   "cluster: undefined cluster '" + *name + "' (" +
                       (known.empty() ? "no clusters are defined" : "defined clusters: " + known) +
                       ")");
    }
    if (found && spec.cluster_index == primary_cluster) {
      reader.error(*name_node, "cluster: '" + *name +
                                   "' already serves this route; a mirror goes to another cluster");
      found = false;
    }
    ok = ok && found;
  } else {
    ok = false;
  }
  if (const YAML::Node* percent = reader.require(*map, "percent", "mirror")) {
    std::optional<std::string> text = reader.string(*percent, "percent");
    std::optional<uint32_t> points = text ? parsePercentPoints(*text) : std::nullopt;
    if (points) {
      spec.points = *points;
    } else {
      if (text) {
        reader.error(*percent,
                     "percent: expected a percentage above 0 and at most 100 (two decimals at "
                     "most) like 10 or 0.5, got '" +
                         *text + "'");
      }
      ok = false;
    }
  } else {
    ok = false;
  }
  reader.readBool(*map, "diff", &spec.diff);
  reader.readSize(*map, "max_body_bytes", 0, 16ull << 20, &spec.max_body_bytes);
  reader.readInteger(*map, "max_active", 1, 100000, &spec.max_active);
  std::chrono::milliseconds timeout{spec.timeout_ms};
  reader.readDuration(*map, "timeout", &timeout);
  if (timeout.count() < 1) {
    reader.error(map->keyPosition("timeout"), "timeout: must be at least 1ms");
    ok = false;
  }
  spec.timeout_ms = timeout.count();
  auto names = [&](std::string_view key, bool header, std::vector<std::string>* out) {
    const YAML::Node* list = map->find(key);
    if (list == nullptr) return;
    if (!reader.sequence(*list, key)) {
      ok = false;
      return;
    }
    for (const YAML::Node& item : *list) {
      std::optional<std::string> name = reader.string(item, key);
      if (!name) {
        ok = false;
      } else if (name->empty() || (header && !isToken(*name))) {
        reader.error(item, std::string(key) + ": expected " +
                               (header ? "a header name" : "a member name") + ", got '" + *name +
                               "'");
        ok = false;
      } else {
        out->push_back(header ? lowercase(*name) : *name);
      }
    }
  };
  names("compare_headers", true, &spec.compare_headers);
  names("ignore_json_fields", false, &spec.ignore_json_fields);
  if (!ok || reader.hasErrors()) return nullptr;
  return std::make_shared<const routing::Mirror>(std::move(spec));
}

}  // namespace rampart::config::detail
