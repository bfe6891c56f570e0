#include "proxy/local_reply.h"

#include <fmt/format.h>

#include <string>

#include "core/log.h"

namespace rampart::proxy {

std::string_view reasonPhrase(uint16_t status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

void appendLocalReply(core::Buffer& out, const LocalReply& reply, std::string_view request_id,
                      bool close, bool head_only) {
  std::string body;
  body.reserve(160);
  body += R"({"type":")";
  core::appendJsonEscaped(body, reply.type.empty() ? std::string_view("about:blank") : reply.type);
  body += R"(","title":")";
  core::appendJsonEscaped(body, reply.title);
  body += R"(","status":)";
  body += std::to_string(reply.status);
  if (!reply.detail.empty()) {
    body += R"(,"detail":")";
    core::appendJsonEscaped(body, reply.detail);
    body += '"';
  }
  body += R"(,"request_id":")";
  core::appendJsonEscaped(body, request_id);
  body += "\"}";

  std::string head = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/problem+json\r\nContent-Length: {}\r\n"
      "Cache-Control: no-store\r\nx-request-id: {}\r\n{}{}\r\n",
      reply.status, reasonPhrase(reply.status), body.size(), request_id, reply.extra_headers,
      close ? "Connection: close\r\n" : "");
  out.append(head);
  if (!head_only) out.append(body);
}

}  // namespace rampart::proxy
