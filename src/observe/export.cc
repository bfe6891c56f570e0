#include "observe/export.h"

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
    std::string route = escapeLabelValue(routeName(sources, slot));
    HistogramSnapshot merged = mergedDuration(sources, slot);
    for (uint64_t bound : prometheusBucketsMicros()) {
      fmt::format_to(it, "rampart_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                     route, seconds(bound), merged.countAtOrBelow(bound));
    }
    fmt::format_to(it, "rampart_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                   route, merged.total());
    fmt::format_to(it, "rampart_request_duration_seconds_sum{{route=\"{}\"}} {}\n", route,
                   static_cast<double>(merged.sumMicros()) / 1e6);
    fmt::format_to(it, "rampart_request_duration_seconds_count{{route=\"{}\"}} {}\n", route,
                   merged.total());
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
  out += "],";
  fmt::format_to(it,
                 "\"latency\":{{\"requests\":{},\"p50_ms\":{:.3f},\"p90_ms\":{:.3f},"
                 "\"p99_ms\":{:.3f}}}}}",
                 all.total(), all.quantileMicros(0.5) / 1000, all.quantileMicros(0.9) / 1000,
                 all.quantileMicros(0.99) / 1000);
  return out;
}

}  // namespace rampart::observe
