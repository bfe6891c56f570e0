#include "admin/stats_history.h"

#include <fmt/format.h>

namespace rampart::admin {

HistoryTotals HistoryTotals::read(const observe::MetricsSources& sources) {
  using observe::WorkerStats;
  HistoryTotals out;
  out.requests = observe::sumOf(sources.stats, &WorkerStats::requests);
  out.classes = {observe::sumOf(sources.stats, &WorkerStats::responses_1xx),
                 observe::sumOf(sources.stats, &WorkerStats::responses_2xx),
                 observe::sumOf(sources.stats, &WorkerStats::responses_3xx),
                 observe::sumOf(sources.stats, &WorkerStats::responses_4xx),
                 observe::sumOf(sources.stats, &WorkerStats::responses_5xx)};
  out.refused_at_accept = observe::sumOf(sources.stats, &WorkerStats::shield_refused_at_accept);
  out.bytes_in = observe::sumOf(sources.stats, &WorkerStats::bytes_in);
  out.bytes_out = observe::sumOf(sources.stats, &WorkerStats::bytes_out);
  for (const observe::WorkerMetrics* worker : sources.metrics) {
    for (size_t c = 0; c < observe::kRefusalCauseCount; ++c) out.refusals[c] += worker->refusals(c);
    for (size_t slot = 0; slot < worker->slots(); ++slot) {
      out.latency.add(worker->route(slot).duration);
    }
  }
  out.connections_open = sources.open_connections;
  return out;
}

void StatsHistory::sample(HistoryTotals totals, int64_t unix_ms, int64_t mono_ms) {
  if (previous_) {
    const HistoryTotals& before = *previous_;
    auto delta = [](uint64_t now, uint64_t then) { return now > then ? now - then : 0; };
    HistorySample& s = ring_[next_];
    s = HistorySample{};
    s.unix_ms = unix_ms;
    s.seconds = mono_ms > previous_mono_ms_ ? (mono_ms - previous_mono_ms_) / 1000.0 : 1.0;
    s.requests = delta(totals.requests, before.requests);
    for (size_t c = 0; c < 5; ++c) s.classes[c] = delta(totals.classes[c], before.classes[c]);
    for (size_t c = 0; c < observe::kRefusalCauseCount; ++c) {
      s.refusals[c] = delta(totals.refusals[c], before.refusals[c]);
    }
    s.refused_at_accept = delta(totals.refused_at_accept, before.refused_at_accept);
    s.bytes_in = delta(totals.bytes_in, before.bytes_in);
    s.bytes_out = delta(totals.bytes_out, before.bytes_out);
    observe::HistogramSnapshot second = totals.latency;
    second.subtract(before.latency);
    s.p50_ms = second.quantileMicros(0.5) / 1000;
    s.p90_ms = second.quantileMicros(0.9) / 1000;
    s.p99_ms = second.quantileMicros(0.99) / 1000;
    s.connections_open = totals.connections_open;
    next_ = (next_ + 1) % kSamples;
    if (count_ < kSamples) ++count_;
  }
  previous_ = std::move(totals);
  previous_mono_ms_ = mono_ms;
}

std::vector<HistorySample> StatsHistory::last(size_t most) const {
  const size_t n = std::min(most, count_);
  std::vector<HistorySample> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(ring_[(next_ + kSamples - n + i) % kSamples]);
  return out;
}

std::string StatsHistory::json(size_t most) const {
  const std::vector<HistorySample> samples = last(most);
  std::string out = "{\"interval_ms\":1000";
  auto it = std::back_inserter(out);
  auto column = [&](std::string_view name, auto value) {
    fmt::format_to(it, ",\"{}\":[", name);
    for (size_t i = 0; i < samples.size(); ++i) {
      if (i != 0) out += ',';
      fmt::format_to(it, "{}", value(samples[i]));
    }
    out += ']';
  };
  auto rate = [](uint64_t n, const HistorySample& s) {
    return fmt::format("{:.1f}", s.seconds > 0 ? static_cast<double>(n) / s.seconds : 0.0);
  };
  column("t", [](const HistorySample& s) { return s.unix_ms; });
  column("rps", [&](const HistorySample& s) { return rate(s.requests, s); });
  static const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  for (size_t c = 0; c < 5; ++c) {
    column(fmt::format("rps_{}", kClasses[c]),
           [&](const HistorySample& s) { return rate(s.classes[c], s); });
  }
  column("p50_ms", [](const HistorySample& s) { return fmt::format("{:.3f}", s.p50_ms); });
  column("p90_ms", [](const HistorySample& s) { return fmt::format("{:.3f}", s.p90_ms); });
  column("p99_ms", [](const HistorySample& s) { return fmt::format("{:.3f}", s.p99_ms); });
  column("refused_at_accept_ps",
         [&](const HistorySample& s) { return rate(s.refused_at_accept, s); });
  column("bytes_in_ps", [&](const HistorySample& s) { return rate(s.bytes_in, s); });
  column("bytes_out_ps", [&](const HistorySample& s) { return rate(s.bytes_out, s); });
  column("connections_open", [](const HistorySample& s) { return s.connections_open; });
  out += ",\"refusals_ps\":{";
  for (size_t c = 0; c < observe::kRefusalCauseCount; ++c) {
    if (c != 0) out += ',';
    fmt::format_to(it, "\"{}\":[", observe::kRefusalCauses[c]);
    for (size_t i = 0; i < samples.size(); ++i) {
      if (i != 0) out += ',';
      out += rate(samples[i].refusals[c], samples[i]);
    }
    out += ']';
  }
  out += "}}";
  return out;
}

}  // namespace rampart::admin
