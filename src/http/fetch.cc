#include "http/fetch.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "http/parser.h"
#include "net/address.h"
#include "net/socket.h"

namespace rampart::http {

namespace {

using Clock = std::chrono::steady_clock;

// Closes the socket on every path out of fetch().
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int millisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on `fd` until the deadline; false when it passed.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int left = millisLeft(deadline);
    if (left == 0) return false;
    int n = ::poll(&p, 1, left);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

bool sendAll(int fd, std::string_view data, Clock::time_point deadline, std::string* error) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!waitFor(fd, POLLOUT, deadline)) {
        *error = "timed out sending the request";
        return false;
      }
      continue;
    }
    *error = std::string("send: ") + std::strerror(errno);
    return false;
  }
  return true;
}

// Reads until the peer closes (we sent Connection: close), the deadline, or
// the size bound.
bool receiveAll(int fd, std::string* raw, size_t max_bytes, Clock::time_point deadline,
                std::string* error) {
  char chunk[16384];
  for (;;) {
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n > 0) {
      raw->append(chunk, static_cast<size_t>(n));
      if (raw->size() > max_bytes) {
        *error = "response larger than " + std::to_string(max_bytes) + " bytes";
        return false;
      }
      continue;
    }
    if (n == 0) return true;
    if (errno == EAGAIN || errno == EINTR) {
      if (!waitFor(fd, POLLIN, deadline)) {
        *error = "timed out reading the response";
        return false;
      }
      continue;
    }
    *error = std::string("recv: ") + std::strerror(errno);
    return false;
  }
}

bool decodeBody(const ResponseHead& head, std::string_view rest, FetchResult* out) {
  switch (head.framing) {
    case BodyFraming::kNone:
      return true;
    case BodyFraming::kContentLength:
      if (rest.size() < head.content_length) {
        out->error = "response body cut short";
        return false;
      }
      out->body.assign(rest.substr(0, head.content_length));
      return true;
    case BodyFraming::kChunked: {
      ChunkedDecoder decoder;
      ChunkedDecoder::Progress progress = decoder.feed(rest, &out->body);
      if (progress.error != ParseError::kNone || !decoder.finished()) {
        out->error = "bad chunked response body";
        return false;
      }
      return true;
    }
    case BodyFraming::kUntilClose:
      out->body.assign(rest);
      return true;
  }
  return false;
}

}  // namespace

bool parseFetchUrl(std::string_view url, FetchUrl* out, std::string* error) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    *error = "expected an http:// URL (https arrives with TLS support)";
    return false;
  }
  url.remove_prefix(kScheme.size());
  size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  out->path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos ||
      out->path.find('#') != std::string::npos) {
    *error = "expected http://host[:port]/path without userinfo or fragment";
    return false;
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *error = "unclosed '[' in the host";
      return false;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        *error = "expected ':port' after the IPv6 address";
        return false;
      }
      port = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  out->host = std::string(host);
  out->port = 80;
  if (!port.empty()) {
    uint32_t value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) {
        *error = "bad port";
        return false;
      }
      value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    if (value == 0 || value > 65535) {
      *error = "bad port";
      return false;
    }
    out->port = static_cast<uint16_t>(value);
  }
  if (out->host.empty()) {
    *error = "empty host";
    return false;
  }
  return true;
}

namespace {

FetchResult fetchAt(const net::SocketAddress& address, std::string_view host, std::string_view path,
                    Clock::time_point deadline, size_t max_body_bytes) {
  FetchResult result;
  Fd socket;
  socket.fd = net::connectNonBlocking(address);
  if (socket.fd < 0) {
    result.error = std::string("connect: ") + std::strerror(errno);
    return result;
  }
  if (!waitFor(socket.fd, POLLOUT, deadline)) {
    result.error = "timed out connecting";
    return result;
  }
  if (int code = net::pendingConnectError(socket.fd); code != 0) {
    result.error = std::string("connect: ") + std::strerror(code);
    return result;
  }
  std::string request;
  request.reserve(128 + path.size() + host.size());
  request.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(host);
  request.append(
      "\r\nAccept: application/json\r\nUser-Agent: rampart\r\n"
      "Connection: close\r\n\r\n");
  if (!sendAll(socket.fd, request, deadline, &result.error)) return result;
  std::string raw;
  Limits limits;
  if (!receiveAll(socket.fd, &raw, max_body_bytes + limits.max_head_bytes, deadline,
                  &result.error)) {
    return result;
  }
  ResponseHead head;
  head.headers.reserve(limits.max_headers);
  ParseOutcome outcome = parseResponseHead(raw, limits, false, head);
  size_t offset = 0;
  // Interim 1xx responses carry no body: skip to the final one.
  while (outcome.state == ParseOutcome::State::kDone && head.status < 200) {
    offset += outcome.consumed;
    outcome = parseResponseHead(std::string_view(raw).substr(offset), limits, false, head);
  }
  if (outcome.state != ParseOutcome::State::kDone) {
    result.error = outcome.state == ParseOutcome::State::kError
                       ? std::string("bad response: ") + describe(outcome.error)
                       : "incomplete response head";
    return result;
  }
  result.status = head.status;
  if (!decodeBody(head, std::string_view(raw).substr(offset + outcome.consumed), &result)) {
    return result;
  }
  if (result.body.size() > max_body_bytes) {
    result.error = "response larger than " + std::to_string(max_body_bytes) + " bytes";
    return result;
  }
  result.ok = true;
  return result;
}

}  // namespace

FetchResult fetch(const FetchUrl& url, std::chrono::milliseconds timeout, size_t max_body_bytes) {
  Clock::time_point deadline = Clock::now() + timeout;
  bool ipv6 = url.host.find(':') != std::string::npos;
  std::string endpoint = (ipv6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
  std::string problem;
  std::vector<net::SocketAddress> addresses = net::SocketAddress::resolve(endpoint, &problem);
  if (addresses.empty()) {
    FetchResult result;
    result.error = "resolve " + endpoint + ": " + problem;
    return result;
  }
  return fetchAt(addresses.front(), endpoint, url.path, deadline, max_body_bytes);
}

FetchResult fetchFrom(const net::SocketAddress& address, std::string_view host,
                      std::string_view path, std::chrono::milliseconds timeout,
                      size_t max_body_bytes) {
  return fetchAt(address, host, path, Clock::now() + timeout, max_body_bytes);
}

}  // namespace rampart::http
