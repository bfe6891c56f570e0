#include <re2/re2.h>

#include <map>

#include "config/sections.h"

namespace rampart::config::detail {

namespace {

// State shared by every virtual host of one file.
struct RouteContext {
  yaml::Reader& reader;
  const std::vector<upstream::ClusterSpec>& clusters;
  const RouteDefaults& defaults;
  std::map<std::string, int> route_lines;            // route name -> line of its first definition
  std::map<std::string, std::string> domain_owners;  // lowercased domain -> virtual host label
  std::vector<RouteExtras>* extras;                  // keys read by later sections, by route index
};

// Why a path written in the config could never equal a canonical request
// path, or empty. Requests are canonicalized before routing (http/canonical.h).
std::string_view uncanonical(std::string_view path, const http::CanonicalOptions& canonical) {
  if (canonical.merge_slashes && path.find("//") != std::string_view::npos) {
    return "request paths have repeated slashes merged";
  }
  if (!canonical.allow_semicolon && path.find(';') != std::string_view::npos) {
    return "';' in a request path is refused (canonical.allow_semicolon)";
  }
  if (canonical.lowercase_path &&
      std::any_of(path.begin(), path.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return "request paths are lowercased (canonical.lowercase_path)";
  }
  bool dot_segment = path.find("/./") != std::string_view::npos ||
                     path.find("/../") != std::string_view::npos || path.ends_with("/.") ||
                     path.ends_with("/..");
  if (dot_segment) {
    return "request paths have dot-segments removed";
  }
  return {};
}

std::string listClusters(const std::vector<upstream::ClusterSpec>& clusters) {
  if (clusters.empty()) return "no clusters are defined";
  std::string out = "defined clusters: ";
  for (size_t i = 0; i < clusters.size(); ++i) out += (i ? ", " : "") + clusters[i].name;
  return out;
}

void readPath(RouteContext& ctx, const YAML::Node& node, std::string_view key,
              routing::RouteSpec* route) {
  std::optional<std::string> path = ctx.reader.string(node, key);
  if (!path) return;
  route->path = *path;
  if (key == "regex") {
    route->kind = routing::PathMatchKind::kRegex;
    RE2::Options options;
    options.set_log_errors(false);
    RE2 regex(*path, options);
    if (!regex.ok()) ctx.reader.error(node, "regex: bad regular expression: " + regex.error());
    return;
  }
  route->kind = key == "exact" ? routing::PathMatchKind::kExact : routing::PathMatchKind::kPrefix;
  if (path->empty() || path->front() != '/') {
    ctx.reader.error(
        node, std::string(key) + ": a path must start with '/', got " + yaml::describe(node));
    return;
  }
  std::string_view why = uncanonical(*path, ctx.defaults.canonical);
  if (!why.empty()) {
    ctx.reader.warning(yaml::positionOf(node),
                       std::string(key) + ": '" + *path + "' can never match: " + std::string(why));
  }
}

void readMethods(RouteContext& ctx, const YAML::Node& node, routing::RouteSpec* route) {
  if (!ctx.reader.sequence(node, "methods")) return;
  if (node.size() == 0) {
    ctx.reader.error(node, "methods: list at least one method, or leave methods out for any");
  }
  for (const YAML::Node& item : node) {
    std::optional<std::string> method = ctx.reader.string(item, "methods");
    if (!method) continue;
    if (!isToken(*method)) {
      ctx.reader.error(item,
                       "methods: expected an HTTP method like GET, got " + yaml::describe(item));
      continue;
    }
    // Methods are case-sensitive (RFC 9110 9.1): "get" is not GET.
    if (method->find_first_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos) {
      ctx.reader.warning(
          yaml::positionOf(item),
          "methods: '" + *method + "' is lowercase; HTTP methods are case-sensitive");
    }
    route->methods.push_back(*method);
  }
}

void readHeaderMatch(RouteContext& ctx, const YAML::Node& node, routing::RouteSpec* route) {
  std::optional<yaml::Map> map = ctx.reader.map(node, "header match", {"name", "value", "present"});
  if (!map) return;
  routing::HeaderMatch match;
  if (const YAML::Node* name = ctx.reader.require(*map, "name", "header match")) {
    if (auto text = ctx.reader.string(*name, "name")) {
      if (!isToken(*text))
        ctx.reader.error(*name, "name: expected a header name, got " + yaml::describe(*name));
      match.name = lowercase(*text);  // header names are case-insensitive
    }
  }
  const YAML::Node* value = map->find("value");
  const YAML::Node* present = map->find("present");
  if ((value == nullptr) == (present == nullptr)) {
    ctx.reader.error(map->position(), "header match: needs exactly one of value, present");
  } else if (value != nullptr) {
    if (auto text = ctx.reader.string(*value, "value")) match.value = *text;
  } else if (auto flag = ctx.reader.boolean(*present, "present")) {
    if (!*flag) ctx.reader.error(*present, "present: only `present: true` is supported");
    match.present = true;
  }
  route->headers.push_back(std::move(match));
}

void readMatch(RouteContext& ctx, const YAML::Node& node, routing::RouteSpec* route) {
  std::optional<yaml::Map> map =
      ctx.reader.map(node, "match", {"prefix", "exact", "regex", "methods", "headers"});
  if (!map) return;
  std::string_view chosen;
  for (std::string_view key : {"prefix", "exact", "regex"}) {
    const YAML::Node* path = map->find(key);
    if (path == nullptr) continue;
    if (!chosen.empty()) {
      ctx.reader.error(map->keyPosition(key),
                       "match: " + std::string(chosen) + " and " + std::string(key) +
                           " both given; use exactly one of prefix, exact, regex");
      continue;
    }
    chosen = key;
    readPath(ctx, *path, key, route);
  }
  if (chosen.empty()) ctx.reader.error(map->position(), "match: needs one of prefix, exact, regex");
  if (const YAML::Node* methods = map->find("methods")) readMethods(ctx, *methods, route);
  if (const YAML::Node* headers = map->find("headers")) {
    if (ctx.reader.sequence(*headers, "headers")) {
      for (const YAML::Node& item : *headers) readHeaderMatch(ctx, item, route);
    }
  }
}

void readRouteName(RouteContext& ctx, const yaml::Map& map, routing::RouteSpec* route) {
  const YAML::Node* node = ctx.reader.require(map, "name", "route");
  if (node == nullptr) return;
  std::optional<std::string> name = ctx.reader.string(*node, "name");
  if (!name) return;
  if (name->empty()) {
    ctx.reader.error(*node, "name: a route name must not be empty");
    return;
  }
  auto [it, inserted] = ctx.route_lines.emplace(*name, yaml::positionOf(*node).line);
  if (!inserted) {
    ctx.reader.error(*node, "duplicate route name '" + *name + "' (first at line " +
                                std::to_string(it->second) +
                                "); route names are unique across the file");
  }
  route->name = *name;
}

void readRouteCluster(RouteContext& ctx, const yaml::Map& map, const std::string& label,
                      routing::RouteSpec* route) {
  if (map.find("clusters") != nullptr) {  // a weighted split (route_split.cc)
    if (map.find("cluster") != nullptr) {
      ctx.reader.error(map.keyPosition("clusters"),
                       label +
                           ": cluster and clusters both given; use cluster for one cluster, "
                           "clusters for a weighted split");
    }
    route->split = readRouteSplit(ctx.reader, map, ctx.clusters);
    // The first listed cluster stands for the route wherever one cluster is named.
    if (route->split) route->cluster_index = route->split->spec().targets.front().cluster_index;
    return;
  }
  for (std::string_view key : {"sticky", "step_back", "ramp"}) {
    if (map.find(key) != nullptr) {
      ctx.reader.error(map.keyPosition(key), std::string(key) +
                                                 ": only a route with a weighted `clusters:` "
                                                 "split can have " +
                                                 std::string(key));
    }
  }
  const YAML::Node* node = ctx.reader.require(map, "cluster", label);
  if (node == nullptr) return;
  std::optional<std::string> name = ctx.reader.string(*node, "cluster");
  if (!name) return;
  for (size_t i = 0; i < ctx.clusters.size(); ++i) {
    if (ctx.clusters[i].name == *name) {
      route->cluster_index = static_cast<uint32_t>(i);
      return;
    }
  }
  ctx.reader.error(
      *node, "cluster: undefined cluster '" + *name + "' (" + listClusters(ctx.clusters) + ")");
}

void readRoute(RouteContext& ctx, const YAML::Node& node, routing::VirtualHostSpec* host) {
  std::string label = labelOf(node, "route");
  std::optional<yaml::Map> map = ctx.reader.map(
      node, label,
      {"name", "match", "cluster", "clusters", "sticky", "step_back", "ramp", "mirror",
       "max_body_bytes", "auth", "method_override", "policy", "shadow_policy", "rollout", "public",
       "ext_authz", "limits", "retry", "websocket"});
  if (!map) return;
  routing::RouteSpec route;
  route.max_body_bytes = ctx.defaults.max_body_bytes;
  readRouteName(ctx, *map, &route);
  if (const YAML::Node* match = ctx.reader.require(*map, "match", label)) {
    readMatch(ctx, *match, &route);
  }
  readRouteCluster(ctx, *map, label, &route);
  if (const YAML::Node* mirror = map->find("mirror")) {
    route.mirror = readRouteMirror(ctx.reader, *mirror, route.cluster_index, ctx.clusters);
  }
  ctx.reader.readSize(*map, "max_body_bytes", 0, UINT64_MAX, &route.max_body_bytes);
  ctx.reader.readBool(*map, "method_override", &route.method_override);
  RouteExtras extras;
  extras.name = route.name;
  extras.at = map->position();
  auto take = [&](std::string_view key, std::optional<YAML::Node>* slot) {
    if (const YAML::Node* value = map->find(key)) *slot = *value;
  };
  take("auth", &extras.auth);
  take("policy", &extras.policy);
  take("shadow_policy", &extras.shadow_policy);
  take("rollout", &extras.rollout);
  take("public", &extras.is_public);
  take("ext_authz", &extras.ext_authz);
  take("limits", &extras.limits);
  take("retry", &extras.retry);
  take("websocket", &extras.websocket);
  ctx.extras->push_back(std::move(extras));
  host->routes.push_back(std::move(route));
}

void readDomain(RouteContext& ctx, const std::string& text, yaml::Position at,
                const std::string& host_label, routing::VirtualHostSpec* host) {
  std::string domain = lowercase(text);  // host names are case-insensitive
  size_t star = domain.find('*');
  bool bad_star = star != std::string::npos && domain != "*" &&
                  !(star == 0 && domain.size() > 2 && domain[1] == '.' &&
                    domain.find('*', 1) == std::string::npos);
  bool bad_char = domain.empty() || domain.find_first_of(" \t/\\@?#") != std::string::npos;
  if (bad_star || bad_char) {
    ctx.reader.error(at,
                     "domains: expected a host name, \"*.suffix\" or \"*\", got '" + text + "'");
    return;
  }
  auto [it, inserted] = ctx.domain_owners.emplace(domain, host_label);
  if (!inserted) {
    ctx.reader.error(at, "domains: '" + domain + "' is already served by " + it->second);
    return;
  }
  host->domains.push_back(std::move(domain));
}

void readVirtualHost(RouteContext& ctx, const YAML::Node& node, size_t index,
                     std::vector<routing::VirtualHostSpec>* out) {
  std::string label = labelOf(node, "virtual host");
  std::optional<yaml::Map> map = ctx.reader.map(node, label, {"name", "domains", "routes"});
  if (!map) return;
  routing::VirtualHostSpec host;
  host.name = "vhost-" + std::to_string(index + 1);
  ctx.reader.readString(*map, "name", &host.name);
  if (const YAML::Node* domains = map->find("domains")) {
    if (ctx.reader.sequence(*domains, "domains")) {
      if (domains->size() == 0) {
        ctx.reader.error(*domains, "domains: list at least one domain, or \"*\" for any");
      }
      for (const YAML::Node& item : *domains) {
        if (auto text = ctx.reader.string(item, "domains")) {
          readDomain(ctx, *text, yaml::positionOf(item), label, &host);
        }
      }
    }
  } else {
    readDomain(ctx, "*", map->position(), label, &host);  // the documented default
  }
  const YAML::Node* routes = map->find("routes");
  if (routes != nullptr && ctx.reader.sequence(*routes, "routes")) {
    for (const YAML::Node& item : *routes) readRoute(ctx, item, &host);
  }
  if (routes == nullptr || (routes->IsSequence() && routes->size() == 0)) {
    ctx.reader.warning(map->position(), label + " has no routes: its requests get 404");
  }
  out->push_back(std::move(host));
}

}  // namespace

bool isToken(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string lowercase(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return text;
}

void readVirtualHosts(yaml::Reader& reader, const YAML::Node& node,
                      const std::vector<upstream::ClusterSpec>& clusters,
                      const RouteDefaults& defaults, std::vector<routing::VirtualHostSpec>* out,
                      std::vector<RouteExtras>* extras) {
  if (!reader.sequence(node, "virtual_hosts")) return;
  RouteContext ctx{reader, clusters, defaults, {}, {}, extras};
  size_t index = 0;
  for (const YAML::Node& item : node) readVirtualHost(ctx, item, index++, out);
}

}  // namespace rampart::config::detail
