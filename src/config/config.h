// Configuration: YAML loading, validation with file:line:col errors, and
// compilation into an immutable Snapshot shared by every worker.
// Loading runs on the main/control thread, never on the request path;
// exceptions are used inside the loader only and never escape it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/admin_server.h"
#include "auth/authenticate.h"
#include "authz/authorizer.h"
#include "http/canonical.h"
#include "http/message.h"
#include "net/address.h"
#include "observe/access_log.h"
#include "policy/policy.h"
#include "routing/router.h"
#include "shield/settings.h"
#include "store/settings.h"
#include "tls/context.h"
#include "upstream/cluster.h"
#include "upstream/retry.h"

namespace rampart::config {

struct ListenerSpec {
  std::string name;
  net::SocketAddress address;
  std::string address_text;  // as written, for logs
  // A shadow policy for every route served here that has none of its own
  // (index into AuthorizationSettings::policies; -1: none).
  int32_t shadow_policy = -1;
  // `proxy_protocol: true`: peers in trusted_proxies must open every
  // connection with a PROXY protocol header (v1 or v2) naming the client;
  // any other peer may not send one (docs/shield.md).
  bool proxy_protocol = false;
  // `http2: true`: a cleartext connection that opens with the HTTP/2
  // connection preface is served as HTTP/2 (prior knowledge, docs/http2.md);
  // HTTP/1.1 is still served on it. TLS listeners choose h2 by ALPN.
  bool http2 = false;
  // `tls:` (docs/tls.md): the compiled server side; null for cleartext.
  // Shared, not const: a reload hands the old one's ticket keys to the new.
  std::shared_ptr<tls::ServerTls> tls;
  // `tls.handshake_rate_per_address`: new handshakes per client address,
  // refused at accept (before any crypto) when over; unset: no limit.
  std::optional<shield::Limit> handshake_limit;
};

enum class LogFormat : uint8_t { kText, kJson };

// WebSocket tunnels (docs/websocket.md): which routes may upgrade, and how
// long a tunnel may idle and live.
struct WebsocketSettings {
  std::chrono::milliseconds idle_timeout{60000};    // no byte either way: closed
  std::chrono::milliseconds max_lifetime{3600000};  // from the 101 on
  std::vector<uint8_t> routes;                      // by Route::index: 1 = upgrades allowed
  bool allowed(uint32_t route) const { return route < routes.size() && routes[route] != 0; }
};

// Per-connection timeouts and HTTP limits.
// HTTP/2 connections' limits (docs/http2.md). The flood limits count frames
// from the client per second; over one, GOAWAY(ENHANCE_YOUR_CALM).
struct Http2Settings {
  uint32_t max_concurrent_streams = 100;     // SETTINGS_MAX_CONCURRENT_STREAMS
  uint32_t max_resets_per_second = 100;      // RST_STREAM (rapid reset, CVE-2023-44487)
  uint32_t max_settings_per_second = 20;     // SETTINGS other than ACKs
  uint32_t max_pings_per_second = 50;        // PING other than ACKs
  uint32_t max_empty_data_per_second = 100;  // DATA with neither payload nor END_STREAM
  uint32_t max_continuations = 8;            // CONTINUATION frames after one HEADERS
  uint32_t initial_window_bytes = 65535;     // SETTINGS_INITIAL_WINDOW_SIZE, per stream
};

struct HttpSettings {
  http::Limits limits;
  Http2Settings http2;
  std::chrono::milliseconds head_timeout{10000};      // whole request head must arrive within this
  std::chrono::milliseconds idle_timeout{60000};      // keep-alive connection with no request
  uint32_t min_body_rate = 1024;                      // bytes/s a request body must sustain
  std::chrono::milliseconds body_rate_window{10000};  // measured over this window; 0 disables
  uint64_t max_body_bytes = 0;                        // default per-route limit; 0: none
};

// Headers that carry the verified identity upstream (auth/identity.h).
using IdentityHeaders = auth::IdentityHeaderNames;

struct AuthSettings {
  std::vector<auth::Provider> providers;
  std::vector<auth::RouteRequirement> routes;  // by routing::Route::index
  IdentityHeaders identity_headers;
  uint32_t token_cache_entries = 10000;  // per worker
};

// Phase 6 for one route, by index into AuthorizationSettings::policies.
struct RoutePolicy {
  static constexpr int32_t kNone = -1;
  bool is_public = false;    // `public: true`: no policy, every caller passes
  int32_t enforced = kNone;  // kNone and not public: denied (403), never forwarded
  int32_t shadow = kNone;    // evaluated beside the enforced one, counted, never enforced
  int32_t rollout = kNone;   // enforced instead of `enforced` for rollout_percent of accounts
  uint32_t rollout_percent = 0;
  bool external = false;  // the route asks an external authorizer (ext_authz): with no
                          // policy, that authorizer alone decides
};

struct AuthorizationSettings {
  std::vector<policy::Policy> policies;
  std::vector<std::string> names;         // parallel to policies
  std::vector<policy::PolicySpec> specs;  // parallel to policies: as written (impact reports)
  std::vector<RoutePolicy> routes;        // by routing::Route::index
  uint64_t rollout_seed = 0;              // which accounts a percentage selects (stable)
  uint32_t shadow_log_per_second = 10;    // per worker; disagreements beyond are counted only
};

// External authorizers and each route's use of one (`authorizers:`, route `ext_authz`).
struct ExtAuthzSettings {
  std::vector<authz::AuthorizerSpec> authorizers;
  std::vector<authz::RouteExtAuthz> routes;  // by routing::Route::index
  // Every authorizer's upstream_headers, lowercase: removed from every
  // client request on every route, so only an authorizer's answer sets them.
  std::vector<std::string> upstream_header_names;
};

// `reload:` (docs/operations.md). Reload itself is always available (SIGHUP,
// POST /reload on the admin listener); this only adds the file watch.
struct ReloadSettings {
  bool watch = false;  // poll the config and every file it names once a second
};

// A file the snapshot was compiled from: the config itself, and the policy,
// key and JWKS files it names (what the watch polls).
struct SourceFile {
  std::string path;
};

struct Snapshot {
  uint32_t workers = 0;  // 0 = auto: one per core
  LogFormat log_format = LogFormat::kText;
  std::string log_level = "info";
  std::chrono::milliseconds drain_timeout{30000};
  uint32_t max_connections = 100000;  // process-wide cap, checked at accept

