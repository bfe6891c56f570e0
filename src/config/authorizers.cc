// The `authorizers:` section and each route's `ext_authz:`: external HTTP
// services that decide for a route after its local policy allows, with a
// decision cache, a circuit breaker and a failure mode. Loading thread only.
#include <algorithm>
#include <limits>

#include "config/sections.h"
#include "http/fetch.h"

namespace rampart::config::detail {

namespace {

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

// Headers Rampart writes on the check request itself, or that only mean
// something to one connection: a client cannot have them forwarded.
constexpr std::string_view kNotSendable[] = {"host",
                                             "content-length",
                                             "transfer-encoding",
                                             "connection",
                                             "keep-alive",
                                             "te",
                                             "trailer",
                                             "upgrade",
                                             "expect",
                                             "proxy-connection",
                                             "x-request-id",
                                             "x-rampart-route",
                                             "x-forwarded-for",
                                             "x-forwarded-host",
                                             "x-forwarded-proto",
                                             "x-forwarded-method",
                                             "x-forwarded-uri"};

// Headers Rampart sets on the upstream request itself: an authorizer
// cannot replace them.
constexpr std::string_view kNotCopyable[] = {
    "host", "content-length", "transfer-encoding", "connection",       "keep-alive",
    "te",   "trailer",        "upgrade",           "expect",           "proxy-connection",
    "via",  "x-request-id",   "x-forwarded-for",   "x-forwarded-host", "x-forwarded-proto"};

bool isIdentityName(const IdentityHeaders& names, std::string_view name) {
  return name == names.principal || name == names.account || name == names.scopes ||
         name == names.roles || name == names.issuer;
}

template <size_t N>
bool among(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

// A list of header names, lowercased; `refused` says why a name may not be listed.
template <typename Refused>
std::vector<std::string> readHeaderNames(yaml::Reader& reader, const YAML::Node& node,
                                         std::string_view key, Refused refused) {
  std::vector<std::string> out;
  if (!reader.sequence(node, key)) return out;
  for (const YAML::Node& item : node) {
    std::optional<std::string> text = reader.string(item, key);
    if (!text) continue;
    if (!isToken(*text)) {
      reader.error(item,
                   std::string(key) + ": expected a header name, got " + yaml::describe(item));
      continue;
    }
    std::string name = lowercase(*text);
    if (std::string why = refused(name); !why.empty()) {
      reader.error(item, std::string(key) + ": '" + name + "' " + why);
      continue;
    }
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      reader.error(item, std::string(key) + ": '" + name + "' is listed twice");
      continue;
    }
    out.push_back(std::move(name));
  }
  return out;
}

// A request target written into the check request line as is.
bool cleanPath(std::string_view path) {
  return !path.empty() && path.front() == '/' && std::none_of(path.begin(), path.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#';
  });
}

void readUrl(yaml::Reader& reader, const YAML::Node& node, authz::AuthorizerSpec* spec) {
  std::optional<std::string> url = reader.string(node, "url");
  if (!url) return;
  http::FetchUrl parsed;
  std::string problem;
  if (!http::parseFetchUrl(*url, &parsed, &problem)) {
    reader.error(node, "url: " + problem + " (expected like http://127.0.0.1:9001/check)");
    return;
  }
  if (!cleanPath(parsed.path)) {
    reader.error(node, "url: the path must not contain spaces or control characters");
    return;
  }
  bool v6 = parsed.host.find(':') != std::string::npos;
  std::string authority =
      (v6 ? "[" + parsed.host + "]" : parsed.host) + ":" + std::to_string(parsed.port);
  std::vector<net::SocketAddress> addresses = net::SocketAddress::resolve(authority, &problem);
  if (addresses.empty()) {
    reader.error(node, "url: cannot resolve '" + authority + "': " + problem);
    return;
  }
  spec->url = *url;
  spec->host_header = parsed.port == 80 ? (v6 ? "[" + parsed.host + "]" : parsed.host) : authority;
  spec->path = parsed.path;
  spec->cluster.endpoints = std::move(addresses);
  spec->cluster.endpoint_names.assign(spec->cluster.endpoints.size(), authority);
}

void readKey(yaml::Reader& reader, const YAML::Node& node, authz::CacheSpec* cache) {
  if (!reader.sequence(node, "key")) return;
  if (node.size() == 0) {
    reader.error(node, "key: list what a decision depends on, like [principal, route]");
  }
  for (const YAML::Node& item : node) {
    std::optional<std::string> text = reader.string(item, "key");
    if (!text) continue;
    authz::KeyPart part;
    using Kind = authz::KeyPart::Kind;
    if (*text == "principal") {
      part.kind = Kind::kPrincipal;
    } else if (*text == "account") {
      part.kind = Kind::kAccount;
    } else if (*text == "route") {
      part.kind = Kind::kRoute;
    } else if (*text == "method") {
      part.kind = Kind::kMethod;
    } else if (*text == "path") {
      part.kind = Kind::kPath;
    } else if (text->starts_with("header:") && isToken(text->substr(7))) {
      part.kind = Kind::kHeader;
      part.header = lowercase(text->substr(7));
    } else {
      reader.error(item,
                   "key: expected principal, account, route, method, path or header:<name>, got " +
                       yaml::describe(item));
      continue;
    }
    cache->key.push_back(std::move(part));
  }
}

void readCache(yaml::Reader& reader, const YAML::Node& node, const std::string& label,
               authz::AuthorizerSpec* spec) {
  std::optional<yaml::Map> map =
      reader.map(node, "cache", {"key", "ttl", "stale_if_error", "max_entries"});
  if (!map) return;
  authz::CacheSpec& cache = spec->cache;
  cache.enabled = true;
  // No default key: what a decision depends on is the operator's to say.
  if (const YAML::Node* key = reader.require(*map, "key", "cache")) readKey(reader, *key, &cache);
  reader.readDuration(*map, "ttl", &cache.ttl);
  reader.readDuration(*map, "stale_if_error", &cache.stale_if_error);
  reader.readInteger(*map, "max_entries", 1, 10'000'000, &cache.max_entries);
  if (const YAML::Node* ttl = map->find("ttl"); ttl && cache.ttl.count() == 0) {
    reader.error(*ttl, "ttl: must be more than 0 (leave `cache` out to call on every request)");
  }
  bool per_caller = std::any_of(cache.key.begin(), cache.key.end(), [](const authz::KeyPart& p) {
    return p.kind == authz::KeyPart::Kind::kPrincipal;
  });
  for (const std::string& sent : spec->send_headers) {
    bool keyed = std::any_of(cache.key.begin(), cache.key.end(), [&](const authz::KeyPart& p) {
      return p.kind == authz::KeyPart::Kind::kHeader && p.header == sent;
    });
    if (!keyed && !per_caller) {
      reader.warning(map->keyPosition("key"),
                     label + ": header '" + sent +
                         "' is sent to the authorizer but is not in cache.key (nor is principal): "
                         "a decision made for one value is served for every other");
    }
  }
}

void readBreaker(yaml::Reader& reader, const YAML::Node& node, authz::AuthorizerSpec* spec) {
  std::optional<yaml::Map> map = reader.map(node, "circuit_breaker", {"failures", "open_for"});
  if (!map) return;
  reader.readInteger(*map, "failures", 0, kMaxU32, &spec->breaker_failures);
  reader.readDuration(*map, "open_for", &spec->breaker_open_for);
}

// `cluster: NAME` (and `path`) instead of `url`: the cluster's endpoints,
// with its pool settings, in a pool of the authorizer's own.
void readClusterTarget(yaml::Reader& reader, const yaml::Map& map, const YAML::Node& node,
                       const std::vector<upstream::ClusterSpec>& clusters,
                       authz::AuthorizerSpec* spec) {
  std::optional<std::string> name = reader.string(node, "cluster");
  if (!name) return;
  auto it = std::find_if(clusters.begin(), clusters.end(),
                         [&](const upstream::ClusterSpec& c) { return c.name == *name; });
  if (it == clusters.end()) {
    reader.error(node, "cluster: undefined cluster '" + *name + "'");
    return;
  }
  // The authorizer's client speaks cleartext: a TLS cluster would get
  // plaintext on its TLS port. Refused until that client speaks TLS.
  if (it->tls != nullptr) {
    reader.error(node, "cluster: '" + *name + "' has tls; an authorizer cannot use it yet");
    return;
  }
  spec->cluster = *it;
  spec->url = "cluster " + *name;
  spec->host_header = it->endpoint_names.empty() ? *name : it->endpoint_names.front();
  spec->path = "/";
  if (const YAML::Node* path = map.find("path")) {
    if (auto text = reader.string(*path, "path")) {
      bool clean = cleanPath(*text);
      if (!clean) {
        reader.error(*path, "path: expected a path like /check, without spaces or a fragment");
      } else {
        spec->path = *text;
      }
    }
  }
}

void readAuthorizer(yaml::Reader& reader, const YAML::Node& node, const IdentityHeaders& identity,
                    const std::vector<upstream::ClusterSpec>& clusters, ExtAuthzSettings* out) {
  std::string label = labelOf(node, "authorizer");
  std::optional<yaml::Map> map =
      reader.map(node, label,
                 {"name", "url", "cluster", "path", "timeout", "send_headers", "upstream_headers",
                  "cache", "circuit_breaker", "max_pending", "max_idle", "idle_timeout"});
  if (!map) return;
  authz::AuthorizerSpec spec;
  if (const YAML::Node* name = reader.require(*map, "name", label)) {
    if (auto text = reader.string(*name, "name")) {
      bool taken = std::any_of(out->authorizers.begin(), out->authorizers.end(),
                               [&](const authz::AuthorizerSpec& a) { return a.name == *text; });
      if (text->empty()) {
        reader.error(*name, "name: an authorizer name must not be empty");
      } else if (taken) {
        reader.error(*name, "name: duplicate authorizer name '" + *text + "'");
      }
      spec.name = *text;
    }
  }
  const YAML::Node* url = map->find("url");
  const YAML::Node* cluster = map->find("cluster");
  if ((url == nullptr) == (cluster == nullptr)) {
    reader.error(map->position(), label + ": needs exactly one of url, cluster");
  } else if (url != nullptr) {
    readUrl(reader, *url, &spec);
    if (map->find("path"))
      reader.error(map->keyPosition("path"), "path: goes with cluster; a url has its own path");
  } else {
    readClusterTarget(reader, *map, *cluster, clusters, &spec);
  }
  reader.readDuration(*map, "timeout", &spec.timeout);
  if (spec.timeout.count() == 0) {
    reader.error(map->keyPosition("timeout"), "timeout: must be more than 0");
  }
  spec.identity = identity;
  if (const YAML::Node* send = map->find("send_headers")) {
    spec.send_headers = readHeaderNames(reader, *send, "send_headers", [&](const std::string& n) {
      if (among(kNotSendable, n)) return std::string("is set by Rampart on the check request");
      if (isIdentityName(identity, n)) {
        return std::string("is an identity header: the verified identity is always sent");
      }
      return std::string();
    });
  }
  if (const YAML::Node* copy = map->find("upstream_headers")) {
    spec.upstream_headers =
        readHeaderNames(reader, *copy, "upstream_headers", [&](const std::string& n) {
          if (among(kNotCopyable, n))
            return std::string("is set by Rampart on the upstream request");
          if (isIdentityName(identity, n)) {
            return std::string("is an identity header: only phase 5 writes those");
          }
          return std::string();
        });
  }
  if (const YAML::Node* cache = map->find("cache")) readCache(reader, *cache, label, &spec);
  if (const YAML::Node* breaker = map->find("circuit_breaker")) {
    readBreaker(reader, *breaker, &spec);
  }
  uint32_t max_pending = 1000;
  reader.readInteger(*map, "max_pending", 1, kMaxU32, &max_pending);
  spec.cluster.name = "authorizer:" + spec.name;
  spec.cluster.connect_timeout = std::min(spec.cluster.connect_timeout, spec.timeout);
  spec.cluster.max_requests = max_pending;
  spec.cluster.response_timeout = spec.timeout;
  reader.readInteger(*map, "max_idle", 0, kMaxU32, &spec.cluster.max_idle_per_endpoint);
  reader.readDuration(*map, "idle_timeout", &spec.cluster.idle_timeout);
  for (const std::string& name : spec.upstream_headers) {
    if (std::find(out->upstream_header_names.begin(), out->upstream_header_names.end(), name) ==
        out->upstream_header_names.end()) {
      out->upstream_header_names.push_back(name);
    }
  }
  out->authorizers.push_back(std::move(spec));
}

}  // namespace

