#include "config/cluster_admission.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <string>

namespace rampart::config::detail {

namespace {

using shield::Nanos;

// Bounds wide enough for any real cluster, narrow enough that per-worker
// memory (the fair queue is allocated whole at start) stays reasonable.
constexpr uint64_t kMaxLimit = 1'000'000;
constexpr uint64_t kMaxQueue = 1'000'000;
constexpr uint64_t kMaxWeight = 1000;

Nanos nanos(std::chrono::milliseconds duration) {
  return static_cast<Nanos>(duration.count()) * 1'000'000;
}

// A decimal number in [min, max] (or (min, max] with `open_min`); yaml-cpp
// gives scalars as text, so "0.9", "1" and "1e-1" all parse.
struct Range {
  double min;
  double max;
  bool open_min;
};

std::string describeRange(const Range& range) {
  auto text = [](double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
    return s;
  };
  std::string out(range.open_min ? "(" : "[");
  out += text(range.min);
  out += ", ";
  out += text(range.max);
  out += "]";
  return out;
}

void readNumber(yaml::Reader& reader, const yaml::Map& map, std::string_view key,
                const Range& range, double* out) {
  const YAML::Node* node = map.find(key);
  if (node == nullptr) return;
  std::optional<std::string> text = reader.string(*node, key);
  if (!text) return;
  double value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  bool in_range = ec == std::errc() && ptr == end && std::isfinite(value) &&
                  (range.open_min ? value > range.min : value >= range.min) && value <= range.max;
  if (!in_range) {
    reader.error(*node, std::string(key) + ": expected a number in " + describeRange(range) +
                            ", got " + yaml::describe(*node));
    return;
  }
  *out = value;
}

// A duration that must not be zero (a zero window or timeout means nothing).
void readPositiveDuration(yaml::Reader& reader, const yaml::Map& map, std::string_view key,
                          Nanos* out) {
  const YAML::Node* node = map.find(key);
  if (node == nullptr) return;
  std::optional<std::chrono::milliseconds> value = reader.duration(*node, key);
  if (!value) return;
  if (value->count() <= 0) {
    reader.error(*node, std::string(key) + ": must be more than 0");
    return;
  }
  *out = nanos(*value);
}

// `weights: {authenticated: 8, anonymous: 2, suspicious: 1}`: turns per lane.
void readWeights(yaml::Reader& reader, const YAML::Node& node, shield::FairQueuePolicy* queue) {
  std::optional<yaml::Map> map =
      reader.map(node, "weights", {"authenticated", "anonymous", "suspicious"});
  if (!map) return;
  static constexpr std::pair<std::string_view, shield::RequestClass> kLanes[] = {
      {"authenticated", shield::RequestClass::kAuthenticated},
      {"anonymous", shield::RequestClass::kAnonymous},
      {"suspicious", shield::RequestClass::kSuspicious},
  };
  for (const auto& [name, lane] : kLanes) {
    reader.readInteger(*map, name, 1, kMaxWeight, &queue->weights[static_cast<size_t>(lane)]);
  }
}

// `queue:` the fair queue: bounds, reserved share, lane weights, timeout.
void readQueue(yaml::Reader& reader, const YAML::Node& node,
               shield::ClusterAdmissionPolicy* policy) {
  std::optional<yaml::Map> map = reader.map(
      node, "queue", {"capacity", "per_flow", "reserved_authenticated", "weights", "timeout"});
  if (!map) return;
  shield::FairQueuePolicy& queue = policy->queue;
  reader.readInteger(*map, "capacity", 1, kMaxQueue, &queue.capacity);
  queue.per_flow = std::min(queue.per_flow, queue.capacity);  // unset: follows a small capacity
  reader.readInteger(*map, "per_flow", 1, kMaxQueue, &queue.per_flow);
  readNumber(reader, *map, "reserved_authenticated", {0, 1, false}, &queue.reserved_authenticated);
  if (const YAML::Node* weights = map->find("weights")) readWeights(reader, *weights, &queue);
  readPositiveDuration(reader, *map, "timeout", &policy->queue_timeout);
  const double shared = std::floor(queue.capacity * (1 - queue.reserved_authenticated));
  if (queue.reserved_authenticated < 1 && shared < 1) {
    reader.warning(map->position(),
                   "queue: capacity " + std::to_string(queue.capacity) +
                       " leaves no place outside the reserved_authenticated share: anonymous "
                       "requests are shed whenever every slot is taken");
  }
  if (queue.per_flow > queue.capacity) {
    reader.error(map->keyPosition("per_flow"), "per_flow: " + std::to_string(queue.per_flow) +
                                                   " is more than the queue's capacity " +
                                                   std::to_string(queue.capacity));
  }
}

void readLimits(yaml::Reader& reader, const yaml::Map& map, shield::AdaptiveConcurrencyPolicy* c) {
  reader.readInteger(map, "max_limit", 1, kMaxLimit, &c->max_limit);
  // Unset, min_limit, initial_limit and probe_limit follow max_limit rather
  // than failing on it ("max_limit: 2" alone is a valid section).
  c->min_limit = std::min(c->min_limit, c->max_limit);
  reader.readInteger(map, "min_limit", 1, kMaxLimit, &c->min_limit);
  c->initial_limit =
      std::clamp(c->initial_limit, std::min(c->min_limit, c->max_limit), c->max_limit);
  c->probe_limit = std::min(c->probe_limit, c->max_limit);
  reader.readInteger(map, "initial_limit", 1, kMaxLimit, &c->initial_limit);
  reader.readInteger(map, "probe_limit", 1, kMaxLimit, &c->probe_limit);
  if (c->max_limit < c->min_limit) {
    reader.error(map.keyPosition("min_limit"), "min_limit: " + std::to_string(c->min_limit) +
                                                   " is more than max_limit " +
                                                   std::to_string(c->max_limit));
    return;
  }
  if (c->initial_limit < c->min_limit || c->initial_limit > c->max_limit) {
    reader.error(map.keyPosition("initial_limit"),
                 "initial_limit: " + std::to_string(c->initial_limit) + " is outside [min_limit " +
                     std::to_string(c->min_limit) + ", max_limit " + std::to_string(c->max_limit) +
                     "]");
  }
  if (c->probe_limit > c->max_limit) {
    reader.error(map.keyPosition("probe_limit"), "probe_limit: " + std::to_string(c->probe_limit) +
                                                     " is more than max_limit " +
                                                     std::to_string(c->max_limit));
  }
}

}  // namespace

void readClusterAdmission(yaml::Reader& reader, const YAML::Node& node,
                          upstream::ClusterSpec* spec) {
  std::optional<yaml::Map> map = reader.map(
      node, "adaptive_concurrency",
      {"mode", "min_limit", "max_limit", "initial_limit", "sample_window", "min_samples",
       "percentile", "buffer", "smoothing", "min_rtt_interval", "min_rtt_samples", "probe_limit",
       "probe_timeout", "queue_min", "queue_factor", "retry_after", "queue"});
  if (!map) return;
  shield::ClusterAdmissionPolicy policy;
  shield::AdaptiveConcurrencyPolicy& c = policy.concurrency;
  if (const YAML::Node* mode = map->find("mode")) {
    if (auto value = reader.oneOf(*mode, "mode", {"enforce", "count"})) {
      policy.count_only = *value == "count";
    }
  }
  readLimits(reader, *map, &c);
  constexpr auto kMaxSamples = shield::AdaptiveConcurrency::kMaxSamples;
  readPositiveDuration(reader, *map, "sample_window", &c.sample_window);
  reader.readInteger(*map, "min_samples", 1, kMaxSamples, &c.min_samples);
  readNumber(reader, *map, "percentile", {0, 1, true}, &c.percentile);
  readNumber(reader, *map, "buffer", {0, 100, false}, &c.buffer);
  readNumber(reader, *map, "smoothing", {0, 1, true}, &c.smoothing);
  readPositiveDuration(reader, *map, "min_rtt_interval", &c.min_rtt_interval);
  reader.readInteger(*map, "min_rtt_samples", 1, kMaxSamples, &c.min_rtt_samples);
  readPositiveDuration(reader, *map, "probe_timeout", &c.probe_timeout);
  reader.readInteger(*map, "queue_min", 0, kMaxQueue, &c.queue_min);
  readNumber(reader, *map, "queue_factor", {0, 1000, false}, &c.queue_factor);
  readPositiveDuration(reader, *map, "retry_after", &policy.retry_after);
  if (const YAML::Node* queue = map->find("queue")) readQueue(reader, *queue, &policy);
  spec->admission = policy;  // with errors the whole load fails: it never runs
}

}  // namespace rampart::config::detail
