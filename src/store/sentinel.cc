#include "store/sentinel.h"

#include <charconv>

namespace rampart::store {

namespace {

bool validPort(std::string_view text) {
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && end == text.data() + text.size() && port > 0 && port < 65536;
}

// "ip:port", bracketing an IPv6 address so the text parses back.
std::string joinAddress(std::string_view ip, std::string_view port) {
  std::string out;
  if (ip.find(':') != std::string_view::npos) {
    out.append("[").append(ip).append("]");
  } else {
    out.append(ip);
  }
  return out.append(":").append(port);
}

}  // namespace

bool parseMasterAddress(const Reply& reply, std::string* out) {
  if (reply.type != Reply::Type::kArray || reply.elements.size() != 2) return false;
  const Reply& ip = reply.elements[0];
  const Reply& port = reply.elements[1];
  if (ip.type != Reply::Type::kString || ip.str.empty()) return false;
  std::string port_text =
      port.type == Reply::Type::kInteger ? std::to_string(port.integer) : port.str;
  if ((port.type != Reply::Type::kString && port.type != Reply::Type::kInteger) ||
      !validPort(port_text)) {
    return false;
  }
  *out = joinAddress(ip.str, port_text);
  return true;
}

Role parseRole(const Reply& reply) {
  if (reply.type != Reply::Type::kArray || reply.elements.empty()) return Role::kUnknown;
  const Reply& first = reply.elements[0];
  if (first.type != Reply::Type::kString && first.type != Reply::Type::kStatus) {
    return Role::kUnknown;
  }
  if (first.str == "master") return Role::kMaster;
  if (first.str == "slave" || first.str == "replica") return Role::kReplica;
  if (first.str == "sentinel") return Role::kSentinel;
  return Role::kUnknown;
}

bool parseSwitchMaster(std::string_view payload, std::string_view master_name, std::string* out) {
  std::string_view words[5];
  size_t count = 0;
  while (!payload.empty()) {
    size_t space = payload.find(' ');
    std::string_view word = payload.substr(0, space);
    if (!word.empty()) {
      if (count == 5) return false;
      words[count++] = word;
    }
    if (space == std::string_view::npos) break;
    payload.remove_prefix(space + 1);
  }
  if (count != 5 || words[0] != master_name || !validPort(words[4])) return false;
  *out = joinAddress(words[3], words[4]);
  return true;
}

}  // namespace rampart::store
