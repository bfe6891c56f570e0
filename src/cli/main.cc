// The rampart command: serve (default), validate, proxy, upgrade, policy impact, drill,
// store, version.
// The explicit list of what runs at start-up lives here and in proxy/server.
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/policy_impact.h"
#include "cli/store_command.h"
#include "config/config.h"
#include "core/log.h"
#include "drill/drill.h"
#include "proxy/server.h"
#include "proxy/upgrade.h"

namespace {

constexpr const char* kVersion = "0.1.0";
// The command line, for a binary upgrade: the new binary gets the same one.
std::vector<std::string> g_argv;

struct LogOptions {
  std::string format;  // empty: from the config
  std::string level;
};

void addLogOptions(CLI::App* command, LogOptions* options) {
  command->add_option("--log-format", options->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  command->add_option("--log-level", options->level, "trace, debug, info, warn, error");
}

void printDiagnostics(const rampart::config::LoadResult& result) {
  for (const auto& error : result.errors) {
    std::cerr << rampart::config::format(error) << "\n";
  }
  for (const auto& warning : result.warnings) {
    auto copy = warning;
    copy.message = "warning: " + copy.message;
    std::cerr << rampart::config::format(copy) << "\n";
  }
}

void initLogs(const LogOptions& options, const rampart::config::Snapshot* snapshot) {
  bool json =
      options.format == "json" || (options.format.empty() && snapshot != nullptr &&
                                   snapshot->log_format == rampart::config::LogFormat::kJson);
  std::string level = !options.level.empty() ? options.level
                      : snapshot != nullptr  ? snapshot->log_level
                                             : "info";
  if (!rampart::core::initLogging(
          json ? rampart::core::LogStyle::kJson : rampart::core::LogStyle::kText, level)) {
    spdlog::warn("unknown log level '{}', using info", level);
  }
}

int serve(const std::string& path, const LogOptions& log_options) {
  rampart::config::LoadResult result = rampart::config::loadFile(path);
  if (!result.ok()) {
    initLogs(log_options, nullptr);
    printDiagnostics(result);
    spdlog::error("{}: configuration refused ({} errors)", path, result.errors.size());
    return 1;
  }
  printDiagnostics(result);
  initLogs(log_options, result.snapshot.get());
  spdlog::info("rampart {} starting with {}", kVersion, path);
  rampart::proxy::Server server(result.snapshot);
  server.setConfigPath(path);
  server.setCommandLine(g_argv);
  // Started by a running rampart's upgrade: serve on its listening sockets.
  std::string error;
  if (auto sockets = rampart::proxy::upgrade::receive(&error)) {
    if (!error.empty()) {
      spdlog::error("upgrade: {}", error);
      return 1;
    }
    spdlog::info("upgrade: took over {} listening sockets", sockets->size());
    server.setInheritedSockets(std::move(*sockets));
  }
  return server.run();
}

// `rampart upgrade -c FILE [--binary PATH]`: asks the process running on
// FILE (through its admin listener, with its token) to start a binary
// upgrade. Exit 0 once it accepted (the outcome is in its log), 1 otherwise.
int upgradeCommand(const std::string& path, const std::string& binary) {
  rampart::config::LoadResult result = rampart::config::loadFile(path);
  if (!result.ok()) {
    printDiagnostics(result);
    return 1;
  }
  const rampart::admin::AdminSettings& admin = result.snapshot->admin;
  if (!admin.enabled) {
    std::cerr << path << ": no admin listener; send SIGUSR2 to the running process instead\n";
    return 1;
  }
  int fd = socket(admin.address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (fd < 0 || connect(fd, admin.address.sockaddrPtr(), admin.address.length()) != 0) {
    std::cerr << "upgrade: cannot reach the admin listener " << admin.address_text << "\n";
    if (fd >= 0) close(fd);
    return 1;
  }
  std::string target = "/upgrade";
  if (!binary.empty()) {
    target += "?binary=";
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : binary) {
      if (std::isalnum(c) || c == '/' || c == '.' || c == '-' || c == '_') {
        target.push_back(static_cast<char>(c));
      } else {
        target += {'%', kHex[c >> 4], kHex[c & 15]};
      }
    }
  }
  std::string request =
      "POST " + target + " HTTP/1.1\r\nHost: rampart-admin\r\nContent-Length: 0\r\n";
  if (!admin.token.empty()) request += "Authorization: Bearer " + admin.token + "\r\n";
  request += "Connection: close\r\n\r\n";
  std::string answer;
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    ssize_t got;
    while ((got = recv(fd, buffer, sizeof(buffer), 0)) > 0) answer.append(buffer, got);
  }
  close(fd);
  const bool accepted = answer.starts_with("HTTP/1.1 202");
  const size_t body = answer.find("\r\n\r\n");
  std::cout << (body == std::string::npos ? answer : answer.substr(body + 4));
  if (!accepted)
    std::cerr << "upgrade: not accepted: " << answer.substr(0, answer.find('\r')) << "\n";
  return accepted ? 0 : 1;
}

int validate(const std::string& path) {
  rampart::config::LoadResult result = rampart::config::loadFile(path);
  printDiagnostics(result);
  if (!result.ok()) return 1;
  // Every route must reach its upstream only through an authorization
  // decision: a policy, an external authorizer (ext_authz), or an explicit
  // `public: true`. List the public ones.
  const rampart::config::Snapshot& snapshot = *result.snapshot;
  std::vector<std::string> uncovered;
  std::vector<std::string> open;
  for (size_t i = 0; i < snapshot.route_names.size(); ++i) {
    const rampart::config::RoutePolicy& route = snapshot.authorization.routes[i];
    if (route.is_public) {
      open.push_back(snapshot.route_names[i]);
    } else if (route.enforced == rampart::config::RoutePolicy::kNone && !route.external) {
      uncovered.push_back(snapshot.route_names[i]);
    }
  }
  for (const std::string& name : open) {
    std::cout << path << ": public route '" << name << "' (no authorization)\n";
  }
  if (!uncovered.empty()) {
    for (const std::string& name : uncovered) {
      std::cerr << path << ": route '" << name
                << "' is not covered by any policy (denied at run time); give it `policy:` or "
                   "`public: true`\n";
    }
    return 1;
  }
  std::cout << path << ": ok (" << result.snapshot->routes.routeCount() << " routes, "
            << result.snapshot->clusters.size() << " clusters, "
            << result.snapshot->listeners.size() << " listeners)\n";
  return 0;
}

// A complete config with every default: one listener, one cluster, one
// public route (a plain reverse proxy checks no caller).
std::string proxyConfig(const std::string& listen, const std::string& to,
                        const std::string& workers) {
  return "workers: " + workers +
         "\n"
         "listeners:\n  - name: proxy\n    address: \"" +
         listen +
         "\"\n"
         "clusters:\n  - name: upstream\n    endpoints: [\"" +
         to +
         "\"]\n"
         "virtual_hosts:\n  - name: any\n    domains: [\"*\"]\n    routes:\n"
         "      - name: all\n        match: {prefix: /}\n        cluster: upstream\n"
         "        public: true\n";
}

int proxy(const std::string& listen, const std::string& to, const std::string& workers,
          const LogOptions& log_options) {
  rampart::config::LoadResult result =
      rampart::config::loadString(proxyConfig(listen, to, workers), "<rampart proxy>");
  if (!result.ok()) {
    printDiagnostics(result);
    return 1;
  }
  initLogs(log_options, result.snapshot.get());
  rampart::proxy::Server server(result.snapshot);
  return server.run();
}

}  // namespace

