// The admin listener: /live, /ready, /stats (JSON) and /metrics (Prometheus
// text) on an address of its own, loopback by default, with a bearer token
// required when it is bound elsewhere (the config refuses it otherwise).
// One thread of its own, blocking I/O with short timeouts: admin traffic is
// a scrape every few seconds, and nothing here may touch a worker's loop.
// It reads the workers' shards through `sources` (relaxed loads). Created by
// the Server at start; lives until the Server stops it.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "net/address.h"
#include "observe/export.h"

namespace rampart::admin {

struct AdminSettings {
  bool enabled = false;
  net::SocketAddress address;
  std::string address_text;
  std::string token;  // "" = none (only allowed on loopback)
};

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

  AdminServer(AdminSettings settings, Sources sources);
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
  std::string respond(std::string_view method, std::string_view target,
                      std::string_view authorization);

  AdminSettings settings_;
  Sources sources_;
  Reloader reloader_;
  Upgrader upgrader_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Answers one admin request (the routing, no I/O): the whole HTTP response.
// Public so that unit tests check every path without a socket.
std::string answerAdminRequest(std::string_view method, std::string_view target,
                               std::string_view authorization, const std::string& token,
                               const AdminServer::Sources& sources);

}  // namespace rampart::admin
