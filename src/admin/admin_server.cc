#include "admin/admin_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <fmt/format.h>
#include <openssl/crypto.h>

#include "admin/dashboard_html.h"
#include "core/clock.h"
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

// The percent-decoded value of `name` in the target's query, or "".
std::string queryValue(std::string_view target, std::string_view name) {
  size_t question = target.find('?');
  if (question == std::string_view::npos) return {};
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    std::string_view pair = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), pair.size() + 1));
    if (!pair.starts_with(name) || pair.size() <= name.size() || pair[name.size()] != '=') continue;
    std::string_view raw = pair.substr(name.size() + 1);
    std::string out;
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && hex(raw[i + 1]) >= 0 && hex(raw[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2])));
        i += 2;
      } else {
        out.push_back(raw[i]);
      }
    }
    return out;
  }
  return {};
}

int64_t wallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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

BodyLength adminBodyLength(bool chunked, uint64_t content_length) {
  if (chunked) return {411, 0};
  if (content_length > kMaxAdminBody) return {413, 0};
  return {0, static_cast<size_t>(content_length)};
}

namespace {

std::string json(int status, std::string_view reason, std::string_view body) {
  return response(status, reason, "application/json", body);
}

std::string_view reasonOf(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 507:
      return "Insufficient Storage";
    default:
      return "Error";
  }
}

size_t historyWanted(std::string_view target) {
  const std::string text = queryValue(target, "history");
  size_t n = StatsHistory::kSamples;
  if (!text.empty()) {
    n = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return StatsHistory::kSamples;
      n = std::min<size_t>(n * 10 + static_cast<size_t>(c - '0'), StatsHistory::kSamples);
    }
  }
  return n;
}

std::string answerPost(const AdminRequest& request, std::string_view path,
                       const AdminHooks& hooks) {
  if (path == "/drain" && hooks.drain) {
    hooks.drain();
    return json(202, "Accepted", "{\"draining\":true}");
  }
  if (path == "/clients/block" && hooks.block) {
    std::string error;
    std::optional<BlockOrder> order = parseBlockOrder(request.body, &error);
    if (!order) return problem(400, "Bad Request", observe::escapeJson(error));
    ActionAnswer answer = hooks.block(*order);
    return json(answer.status, reasonOf(answer.status), answer.json);
  }
  if (path == "/clients/unblock" && hooks.unblock) {
    std::string error;
    std::optional<UnblockOrder> order = parseUnblockOrder(request.body, &error);
    if (!order) return problem(400, "Bad Request", observe::escapeJson(error));
    ActionAnswer answer = hooks.unblock(*order);
    return json(answer.status, reasonOf(answer.status), answer.json);
  }
  return {};
}

bool isPostPath(std::string_view path) {
  return path == "/drain" || path == "/clients/block" || path == "/clients/unblock";
}

}  // namespace

bool sameOrigin(std::string_view origin, std::string_view host) {
  if (origin.empty()) return true;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin.size() == scheme.size() + host.size() && origin.starts_with(scheme) &&
        http::equalsIgnoreCase(origin.substr(scheme.size()), host)) {
      return true;
    }
  }
  return false;
}

std::string answerAdminRequest(const AdminRequest& request, const std::string& token,
                               const AdminHooks& hooks, const StatsHistory* history) {
  std::string_view path = request.target.substr(0, request.target.find('?'));
  // The dashboard page itself carries no data: it is served without the
  // token, and asks for it before its first fetch (the data endpoints need it).
  if (path == "/dashboard" && (request.method == "GET" || request.method == "HEAD")) {
    std::string out = response(200, "OK", "text/html; charset=utf-8", dashboardHtml(),
                               "Content-Security-Policy: default-src 'self'; style-src "
                               "'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' "
                               "data:\r\nX-Frame-Options: DENY\r\n");
    if (request.method == "HEAD") out.resize(out.find("\r\n\r\n") + 4);
    return out;
  }
  if (!authorized(request.authorization, token)) {
    return problem(401, "Unauthorized", "the admin API needs its bearer token",
                   "WWW-Authenticate: Bearer realm=\"rampart-admin\"\r\n");
  }
  if (isPostPath(path)) {
    if (request.method != "POST") {
      return problem(405, "Method Not Allowed", "this admin action is a POST", "Allow: POST\r\n");
    }
    if (!sameOrigin(request.origin, request.host)) {
      return problem(403, "Forbidden", "a POST from another origin is refused");
    }
    std::string out = answerPost(request, path, hooks);
    return out.empty() ? problem(404, "Not Found", "no such admin endpoint") : out;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    return problem(405, "Method Not Allowed", "the admin API answers GET", "Allow: GET, HEAD\r\n");
  }
  std::string out;
  if (path == "/live") {
    out = response(200, "OK", "text/plain; charset=utf-8", "live\n");
  } else if (path == "/ready") {
    observe::MetricsSources now = hooks.sources();
    out = now.draining
              ? response(503, "Service Unavailable", "text/plain; charset=utf-8", "draining\n")
              : response(200, "OK", "text/plain; charset=utf-8", "ready\n");
  } else if (path == "/metrics") {
    out = response(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                   observe::renderPrometheus(hooks.sources()));
  } else if (path == "/stats") {
    std::string body = observe::renderStatsJson(hooks.sources());
    if (history != nullptr) {
      body.pop_back();  // the closing brace: the history goes inside
      body += ",\"history\":";
      body += history->json(historyWanted(request.target));
      body += '}';
    }
    out = response(200, "OK", "application/json", body);
  } else if (path == "/config" && hooks.config_json) {
    out = response(200, "OK", "application/json", hooks.config_json());
  } else if (path == "/clients/top" && hooks.clients_json) {
    out = response(200, "OK", "application/json", hooks.clients_json());
  } else if (path == "/rollouts") {  // progressive rollouts (docs/cutover.md)
    out = response(200, "OK", "application/json", observe::renderRolloutsJson(hooks.sources()));
  } else {
    return problem(404, "Not Found", "no such admin endpoint");
  }
  if (request.method == "HEAD") out.resize(out.find("\r\n\r\n") + 4);
  return out;
}

