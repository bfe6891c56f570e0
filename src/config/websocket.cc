// `websocket:` (top level: the tunnels' timeouts) and each route's
// `websocket: true` (that route may upgrade). docs/websocket.md.
#include <yaml-cpp/yaml.h>

#include "config/sections.h"

namespace rampart::config::detail {

void readWebsocket(yaml::Reader& reader, const yaml::Map& top,
                   const std::vector<RouteExtras>& routes, WebsocketSettings* out) {
  if (const YAML::Node* node = top.find("websocket")) {
    std::optional<yaml::Map> map = reader.map(*node, "websocket", {"idle_timeout", "max_lifetime"});
    if (map) {
      reader.readDuration(*map, "idle_timeout", &out->idle_timeout);
      reader.readDuration(*map, "max_lifetime", &out->max_lifetime);
      if (out->idle_timeout.count() <= 0 || out->max_lifetime.count() <= 0) {
        reader.error(map->position(),
                     "websocket: idle_timeout and max_lifetime must be above 0 (a tunnel "
                     "without bounds would hold its connections forever)");
      }
    }
  }
  out->routes.assign(routes.size(), 0);
  for (size_t i = 0; i < routes.size(); ++i) {
    if (!routes[i].websocket) continue;
    if (auto allowed = reader.boolean(*routes[i].websocket, "websocket")) {
      out->routes[i] = *allowed ? 1 : 0;
    }
  }
}

}  // namespace rampart::config::detail
