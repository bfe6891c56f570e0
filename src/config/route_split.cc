// A route's weighted split: `clusters`, `sticky` and `step_back`
// (docs/cutover.md). Read while loading; compiled into a routing::Split that
// the route carries for the lifetime of the snapshot.
#include <charconv>
#include <set>

#include "config/sections.h"

namespace rampart::config::detail {

namespace {

std::optional<uint32_t> clusterIndex(yaml::Reader& reader, const YAML::Node& node,
                                     std::string_view what,
                                     const std::vector<upstream::ClusterSpec>& clusters) {
  std::optional<std::string> name = reader.string(node, what);
  if (!name) return std::nullopt;
  for (size_t i = 0; i < clusters.size(); ++i) {
    if (clusters[i].name == *name) return static_cast<uint32_t>(i);
  }
  std::string known;
  for (const upstream::ClusterSpec& cluster : clusters) {
    known += (known.empty() ? "" : ", ") + cluster.name;
  }
  reader.error(
      node, std::string(what) + ": undefined cluster '" + *name + "' (" +
                (known.empty() ? "no clusters are defined" : "defined clusters: " + known) + ")");
  return std::nullopt;
}

void readTargets(yaml::Reader& reader, const YAML::Node& node,
                 const std::vector<upstream::ClusterSpec>& clusters, routing::SplitSpec* spec,
                 bool* ok) {
  if (!reader.sequence(node, "clusters")) {
    *ok = false;
    return;
  }
  if (node.size() < 2) {
    reader.error(node,
                 "clusters: a weighted split needs at least two clusters; use `cluster:` "
                 "for one");
    *ok = false;
  }
  std::set<uint32_t> seen;
  uint64_t total = 0;
  for (const YAML::Node& item : node) {
    std::optional<yaml::Map> map = reader.map(item, "clusters entry", {"cluster", "weight"});
    if (!map) {
      *ok = false;
      continue;
    }
    routing::SplitTarget target;
    std::optional<uint32_t> index;
    if (const YAML::Node* name = reader.require(*map, "cluster", "clusters entry")) {
      index = clusterIndex(reader, *name, "cluster", clusters);
      if (index && !seen.insert(*index).second) {
        reader.error(*name, "cluster: '" + clusters[*index].name +
                                "' is listed twice in this split; list each cluster once");
        index.reset();
      }
    }
    std::optional<uint64_t> weight;
    if (const YAML::Node* value = reader.require(*map, "weight", "clusters entry")) {
      weight = reader.integer(*value, "weight", 0, 100);
    }
    if (!index || !weight) {
      *ok = false;
      continue;
    }
    target.cluster_index = *index;
    target.weight = static_cast<uint32_t>(*weight);
    total += *weight;
    spec->targets.push_back(target);
  }
  if (*ok && total != 100) {
    reader.error(node, "clusters: weights are percentages and must sum to 100, these sum to " +
                           std::to_string(total));
    *ok = false;
  }
}

void readSticky(yaml::Reader& reader, const YAML::Node& node, routing::StickySpec* out, bool* ok) {
  std::optional<yaml::Map> map = reader.map(node, "sticky", {"key"});
  if (!map) {
    *ok = false;
    return;
  }
  const YAML::Node* key = reader.require(*map, "key", "sticky");
  if (key == nullptr) {
    *ok = false;
    return;
  }
  std::optional<std::string> text = reader.string(*key, "key");
  if (!text) {
    *ok = false;
    return;
  }
  auto named = [&](std::string_view prefix, routing::StickyKind kind) {
    std::string name = text->substr(prefix.size());
    if (!isToken(name)) {
      reader.error(*key, "key: expected " + std::string(prefix) +
                             "<name> with a token name, got '" + *text + "'");
      *ok = false;
      return;
    }
    out->kind = kind;
    // Header names compare case-insensitively; cookie names do not (RFC 6265).
    out->name = kind == routing::StickyKind::kHeader ? lowercase(name) : name;
  };
  if (*text == "account") {
    out->kind = routing::StickyKind::kAccount;
  } else if (*text == "principal") {
    out->kind = routing::StickyKind::kPrincipal;
  } else if (text->starts_with("cookie:")) {
    named("cookie:", routing::StickyKind::kCookie);
  } else if (text->starts_with("header:")) {
    named("header:", routing::StickyKind::kHeader);
  } else {
    reader.error(*key, "key: expected account, principal, cookie:<name> or header:<name>, got '" +
                           *text + "'");
    *ok = false;
  }
}

// "0.05" or "5%": a fraction in (0, 1).
std::optional<double> parseRateFraction(std::string_view text) {
  bool percent = text.ends_with('%');
  if (percent) text.remove_suffix(1);
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  if (percent) value /= 100;
  if (!(value > 0 && value < 1)) return std::nullopt;
  return value;
}

void readStepBack(yaml::Reader& reader, const YAML::Node& node,
                  const std::vector<upstream::ClusterSpec>& clusters, routing::SplitSpec* spec,
                  bool* ok) {
  std::optional<yaml::Map> map =
      reader.map(node, "step_back", {"watch", "max_error_rate", "min_requests", "window", "to"});
  if (!map) {
    *ok = false;
    return;
  }
  routing::StepBackSpec& rule = spec->step_back;
  rule.enabled = true;
  if (const YAML::Node* watch = reader.require(*map, "watch", "step_back")) {
    std::optional<uint32_t> index = clusterIndex(reader, *watch, "watch", clusters);
    bool found = false;
    for (size_t i = 0; index && i < spec->targets.size(); ++i) {
      if (spec->targets[i].cluster_index == *index) {
        rule.watch = static_cast<uint32_t>(i);
        rule.watch_name = clusters[*index].name;
        found = true;
      }
    }
    if (index && !found && *ok) {
      reader.error(*watch, "watch: cluster '" + clusters[*index].name +
                               "' is not one of this route's clusters");
    }
    if (!found) *ok = false;
  } else {
    *ok = false;
  }
  if (const YAML::Node* rate = map->find("max_error_rate")) {
    std::optional<std::string> text = reader.string(*rate, "max_error_rate");
    std::optional<double> value = text ? parseRateFraction(*text) : std::nullopt;
    if (value) {
      rule.max_error_rate = *value;
    } else {
      if (text) {
        reader.error(*rate,
                     "max_error_rate: expected a fraction between 0 and 1 like 0.05, or "
                     "a percentage like 5%, got '" +
                         *text + "'");
      }
      *ok = false;
    }
  }
  reader.readInteger(*map, "min_requests", 1, 1000000, &rule.min_requests);
  std::chrono::milliseconds window{rule.window_ms};
  reader.readDuration(*map, "window", &window);
  if (window.count() < 100) {
    reader.error(map->keyPosition("window"), "window: must be at least 100ms");
    *ok = false;
  }
  rule.window_ms = window.count();
  if (const YAML::Node* to = map->find("to")) {
    if (auto value = reader.integer(*to, "to", 0, 100)) {
      rule.to = static_cast<uint32_t>(*value);
      if (*ok && rule.to >= spec->targets[rule.watch].weight) {
        reader.error(*to, "to: " + std::to_string(rule.to) +
                              " is not below the watched cluster's weight (" +
                              std::to_string(spec->targets[rule.watch].weight) +
                              "): the step-back would move nothing");
        *ok = false;
      }
    } else {
      *ok = false;
    }
  }
}

// "1.5": a factor of at least 1 (the relative guards).
std::optional<double> parseFactor(std::string_view text) {
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  if (!(value >= 1 && value <= 1000)) return std::nullopt;
  return value;
}

void readGuard(yaml::Reader& reader, const YAML::Node& node, routing::RampSpec* ramp, bool* ok) {
  std::optional<yaml::Map> map =
      reader.map(node, "guard",
                 {"max_error_rate", "max_p99", "min_requests", "max_error_ratio", "max_p99_ratio"});
  if (!map) {
    *ok = false;
    return;
  }
  if (const YAML::Node* rate = map->find("max_error_rate")) {
    std::optional<std::string> text = reader.string(*rate, "max_error_rate");
    std::optional<double> value = text ? parseRateFraction(*text) : std::nullopt;
    if (value) {
      ramp->max_error_rate = *value;
    } else {
      if (text) {
        reader.error(*rate,
                     "max_error_rate: expected a fraction between 0 and 1 like 0.01, or "
                     "a percentage like 1%, got '" +
                         *text + "'");
      }
      *ok = false;
    }
  }
  if (const YAML::Node* p99 = map->find("max_p99")) {
    std::optional<std::chrono::milliseconds> value = reader.duration(*p99, "max_p99");
    if (value && value->count() >= 1) {
      ramp->max_p99_ms = value->count();
    } else {
      if (value) reader.error(*p99, "max_p99: must be at least 1ms");
      *ok = false;
    }
  }
  if (const YAML::Node* min = map->find("min_requests")) {
    if (auto value = reader.integer(*min, "min_requests", 1, 1000000)) {
      ramp->min_requests = static_cast<uint32_t>(*value);
    } else {
      *ok = false;
    }
  }
  for (auto [key, out] : {std::pair{"max_error_ratio", &ramp->max_error_ratio},
                          std::pair{"max_p99_ratio", &ramp->max_p99_ratio}}) {
    const YAML::Node* factor = map->find(key);
    if (factor == nullptr) continue;
    std::optional<std::string> text = reader.string(*factor, key);
    std::optional<double> value = text ? parseFactor(*text) : std::nullopt;
    if (value) {
      *out = *value;
    } else {
      if (text) {
        reader.error(*factor, std::string(key) +
                                  ": expected a factor of the old cluster's figure from 1 "
                                  "to 1000 like 1.5, got '" +
                                  *text + "'");
      }
      *ok = false;
    }
  }
}

void readSteps(yaml::Reader& reader, const YAML::Node& node, routing::RampSpec* ramp, bool* ok) {
  if (!reader.sequence(node, "steps")) {
    *ok = false;
    return;
  }
  if (node.size() == 0) {
    reader.error(node, "steps: list at least one weight, like [1, 5, 25, 50, 100]");
    *ok = false;
    return;
  }
  for (const YAML::Node& item : node) {
    std::optional<uint64_t> value = reader.integer(item, "steps", 0, 100);
    if (!value) {
      *ok = false;
      continue;
    }
    if (!ramp->steps.empty() && *value <= ramp->steps.back()) {
      reader.error(item, "steps: " + std::to_string(*value) + " follows " +
                             std::to_string(ramp->steps.back()) +
                             "; steps are the new cluster's weights in strictly ascending order");
      *ok = false;
      continue;
    }
    ramp->steps.push_back(static_cast<uint32_t>(*value));
  }
}

// `ramp:`: the ramped cluster is one of the route's, written with weight 0
// (the steps set it); it takes its points from the first other cluster.
void readRamp(yaml::Reader& reader, const YAML::Node& node,
              const std::vector<upstream::ClusterSpec>& clusters, routing::SplitSpec* spec,
              bool* ok) {
  std::optional<yaml::Map> map = reader.map(node, "ramp", {"cluster", "steps", "hold", "guard"});
  if (!map) {
    *ok = false;
    return;
  }
  routing::RampSpec& ramp = spec->ramp;
  ramp.enabled = true;
  bool found = false;
  if (const YAML::Node* name = reader.require(*map, "cluster", "ramp")) {
    std::optional<uint32_t> index = clusterIndex(reader, *name, "cluster", clusters);
    for (size_t i = 0; index && i < spec->targets.size(); ++i) {
      if (spec->targets[i].cluster_index != *index) continue;
      found = true;
      ramp.target = static_cast<uint32_t>(i);
      ramp.from = i == 0 ? 1 : 0;
      ramp.cluster_name = clusters[*index].name;
      if (spec->targets[i].weight != 0) {
        reader.error(*name, "cluster: '" + ramp.cluster_name + "' has weight " +
                                std::to_string(spec->targets[i].weight) +
                                " in clusters; a ramped cluster is listed with weight 0 and its "
                                "steps set its weight");
        *ok = false;
      }
    }
    if (index && !found) {
      reader.error(*name, "cluster: cluster '" + clusters[*index].name +
                              "' is not one of this route's clusters");
    }
  }
  if (!found) *ok = false;
  if (const YAML::Node* steps = reader.require(*map, "steps", "ramp")) {
    readSteps(reader, *steps, &ramp, ok);
    if (found && *ok && ramp.steps.back() > spec->targets[ramp.from].weight) {
      reader.error(*steps, "steps: the last step (" + std::to_string(ramp.steps.back()) +
                               ") is more than cluster '" +
                               clusters[spec->targets[ramp.from].cluster_index].name +
                               "' has to give (weight " +
                               std::to_string(spec->targets[ramp.from].weight) + ")");
      *ok = false;
    }
  } else {
    *ok = false;
  }
  std::chrono::milliseconds hold{ramp.hold_ms};
  reader.readDuration(*map, "hold", &hold);
  if (hold.count() < 100) {
    reader.error(map->keyPosition("hold"), "hold: must be at least 100ms");
    *ok = false;
  }
  ramp.hold_ms = hold.count();
  if (const YAML::Node* guard = map->find("guard")) readGuard(reader, *guard, &ramp, ok);
}

}  // namespace

std::shared_ptr<const routing::Split> readRouteSplit(
    yaml::Reader& reader, const yaml::Map& route,
    const std::vector<upstream::ClusterSpec>& clusters) {
  routing::SplitSpec spec;
  bool ok = true;
  readTargets(reader, *route.find("clusters"), clusters, &spec, &ok);
  if (const YAML::Node* sticky = route.find("sticky"))
    readSticky(reader, *sticky, &spec.sticky, &ok);
  if (const YAML::Node* step_back = route.find("step_back")) {
    if (ok) {
      readStepBack(reader, *step_back, clusters, &spec, &ok);
    } else {
      reader.map(*step_back, "step_back",
                 {"watch", "max_error_rate", "min_requests", "window", "to"});
    }
  }
  if (const YAML::Node* ramp = route.find("ramp")) {
    if (route.find("step_back") != nullptr) {
      reader.error(route.keyPosition("ramp"),
                   "ramp: a ramped route steps back by its guard; remove step_back");
      ok = false;
    }
    if (ok) {
      readRamp(reader, *ramp, clusters, &spec, &ok);
    } else {
      reader.map(*ramp, "ramp", {"cluster", "steps", "hold", "guard"});
    }
  }
  if (!ok) return nullptr;
  return std::make_shared<const routing::Split>(std::move(spec));
}

}  // namespace rampart::config::detail
