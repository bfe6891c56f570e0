#include "admin/admin_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include <fmt/format.h>
#include <openssl/crypto.h>

#include "core/log.h"
#include "http/parser.h"
#include "net/socket.h"

namespace rampart::admin {

namespace {

constexpr size_t kMaxRequestBytes = 8192;
constexpr int kReadTimeoutMs = 2000;

std::string response(int status, std::string_view reason, std::string_view content_type,
                     std::string_view body, std::string_view extra_headers = {}) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
      "Connection: close\r\n{}\r\n{}",
      status, reason, content_type, body.size(), extra_headers, body);
}

std::string problem(int status, std::string_view reason, std::string_view detail,
                    std::string_view extra_headers = {}) {
  std::string body = fmt::format(
      "{{\"type\":\"https://rampart.dev/problems/admin\",\"title\":\"{}\",\"status\":{},"
      "\"detail\":\"{}\"}}",
      reason, status, detail);
  return response(status, reason, "application/problem+json", body, extra_headers);
}

// "Bearer <token>" compared in constant time (the token guards the admin API).
bool authorized(std::string_view authorization, const std::string& token) {
  if (token.empty()) return true;
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() != kScheme.size() + token.size()) return false;
  if (!http::equalsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme)) return false;
  return CRYPTO_memcmp(authorization.data() + kScheme.size(), token.data(), token.size()) == 0;
}

bool sendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::string answerAdminRequest(std::string_view method, std::string_view target,
                               std::string_view authorization, const std::string& token,
                               const AdminServer::Sources& sources) {
  if (!authorized(authorization, token)) {
    return problem(401, "Unauthorized", "the admin API needs its bearer token",
                   "WWW-Authenticate: Bearer realm=\"rampart-admin\"\r\n");
  }
  std::string_view path = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") {
    return problem(405, "Method Not Allowed", "the admin API answers GET", "Allow: GET, HEAD\r\n");
  }
  std::string out;
  if (path == "/live") {
    out = response(200, "OK", "text/plain; charset=utf-8", "live\n");
  } else if (path == "/ready") {
    observe::MetricsSources now = sources();
    out = now.draining
              ? response(503, "Service Unavailable", "text/plain; charset=utf-8", "draining\n")
              : response(200, "OK", "text/plain; charset=utf-8", "ready\n");
  } else if (path == "/metrics") {
    out = response(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                   observe::renderPrometheus(sources()));
  } else if (path == "/stats") {
    out = response(200, "OK", "application/json", observe::renderStatsJson(sources()));
  } else if (path == "/rollouts") {  // progressive rollouts (docs/cutover.md)
    out = response(200, "OK", "application/json", observe::renderRolloutsJson(sources()));
  } else {
    return problem(404, "Not Found", "no such admin endpoint");
  }
  if (method == "HEAD") out.resize(out.find("\r\n\r\n") + 4);
  return out;
}

AdminServer::AdminServer(AdminSettings settings, Sources sources)
    : settings_(std::move(settings)), sources_(std::move(sources)) {}

AdminServer::~AdminServer() {
  stop();
}

bool AdminServer::start(std::string* error) {
  listen_fd_ = net::listenReusePort(settings_.address, 64, error);
  if (listen_fd_ < 0) return false;
  thread_ = std::thread([this] { run(); });
  return true;
}

void AdminServer::stop() {
  stop_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

// Accepts one connection at a time; poll wakes every 100 ms to see stop_.
void AdminServer::run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    int ready = ::poll(&pfd, 1, 100);
    if (ready <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    serveOne(fd);
    ::close(fd);
  }
}

// One request per connection, read within kReadTimeoutMs in total.
void AdminServer::serveOne(int fd) {
  char buffer[kMaxRequestBytes];
  size_t have = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadTimeoutMs);
  http::RequestHead head;
  http::Limits limits;
  limits.max_head_bytes = kMaxRequestBytes;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) return;
    ssize_t n = ::recv(fd, buffer + have, sizeof(buffer) - have, 0);
    if (n <= 0) return;
    have += static_cast<size_t>(n);
    http::ParseOutcome outcome =
        http::parseRequestHead(std::string_view(buffer, have), limits, head);
    if (outcome.state == http::ParseOutcome::State::kNeedMore) {
      if (have == sizeof(buffer)) break;
      continue;
    }
    if (outcome.state == http::ParseOutcome::State::kError) break;
    std::string_view authorization;
    for (const http::Header& header : head.headers) {
      if (http::equalsIgnoreCase(header.name, "authorization")) authorization = header.value;
    }
    sendAll(fd,
            answerAdminRequest(head.method, head.target, authorization, settings_.token, sources_));
    return;
  }
  sendAll(fd, problem(400, "Bad Request", "malformed request"));
}

}  // namespace rampart::admin
