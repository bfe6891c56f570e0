// `rampart drill`: a bounded flood against a target on loopback, with
// legitimate clients measured beside it. Options are parsed and checked on
// the main thread; runDrill() then owns two threads for the run (the
// legitimate clients' event loop and the attack's) and returns the report
// once both have stopped. Everything lives for one run.
//
// Exit codes of the command: 0 the drill ran, 1 it could not run (target
// unreachable, fd limit), 2 bad flags or a refused (non-loopback) target.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "net/address.h"

namespace rampart::drill {

// Hard cap on warmup + baseline + attack: every run is bounded.
constexpr double kMaxRunSeconds = 300.0;

// What the flags say, as written; checkOptions() turns them into a Plan.
struct Options {
  std::string target;       // HOST:PORT
  std::string host_header;  // default: the HOST of --target
  std::string path = "/";
  std::string attack_path;  // default: --path
  std::string warmup = "1s";
  std::string baseline = "5s";   // legitimate clients alone
  std::string duration = "10s";  // the attack phase
  std::string timeout = "5s";    // per request
  bool allow_remote = false;
  std::string format = "table";  // or json

  int legit = 10;
  std::string legit_rate = "10/s";  // per client
  int legit_connections = 4;        // per client, opened only when the others are busy
  std::vector<std::string> legit_headers;
  std::string legit_tokens;  // file: one bearer token per line, one per client
  int legit_sources = -1;    // -1: one address per client; 0: no bind
  std::string legit_source_base = "127.0.1.1";

  int flood_connections = 0;
  int flood_sources = 1;         // 0: no bind (the kernel picks 127.0.0.1)
  std::string flood_rate = "0";  // per source; 0 = flat out
  std::string attack_source_base = "127.100.0.1";
  bool bogus_tokens = false;
  std::string bogus_kid;  // default: random
  std::string bogus_issuer = "https://drill.invalid";
  std::string bogus_audience = "drill";
  std::string bogus_alg = "ES256";
  int slowloris = 0;
  std::string slowloris_interval = "1s";
  std::string connection_flood = "0";  // new connections per second, opened and reset
  int attack_nice = 10;                // the attack thread's niceness above the legit one's
  bool legit_realtime = false;  // the measuring thread at SCHED_FIFO 1 (root or CAP_SYS_NICE)
};

// The checked, resolved form of Options: durations in ns, rates per second.
struct Plan {
  net::SocketAddress target;
  std::string target_text;
  std::string host_header;
  std::string path;
  std::string attack_path;
  int64_t warmup_ns = 0;
  int64_t baseline_ns = 0;
  int64_t attack_ns = 0;
  int64_t timeout_ns = 0;
  bool remote = false;  // target outside loopback (only with --allow-remote): no source binding
  bool json = false;

  int legit = 0;
  double legit_rate = 0;  // per client
  int legit_connections = 1;
  std::vector<std::string> legit_headers;  // "Name: value", checked
  std::vector<std::string> legit_tokens;   // one per line of --legit-tokens
  int legit_sources = 0;
  uint32_t legit_source_base = 0;  // host order

  int flood_connections = 0;
  int flood_sources = 0;
  double flood_rate = 0;  // per source, 0 = flat out
  uint32_t attack_source_base = 0;
  bool bogus_tokens = false;
  std::string bogus_kid, bogus_issuer, bogus_audience, bogus_alg;
  int slowloris = 0;
  int64_t slowloris_interval_ns = 0;
  double connection_flood = 0;
  int attack_nice = 0;
  bool legit_realtime = false;

  bool attacking() const { return flood_connections > 0 || slowloris > 0 || connection_flood > 0; }
  // File descriptors the run may hold at once (for RLIMIT_NOFILE).
  uint64_t descriptorsNeeded() const;
};

enum class CheckResult { kOk, kBadFlags, kRemoteRefused };

// Checks every flag, reads --legit-tokens, resolves --target. kRemoteRefused
// when the target resolves outside 127.0.0.0/8 and ::1 without
// --allow-remote. `error` says which flag and why.
CheckResult checkOptions(const Options& options, Plan* plan, std::string* error);

// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool isLoopback(const net::SocketAddress& address);

// "10s", "250ms", "2m", "1.5" (seconds) -> ns; false on anything else.
bool parseDuration(const std::string& text, int64_t* ns);
// "20", "20/s", "600/m", "1.5/s" -> per second; false on anything else or < 0.
bool parseRate(const std::string& text, double* per_second);

// A finished run's report (drill/report.h, from runDrill) as a table or as one JSON object.
struct Report;
std::string formatTable(const Report& report);
std::string formatJson(const Report& report);

// The `drill` subcommand: flags bound to an Options, run() checks and runs.
class DrillCommand {
 public:
  explicit DrillCommand(CLI::App* app);
  bool selected() const { return command_->parsed(); }
  const Options& options() const { return options_; }
  // Checks, raises RLIMIT_NOFILE, runs, prints; returns the exit code.
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  Options options_;
};

}  // namespace rampart::drill
