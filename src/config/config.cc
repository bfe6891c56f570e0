#include "config/config.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <tuple>

#include "config/sections.h"
#include "config/yaml_reader.h"

namespace rampart::config {

namespace detail {

namespace {
// The files read by the load under way on this thread (null: none, as when
// the API-key watcher re-reads a key file at run time).
thread_local std::vector<std::pair<std::string, std::string>>* tl_sources = nullptr;
}  // namespace

void noteSourceFile(const std::string& path, std::string_view content) {
  if (tl_sources != nullptr) tl_sources->emplace_back(path, std::string(content));
}

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

}  // namespace detail

namespace {

using yaml::Map;
using yaml::Reader;

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
// A config file is a few kilobytes; refuse anything absurd before parsing it.
constexpr size_t kMaxFileBytes = 16 << 20;

// `workers: auto` (0 in the snapshot) or 1..256.
void readWorkers(Reader& reader, const Map& top, Snapshot* out) {
  const YAML::Node* node = top.find("workers");
  if (node == nullptr) return;
  if (node->IsScalar() && node->Scalar() == "auto") {
    out->workers = 0;
    return;
  }
  std::optional<uint64_t> count =
      node->IsScalar() ? yaml::parseUnsigned(node->Scalar()) : std::nullopt;
  if (!count || *count < 1 || *count > 256) {
    reader.error(*node, "workers: expected \"auto\" or an integer from 1 to 256, got " +
                            yaml::describe(*node));
    return;
  }
  out->workers = static_cast<uint32_t>(*count);
}

void readLogging(Reader& reader, const Map& top, Snapshot* out) {
  if (const YAML::Node* node = top.find("log_format")) {
    if (auto format = reader.oneOf(*node, "log_format", {"text", "json"})) {
      out->log_format = *format == "json" ? LogFormat::kJson : LogFormat::kText;
    }
  }
  if (const YAML::Node* node = top.find("log_level")) {
    if (auto level =
            reader.oneOf(*node, "log_level", {"trace", "debug", "info", "warn", "error"})) {
      out->log_level = *level;
    }
  }
}

// The Via value is written verbatim into forwarded messages: refuse anything
// that could end or split a header line.
void readVia(Reader& reader, const Map& top, Snapshot* out) {
  const YAML::Node* node = top.find("via");
  if (node == nullptr) return;
  std::optional<std::string> via = reader.string(*node, "via");
  if (!via) return;
  bool clean = !via->empty() && via->front() != ' ' && via->back() != ' ';
  for (char c : *via) {
    auto byte = static_cast<unsigned char>(c);
    clean = clean && (byte >= 0x20 || byte == '\t') && byte != 0x7f;
  }
  if (!clean) {
    reader.error(*node,
                 "via: expected a non-empty header value without control characters or "
                 "surrounding spaces, like \"1.1 rampart\"");
    return;
  }
  out->via = *via;
}

void readTrustedProxies(Reader& reader, const Map& top, Snapshot* out) {
  const YAML::Node* node = top.find("trusted_proxies");
  if (node == nullptr || !reader.sequence(*node, "trusted_proxies")) return;
  for (const YAML::Node& item : *node) {
    std::optional<std::string> text = reader.string(item, "trusted_proxies");
    if (!text) continue;
    std::optional<net::Cidr> cidr = net::Cidr::parse(*text);
    if (!cidr) {
      reader.error(item,
                   "trusted_proxies: expected a CIDR like 10.0.0.0/8, 2001:db8::/32 or an "
                   "address, got " +
                       yaml::describe(item));
      continue;
    }
    out->trusted_proxies.push_back(*cidr);
  }
}

void readHttp2(Reader& reader, const YAML::Node& node, Http2Settings* out) {
  std::optional<Map> map =
      reader.map(node, "http2",
                 {"max_concurrent_streams", "max_resets_per_second", "max_settings_per_second",
                  "max_pings_per_second", "max_empty_data_per_second", "max_continuations",
                  "initial_window_bytes"});
  if (!map) return;
  reader.readInteger(*map, "max_concurrent_streams", 1, 10000, &out->max_concurrent_streams);
  reader.readInteger(*map, "max_resets_per_second", 1, 1000000, &out->max_resets_per_second);
  reader.readInteger(*map, "max_settings_per_second", 1, 1000000, &out->max_settings_per_second);
  reader.readInteger(*map, "max_pings_per_second", 1, 1000000, &out->max_pings_per_second);
  reader.readInteger(*map, "max_empty_data_per_second", 1, 1000000,
                     &out->max_empty_data_per_second);
  reader.readInteger(*map, "max_continuations", 0, 1000, &out->max_continuations);
  // RFC 9113 6.5.2: at most 2^31-1; below 1 KiB a stream crawls.
  reader.readSize(*map, "initial_window_bytes", 1024, 2147483647, &out->initial_window_bytes);
}

void readHttp(Reader& reader, const YAML::Node& node, HttpSettings* out) {
  std::optional<Map> map =
      reader.map(node, "http",
                 {"max_head_bytes", "max_headers", "max_target_bytes", "head_timeout",
                  "idle_timeout", "min_body_rate", "body_rate_window", "max_body_bytes", "http2"});
  if (!map) return;
  if (const YAML::Node* http2 = map->find("http2")) readHttp2(reader, *http2, &out->http2);
  reader.readSize(*map, "max_head_bytes", 1024, kMaxU32, &out->limits.max_head_bytes);
  reader.readInteger(*map, "max_headers", 1, 1000, &out->limits.max_headers);
  reader.readSize(*map, "max_target_bytes", 16, kMaxU32, &out->limits.max_target_bytes);
  reader.readDuration(*map, "head_timeout", &out->head_timeout);
  reader.readDuration(*map, "idle_timeout", &out->idle_timeout);
  reader.readSize(*map, "min_body_rate", 0, kMaxU32, &out->min_body_rate);
  reader.readDuration(*map, "body_rate_window", &out->body_rate_window);
  reader.readSize(*map, "max_body_bytes", 0, UINT64_MAX, &out->max_body_bytes);
}

void readCanonical(Reader& reader, const YAML::Node& node, http::CanonicalOptions* out) {
  std::optional<Map> map =
      reader.map(node, "canonical",
                 {"merge_slashes", "allow_encoded_slash", "allow_encoded_backslash",
                  "allow_fragment", "allow_semicolon", "lowercase_path"});
  if (!map) return;
  reader.readBool(*map, "merge_slashes", &out->merge_slashes);
  reader.readBool(*map, "allow_encoded_slash", &out->allow_encoded_slash);
  reader.readBool(*map, "allow_encoded_backslash", &out->allow_encoded_backslash);
  reader.readBool(*map, "allow_fragment", &out->allow_fragment);
  reader.readBool(*map, "allow_semicolon", &out->allow_semicolon);
  reader.readBool(*map, "lowercase_path", &out->lowercase_path);
}

// Where each listener name and address was first seen, to report duplicates.
struct ListenerSeen {
  std::vector<std::pair<std::string, int>> names;
  std::vector<std::pair<net::SocketAddress, int>> addresses;
};

template <typename T>
int firstLine(const std::vector<std::pair<T, int>>& seen, const T& value) {
  for (const auto& [known, line] : seen) {
    if (known == value) return line;
  }
  return 0;
}

void readListenerAddress(Reader& reader, const YAML::Node& node, ListenerSeen* seen,
                         ListenerSpec* spec) {
  constexpr const char* kHint =
      "address: expected a numeric address like 127.0.0.1:8080 or \"[::1]:8080\" (quoted), got ";
  if (!node.IsScalar()) {
    reader.error(node, kHint + yaml::describe(node));
    return;
  }
  std::optional<net::SocketAddress> address = net::SocketAddress::parseNumeric(node.Scalar());
  if (!address) {
    reader.error(node, kHint + yaml::describe(node));
    return;
  }
  int line = yaml::positionOf(node).line;
  if (int first = firstLine(seen->addresses, *address)) {
    reader.error(node, "address: duplicate listener address " + address->toString() +
                           " (first at line " + std::to_string(first) + ")");
  }
  seen->addresses.emplace_back(*address, line);
  spec->address = *address;
  spec->address_text = node.Scalar();
}

// `proxy_protocol` without trusted proxies would refuse every header, so no
// client could ever be named: a mistake, refused where it is written.
void readProxyProtocol(Reader& reader, const Map& map, bool have_trusted, ListenerSpec* spec) {
  reader.readBool(map, "proxy_protocol", &spec->proxy_protocol);
  if (spec->proxy_protocol && !have_trusted) {
    reader.error(*map.find("proxy_protocol"),
                 "proxy_protocol: true needs trusted_proxies (top level or shield): only those "
                 "peers may send a PROXY header");
  }
}

void readListener(Reader& reader, const YAML::Node& node, size_t index, bool have_trusted,
                  const std::string& base_dir, ListenerSeen* seen, std::vector<ListenerSpec>* out) {
  std::string label = detail::labelOf(node, "listener");
  std::optional<Map> map =
      reader.map(node, label,
                 {"name", "address", "shadow_policy", "limits", "proxy_protocol", "tls", "http2"});
  if (!map) return;
  ListenerSpec spec;
  spec.name = "listener-" + std::to_string(index + 1);
  if (const YAML::Node* name = map->find("name")) {
    if (auto text = reader.string(*name, "name")) {
      if (text->empty()) reader.error(*name, "name: a listener name must not be empty");
      spec.name = *text;
    }
  }
  if (int first = firstLine(seen->names, spec.name)) {
    reader.error(map->keyPosition("name"), "duplicate listener name '" + spec.name +
                                               "' (first at line " + std::to_string(first) + ")");
  }
  seen->names.emplace_back(spec.name, map->keyPosition("name").line);
  if (const YAML::Node* address = reader.require(*map, "address", label)) {
    readListenerAddress(reader, *address, seen, &spec);
  }
  readProxyProtocol(reader, *map, have_trusted, &spec);
  // HTTP/2 with prior knowledge (cleartext; TLS listeners take h2 by ALPN).
  reader.readBool(*map, "http2", &spec.http2);
  if (const YAML::Node* tls = map->find("tls")) {
    // The PROXY header comes before the handshake, in clear: not read yet.
    if (spec.proxy_protocol) {
      reader.error(*tls, "tls: a listener with proxy_protocol: true cannot terminate TLS yet");
    }
    detail::readListenerTls(reader, *tls, base_dir, &spec);
  }
  out->push_back(std::move(spec));
}

void readListeners(Reader& reader, const Map& top, const std::string& base_dir, Snapshot* out) {
  const YAML::Node* node = top.find("listeners");
  if (node == nullptr) {
    reader.error(top.position(),
                 "missing required key 'listeners': at least one listener is needed");
    return;
  }
  if (!reader.sequence(*node, "listeners")) return;
  if (node->size() == 0) {
    reader.error(*node, "listeners: at least one listener is needed");
    return;
  }
  ListenerSeen seen;
  size_t index = 0;
  // After the shield section, so both trusted_proxies lists are in.
  const bool have_trusted = !out->trusted_proxies.empty();
  for (const YAML::Node& item : *node) {
    readListener(reader, item, index++, have_trusted, base_dir, &seen, &out->listeners);
  }
}

// Hosts are compiled only when everything else is valid; the router's own
// error (a domain it refuses) has no finer position than `virtual_hosts`.
void compileRoutes(Reader& reader, const Map& top,
                   const std::vector<routing::VirtualHostSpec>& hosts, Snapshot* out) {
  std::string problem;
  if (!out->routes.compile(hosts, &problem)) {
    reader.error(top.keyPosition("virtual_hosts"), "virtual_hosts: " + problem);
    return;
  }
  // Route::index follows declaration order across virtual hosts.
  for (const routing::VirtualHostSpec& host : hosts) {
    for (const routing::RouteSpec& route : host.routes) {
      out->route_names.push_back(route.name);
      out->route_specs.push_back(route);
      out->route_hosts.push_back(host.name);
    }
  }
}

void readRoutes(Reader& reader, const Map& top, const std::string& base_dir, Snapshot* out) {
  if (const YAML::Node* auth = top.find("authentication")) {
    detail::readAuthentication(reader, *auth, base_dir, &out->auth);
  }
  detail::readPolicies(reader, top, base_dir, &out->authorization);
  detail::readListenerShadows(reader, top, out->authorization, &out->listeners);
  if (const YAML::Node* clusters = top.find("clusters")) {
    detail::readClusters(reader, *clusters, base_dir, &out->clusters);
  }
  detail::readAuthorizers(reader, top, out->auth.identity_headers, out->clusters, &out->ext_authz);
  std::vector<routing::VirtualHostSpec> hosts;
  const YAML::Node* node = top.find("virtual_hosts");
  if (node == nullptr || (node->IsSequence() && node->size() == 0)) {
    reader.warning(node ? yaml::positionOf(*node) : top.position(),
                   "no virtual_hosts: every request gets 404");
  }
  if (node != nullptr) {
    detail::RouteDefaults defaults{out->http.max_body_bytes, out->canonical};
    std::vector<detail::RouteExtras> extras;
    detail::readVirtualHosts(reader, *node, out->clusters, defaults, &hosts, &extras);
    detail::readRouteAuth(reader, extras, &out->auth);
    detail::readRoutePolicies(reader, extras, &out->authorization);
    detail::readRouteExtAuthz(reader, extras, &out->ext_authz);
    detail::readRouteLimits(reader, extras, out->store, &out->shield);
    detail::readRouteRetries(reader, extras, &out->route_retries);
    detail::readWebsocket(reader, top, extras, &out->websocket);
  }
  if (!reader.hasErrors()) compileRoutes(reader, top, hosts, out);
}

// `reload: {watch: true}` (docs/operations.md).
void readReload(Reader& reader, const Map& top, Snapshot* out) {
  const YAML::Node* node = top.find("reload");
  if (node == nullptr) return;
  std::optional<Map> map = reader.map(*node, "reload", {"watch"});
  if (!map) return;
  if (const YAML::Node* watch = map->find("watch")) {
    if (auto value = reader.boolean(*watch, "reload.watch")) out->reload.watch = *value;
  }
}

// A length-prefixed field, so that no two different inputs hash alike.
void appendField(std::string* out, std::string_view field) {
  *out += std::to_string(field.size());
  out->push_back(':');
  out->append(field);
}

std::shared_ptr<Snapshot> readSnapshot(Reader& reader, const YAML::Node& root,
                                       const std::string& base_dir) {
  std::optional<Map> top = reader.map(
      root, "the top level",
      {"workers",       "log_format",      "log_level",      "drain_timeout", "max_connections",
       "via",           "trusted_proxies", "http",           "canonical",     "listeners",
       "clusters",      "virtual_hosts",   "authentication", "policies",      "policy_files",
       "authorization", "authorizers",     "shield",         "admin",         "access_log",
       "reload",        "websocket",       "store"});
  if (!top) return nullptr;
  auto snapshot = std::make_shared<Snapshot>();
  readWorkers(reader, *top, snapshot.get());
  readLogging(reader, *top, snapshot.get());
  reader.readDuration(*top, "drain_timeout", &snapshot->drain_timeout);
  reader.readInteger(*top, "max_connections", 1, kMaxU32, &snapshot->max_connections);
  readVia(reader, *top, snapshot.get());
  readTrustedProxies(reader, *top, snapshot.get());
  if (const YAML::Node* http = top->find("http")) readHttp(reader, *http, &snapshot->http);
  if (const YAML::Node* canonical = top->find("canonical")) {
    readCanonical(reader, *canonical, &snapshot->canonical);
  }
  detail::readStore(reader, *top, base_dir, snapshot.get());
  detail::readShield(reader, *top, base_dir, snapshot.get());
  readListeners(reader, *top, base_dir, snapshot.get());
  detail::readListenerLimits(reader, *top, snapshot.get());
  detail::readAdmin(reader, *top, snapshot.get());
  detail::readAccessLog(reader, *top, snapshot.get());
  readRoutes(reader, *top, base_dir, snapshot.get());
  readReload(reader, *top, snapshot.get());
  if (reader.hasErrors()) return nullptr;
  return snapshot;
}

// Files a config names (keys, JWKS) are relative to the config file itself.
std::string directoryOf(const std::string& file) {
  size_t slash = file.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : file.substr(0, slash);
}

// Sections are checked in a fixed order and unknown keys when their mapping
// is read; sorting by position makes the output read like the file.
std::vector<Diagnostic> inFileOrder(std::vector<Diagnostic> diagnostics) {
  std::stable_sort(diagnostics.begin(), diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  return diagnostics;
}

// Parses the text; nullopt after reporting a syntax error or an empty file.
std::optional<YAML::Node> parse(Reader& reader, std::string_view text) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    reader.error(yaml::positionOf(e.mark), "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
  if (documents.empty() || documents[0].IsNull()) {
    reader.error(yaml::Position{1, 1},
                 "empty config: expected a mapping with at least 'listeners'");
    return std::nullopt;
  }
  if (documents.size() > 1) {
    reader.error(documents[1],
                 "expected one YAML document, found " + std::to_string(documents.size()));
    return std::nullopt;
  }
  return documents[0];
}

}  // namespace

std::string format(const Diagnostic& diagnostic) {
  if (diagnostic.line <= 0) return diagnostic.file + ": " + diagnostic.message;
  return diagnostic.file + ":" + std::to_string(diagnostic.line) + ":" +
         std::to_string(diagnostic.column) + ": " + diagnostic.message;
}

LoadResult loadString(std::string_view text, const std::string& file_name) {
  Reader reader(file_name);
  std::shared_ptr<Snapshot> snapshot;
  std::vector<std::pair<std::string, std::string>> sources;
  detail::tl_sources = &sources;
  // yaml-cpp and the standard library may throw; nothing escapes the loader.
  try {
    if (std::optional<YAML::Node> root = parse(reader, text)) {
      snapshot = readSnapshot(reader, *root, directoryOf(file_name));
      if (snapshot != nullptr) {
        // What a reload compares: the config and every file it named, by content.
        std::string all;
        appendField(&all, file_name);
        appendField(&all, text);
        snapshot->sources.push_back(SourceFile{file_name});
        std::string named;
        for (const auto& [path, content] : sources) {
          appendField(&named, path);
          appendField(&named, content);
          snapshot->sources.push_back(SourceFile{path});
        }
        snapshot->content_hash = detail::sha256Hex(all + named);
        std::string auth;
        if (root->IsMap() && (*root)["authentication"]) {
          appendField(&auth, YAML::Dump((*root)["authentication"]));
        }
        snapshot->auth_fingerprint = detail::sha256Hex(auth + named);
      }
    }
  } catch (const std::exception& e) {
    reader.error(yaml::Position{}, std::string("internal error while loading: ") + e.what());
  }
  detail::tl_sources = nullptr;
  LoadResult result;
  result.errors = inFileOrder(reader.takeErrors());
  result.warnings = inFileOrder(reader.takeWarnings());
  if (result.errors.empty() && snapshot == nullptr) {
    result.errors.push_back(Diagnostic{file_name, 0, 0, "internal error: no snapshot built"});
  }
  if (result.errors.empty()) {
    snapshot->source_text = std::string(text);
    result.snapshot = std::move(snapshot);
  }
  return result;
}

LoadResult loadFile(const std::string& path) {
  auto failure = [&](std::string message) {
    LoadResult result;
    result.errors.push_back(Diagnostic{path, 0, 0, std::move(message)});
    return result;
  };
  try {
    std::ifstream in(path, std::ios::binary);
    if (!in) return failure(std::string("cannot open: ") + std::strerror(errno));
    std::string text;
    char chunk[1 << 16];
    while (in.read(chunk, sizeof(chunk)) || in.gcount() > 0) {
      text.append(chunk, static_cast<size_t>(in.gcount()));
      if (text.size() > kMaxFileBytes) return failure("config file larger than 16 MiB");
    }
    if (in.bad()) return failure(std::string("cannot read: ") + std::strerror(errno));
    return loadString(text, path);
  } catch (const std::exception& e) {
    return failure(std::string("cannot read: ") + e.what());
  }
}

}  // namespace rampart::config
