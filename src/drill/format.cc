// The drill's report as a human table or as JSON (for bench/flood).
#include <cstdio>
#include <string>

#include "drill/report.h"

namespace rampart::drill {

namespace {

std::string num(double value, int decimals = 3) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  return buf;
}
std::string ms(uint64_t ns) {
  return num(static_cast<double>(ns) / 1e6);
}

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// A tiny writer of one JSON object per call, keys in the order given.
class Json {
 public:
  Json& field(const char* key, const std::string& raw) {
    out_ += (out_.empty() ? "{" : ",") + std::string("\"") + key + "\":" + raw;
    return *this;
  }
  Json& field(const char* key, uint64_t value) { return field(key, std::to_string(value)); }
  Json& field(const char* key, int value) { return field(key, std::to_string(value)); }
  Json& field(const char* key, double value) { return field(key, num(value, 6)); }
  Json& field(const char* key, bool value) {
    return field(key, std::string(value ? "true" : "false"));
  }
  Json& text(const char* key, const std::string& value) { return field(key, jsonString(value)); }
  std::string done() const { return out_.empty() ? "{}" : out_ + "}"; }

 private:
  std::string out_;
};

std::string statusJson(const StatusCounts& s) {
  return Json()
      .field("2xx", s.s2xx)
      .field("401", s.s401)
      .field("429", s.s429)
      .field("503", s.s503)
      .field("other", s.other)
      .done();
}

std::string latencyJson(const Histogram& h) {
  return Json()
      .field("count", h.count())
      .field("p50", ms(h.percentile(50)))
      .field("p90", ms(h.percentile(90)))
      .field("p99", ms(h.percentile(99)))
      .field("p999", ms(h.percentile(99.9)))
      .field("max", ms(h.max()))
      .field("mean", num(h.mean() / 1e6))
      .done();
}

std::string connsJson(const ConnCounts& c) {
  return Json()
      .field("attempted", c.attempted)
      .field("opened", c.opened)
      .field("connect_refused", c.connect_refused)
      .field("connect_failed", c.connect_failed)
      .field("connect_timeouts", c.connect_timeouts)
      .field("reset", c.reset)
      .field("closed_without_response", c.closed_without_response)
      .field("closed_idle", c.closed_idle)
      .field("timeouts", c.timeouts)
      .field("bad_responses", c.bad_responses)
      .done();
}

std::string phaseJson(const LegitPhase& p) {
  return Json()
      .field("scheduled", p.scheduled)
      .field("ok", p.ok())
      .field("failed", p.failed())
      .field("success_rate", p.successRate())
      .field("status", statusJson(p.status))
      .field("timeouts", p.timeouts)
      .field("closed", p.closed)
      .field("connect_failed", p.connect_failed)
      .field("unfinished", p.unfinished)
      .field("latency_ms", latencyJson(p.latency))
      .done();
}

double ratio(uint64_t a, uint64_t b) {
  return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
}

double seconds(int64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

}  // namespace

namespace {

// {"slot_ms":100,"attack_slot":N,"count":[...],"max_ms":[...]}: slots from
// the baseline's start; attack_slot is the first slot of the attack.
std::string timelineJson(const Timeline& t, int64_t baseline_ns) {
  std::string counts = "[", maxima = "[";
  for (size_t i = 0; i < t.count.size(); ++i) {
    if (i > 0) {
      counts += ",";
      maxima += ",";
    }
    counts += std::to_string(t.count[i]);
    maxima += num(static_cast<double>(t.max_ns[i]) / 1e6, 3);
  }
  return Json()
      .field("slot_ms", static_cast<uint64_t>(Timeline::kSlotNs / 1000000))
      .field("start_monotonic_ns", static_cast<uint64_t>(t.start_ns))
      .field("attack_slot", static_cast<uint64_t>(baseline_ns / Timeline::kSlotNs))
      .field("count", counts + "]")
      .field("max_ms", maxima + "]")
      .done();
}

}  // namespace

std::string formatJson(const Report& r) {
  const Plan& p = r.plan;
  double attack_s = r.attack_seconds > 0 ? r.attack_seconds : seconds(p.attack_ns);
  std::string legit =
      Json()
          .field("clients", p.legit)
          .field("rate_per_client", p.legit_rate)
          .field("sources", p.legit_sources)
          .field("baseline", phaseJson(r.baseline))
          .field("attack", phaseJson(r.attack))
          .field("p50_ratio",
                 ratio(r.attack.latency.percentile(50), r.baseline.latency.percentile(50)))
          .field("p99_ratio",
                 ratio(r.attack.latency.percentile(99), r.baseline.latency.percentile(99)))
          .field("timeline", timelineJson(r.timeline, p.baseline_ns))
          .done();
  std::string flood =
      Json()
          .field("connections", p.flood_connections)
          .field("sources", p.flood_sources)
          .field("rate_per_source", p.flood_rate)
          .field("bogus_tokens", p.bogus_tokens)
          .field("sent", r.flood.sent)
          .field("sent_per_s", attack_s > 0 ? r.flood.sent / attack_s : 0.0)
          .field("answered", r.flood.status.total())
          .field("answered_per_s", attack_s > 0 ? r.flood.status.total() / attack_s : 0.0)
          .field("status", statusJson(r.flood.status))
          .field("conns", connsJson(r.flood.conns))
          .field("latency_ms", latencyJson(r.flood.latency))
          .done();
  const SlowlorisStats& s = r.slowloris;
  std::string slowloris = Json()
                              .field("connections", p.slowloris)
                              .field("interval_s", seconds(p.slowloris_interval_ns))
                              .field("bytes_sent", s.bytes_sent)
                              .field("open_at_end", s.open_at_end)
                              .field("max_open", s.max_open)
                              .field("status", statusJson(s.status))
                              .field("conns", connsJson(s.conns))
                              .field("held_ms", latencyJson(s.held))
                              .done();
  std::string conn_flood = Json()
                               .field("rate", p.connection_flood)
                               .field("skipped", r.connection_flood.skipped)
                               .field("conns", connsJson(r.connection_flood.conns))
                               .done();
  uint64_t attempts = r.attackAttempts();
  std::string attack = Json()
                           .field("attempts", attempts)
                           .field("refused", r.attackRefused())
                           .field("refused_fraction", ratio(r.attackRefused(), attempts))
                           .field("flood", flood)
                           .field("slowloris", slowloris)
                           .field("connection_flood", conn_flood)
                           .done();
  std::string drill =
      Json()
          .field("attack_thread_cpu_s", r.attack_thread_cpu_seconds)
          .field("legit_thread_cpu_s", r.legit_thread_cpu_seconds)
          .field("flood_requests_per_cpu_s",
                 r.attack_thread_cpu_seconds > 0
                     ? static_cast<double>(r.flood.status.total()) / r.attack_thread_cpu_seconds
                     : 0.0)
          .field("nofile_limit", r.nofile_limit)
          .field("legit_realtime", r.legit_realtime)
          .done();
  std::string phases = Json()
                           .field("warmup_s", seconds(p.warmup_ns))
                           .field("baseline_s", seconds(p.baseline_ns))
                           .field("attack_s", seconds(p.attack_ns))
                           .field("attack_measured_s", r.attack_seconds)
                           .field("timeout_s", seconds(p.timeout_ns))
                           .done();
  return Json()
             .text("target", p.target_text)
             .text("address", p.target.toString())
             .text("host", p.host_header)
             .text("path", p.path)
             .field("elapsed_s", r.elapsed_seconds)
             .field("bound_s", seconds(p.warmup_ns + p.baseline_ns + p.attack_ns + p.timeout_ns))
             .field("phases", phases)
             .field("legit", legit)
             .field("attack", attack)
             .field("drill", drill)
             .text("warnings", r.warnings)
             .done() +
         "\n";
}

namespace {

std::string pct(double fraction) {
  return num(fraction * 100.0, 2) + " %";
}

void line(std::string* out, const std::string& text) {
  *out += text + "\n";
}

std::string phaseRow(const char* name, const LegitPhase& p) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "  %-9s %9llu %9.3f %%  %8s %8s %8s %8s   %llu/%llu/%llu/%llu",
                name, static_cast<unsigned long long>(p.scheduled), p.successRate() * 100.0,
                ms(p.latency.percentile(50)).c_str(), ms(p.latency.percentile(99)).c_str(),
                ms(p.latency.percentile(99.9)).c_str(), ms(p.latency.max()).c_str(),
                static_cast<unsigned long long>(p.status.total() - p.status.s2xx),
                static_cast<unsigned long long>(p.timeouts),
                static_cast<unsigned long long>(p.closed + p.connect_failed),
                static_cast<unsigned long long>(p.unfinished));
  return buf;
}