int main(int argc, char** argv) {
  g_argv.assign(argv, argv + argc);
  CLI::App app{"rampart: an HTTP edge gateway"};
  app.require_subcommand(0, 1);

  std::string top_config;
  LogOptions top_logs;
  app.add_option("-c,--config", top_config, "config file (same as `rampart serve -c FILE`)");
  addLogOptions(&app, &top_logs);

  std::string serve_config;
  LogOptions serve_logs;
  CLI::App* serve_cmd = app.add_subcommand("serve", "run the gateway on a config file (default)");
  serve_cmd->add_option("-c,--config", serve_config, "config file")->required();
  addLogOptions(serve_cmd, &serve_logs);

  std::string validate_config;
  CLI::App* validate_cmd =
      app.add_subcommand("validate", "check a config file; print every error as file:line:col");
  validate_cmd->add_option("-c,--config", validate_config, "config file")->required();

  std::string listen, to, workers = "auto";
  LogOptions proxy_logs;
  CLI::App* proxy_cmd =
      app.add_subcommand("proxy", "a one-line reverse proxy with every default, no config file");
  proxy_cmd->add_option("--listen", listen, "address to listen on, e.g. 127.0.0.1:8080")
      ->required();
  proxy_cmd->add_option("--to", to, "upstream HOST:PORT")->required();
  proxy_cmd->add_option("--workers", workers, "worker threads: auto or a number");
  addLogOptions(proxy_cmd, &proxy_logs);

  std::string upgrade_config, upgrade_binary;
  CLI::App* upgrade_cmd = app.add_subcommand(
      "upgrade", "replace the running process's binary without dropping a connection");
  upgrade_cmd->add_option("-c,--config", upgrade_config, "the running process's config file")
      ->required();
  upgrade_cmd->add_option("--binary", upgrade_binary,
                          "the new binary (default: the running one's path, as it is on disk now)");

  rampart::cli::PolicyCommand policy_cmd(&app);
  rampart::drill::DrillCommand drill_cmd(&app);
  rampart::cli::StoreCommand store_cmd(&app);
  CLI::App* version_cmd = app.add_subcommand("version", "print the version");

  CLI11_PARSE(app, argc, argv);

  if (*version_cmd) {
    std::cout << "rampart " << kVersion << "\n";
    return 0;
  }
  if (*validate_cmd) return validate(validate_config);
  if (*upgrade_cmd) return upgradeCommand(upgrade_config, upgrade_binary);
  if (policy_cmd.selected()) return policy_cmd.run();
  if (drill_cmd.selected()) return drill_cmd.run();
  if (store_cmd.selected()) return store_cmd.run();
  if (*proxy_cmd) return proxy(listen, to, workers, proxy_logs);
  if (*serve_cmd) return serve(serve_config, serve_logs);
  if (!top_config.empty()) return serve(top_config, top_logs);
  std::cerr << app.help();
  return 2;
}
