// The drill's flags: bound with CLI11, then checked and resolved into a Plan.
#include <arpa/inet.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "drill/drill.h"

namespace rampart::drill {

namespace {

bool parseNumber(const std::string& text, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) return false;
  *out = value;
  return true;
}

bool parseIpv4(const std::string& text, uint32_t* host_order) {
  in_addr addr{};
  if (inet_pton(AF_INET, text.c_str(), &addr) != 1) return false;
  *host_order = ntohl(addr.s_addr);
  return true;
}

// The range [base, base + count) must stay inside 127.0.0.0/8.
bool checkSourceRange(const char* flag, const std::string& base_text, int count, uint32_t* base,
                      std::string* error) {
  if (!parseIpv4(base_text, base)) {
    *error = std::string(flag) + ": '" + base_text + "' is not an IPv4 address";
    return false;
  }
  uint64_t last = uint64_t{*base} + (count > 0 ? count - 1 : 0);
  if ((*base >> 24) != 127 || (last >> 24) != 127) {
    *error = std::string(flag) + ": " + std::to_string(count) + " source addresses from " +
             base_text + " leave 127.0.0.0/8";
    return false;
  }
  return true;
}

bool checkHeader(const std::string& header, std::string* error) {
  size_t colon = header.find(':');
  if (colon == 0 || colon == std::string::npos) {
    *error = "--legit-header: '" + header + "' is not 'Name: value'";
    return false;
  }
  for (size_t i = 0; i < colon; ++i) {
    unsigned char c = static_cast<unsigned char>(header[i]);
    if (c <= ' ' || c >= 0x7f || std::strchr("()<>@,;:\\\"/[]?={}", c) != nullptr) {
      *error = "--legit-header: '" + header.substr(0, colon) + "' is not a header name";
      return false;
    }
  }
  for (char c : header) {
    if (c == '\r' || c == '\n' || c == '\0') {
      *error = "--legit-header: a header may not contain CR, LF or NUL";
      return false;
    }
  }
  return true;
}

bool checkPath(const char* flag, const std::string& path, std::string* error) {
  if (path.empty() || path[0] != '/') {
    *error = std::string(flag) + ": '" + path + "' must start with '/'";
    return false;
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      *error = std::string(flag) + ": a path may not contain spaces or control characters";
      return false;
    }
  }
  return true;
}

}  // namespace

bool parseDuration(const std::string& text, int64_t* ns) {
  struct Unit {
    const char* suffix;
    double ns;
  };
  static constexpr Unit kUnits[] = {{"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  double scale = 1e9;
  std::string number = text;
  for (const Unit& unit : kUnits) {
    size_t n = std::strlen(unit.suffix);
    if (text.size() > n && text.compare(text.size() - n, n, unit.suffix) == 0) {
      // "ms" before "s" and "m": the first match wins.
      number = text.substr(0, text.size() - n);
      scale = unit.ns;
      break;
    }
  }
  double value = 0;
  if (!parseNumber(number, &value) || value < 0) return false;
  *ns = static_cast<int64_t>(value * scale);
  return true;
}

bool parseRate(const std::string& text, double* per_second) {
  double scale = 1;
  std::string number = text;
  size_t slash = text.find('/');
  if (slash != std::string::npos) {
    std::string unit = text.substr(slash + 1);
    number = text.substr(0, slash);
    if (unit == "s") {
      scale = 1;
    } else if (unit == "m") {
      scale = 1.0 / 60;
    } else if (unit == "h") {
      scale = 1.0 / 3600;
    } else {
      return false;
    }
  }
  double value = 0;
  if (!parseNumber(number, &value) || value < 0) return false;
  *per_second = value * scale;
  return true;
}

bool isLoopback(const net::SocketAddress& address) {
  const sockaddr* sa = address.sockaddrPtr();
  if (address.family() == AF_INET) {
    uint32_t ip = ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
    return (ip >> 24) == 127;
  }
  if (address.family() == AF_INET6) {
    const in6_addr& ip = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&ip)) return true;
    return IN6_IS_ADDR_V4MAPPED(&ip) && ip.s6_addr[12] == 127;
  }
  return false;
}