std::string connsLine(const ConnCounts& c) {
  return "opened " + std::to_string(c.opened) + " of " + std::to_string(c.attempted) +
         "; refused " + std::to_string(c.connect_refused) + ", connect failed " +
         std::to_string(c.connect_failed) + ", connect timeouts " +
         std::to_string(c.connect_timeouts) + ", reset " + std::to_string(c.reset) +
         ", closed unanswered " + std::to_string(c.closed_without_response) + ", closed idle " +
         std::to_string(c.closed_idle) + ", request timeouts " + std::to_string(c.timeouts);
}

std::string statusLine(const StatusCounts& s) {
  return "2xx " + std::to_string(s.s2xx) + ", 401 " + std::to_string(s.s401) + ", 429 " +
         std::to_string(s.s429) + ", 503 " + std::to_string(s.s503) + ", other " +
         std::to_string(s.other);
}

}  // namespace

std::string formatTable(const Report& r) {
  const Plan& p = r.plan;
  std::string out;
  line(&out, "rampart drill against " + p.target_text + " (" + p.target.toString() + "), " +
                 num(r.elapsed_seconds, 1) + " s");
  line(&out, "");
  line(&out, "legitimate clients: " + std::to_string(p.legit) + " x " + num(p.legit_rate, 1) +
                 " req/s, from " + std::to_string(p.legit_sources) + " source addresses");
  line(&out,
       "  phase     scheduled   success    p50 ms   p99 ms p99.9 ms   max ms   "
       "non-2xx/timeout/closed/unfinished");
  line(&out, phaseRow("baseline", r.baseline));
  line(&out, phaseRow("attack", r.attack));
  uint64_t b99 = r.baseline.latency.percentile(99);
  if (b99 > 0 && r.attack.scheduled > 0) {
    line(&out, "  p99 under attack / baseline: " +
                   num(ratio(r.attack.latency.percentile(99), b99), 2) + "x");
  }
  if (!p.attacking()) return out;
  line(&out, "");
  double attack_s = r.attack_seconds > 0 ? r.attack_seconds : seconds(p.attack_ns);
  line(&out, "attack (" + num(attack_s, 1) + " s): refused " + std::to_string(r.attackRefused()) +
                 " of " + std::to_string(r.attackAttempts()) + " attempts (" +
                 pct(ratio(r.attackRefused(), r.attackAttempts())) + ")");
  if (p.flood_connections > 0) {
    line(&out, "  flood: " + std::to_string(p.flood_connections) + " connections from " +
                   std::to_string(p.flood_sources) + " addresses, " +
                   (p.flood_rate > 0 ? num(p.flood_rate, 1) + " req/s per address"
                                     : std::string("flat out")) +
                   (p.bogus_tokens ? ", bogus bearer tokens" : ""));
    line(&out, "    sent " + std::to_string(r.flood.sent) + " (" +
                   num(attack_s > 0 ? r.flood.sent / attack_s : 0, 0) + "/s), answered " +
                   statusLine(r.flood.status));
    line(&out, "    connections: " + connsLine(r.flood.conns));
  }
  if (p.slowloris > 0) {
    const SlowlorisStats& s = r.slowloris;
    line(&out, "  slowloris: " + std::to_string(p.slowloris) + " connections, a line every " +
                   num(seconds(p.slowloris_interval_ns), 2) + " s; open at end " +
                   std::to_string(s.open_at_end) + ", at most " + std::to_string(s.max_open));
    line(&out, "    connections: " + connsLine(s.conns));
    line(&out, "    answered before close: " + statusLine(s.status) + "; held p50 " +
                   num(s.held.percentile(50) / 1e9, 2) + " s, max " + num(s.held.max() / 1e9, 2) +
                   " s");
  }
  if (p.connection_flood > 0) {
    line(&out, "  connection flood: " + num(p.connection_flood, 0) + "/s, skipped " +
                   std::to_string(r.connection_flood.skipped));
    line(&out, "    connections: " + connsLine(r.connection_flood.conns));
  }
  line(&out, "");
  line(&out, "drill cost: attack thread " + num(r.attack_thread_cpu_seconds, 2) +
                 " CPU s, legit thread " + num(r.legit_thread_cpu_seconds, 2) + " CPU s" +
                 (r.legit_realtime ? " (SCHED_FIFO)" : ""));
  if (!r.warnings.empty()) out += "warning: " + r.warnings;
  return out;
}

}  // namespace rampart::drill
