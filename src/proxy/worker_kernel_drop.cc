// The worker's listening sockets drop blocked and deny-listed IPv4 sources
// in the kernel (shield/kernel_drop.h). The accept gate records each block
// as it starts; a timer here looks every kKernelDropMillis and, when the
// set changed (a block started or ended), compiles the deny list and the
// blocks into one filter and attaches it to every listener of this worker.
// The timer runs only while the gate's kernel drop is on.
// Between a block and the next look, the gate refuses at accept as before.
#include <spdlog/spdlog.h>

#include "proxy/worker.h"
#include "proxy/worker_parts.h"
#include "shield/kernel_drop.h"

namespace rampart::proxy {

void Worker::syncKernelDrops(bool force) {
  shield::AcceptGate* gate = shield_.gate();
  const bool on = gate != nullptr && gate->kernelDropOn();
  // Looks again only while there is something to drop: an idle worker
  // without a gate is not woken for it.
  if (on && !kernel_drop_->armed()) kernel_drop_->start();
  bool changed = force;
  if (gate != nullptr) {
    gate->kernelDrops().expire(loop_.now() * 1'000'000);
    changed = gate->kernelDrops().takeChanged() || changed;
  }
  if (!changed || (!on && !kernel_drop_->attached)) return;

  std::vector<shield::V4Range> ranges;
  if (on) {
    // The deny list first: it matters most when not everything fits.
    const shield::GateConfig& config = gate->config();
    if (config.deny) ranges = config.deny->v4Ranges();
    std::vector<shield::V4Range> blocks = gate->kernelDrops().ranges();
    ranges.insert(ranges.end(), blocks.begin(), blocks.end());
  }
  size_t included = 0;
  const std::vector<sock_filter> program =
      shield::compileDropFilter(ranges, kernel_drop_->maxInstructions(), &included);
  const config::Snapshot& snapshot = *current_->snapshot;
  for (const auto& listener : listeners_) {
    // On a PROXY-protocol listener the socket's peer is a proxy, not the
    // client the blocks are about.
    const bool proxied = snapshot.listeners[listener->index()].proxy_protocol;
    std::string error;
    if (!shield::attachDropFilter(listener->fd(), proxied ? std::vector<sock_filter>{} : program,
                                  &error)) {
      spdlog::warn("worker {}: kernel drop filter not attached: {}", index_, error);
    }
  }
  kernel_drop_->attached = !program.empty();
  stats_.kernel_drop_updates.inc();
  const size_t left_out = ranges.size() - included;
  if (left_out > 0) {
    stats_.kernel_drop_full.inc();
    if (left_out != kernel_drop_->reported_left_out) {
      spdlog::warn(
          "worker {}: {} of {} blocked ranges do not fit the kernel drop filter "
          "(net.core.optmem_max); they are refused at accept",
          index_, left_out, ranges.size());
    }
  }
  kernel_drop_->reported_left_out = left_out;
}

}  // namespace rampart::proxy
