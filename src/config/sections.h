// The cluster and virtual-host sections of the config loader, apart from the
// top-level keys in config.cc. Internal to config/; used only while loading.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/yaml_reader.h"
#include "http/canonical.h"
#include "routing/router.h"
#include "routing/weighted.h"
#include "shield/gcra.h"
#include "upstream/cluster.h"
#include "upstream/retry.h"

namespace rampart::config::detail {

// The keys of a route that later sections read, with the route's name and
// position for their messages.
struct RouteExtras {
  std::string name;
  yaml::Position at;
  std::optional<YAML::Node> auth;
  std::optional<YAML::Node> policy;
  std::optional<YAML::Node> shadow_policy;
  std::optional<YAML::Node> rollout;
  std::optional<YAML::Node> is_public;
  std::optional<YAML::Node> ext_authz;
  std::optional<YAML::Node> limits;
  std::optional<YAML::Node> retry;
  std::optional<YAML::Node> websocket;
};

// Reads `clusters:`, resolving every endpoint. A cluster with a valid name is
// kept even when it has other errors, so that routes naming it are not also
// reported as pointing to an undefined cluster.
void readClusters(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                  std::vector<upstream::ClusterSpec>* out);
// A cluster's `health_check`, `outlier_detection` and `panic_threshold`
// (health.cc), after its endpoints are read.
void readClusterHealth(yaml::Reader& reader, const yaml::Map& map, upstream::ClusterSpec* spec);
// A cluster's `retry_budget` and `circuit_breakers` (retry.cc).
// `circuit_breakers.max_requests` is the cluster's `max_requests` (one value).
void readClusterResilience(yaml::Reader& reader, const yaml::Map& map, upstream::ClusterSpec* spec);
// Each route's `retry` (retry.cc), by route index; a route without one never retries.
void readRouteRetries(yaml::Reader& reader, const std::vector<RouteExtras>& routes,
                      std::vector<upstream::RetryPolicy>* out);

struct RouteDefaults {
  uint64_t max_body_bytes = 0;       // http.max_body_bytes
  http::CanonicalOptions canonical;  // to spot paths that can never match
};

// A route's `mirror:` (route_mirror.cc); null after reporting its problems.
std::shared_ptr<const routing::Mirror> readRouteMirror(
    yaml::Reader& reader, const YAML::Node& node, uint32_t primary_cluster,
    const std::vector<upstream::ClusterSpec>& clusters);

// A route's `clusters` (a weighted split), with its `sticky`, `step_back`
// and `ramp` (route_split.cc). Runs when `clusters` is present; returns null
// after reporting every problem.
std::shared_ptr<const routing::Split> readRouteSplit(
    yaml::Reader& reader, const yaml::Map& route,
    const std::vector<upstream::ClusterSpec>& clusters);

// Reads `virtual_hosts:`, resolving each route's cluster name to its index
// in `clusters`. Route names are checked for uniqueness across the file.
// Each route's authentication and authorization keys are collected in
// `extras`, in route-index order, for the sections that need the providers
// and policies first.
void readVirtualHosts(yaml::Reader& reader, const YAML::Node& node,
                      const std::vector<upstream::ClusterSpec>& clusters,
                      const RouteDefaults& defaults, std::vector<routing::VirtualHostSpec>* out,
                      std::vector<RouteExtras>* extras);

// Reads `authentication:` (providers, identity headers, token cache) into
// `out`. Key files named in it are read relative to `base_dir`; problems in
// an API-key file are reported at that file's own line and column.
void readAuthentication(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                        AuthSettings* out);

// Compiles each route's `auth` node against the providers in `settings`:
// unknown provider names are reported where they are written.
void readRouteAuth(yaml::Reader& reader, const std::vector<RouteExtras>& routes,
                   AuthSettings* settings);

// Reads `policies:` and every file in `policy_files:` (relative to
// `base_dir`) into named, compiled policies.
void readPolicies(yaml::Reader& reader, const yaml::Map& top, const std::string& base_dir,
                  AuthorizationSettings* out);

// Each route's policy, shadow policy, rollout and `public`, resolved by name.
// A route with neither a policy nor `public: true` is reported (a warning;
// `rampart validate` fails on it) and denied at run time.
void readRoutePolicies(yaml::Reader& reader, const std::vector<RouteExtras>& routes,
                       AuthorizationSettings* settings);

// Reads `authorizers:` (external authorization services). The identity
// header names are copied in: the check request carries the identity.
// `cluster:` authorizers copy the named cluster from `clusters`.
void readAuthorizers(yaml::Reader& reader, const yaml::Map& top, const IdentityHeaders& identity,
                     const std::vector<upstream::ClusterSpec>& clusters, ExtAuthzSettings* out);

// Each route's `ext_authz`, resolved against the authorizers by name.
void readRouteExtAuthz(yaml::Reader& reader, const std::vector<RouteExtras>& routes,
                       ExtAuthzSettings* settings);

// Each listener's `shadow_policy`, resolved by name (after the policies).
void readListenerShadows(yaml::Reader& reader, const yaml::Map& top,
                         const AuthorizationSettings& settings, std::vector<ListenerSpec>* out);
// Reads `shield:` (shield.cc): admission, escalation, auth-failure budget,
// slow-client timeouts (into `snapshot->http`), trusted proxies (added to
// `snapshot->trusted_proxies`), overload and baselines (overload.cc; a
// relative state_file is taken from `base_dir`). Runs after the top-level
// keys and `http`.
void readShield(yaml::Reader& reader, const yaml::Map& top, const std::string& base_dir,
                Snapshot* snapshot);
// `shield.overload` and `shield.baselines` (overload.cc).
void readOverload(yaml::Reader& reader, const YAML::Node& node, shield::OverloadSettings* out);
void readBaselines(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                   shield::BaselineSettings* out);
// "<n>/s", "<n>/m", "<n>/h" -> requests per second (shield.cc).
std::optional<double> parseRate(std::string_view text);
// `admin:` (admin.cc): the admin listener's address and token (after the listeners).
void readAdmin(yaml::Reader& reader, const yaml::Map& top, Snapshot* snapshot);
// `access_log:` (access_log.cc): the JSON access log's file, fields, sampling, ring size.
void readAccessLog(yaml::Reader& reader, const yaml::Map& top, Snapshot* snapshot);
// Each listener's `limits:` (after the listeners are read).
void readListenerLimits(yaml::Reader& reader, const yaml::Map& top, Snapshot* snapshot);
// Each route's `limits:`, by route index. `store`: for `scope: global` limits.
void readRouteLimits(yaml::Reader& reader, const std::vector<RouteExtras>& routes,
                     const store::StoreSettings& store, shield::ShieldSettings* out);
// `store:` (store.cc): Redis for global limits, shared blocks and revocation
// (after `workers`, before any limits).
// Files `store.redis.tls` names are relative to `base_dir`.
void readStore(yaml::Reader& reader, const yaml::Map& top, const std::string& base_dir,
               Snapshot* snapshot);

// `{rate: 100/s, burst: 50}` (shield.cc), for other sections' rate limits.
std::optional<shield::Limit> readRateLimit(yaml::Reader& reader, const YAML::Node& node,
                                           const std::string& what);
// `websocket:` (top level) and each route's `websocket: true` (websocket.cc).
void readWebsocket(yaml::Reader& reader, const yaml::Map& top,
                   const std::vector<RouteExtras>& routes, WebsocketSettings* out);
// A listener's `tls:` (tls.cc): compiles its contexts, or reports why not.
void readListenerTls(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                     ListenerSpec* spec);
// A cluster's `tls:` (tls.cc): the upstream client context.
void readClusterTls(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                    upstream::ClusterSpec* spec);

// An HTTP token (RFC 9110 5.6.2): what method and header names are made of.
bool isToken(std::string_view text);
// ASCII lowercase: host names and header names compare case-insensitively.
std::string lowercase(std::string text);

// "cluster 'demo'" when the mapping has a scalar `name`, else just `kind`:
// names the thing in messages about its keys.
std::string labelOf(const YAML::Node& node, std::string_view kind);

// A file the config names (policy, key, JWKS) was read with `content`: it
// joins the snapshot's sources and content hash (what a reload compares).
void noteSourceFile(const std::string& path, std::string_view content);
// SHA-256 of `data`, in lowercase hex.
std::string sha256Hex(std::string_view data);

}  // namespace rampart::config::detail
