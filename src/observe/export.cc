#include "observe/export.h"

#include <algorithm>

#include <fmt/format.h>

namespace rampart::observe {

namespace {

std::string routeName(const MetricsSources& sources, size_t slot) {
  if (sources.route_names == nullptr || slot >= sources.route_names->size()) {
    return kUnmatchedRoute;
  }
  return (*sources.route_names)[slot];
}

size_t slotCount(const MetricsSources& sources) {
  return sources.metrics.empty() ? 0 : sources.metrics.front()->slots();
}

HistogramSnapshot mergedDuration(const MetricsSources& sources, size_t slot) {
  HistogramSnapshot merged;
  for (const WorkerMetrics* worker : sources.metrics) merged.add(worker->route(slot).duration);
  return merged;
}

uint64_t mergedClass(const MetricsSources& sources, size_t slot, size_t status_class) {
  uint64_t n = 0;
  for (const WorkerMetrics* worker : sources.metrics) {
    n += worker->route(slot).by_class[status_class].get();
  }
  return n;
}

// A bound in seconds as Prometheus writes it: shortest exact decimal.
std::string seconds(uint64_t micros) {
  return fmt::format("{}", static_cast<double>(micros) / 1e6);
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// One labelled series of a histogram family: buckets, sum, count.
// `labels` is the series' labels, formatted and escaped: route="api".
void histogramSeries(std::string& out, std::string_view name, std::string_view labels,
                     const HistogramSnapshot& merged) {
  auto it = std::back_inserter(out);
  for (uint64_t bound : prometheusBucketsMicros()) {
    fmt::format_to(it, "{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, seconds(bound),
                   merged.countAtOrBelow(bound));
  }
  fmt::format_to(it, "{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, merged.total());
  fmt::format_to(it, "{}_sum{{{}}} {}\n", name, labels,
                 static_cast<double>(merged.sumMicros()) / 1e6);
  fmt::format_to(it, "{}_count{{{}}} {}\n", name, labels, merged.total());
}

std::string label(std::string_view name, std::string_view value) {
  return fmt::format("{}=\"{}\"", name, escapeLabelValue(value));
}

size_t listenerCount(const MetricsSources& sources) {
  return sources.metrics.empty() ? 0 : sources.metrics.front()->listenerCount();
}
size_t clusterCount(const MetricsSources& sources) {
  return sources.metrics.empty() ? 0 : sources.metrics.front()->clusterCount();
}
HistogramSnapshot mergedListener(const MetricsSources& sources, size_t i) {
  HistogramSnapshot merged;
  for (const WorkerMetrics* worker : sources.metrics) merged.add(worker->listener(i));
  return merged;
}
HistogramSnapshot mergedCluster(const MetricsSources& sources, size_t i) {
  HistogramSnapshot merged;
  for (const WorkerMetrics* worker : sources.metrics) merged.add(worker->cluster(i));
  return merged;
}
uint64_t mergedRefusals(const MetricsSources& sources, size_t cause) {
  uint64_t n = 0;
  for (const WorkerMetrics* worker : sources.metrics) n += worker->refusals(cause);
  return n;
}
std::string listenerName(const MetricsSources& sources, size_t i) {
  return i < sources.listener_names.size() ? sources.listener_names[i] : fmt::format("{}", i);
}
std::string clusterName(const MetricsSources& sources, size_t i) {
  return i < sources.clusters.size() ? sources.clusters[i].cluster : fmt::format("{}", i);
}

}  // namespace

const std::vector<uint64_t>& prometheusBucketsMicros() {
  static const std::vector<uint64_t> kBounds = {
      100,       250,       500,       1'000,      2'500,      5'000,
      10'000,    25'000,    50'000,    100'000,    250'000,    500'000,
      1'000'000, 2'500'000, 5'000'000, 10'000'000, 30'000'000, 60'000'000};
  return kBounds;
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escapeJson(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      out += fmt::format("\\u{:04x}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

std::string renderPrometheus(const MetricsSources& sources) {
  std::string out;
  out.reserve(16384);
  auto it = std::back_inserter(out);
  const size_t slots = slotCount(sources);
  static const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

  family(out, "rampart_requests_total", "counter",
         "Responses sent to clients, by route and status class.");
  for (size_t slot = 0; slot < slots; ++slot) {
    std::string route = escapeLabelValue(routeName(sources, slot));
    for (size_t c = 0; c < 5; ++c) {
      fmt::format_to(it, "rampart_requests_total{{route=\"{}\",code=\"{}\"}} {}\n", route,
                     kClasses[c], mergedClass(sources, slot, c));
    }
  }

  family(out, "rampart_request_duration_seconds", "histogram",
         "From the request head read to the response head sent, by route (bucket edges at "
         "the histogram's resolution, under 1.6%).");
  for (size_t slot = 0; slot < slots; ++slot) {
    histogramSeries(out, "rampart_request_duration_seconds",
                    label("route", routeName(sources, slot)), mergedDuration(sources, slot));
  }
  if (listenerCount(sources) != 0) {
    family(out, "rampart_listener_request_duration_seconds", "histogram",
           "From the request head read to the response head sent, by listener.");
    for (size_t i = 0; i < listenerCount(sources); ++i) {
      histogramSeries(out, "rampart_listener_request_duration_seconds",
                      label("listener", listenerName(sources, i)), mergedListener(sources, i));
    }
  }
  if (clusterCount(sources) != 0) {
    family(out, "rampart_upstream_duration_seconds", "histogram",
           "From the request sent upstream to the response head (or the failure), by cluster.");
    for (size_t i = 0; i < clusterCount(sources); ++i) {
      histogramSeries(out, "rampart_upstream_duration_seconds",
                      label("cluster", clusterName(sources, i)), mergedCluster(sources, i));
    }
  }
  bool endpoint_family = false;
  for (size_t c = 0; c < clusterCount(sources) && c < sources.clusters.size(); ++c) {
    const MetricsSources::ClusterCounters& row = sources.clusters[c];
    const size_t endpoints =
        std::min(sources.metrics.front()->endpointCount(c), row.endpoint_names.size());
    for (size_t e = 0; e < endpoints; ++e) {
      if (!endpoint_family) {
        family(out, "rampart_endpoint_duration_seconds", "histogram",
               "From the request sent upstream to the response head (or the failure), by "
               "endpoint (as written in the config).");
        endpoint_family = true;
      }
      HistogramSnapshot merged;
      for (const WorkerMetrics* worker : sources.metrics) merged.add(worker->endpoint(c, e));
      histogramSeries(
          out, "rampart_endpoint_duration_seconds",
          label("cluster", row.cluster) + "," + label("endpoint", row.endpoint_names[e]), merged);
    }
  }
  family(out, "rampart_refusals_total", "counter",
         "Requests refused or failed, by the access log's cause (upstream-* as upstream); "
         "connections refused at accept are rampart_shield_refused_at_accept_total.");
  for (size_t c = 0; c < kRefusalCauseCount; ++c) {
    fmt::format_to(it, "rampart_refusals_total{{cause=\"{}\"}} {}\n", kRefusalCauses[c],
                   mergedRefusals(sources, c));
  }

  for (const CounterField& field : counterFields()) {
    // "requests" would collide with the per-route family above.
    std::string_view base =
        std::string_view(field.name) == "requests" ? "requests_received" : field.name;
    std::string name = fmt::format("rampart_{}_total", base);
    family(out, name, "counter",
           fmt::format("Worker counter {}, summed over workers.", field.name));
    fmt::format_to(it, "{} {}\n", name, sumOf(sources.stats, field.member));
  }
  if (!sources.clusters.empty()) {
    family(out, "rampart_cluster_events_total", "counter",
           "Upstream events per cluster, summed over workers: failures by cause, ejections, "
           "retries, retries refused by the budget, breaker trips (docs/upstreams.md).");
    for (const MetricsSources::ClusterCounters& row : sources.clusters) {
      std::string cluster = escapeLabelValue(row.cluster);
      for (const auto& [event, value] : row.values) {
        fmt::format_to(it, "rampart_cluster_events_total{{cluster=\"{}\",event=\"{}\"}} {}\n",
                       cluster, event, value);
      }
    }
  }
  if (!sources.clusters.empty()) {
    family(out, "rampart_cluster_endpoints", "gauge", "Endpoints configured, by cluster.");
    for (const MetricsSources::ClusterCounters& row : sources.clusters) {
      fmt::format_to(it, "rampart_cluster_endpoints{{cluster=\"{}\"}} {}\n",
                     escapeLabelValue(row.cluster), row.endpoints);
    }
    family(out, "rampart_cluster_endpoints_healthy", "gauge",
           "Endpoints not marked down by the active health checks, by cluster.");
    for (const MetricsSources::ClusterCounters& row : sources.clusters) {
      fmt::format_to(it, "rampart_cluster_endpoints_healthy{{cluster=\"{}\"}} {}\n",
                     escapeLabelValue(row.cluster), row.healthy);
    }
  }
  if (sources.store.enabled) {
    family(out, "rampart_store_up", "gauge",
           "1 while Redis answers within the store timeout, 0 while degraded (docs/store.md).");
    fmt::format_to(it, "rampart_store_up {}\n", sources.store.up ? 1 : 0);
    family(out, "rampart_store_events_total", "counter",
           "Store events: commands, leases, failures, errors, fallbacks (docs/store.md).");
    for (const auto& [event, value] : sources.store.counters) {
      fmt::format_to(it, "rampart_store_events_total{{event=\"{}\"}} {}\n", event, value);
    }
  }
  family(out, "rampart_connections_open", "gauge", "Client connections open now.");
  fmt::format_to(it, "rampart_connections_open {}\n", sources.open_connections);
  family(out, "rampart_workers", "gauge", "Worker threads.");
  fmt::format_to(it, "rampart_workers {}\n", sources.stats.size());
  family(out, "rampart_uptime_seconds", "gauge", "Seconds since the process started serving.");
  fmt::format_to(it, "rampart_uptime_seconds {}\n", sources.uptime_seconds);
  family(out, "rampart_config_reloads_total", "counter",
         "Config reloads by result: ok (published), refused (errors; the running config "
         "kept), unchanged (same content; nothing done).");
  fmt::format_to(it, "rampart_config_reloads_total{{result=\"ok\"}} {}\n", sources.reloads.ok);
  fmt::format_to(it, "rampart_config_reloads_total{{result=\"refused\"}} {}\n",
                 sources.reloads.refused);
  fmt::format_to(it, "rampart_config_reloads_total{{result=\"unchanged\"}} {}\n",
                 sources.reloads.unchanged);
  if (!sources.split_weights.empty()) {
    family(out, "rampart_route_cluster_weight", "gauge",
           "Percent of a weighted route's traffic its cluster gets now (after any step-back).");
    for (const SplitWeight& split : sources.split_weights) {
      fmt::format_to(it, "rampart_route_cluster_weight{{route=\"{}\",cluster=\"{}\"}} {}\n",
                     escapeLabelValue(split.route), escapeLabelValue(split.cluster), split.weight);
    }
    family(out, "rampart_route_stepped_back", "gauge",
           "1 when a weighted route's step-back has tripped (until restart).");
    std::string_view last;
    for (const SplitWeight& split : sources.split_weights) {
      if (split.route == last) continue;  // one series per route; its clusters are adjacent
      last = split.route;
      fmt::format_to(it, "rampart_route_stepped_back{{route=\"{}\"}} {}\n",
                     escapeLabelValue(split.route), split.stepped_back ? 1 : 0);
    }
  }
  appendRolloutPrometheus(sources, &out);
  return out;
}

std::string renderStatsJson(const MetricsSources& sources) {
  std::string out = "{";
  auto it = std::back_inserter(out);
  fmt::format_to(it, "\"uptime_seconds\":{},\"draining\":{},\"workers\":{},\"connections_open\":{}",
                 sources.uptime_seconds, sources.draining ? "true" : "false", sources.stats.size(),
                 sources.open_connections);
  if (sources.store.enabled) {
    fmt::format_to(it, ",\"store\":{{\"state\":\"{}\"", sources.store.up ? "up" : "degraded");
    for (const auto& [name, value] : sources.store.counters) {
      fmt::format_to(it, ",\"{}\":{}", name, value);
    }
    out += "}";
  }
  out += ",\"counters\":{";
  bool first = true;
  for (const CounterField& field : counterFields()) {
    fmt::format_to(it, "{}\"{}\":{}", first ? "" : ",", field.name,
                   sumOf(sources.stats, field.member));
    first = false;
  }
  out += "},\"routes\":[";
  const size_t slots = slotCount(sources);
  HistogramSnapshot all;
  for (size_t slot = 0; slot < slots; ++slot) {
    HistogramSnapshot merged = mergedDuration(sources, slot);
    all.add(merged);
    fmt::format_to(it, "{}{{\"route\":\"{}\",\"requests\":{}", slot == 0 ? "" : ",",
                   escapeJson(routeName(sources, slot)), merged.total());
    static const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (size_t c = 0; c < 5; ++c) {
      fmt::format_to(it, ",\"{}\":{}", kClasses[c], mergedClass(sources, slot, c));
    }
    fmt::format_to(it, ",\"p50_ms\":{:.3f},\"p90_ms\":{:.3f},\"p99_ms\":{:.3f}}}",
                   merged.quantileMicros(0.5) / 1000, merged.quantileMicros(0.9) / 1000,
                   merged.quantileMicros(0.99) / 1000);
  }
  out += "],\"splits\":[";
  std::string_view last;
  for (const SplitWeight& split : sources.split_weights) {
    if (split.route != last) {  // a route's clusters are adjacent
      fmt::format_to(it, "{}{{\"route\":\"{}\",\"stepped_back\":{},\"weights\":{{",
                     last.empty() ? "" : "}},", escapeJson(split.route),
                     split.stepped_back ? "true" : "false");
    } else {
      out += ",";
    }
    fmt::format_to(it, "\"{}\":{}", escapeJson(split.cluster), split.weight);
    last = split.route;
  }
  if (!last.empty()) out += "}}";
  out += "],\"refusals\":{";
  for (size_t c = 0; c < kRefusalCauseCount; ++c) {
    fmt::format_to(it, "{}\"{}\":{}", c == 0 ? "" : ",", kRefusalCauses[c],
                   mergedRefusals(sources, c));
  }
  out += "},\"listeners\":[";
  for (size_t i = 0; i < listenerCount(sources); ++i) {
    HistogramSnapshot merged = mergedListener(sources, i);
    fmt::format_to(it,
                   "{}{{\"listener\":\"{}\",\"requests\":{},\"p50_ms\":{:.3f},\"p90_ms\":{:.3f},"
                   "\"p99_ms\":{:.3f}}}",
                   i == 0 ? "" : ",", escapeJson(listenerName(sources, i)), merged.total(),
                   merged.quantileMicros(0.5) / 1000, merged.quantileMicros(0.9) / 1000,
                   merged.quantileMicros(0.99) / 1000);
  }
  out += "],\"clusters\":[";
  for (size_t i = 0; i < sources.clusters.size(); ++i) {
    const MetricsSources::ClusterCounters& row = sources.clusters[i];
    HistogramSnapshot merged =
        i < clusterCount(sources) ? mergedCluster(sources, i) : HistogramSnapshot{};
    uint64_t failures = 0;
    for (const auto& [name, value] : row.values) {
      // The upstream failure causes (upstream/errors.h causeCounterName).
      if (name == "connect_failure" || name == "connect_timeout" || name == "timeout" ||
          name == "reset" || name == "bad_response" || name == "no_healthy_upstream") {
        failures += value;
      }
    }
    fmt::format_to(it,
                   "{}{{\"cluster\":\"{}\",\"endpoints\":{},\"healthy\":{},\"requests\":{},"
                   "\"failures\":{},\"p50_ms\":{:.3f},\"p99_ms\":{:.3f}}}",
                   i == 0 ? "" : ",", escapeJson(row.cluster), row.endpoints, row.healthy,
                   merged.total(), failures, merged.quantileMicros(0.5) / 1000,
                   merged.quantileMicros(0.99) / 1000);
  }
  out += "],";
  fmt::format_to(it,
                 "\"latency\":{{\"requests\":{},\"p50_ms\":{:.3f},\"p90_ms\":{:.3f},"
                 "\"p99_ms\":{:.3f}}}}}",
                 all.total(), all.quantileMicros(0.5) / 1000, all.quantileMicros(0.9) / 1000,
                 all.quantileMicros(0.99) / 1000);
  return out;
}

}  // namespace rampart::observe