  std::vector<ListenerSpec> listeners;
  HttpSettings http;
  http::CanonicalOptions canonical;
  std::vector<net::Cidr> trusted_proxies;  // peers whose X-Forwarded-*/x-request-id are kept
  std::string via = "1.1 rampart";

  std::vector<upstream::ClusterSpec> clusters;
  routing::RouteTable routes;
  std::vector<std::string> route_names;         // by Route::index, for stats and logs
  std::vector<routing::RouteSpec> route_specs;  // by Route::index: as declared (impact reports)
  std::vector<std::string> route_hosts;         // by Route::index: the virtual host's name
  std::vector<upstream::RetryPolicy> route_retries;  // by Route::index (config/retry.cc)
  AuthSettings auth;
  AuthorizationSettings authorization;
  ExtAuthzSettings ext_authz;
  shield::ShieldSettings shield;          // limits, admission, escalation (config/shield.cc)
  admin::AdminSettings admin;             // the admin listener (config/admin.cc); off unless set
  observe::AccessLogSettings access_log;  // config/access_log.cc; off unless set
  store::StoreSettings store;             // config/store.cc; off unless set (docs/store.md)
  WebsocketSettings websocket;            // config/websocket.cc
  ReloadSettings reload;                  // config.cc

  // What the snapshot was compiled from, set by loadFile/loadString: every
  // file read (config first), and a SHA-256 over their paths and contents. A
  // reload whose hash equals the running one's changes nothing (a no-op).
  std::vector<SourceFile> sources;
  std::string content_hash;  // hex
  // SHA-256 over the `authentication:` section and the key and JWKS files:
  // the workers' token caches survive a reload only when it is unchanged.
  std::string auth_fingerprint;
  std::string source_text;  // the YAML it was compiled from (admin /config, redacted there)
};

// One problem in a config file. Printed as "file:line:col: message".
struct Diagnostic {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem has no position
  int column = 0;  // 1-based
  std::string message;
};

std::string format(const Diagnostic& diagnostic);

struct LoadResult {
  std::shared_ptr<const Snapshot> snapshot;  // null when errors is not empty
  std::vector<Diagnostic> errors;            // every error found, not just the first
  std::vector<Diagnostic> warnings;

  bool ok() const { return snapshot != nullptr; }
};

// Loads, validates and compiles a config file.
LoadResult loadFile(const std::string& path);
// Same, from text; `file_name` is used in diagnostics.
LoadResult loadString(std::string_view text, const std::string& file_name);

}  // namespace rampart::config
