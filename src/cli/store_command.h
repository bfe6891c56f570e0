// `rampart store revoke -c FILE ID [--for DURATION]` and `rampart store block
// -c FILE ADDRESS [--for DURATION]`: write a revocation or a block to the
// config's Redis and publish it to every instance (docs/store.md), through
// the same StoreClient the gateway uses (single or cluster). Built once in
// main on the main thread, run at most once; lives for the process.
//
// Exit codes: 0 published, 1 bad input or Redis not reachable within 2 s.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace rampart::cli {

class StoreCommand {
 public:
  // Adds `store` (and its `revoke`, `block`) to `app`.
  explicit StoreCommand(CLI::App* app);
  bool selected() const { return revoke_->parsed() || block_->parsed(); }
  int run() const;

 private:
  CLI::App* revoke_ = nullptr;
  CLI::App* block_ = nullptr;
  std::string config_;
  std::string subject_;
  std::string duration_ = "1h";
};

}  // namespace rampart::cli