void readAuthorizers(yaml::Reader& reader, const yaml::Map& top, const IdentityHeaders& identity,
                     const std::vector<upstream::ClusterSpec>& clusters, ExtAuthzSettings* out) {
  const YAML::Node* node = top.find("authorizers");
  if (node == nullptr || !reader.sequence(*node, "authorizers")) return;
  for (const YAML::Node& item : *node) readAuthorizer(reader, item, identity, clusters, out);
}

void readRouteExtAuthz(yaml::Reader& reader, const std::vector<RouteExtras>& routes,
                       ExtAuthzSettings* settings) {
  settings->routes.resize(routes.size());
  for (size_t i = 0; i < routes.size(); ++i) {
    if (!routes[i].ext_authz) continue;
    const YAML::Node& node = *routes[i].ext_authz;
    std::optional<yaml::Map> map = reader.map(node, "ext_authz", {"authorizer", "failure_mode"});
    if (!map) continue;
    authz::RouteExtAuthz& route = settings->routes[i];
    if (const YAML::Node* name = reader.require(*map, "authorizer", "ext_authz")) {
      if (auto text = reader.string(*name, "authorizer")) {
        const auto& all = settings->authorizers;
        auto it = std::find_if(all.begin(), all.end(),
                               [&](const authz::AuthorizerSpec& a) { return a.name == *text; });
        if (it == all.end()) {
          std::string known;
          for (const auto& a : all) known += (known.empty() ? "" : ", ") + a.name;
          reader.error(*name,
                       "authorizer: undefined authorizer '" + *text + "' (" +
                           (known.empty() ? "no authorizers are defined" : "defined: " + known) +
                           ")");
        } else {
          route.authorizer = static_cast<int32_t>(it - all.begin());
        }
      }
    }
    if (const YAML::Node* mode = map->find("failure_mode")) {
      if (auto value = reader.oneOf(*mode, "failure_mode", {"deny", "allow"})) {
        route.allow_on_error = *value == "allow";
      }
    }
  }
}

}  // namespace rampart::config::detail
