// The progressive rollouts' state on the admin listener (docs/cutover.md):
// /rollouts as JSON and the rampart_rollout_* families of /metrics. Kept
// apart from export.cc so the two grow without touching each other.
#include <fmt/format.h>

#include <iterator>

#include "observe/export.h"

namespace rampart::observe {

namespace {

void familyHeader(std::string* out, std::string_view name, std::string_view type,
                  std::string_view help) {
  fmt::format_to(std::back_inserter(*out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

constexpr std::string_view kStates[] = {"advancing", "holding", "stepped_back", "done"};

}  // namespace

std::string renderRolloutsJson(const MetricsSources& sources) {
  std::string out = "{\"rollouts\":[";
  auto it = std::back_inserter(out);
  bool first = true;
  for (const RolloutRow& row : sources.rollouts) {
    std::string steps;
    for (uint32_t step : row.steps) {
      if (!steps.empty()) steps += ',';
      steps += std::to_string(step);
    }
    fmt::format_to(
        it,
        "{}{{\"route\":\"{}\",\"cluster\":\"{}\",\"from\":\"{}\",\"state\":\"{}\",\"step\":{},"
        "\"steps\":[{}],\"weight\":{},\"in_state_ms\":{},\"hold_ms\":{},\"step_backs\":{},"
        "\"breach\":\"{}\",\"guard\":{{\"max_error_rate\":{},\"max_p99_ms\":{},"
        "\"min_requests\":{}}},\"window\":{{\"requests\":{},\"failures\":{},\"error_rate\":{:.6f},"
        "\"p99_ms\":{:.3f},\"old_requests\":{},\"old_failures\":{},\"old_p99_ms\":{:.3f}}}}}",
        first ? "" : ",", escapeJson(row.route), escapeJson(row.cluster),
        escapeJson(row.from_cluster), row.state, row.step, steps, row.weight, row.in_state_ms,
        row.hold_ms, row.step_backs, row.breach, row.max_error_rate, row.max_p99_ms,
        row.min_requests, row.requests, row.failures, row.error_rate, row.p99_ms, row.old_requests,
        row.old_failures, row.old_p99_ms);
    first = false;
  }
  out += "]}";
  return out;
}

void appendRolloutPrometheus(const MetricsSources& sources, std::string* out) {
  auto it = std::back_inserter(*out);
  if (!sources.mirrors.empty()) {
    familyHeader(out, "rampart_mirror_total", "counter",
                 "Requests mirrored to a route's shadow cluster, by result (docs/cutover.md).");
    for (const MirrorRow& row : sources.mirrors) {
      for (const auto& [result, count] : row.results) {
        fmt::format_to(it, "rampart_mirror_total{{route=\"{}\",result=\"{}\"}} {}\n",
                       escapeLabelValue(row.route), result, count);
      }
    }
  }
  if (sources.rollouts.empty()) return;
  familyHeader(out, "rampart_rollout_weight", "gauge",
               "Percent of a ramped route's traffic its new cluster gets now (0 after a "
               "step-back).");
  for (const RolloutRow& row : sources.rollouts) {
    fmt::format_to(it, "rampart_rollout_weight{{route=\"{}\",cluster=\"{}\"}} {}\n",
                   escapeLabelValue(row.route), escapeLabelValue(row.cluster), row.weight);
  }
  familyHeader(out, "rampart_rollout_step", "gauge",
               "The ramped route's current step, from 0 (an index into its steps).");
  for (const RolloutRow& row : sources.rollouts) {
    fmt::format_to(it, "rampart_rollout_step{{route=\"{}\"}} {}\n", escapeLabelValue(row.route),
                   row.step);
  }
  familyHeader(out, "rampart_rollout_state", "gauge",
               "1 for the state a ramped route's rollout is in, 0 for the others.");
  for (const RolloutRow& row : sources.rollouts) {
    for (std::string_view state : kStates) {
      fmt::format_to(it, "rampart_rollout_state{{route=\"{}\",state=\"{}\"}} {}\n",
                     escapeLabelValue(row.route), state, state == row.state ? 1 : 0);
    }
  }
  familyHeader(out, "rampart_rollout_step_backs_total", "counter",
               "Automatic step-backs of a ramped route (a guard rail broke).");
  for (const RolloutRow& row : sources.rollouts) {
    fmt::format_to(it, "rampart_rollout_step_backs_total{{route=\"{}\"}} {}\n",
                   escapeLabelValue(row.route), row.step_backs);
  }
}

}  // namespace rampart::observe
