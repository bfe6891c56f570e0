#include "proxy/h2_translate.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

#include "http/message.h"

namespace rampart::proxy {

bool connectionSpecific(std::string_view name) {
  // By length first: asked of every field both ways, most of which match none.
  switch (name.size()) {
    case 2:
      return http::equalsIgnoreCase(name, "te");
    case 7:
      return http::equalsIgnoreCase(name, "upgrade");
    case 10:
      return http::equalsIgnoreCase(name, "connection") ||
             http::equalsIgnoreCase(name, "keep-alive");
    case 16:
      return http::equalsIgnoreCase(name, "proxy-connection");
    case 17:
      return http::equalsIgnoreCase(name, "transfer-encoding");
    default:
      return false;
  }
}

void H2Request::clear() {
  method.clear();
  path.clear();
  authority.clear();
  host.clear();
  protocol.clear();
  cookie.clear();
  fields.clear();
  has_content_length = false;
}

void appendHttp11Head(const H2Request& request, bool end_stream, bool* chunked, std::string* out) {
  out->reserve(out->size() + 64 + request.method.size() + request.path.size() +
               request.authority.size() + request.host.size() + request.fields.size() +
               request.cookie.size());
  out->append(request.method);
  out->push_back(' ');
  out->append(request.path);
  out->append(" HTTP/1.1\r\nhost: ");
  // :authority wins over a host field (RFC 9113 8.3.1).
  out->append(request.authority.empty() ? request.host : request.authority);
  out->append("\r\n");
  out->append(request.fields);
  if (!request.cookie.empty()) {
    out->append("cookie: ");
    out->append(request.cookie);
    out->append("\r\n");
  }
  *chunked = !end_stream && !request.has_content_length;
  if (*chunked) out->append("transfer-encoding: chunked\r\n");
  out->append("\r\n");
}

std::string http11WebsocketHead(const H2Request& request, std::string_view key) {
  std::string out;
  out.reserve(192 + request.path.size() + request.fields.size() + request.cookie.size());
  out += "GET ";
  out += request.path;
  out += " HTTP/1.1\r\nhost: ";
  out += request.authority.empty() ? request.host : request.authority;
  out += "\r\n";
  bool has_version = false;
  std::string_view fields = request.fields;
  while (!fields.empty()) {  // "name: value\r\n" lines, names lowercase
    size_t end = fields.find("\r\n");
    std::string_view line =
        fields.substr(0, end == std::string_view::npos ? fields.size() : end + 2);
    fields.remove_prefix(line.size());
    if (line.starts_with("sec-websocket-key:")) continue;
    has_version = has_version || line.starts_with("sec-websocket-version:");
    out += line;
  }
  if (!request.cookie.empty()) {
    out += "cookie: ";
    out += request.cookie;
    out += "\r\n";
  }
  if (!has_version) out += "sec-websocket-version: 13\r\n";
  out += "sec-websocket-key: ";
  out += key;
  out += "\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n";
  return out;
}

std::string websocketKey(const unsigned char (&nonce)[16]) {
  unsigned char text[25];  // 4 * ceil(16 / 3) characters and the NUL
  const int n = EVP_EncodeBlock(text, nonce, 16);
  return {reinterpret_cast<const char*>(text), static_cast<size_t>(n)};
}

std::vector<std::pair<std::string, std::string>> chunkedTrailers(std::string_view tail) {
  std::vector<std::pair<std::string, std::string>> fields;
  if (tail.size() >= 4 && tail.substr(tail.size() - 4) == "\r\n\r\n") tail.remove_suffix(2);
  if (tail.size() >= 2 && tail.substr(tail.size() - 2) == "\r\n") tail.remove_suffix(2);
  // Read back from the end, line by line, to the last-chunk line.
  for (;;) {
    size_t start = tail.rfind("\r\n");
    std::string_view line = start == std::string_view::npos ? tail : tail.substr(start + 2);
    size_t colon = line.find(':');
    size_t semicolon = line.find(';');
    bool last_chunk = !line.empty() && line[0] == '0' &&
                      (line.size() == 1 || semicolon == 1 || colon == std::string_view::npos);
    if (last_chunk) break;
    if (start == std::string_view::npos || colon == std::string_view::npos || colon == 0) {
      return {};  // not the whole section: nothing rather than a part
    }
    std::string name(line.substr(0, colon));
    bool token = true;
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      token = token &&
              (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
               c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
               c == '+' || c == '^' || c == '`' || c == '|' || c == '~');
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (token && !connectionSpecific(name) && name != "content-length" && name != "host" &&
        name != "trailer") {
      fields.emplace_back(std::move(name), std::string(value));
    }
    tail = tail.substr(0, start);
  }
  std::reverse(fields.begin(), fields.end());
  return fields;
}

}  // namespace rampart::proxy
