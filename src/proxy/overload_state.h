// The server's side of the overload state: learned baselines read from their
// state file at start and written back at shutdown, and the overload and
// baseline counters summed over the workers for the shutdown log. Main
// thread only, while no worker thread runs (before start, after join).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "proxy/worker.h"
#include "shield/key.h"

namespace rampart::proxy {

// Gives every worker the baselines' key seed and, when `settings.state_file`
// holds a state written by the same number of workers, worker i the learned
// state of worker i. Returns the seed (the file's, or a new random one). A
// missing file is normal (the first start); a malformed one, or one from a
// different number of workers, is logged and learning starts over.
shield::Seed restoreBaselines(const shield::BaselineSettings& settings,
                              const std::vector<std::unique_ptr<Worker>>& workers);

// Writes every worker's learned baselines and `seed` to `settings.state_file`
// (a temporary file renamed over it, mode 0600: the seed keys the table).
// Nothing when baselines or the file are not configured.
void saveBaselines(const shield::BaselineSettings& settings, shield::Seed seed,
                   const std::vector<std::unique_ptr<Worker>>& workers);

// "overload: ..." and "baselines: ..." log lines, when configured.
void logOverloadTotals(const std::vector<std::unique_ptr<Worker>>& workers);

}  // namespace rampart::proxy
