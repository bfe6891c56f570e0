// The server's side of the admin API (admin/admin_server.h): what /config,
// /clients/top and the POST actions read and do. Runs on the admin thread;
// it reaches the workers only by posting to their loops.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <fmt/format.h>

#include "admin/config_view.h"
#include "core/clock.h"
#include "core/log.h"
#include "proxy/server.h"

namespace rampart::proxy {

namespace {

// How long /clients/top waits for the workers' copies: a worker's loop
// answers within one iteration; a stuck one is left out rather than waited on.
constexpr auto kClientsWait = std::chrono::milliseconds(500);

shield::Nanos nowNanos() {
  return core::monotonicMillis() * 1'000'000;
}

std::string talkersJson(const std::vector<observe::Talker>& talkers, std::string_view unit) {
  std::string out = "[";
  for (size_t i = 0; i < talkers.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "{}{{\"address\":\"{}\",\"{}\":{}}}", i == 0 ? "" : ",",
                   talkers[i].address.toString(), unit, talkers[i].count);
  }
  return out + "]";
}

// The single address a host range names (a /32 or /128), for the shield's
// escalation records, which are keyed by address; nullopt for a wider range.
std::optional<net::SocketAddress> hostOf(const std::string& range) {
  size_t slash = range.rfind('/');
  std::string ip = range.substr(0, slash);
  std::string bits = range.substr(slash + 1);
  bool v6 = ip.find(':') != std::string::npos;
  if (bits != (v6 ? "128" : "32")) return std::nullopt;
  return net::SocketAddress::parseNumeric(v6 ? "[" + ip + "]:0" : ip + ":0");
}

}  // namespace

admin::AdminHooks Server::adminHooks() {
  admin::AdminHooks hooks;
  hooks.sources = [this] { return metricsSources(); };
  hooks.config_json = [this] { return admin::redactedConfigJson(snapshot_->source_text); };
  hooks.clients_json = [this] { return clientsJson(); };
  hooks.block = [this](const admin::BlockOrder& order) { return blockClients(order); };
  hooks.unblock = [this](const admin::UnblockOrder& order) { return unblockClients(order); };
  // The same path as SIGTERM: the main thread waits in sigwait for it.
  hooks.drain = [] {
    spdlog::info("admin: drain requested");
    ::kill(::getpid(), SIGTERM);
  };
  return hooks;
}

// Every worker copies its sketches on its own loop; the admin thread merges.
std::string Server::clientsJson() {
  struct Gather {
    std::mutex mutex;
    std::condition_variable done;
    size_t pending = 0;
    std::vector<std::vector<observe::Talker>> requests, refused;
  };
  auto gather = std::make_shared<Gather>();
  gather->pending = workers_.size();
  for (auto& worker : workers_) {
    worker->snapshotClients([gather](Worker::ClientsSnapshot copy) {
      std::lock_guard lock(gather->mutex);
      gather->requests.push_back(std::move(copy.requests));
      gather->refused.push_back(std::move(copy.refused));
      if (--gather->pending == 0) gather->done.notify_one();
    });
  }
  std::vector<observe::Talker> requests, refused;
  size_t answered = 0;
  {
    std::unique_lock lock(gather->mutex);
    gather->done.wait_for(lock, kClientsWait, [&] { return gather->pending == 0; });
    answered = workers_.size() - gather->pending;
    requests = observe::mergeTalkers(gather->requests, 20);
    refused = observe::mergeTalkers(gather->refused, 20);
  }
  const shield::Nanos now = nowNanos();
  std::string out = fmt::format(
      "{{\"window_seconds\":\"10-20\",\"workers_answered\":{},\"workers\":{},\"top\":{},"
      "\"refused_at_accept\":{},\"blocked\":[",
      answered, workers_.size(), talkersJson(requests, "requests"),
      talkersJson(refused, "connections"));
  const std::vector<shield::ManualBlock> blocks = manual_blocks_.active(now);
  for (size_t i = 0; i < blocks.size(); ++i) {
    fmt::format_to(std::back_inserter(out),
                   "{}{{\"range\":\"{}\",\"seconds_left\":{},\"by\":\"admin\"}}", i == 0 ? "" : ",",
                   blocks[i].text, shield::Decision::ceilSeconds(blocks[i].until - now));
  }
  return out + "]}";
}

admin::ActionAnswer Server::blockClients(const admin::BlockOrder& order) {
  const shield::Nanos now = nowNanos();
  shield::BlockChange change =
      manual_blocks_.add(order.range, now + order.seconds * shield::kSecond, now);
  if (change == shield::BlockChange::kFull) {
    return {507, fmt::format("{{\"error\":\"{} ranges are blocked already; unblock some first\"}}",
                             shield::ManualBlocks::kMaxEntries)};
  }
  for (auto& worker : workers_) worker->applyManualBlocks(manual_blocks_);
  spdlog::warn("admin: blocked {} for {} s", order.text, order.seconds);
  return {200, fmt::format("{{\"blocked\":\"{}\",\"seconds\":{},\"new\":{}}}", order.text,
                           order.seconds, change == shield::BlockChange::kAdded)};
}

admin::ActionAnswer Server::unblockClients(const admin::UnblockOrder& order) {
  const bool lifted = manual_blocks_.remove(order.range);
  for (auto& worker : workers_) worker->applyManualBlocks(manual_blocks_);
  // An escalation block (the shield's own) on that address ends too.
  const std::optional<net::SocketAddress> host = hostOf(order.text);
  if (host) {
    for (auto& worker : workers_) worker->forgive(*host);
  }
  spdlog::warn("admin: unblocked {}", order.text);
  return {200, fmt::format("{{\"unblocked\":\"{}\",\"admin_block_lifted\":{},"
                           "\"escalation_forgiven\":{}}}",
                           order.text, lifted, host.has_value())};
}

}  // namespace rampart::proxy
