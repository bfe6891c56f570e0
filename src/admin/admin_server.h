// The admin listener: /live, /ready, /stats (JSON), /metrics (Prometheus
// text), /config, /clients/top, /dashboard, and the POST actions
// /clients/block, /clients/unblock and /drain, on an address of its own,
// loopback by default, with a bearer token required when it is bound
// elsewhere (the config refuses it otherwise). One thread of its own,
// blocking I/O with short timeouts: admin traffic is a scrape or a dashboard
// poll every second or so, and it never runs code on a worker's loop (it
// posts to it). It reads the workers' shards through `hooks.sources`
// (relaxed loads) and samples them once a second for the dashboard's
// history. Created by the Server at start; lives until the Server stops it.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "admin/client_orders.h"
#include "admin/stats_history.h"
#include "net/address.h"
#include "observe/export.h"

namespace rampart::admin {

struct AdminSettings {
  bool enabled = false;
  net::SocketAddress address;
  std::string address_text;
  std::string token;  // "" = none (only allowed on loopback)
};

// A JSON answer of an action: its status and body.
struct ActionAnswer {
  int status = 200;
  std::string json;
};

// What the admin API reads and does, supplied by the server (proxy/).
// Every hook is called on the admin thread; a missing one answers 404.
struct AdminHooks {
  std::function<observe::MetricsSources()> sources;
  std::function<std::string()> config_json;   // the running config, secrets redacted
  std::function<std::string()> clients_json;  // top talkers and blocked addresses
  std::function<ActionAnswer(const BlockOrder&)> block;
  std::function<ActionAnswer(const UnblockOrder&)> unblock;
  std::function<void()> drain;  // as SIGTERM: /ready turns 503, exit 0 when idle
};

// One parsed admin request: views into the reader's buffer.
struct AdminRequest {
  std::string_view method;
  std::string_view target;
  std::string_view authorization;
  std::string_view body;    // POST only; at most kMaxAdminBody bytes
  std::string_view host;    // the Host header
  std::string_view origin;  // the Origin header, "" when absent
};

// A POST from a web page of another origin (a browser on the operator's
// machine tricked into posting to the loopback admin address) is refused:
// true when Origin is absent (curl, scripts) or names this very host.
bool sameOrigin(std::string_view origin, std::string_view host);

inline constexpr size_t kMaxAdminBody = 4096;

// How much body follows a parsed head: 0 and an error status (411 for a
// chunked body, 413 over kMaxAdminBody), or the status 0 and the length.
struct BodyLength {
  int error_status = 0;
  size_t length = 0;
};
BodyLength adminBodyLength(bool chunked, uint64_t content_length);

class AdminServer {
 public:
  using Sources = std::function<observe::MetricsSources()>;
  // POST /reload (docs/operations.md): runs a full config reload and answers
  // (status, JSON body): 200 done or unchanged, 422 refused with every error.
  struct ReloadAnswer {
    int status = 200;
    std::string body;
  };
  using Reloader = std::function<ReloadAnswer()>;
  // POST /upgrade[?binary=PATH]: starts a binary upgrade (answers 202; the
  // outcome is logged, and this process exits once the new one serves).
  using Upgrader = std::function<ReloadAnswer(std::string_view binary)>;

  AdminServer(AdminSettings settings, AdminHooks hooks);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and starts the thread; false with `error` when the address is taken.
  bool start(std::string* error);
  void stop();
  // Before start(): what POST /reload runs (unset: 404).
  void setReloader(Reloader reloader) { reloader_ = std::move(reloader); }
  void setUpgrader(Upgrader upgrader) { upgrader_ = std::move(upgrader); }

 private:
  void run();
  void serveOne(int fd);

  AdminSettings settings_;
  AdminHooks hooks_;
  StatsHistory history_;  // admin thread only
  Reloader reloader_;
  Upgrader upgrader_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Answers one admin request (the routing, no I/O): the whole HTTP response.
// Public so that unit tests check every path without a socket. `history`
// may be null (no "history" in /stats).
std::string answerAdminRequest(const AdminRequest& request, const std::string& token,
                               const AdminHooks& hooks, const StatsHistory* history = nullptr);

// The old signature, GET endpoints only (kept for tests).
std::string answerAdminRequest(std::string_view method, std::string_view target,
                               std::string_view authorization, const std::string& token,
                               const AdminServer::Sources& sources);

}  // namespace rampart::admin