std::string answerAdminRequest(std::string_view method, std::string_view target,
                               std::string_view authorization, const std::string& token,
                               const AdminServer::Sources& sources) {
  AdminHooks hooks;
  hooks.sources = sources;
  return answerAdminRequest(AdminRequest{method, target, authorization, {}, {}, {}}, token, hooks);
}

AdminServer::AdminServer(AdminSettings settings, AdminHooks hooks)
    : settings_(std::move(settings)), hooks_(std::move(hooks)) {}

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
// Samples the history once a second (between requests: one at a time).
void AdminServer::run() {
  int64_t next_sample = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    const int64_t now = core::monotonicMillis();
    if (now >= next_sample && hooks_.sources) {
      history_.sample(HistoryTotals::read(hooks_.sources()), wallMillis(), now);
      // On a fixed grid, so the samples do not drift by the poll's 100 ms.
      next_sample = next_sample == 0 || now - next_sample > 1000 ? now + 1000 : next_sample + 1000;
    }
    pollfd pfd{listen_fd_, POLLIN, 0};
    int ready = ::poll(&pfd, 1, 100);
    if (ready <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    serveOne(fd);
    ::close(fd);
  }
}

// One request per connection (head, then a body of at most kMaxAdminBody),
// read within kReadTimeoutMs in total.
void AdminServer::serveOne(int fd) {
  char buffer[kMaxRequestBytes + kMaxAdminBody];
  size_t have = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadTimeoutMs);
  http::RequestHead head;
  head.headers.reserve(32);
  http::Limits limits;
  limits.max_head_bytes = kMaxRequestBytes;
  size_t head_size = 0;  // set once the head parsed
  size_t body_size = 0;
  for (;;) {
    if (head_size != 0 && have >= head_size + body_size) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) return;
    ssize_t n = ::recv(fd, buffer + have, sizeof(buffer) - have, 0);
    if (n <= 0) return;
    have += static_cast<size_t>(n);
    if (head_size != 0) continue;
    http::ParseOutcome outcome =
        http::parseRequestHead(std::string_view(buffer, have), limits, head);
    if (outcome.state == http::ParseOutcome::State::kNeedMore) {
      if (have >= kMaxRequestBytes) {
        sendAll(fd, problem(400, "Bad Request", "malformed request"));
        return;
      }
      continue;
    }
    if (outcome.state == http::ParseOutcome::State::kError) {
      sendAll(fd, problem(400, "Bad Request", "malformed request"));
      return;
    }
    BodyLength body =
        adminBodyLength(head.framing == http::BodyFraming::kChunked, head.content_length);
    if (body.error_status == 411) {
      sendAll(fd, problem(411, "Length Required", "send the body with a Content-Length"));
      return;
    }
    if (body.error_status == 413) {
      sendAll(fd, problem(413, "Content Too Large", "admin request bodies are at most 4 KiB"));
      return;
    }
    head_size = outcome.consumed;
    body_size = body.length;
  }
  AdminRequest request{
      head.method, head.target, {}, std::string_view(buffer + head_size, body_size), head.host, {}};
  for (const http::Header& header : head.headers) {
    if (http::equalsIgnoreCase(header.name, "authorization")) request.authorization = header.value;
    if (http::equalsIgnoreCase(header.name, "origin")) request.origin = header.value;
  }
  std::string_view path = request.target.substr(0, request.target.find('?'));
  const bool action_allowed = authorized(request.authorization, settings_.token) &&
                              sameOrigin(request.origin, request.host);
  if (path == "/upgrade" && upgrader_ && action_allowed) {
    if (request.method != "POST") {
      sendAll(fd, problem(405, "Method Not Allowed", "/upgrade answers POST", "Allow: POST\r\n"));
      return;
    }
    ReloadAnswer answer = upgrader_(queryValue(request.target, "binary"));
    sendAll(fd, response(answer.status, answer.status == 202 ? "Accepted" : "Bad Request",
                         "application/json", answer.body));
    return;
  }
  if (path == "/reload" && reloader_ && action_allowed) {
    if (request.method != "POST") {
      sendAll(fd, problem(405, "Method Not Allowed", "/reload answers POST", "Allow: POST\r\n"));
      return;
    }
    ReloadAnswer answer = reloader_();
    sendAll(fd, response(answer.status,
                         answer.status == 200
                             ? "OK"
                             : (answer.status == 422 ? "Unprocessable Content" : "Bad Request"),
                         "application/json", answer.body));
    return;
  }
  sendAll(fd, answerAdminRequest(request, settings_.token, hooks_, &history_));
}

}  // namespace rampart::admin