uint64_t Plan::descriptorsNeeded() const {
  // Open-and-reset connections in flight: at most one timeout's worth.
  double in_flight = connection_flood * (static_cast<double>(timeout_ns) / 1e9);
  return static_cast<uint64_t>(legit) * legit_connections + flood_connections + slowloris +
         static_cast<uint64_t>(std::min(in_flight, 20000.0)) + 64;
}

CheckResult checkOptions(const Options& o, Plan* plan, std::string* error) {
  Plan p;
  auto bad = [&](std::string message) {
    *error = std::move(message);
    return CheckResult::kBadFlags;
  };
  if (o.target.empty()) return bad("--target HOST:PORT is required");
  if (!checkPath("--path", o.path, error)) return CheckResult::kBadFlags;
  p.path = o.path;
  p.attack_path = o.attack_path.empty() ? o.path : o.attack_path;
  if (!checkPath("--attack-path", p.attack_path, error)) return CheckResult::kBadFlags;
  if (o.format != "table" && o.format != "json") return bad("--format: table or json");
  p.json = o.format == "json";

  struct Span {
    const char* flag;
    const std::string* text;
    int64_t* ns;
  };
  for (const Span& span :
       {Span{"--warmup", &o.warmup, &p.warmup_ns}, Span{"--baseline", &o.baseline, &p.baseline_ns},
        Span{"--duration", &o.duration, &p.attack_ns}, Span{"--timeout", &o.timeout, &p.timeout_ns},
        Span{"--slowloris-interval", &o.slowloris_interval, &p.slowloris_interval_ns}}) {
    if (!parseDuration(*span.text, span.ns)) {
      return bad(std::string(span.flag) + ": '" + *span.text +
                 "' is not a duration (e.g. 10s, 500ms, 2m)");
    }
  }
  double total_s = static_cast<double>(p.warmup_ns + p.baseline_ns + p.attack_ns) / 1e9;
  if (total_s > kMaxRunSeconds) {
    return bad("--warmup + --baseline + --duration is " + std::to_string(total_s) +
               " s; a drill is capped at " + std::to_string(static_cast<int>(kMaxRunSeconds)) +
               " s");
  }
  if (p.baseline_ns + p.attack_ns <= 0) return bad("--baseline and --duration are both 0");
  if (p.timeout_ns < 1000000 || p.timeout_ns > 60000000000LL) {
    return bad("--timeout: between 1ms and 60s");
  }
  if (p.slowloris_interval_ns < 10000000) return bad("--slowloris-interval: at least 10ms");

  if (o.legit < 0 || o.legit > 10000) return bad("--legit: 0 to 10000 clients");
  p.legit = o.legit;
  if (o.legit_connections < 1 || o.legit_connections > 64) {
    return bad("--legit-connections: 1 to 64 per client");
  }
  p.legit_connections = o.legit_connections;
  if (!parseRate(o.legit_rate, &p.legit_rate)) {
    return bad("--legit-rate: '" + o.legit_rate + "' is not a rate (e.g. 20/s)");
  }
  if (p.legit > 0 && (p.legit_rate <= 0 || p.legit_rate * p.legit > 200000)) {
    return bad("--legit-rate: above 0, and at most 200000/s over all clients");
  }
  for (const std::string& header : o.legit_headers) {
    if (!checkHeader(header, error)) return CheckResult::kBadFlags;
    p.legit_headers.push_back(header);
  }
  if (!o.legit_tokens.empty()) {
    std::ifstream in(o.legit_tokens);
    if (!in) return bad("--legit-tokens: cannot open " + o.legit_tokens);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      if (!checkHeader("Authorization: Bearer " + line, error)) {
        return bad("--legit-tokens: " + o.legit_tokens + " has a line with CR, LF or NUL");
      }
      p.legit_tokens.push_back(line);
    }
    if (p.legit_tokens.empty()) return bad("--legit-tokens: " + o.legit_tokens + " is empty");
  }

  if (o.flood_connections < 0 || o.flood_connections > 100000) {
    return bad("--flood-connections: 0 to 100000");
  }
  if (o.slowloris < 0 || o.slowloris > 100000) return bad("--slowloris: 0 to 100000");
  if (o.flood_sources < 0 || o.flood_sources > 1000000) return bad("--flood-sources: 0 to 1000000");
  if (!parseRate(o.flood_rate, &p.flood_rate)) {
    return bad("--flood-rate: '" + o.flood_rate + "' is not a rate (0 = flat out)");
  }
  if (!parseRate(o.connection_flood, &p.connection_flood) || p.connection_flood > 100000) {
    return bad("--connection-flood: '" + o.connection_flood + "' is not a rate up to 100000/s");
  }
  if (o.bogus_tokens && o.flood_connections == 0) {
    return bad("--bogus-tokens needs --flood-connections");
  }
  if (o.bogus_alg.empty() || o.bogus_alg.find_first_of("\"\\") != std::string::npos) {
    return bad("--bogus-alg: a JWS algorithm name such as ES256");
  }
  if (o.attack_nice < 0 || o.attack_nice > 19) return bad("--attack-nice: 0 to 19");
  p.flood_connections = o.flood_connections;
  p.flood_sources = o.flood_sources;
  p.slowloris = o.slowloris;
  p.bogus_tokens = o.bogus_tokens;
  p.bogus_kid = o.bogus_kid;
  p.bogus_issuer = o.bogus_issuer;
  p.bogus_audience = o.bogus_audience;
  p.bogus_alg = o.bogus_alg;
  p.attack_nice = o.attack_nice;
  p.legit_realtime = o.legit_realtime;
  p.legit_sources = o.legit_sources < 0 ? p.legit : o.legit_sources;
  if (p.legit_sources > 100000) return bad("--legit-sources: 0 to 100000");
  if (p.legit_sources > 0 && !checkSourceRange("--legit-source-base", o.legit_source_base,
                                               p.legit_sources, &p.legit_source_base, error)) {
    return CheckResult::kBadFlags;
  }
  if (p.flood_sources > 0 && !checkSourceRange("--attack-source-base", o.attack_source_base,
                                               p.flood_sources, &p.attack_source_base, error)) {
    return CheckResult::kBadFlags;
  }
  if (!p.attacking() && p.legit == 0) return bad("nothing to do: no --legit and no attack");

  std::vector<net::SocketAddress> resolved = net::SocketAddress::resolve(o.target, error);
  if (resolved.empty()) {
    *error = "--target: " + *error;
    return CheckResult::kBadFlags;
  }
  for (const net::SocketAddress& address : resolved) {
    if (!isLoopback(address)) {
      if (!o.allow_remote) {
        *error = "--target " + o.target + " resolves to " + address.ipString() +
                 ", outside loopback (127.0.0.0/8, ::1); a drill floods only loopback unless "
                 "--allow-remote is given";
        return CheckResult::kRemoteRefused;
      }
      p.remote = true;
    }
  }
  p.target = resolved.front();
  p.target_text = o.target;
  if (p.target.port() == 0) return bad("--target: port 0");
  // Source addresses in 127.0.0.0/8 can only reach an IPv4 loopback target.
  if (p.remote || !p.target.isV4()) {
    // The default (one legitimate address per client) quietly becomes no bind.
    if (p.flood_sources > 1 || o.legit_sources > 1) {
      return bad("--flood-sources and --legit-sources above 1 need an IPv4 loopback target");
    }
    p.flood_sources = 0;
    p.legit_sources = 0;
  }
  if (!o.host_header.empty()) {
    if (o.host_header.find_first_of("\r\n\t ") != std::string::npos) {
      return bad("--host-header: no whitespace");
    }
    p.host_header = o.host_header;
  } else {
    size_t colon = o.target.rfind(':');
    p.host_header = o.target.substr(0, colon);
  }
  *plan = std::move(p);
  return CheckResult::kOk;
}

