// `admin:` — the admin listener (src/admin/admin_server.h): its address and
// the bearer token it requires. Bound to loopback it may go without a token;
// anywhere else a token is required, so the admin API is never open to the
// network by accident.
#include <netinet/in.h>

#include "config/sections.h"

namespace rampart::config::detail {

namespace {

bool isLoopback(const net::SocketAddress& address) {
  if (address.isV4()) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.sockaddrPtr());
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.sockaddrPtr());
  return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
}

}  // namespace

void readAdmin(yaml::Reader& reader, const yaml::Map& top, Snapshot* snapshot) {
  const YAML::Node* node = top.find("admin");
  if (node == nullptr) return;
  std::optional<yaml::Map> map = reader.map(*node, "admin", {"address", "token"});
  if (!map) return;
  admin::AdminSettings& out = snapshot->admin;
  const YAML::Node* address = reader.require(*map, "address", "admin");
  if (address == nullptr) return;
  std::optional<std::string> text = reader.string(*address, "address");
  if (!text) return;
  std::optional<net::SocketAddress> parsed = net::SocketAddress::parseNumeric(*text);
  if (!parsed) {
    reader.error(*address,
                 "address: expected a numeric address and port like 127.0.0.1:9901, "
                 "got " +
                     yaml::describe(*address));
    return;
  }
  out.address = *parsed;
  out.address_text = *text;
  if (const YAML::Node* token = map->find("token")) {
    if (std::optional<std::string> value = reader.string(*token, "token")) {
      if (value->size() < 16) {
        reader.error(*token, "token: at least 16 characters (it guards the admin API)");
      }
      out.token = *value;
    }
  }
  if (out.token.empty() && !isLoopback(out.address)) {
    reader.error(*address,
                 "admin: a token is required when the admin listener is not on "
                 "loopback (" +
                     *text + ")");
  }
  for (const ListenerSpec& listener : snapshot->listeners) {
    if (listener.address.toString() == out.address.toString()) {
      reader.error(*address,
                   "admin: address " + *text + " is also listener '" + listener.name + "'");
    }
  }
  out.enabled = !reader.hasErrors();
}

}  // namespace rampart::config::detail
