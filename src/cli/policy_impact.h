// `rampart policy impact --from OLD --to NEW [--accounts FILE] [--requests FILE]
// [--format table|json] [--limit N]`: the blast radius of a policy change,
// printed from policy::computeImpact's report. Built once in main on the
// main thread, run at most once; lives for the process.
//
// Exit codes: 0 no decision changes, 3 some do (so CI can gate a change),
// 1 bad input (a config that does not load, a bad accounts/requests line).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace rampart::cli {

class PolicyCommand {
 public:
  // Adds `policy` (and its `impact`) to `app`.
  explicit PolicyCommand(CLI::App* app);

  bool selected() const { return impact_->parsed(); }
  // Runs the selected sub-subcommand; returns the exit code.
  int run() const;

 private:
  CLI::App* impact_ = nullptr;
  std::string from_;
  std::string to_;
  std::string accounts_;
  std::string requests_;
  std::string format_ = "table";
  int limit_ = -1;  // -1: 10 in the table, all in JSON
  unsigned threads_ = 2;
};

}  // namespace rampart::cli