DrillCommand::DrillCommand(CLI::App* app) {
  command_ = app->add_subcommand(
      "drill",
      "bounded floods against a loopback target, with legitimate clients measured beside them");
  CLI::App* c = command_;
  Options& o = options_;
  c->add_option("--target", o.target, "HOST:PORT to drill (loopback only, see --allow-remote)")
      ->required();
  c->add_option("--host-header", o.host_header, "Host header (default: HOST of --target)");
  c->add_option("--path", o.path, "request target of the legitimate clients")
      ->capture_default_str();
  c->add_option("--attack-path", o.attack_path, "request target of the flood (default: --path)");
  c->add_option("--warmup", o.warmup, "legit clients connect and run, not counted")
      ->capture_default_str();
  c->add_option("--baseline", o.baseline, "phase 1: legitimate clients alone")
      ->capture_default_str();
  c->add_option("--duration", o.duration, "phase 2: the attack, legitimate clients continue")
      ->capture_default_str();
  c->add_option("--timeout", o.timeout, "a request unanswered after this fails")
      ->capture_default_str();
  c->add_flag("--allow-remote", o.allow_remote, "allow a target outside loopback");
  c->add_option("--format", o.format, "table or json")->capture_default_str();

  c->add_option("--legit", o.legit, "legitimate clients")->capture_default_str();
  c->add_option("--legit-connections", o.legit_connections,
                "keep-alive connections per legitimate client, opened when the others are busy")
      ->capture_default_str();
  c->add_option("--legit-rate", o.legit_rate, "requests per second of each legitimate client")
      ->capture_default_str();
  c->add_option("--legit-header", o.legit_headers,
                "\"Name: value\" on every legitimate request (repeatable)");
  c->add_option("--legit-tokens", o.legit_tokens,
                "file of bearer tokens, one per line: client i sends line i (cycled)");
  c->add_option("--legit-sources", o.legit_sources,
                "source addresses of the legitimate clients (default: one each; 0: no bind)");
  c->add_option("--legit-source-base", o.legit_source_base, "first legitimate source address")
      ->capture_default_str();

  c->add_option("--flood-connections", o.flood_connections,
                "keep-alive attack connections sending requests")
      ->capture_default_str();
  c->add_option("--flood-sources", o.flood_sources,
                "attack source addresses, from --attack-source-base up (0: no bind)")
      ->capture_default_str();
  c->add_option("--flood-rate", o.flood_rate, "requests per second per source; 0 = flat out")
      ->capture_default_str();
  c->add_option("--attack-source-base", o.attack_source_base, "first attack source address")
      ->capture_default_str();
  c->add_flag("--bogus-tokens", o.bogus_tokens,
              "attack requests carry well-formed, invalid bearer JWTs");
  c->add_option("--bogus-kid", o.bogus_kid, "kid of the bogus JWTs (default: random)");
  c->add_option("--bogus-issuer", o.bogus_issuer, "iss of the bogus JWTs")->capture_default_str();
  c->add_option("--bogus-audience", o.bogus_audience, "aud of the bogus JWTs")
      ->capture_default_str();
  c->add_option("--bogus-alg", o.bogus_alg, "alg of the bogus JWTs")->capture_default_str();
  c->add_option("--slowloris", o.slowloris,
                "connections that send a request head slowly and never finish it")
      ->capture_default_str();
  c->add_option("--slowloris-interval", o.slowloris_interval,
                "time between a slowloris connection's header lines")
      ->capture_default_str();
  c->add_option("--connection-flood", o.connection_flood,
                "new connections per second, reset as soon as connected")
      ->capture_default_str();
  c->add_option("--attack-nice", o.attack_nice,
                "niceness added to the attack thread, so it does not delay the measuring one")
      ->capture_default_str();
  c->add_flag("--legit-realtime", o.legit_realtime,
              "run the measuring thread at SCHED_FIFO priority 1 (root or CAP_SYS_NICE), so an "
              "attack thread on the same CPU cannot delay it");
}

}  // namespace rampart::drill
