// The `authentication:` section and each route's `auth:`: providers (JWT
// issuers with their JWKS, API-key files), identity headers, and what every
// route requires. Loading thread only.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "auth/jwks.h"
#include "config/sections.h"
#include "http/fetch.h"

namespace rampart::config::detail {

namespace {

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
constexpr size_t kMaxKeyFileBytes = 16 << 20;
constexpr int64_t kMaxClockSkewSeconds = 86400;

std::string resolvePath(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  return base_dir + "/" + path;
}

// The whole file, or nullopt with `problem` set.
std::optional<std::string> readWholeFile(const std::string& path, std::string* problem) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *problem = "cannot open '" + path + "'";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    *problem = "cannot read '" + path + "'";
    return std::nullopt;
  }
  std::string out = text.str();
  if (out.size() > kMaxKeyFileBytes) {
    *problem = "'" + path + "' is larger than 16 MiB";
    return std::nullopt;
  }
  noteSourceFile(path, out);  // a reload compares it (and the watch polls it)
  return out;
}

// A list of strings; every bad item is reported.
std::vector<std::string> readStrings(yaml::Reader& reader, const YAML::Node& node,
                                     std::string_view what) {
  std::vector<std::string> out;
  if (!reader.sequence(node, what)) return out;
  for (const YAML::Node& item : node) {
    if (auto text = reader.string(item, what)) out.push_back(*text);
  }
  return out;
}

// `from: {header: NAME, scheme: Bearer}`, `{cookie: NAME}` or `{query: NAME}`.
void readSource(yaml::Reader& reader, const YAML::Node& node, auth::CredentialSource* out) {
  std::optional<yaml::Map> map = reader.map(node, "from", {"header", "scheme", "cookie", "query"});
  if (!map) return;
  int kinds = 0;
  if (const YAML::Node* header = map->find("header")) {
    ++kinds;
    if (auto name = reader.string(*header, "header")) {
      if (!isToken(*name)) reader.error(*header, "header: expected a header name");
      out->kind = auth::CredentialSource::Kind::kHeader;
      out->name = lowercase(*name);
    }
  }
  if (const YAML::Node* cookie = map->find("cookie")) {
    ++kinds;
    if (auto name = reader.string(*cookie, "cookie")) {
      out->kind = auth::CredentialSource::Kind::kCookie;
      out->name = *name;
      out->scheme.clear();
    }
  }
  if (const YAML::Node* query = map->find("query")) {
    ++kinds;
    if (auto name = reader.string(*query, "query")) {
      out->kind = auth::CredentialSource::Kind::kQuery;
      out->name = *name;
      out->scheme.clear();
    }
  }
  if (kinds != 1) {
    reader.error(map->position(), "from: expected exactly one of header, cookie or query");
  }
  if (const YAML::Node* scheme = map->find("scheme")) {
    if (out->kind != auth::CredentialSource::Kind::kHeader) {
      reader.error(*scheme, "scheme: only a header credential has a scheme");
    } else if (auto text = reader.string(*scheme, "scheme")) {
      out->scheme = *text;
    }
  }
  if (out->name.empty()) reader.error(map->position(), "from: the name must not be empty");
}

void readClaimMapping(yaml::Reader& reader, const YAML::Node& node, auth::ClaimMapping* out) {
  std::optional<yaml::Map> map =
      reader.map(node, "claims", {"principal", "account", "roles", "scopes", "extra"});
  if (!map) return;
  reader.readString(*map, "principal", &out->principal_claim);
  reader.readString(*map, "account", &out->account_claim);
  reader.readString(*map, "roles", &out->roles_claim);
  reader.readString(*map, "scopes", &out->scopes_claim);
  if (const YAML::Node* extra = map->find("extra")) {
    out->extra_claims = readStrings(reader, *extra, "extra");
  }
  if (out->principal_claim.empty()) {
    reader.error(map->keyPosition("principal"), "principal: the principal claim must not be empty");
  }
}

void readAlgorithms(yaml::Reader& reader, const YAML::Node& node, auth::IssuerSpec* spec) {
  if (!reader.sequence(node, "algorithms")) return;
  for (const YAML::Node& item : node) {
    std::optional<std::string> name = reader.string(item, "algorithms");
    if (!name) continue;
    auth::Algorithm algorithm{};
    switch (auth::parseAlgorithm(*name, algorithm)) {
      case auth::AlgorithmParse::kOk:
        if (std::find(spec->algorithms.begin(), spec->algorithms.end(), algorithm) ==
            spec->algorithms.end()) {
          spec->algorithms.push_back(algorithm);
        }
        break;
      case auth::AlgorithmParse::kNone:
        reader.error(item, "algorithms: 'none' can never be accepted");
        break;
      case auth::AlgorithmParse::kUnknown:
        reader.error(item, "algorithms: unknown algorithm '" + *name +
                               "' (HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, "
                               "PS512, ES256, ES384, EdDSA)");
        break;
    }
  }
  if (node.size() == 0) reader.error(node, "algorithms: list at least one algorithm");
}

void readJwksFile(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                  auth::IssuerSpec* spec) {
  std::optional<std::string> path = reader.string(node, "jwks_file");
  if (!path) return;
  std::string problem;
  std::string full = resolvePath(base_dir, *path);
  std::optional<std::string> text = readWholeFile(full, &problem);
  if (!text) {
    reader.error(node, "jwks_file: " + problem);
    return;
  }
  auth::JwksResult keys = auth::parseJwks(*text);
  if (!keys.ok()) {
    reader.error(node, "jwks_file: '" + full + "': " + keys.error);
    return;
  }
  if (keys.keys->size() == 0) {
    reader.error(node, "jwks_file: '" + full + "' holds no usable signing key");
    return;
  }
  spec->keys = keys.keys;
}

// `jwks_url` and its schedule: the issuer starts with no keys; the refresher
// fetches them before the workers start and then keeps them fresh.
void readJwksUrl(yaml::Reader& reader, const yaml::Map& map, const YAML::Node& node,
                 auth::IssuerSpec* spec, auth::Provider* provider) {
  std::optional<std::string> url = reader.string(node, "jwks_url");
  if (!url) return;
  auto source = std::make_shared<auth::JwksSource>();
  std::string problem;
  if (!http::parseFetchUrl(*url, &source->url, &problem)) {
    reader.error(node, "jwks_url: " + problem);
    return;
  }
  source->url_text = *url;
  source->issuer = spec->issuer;
  reader.readDuration(map, "refresh_interval", &source->refresh_interval);
  reader.readDuration(map, "stale_after", &source->stale_after);
  reader.readDuration(map, "min_refresh_interval", &source->min_refresh_interval);
  reader.readDuration(map, "fetch_timeout", &source->fetch_timeout);
  if (source->refresh_interval.count() < 1000) {
    reader.error(map.keyPosition("refresh_interval"), "refresh_interval: at least 1s");
  }
  if (source->fetch_timeout.count() < 10) {
    reader.error(map.keyPosition("fetch_timeout"), "fetch_timeout: at least 10ms");
  }
  spec->keys = auth::makeKeySet({});
  provider->jwks_sources.push_back(std::move(source));
}

void readIssuer(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                std::vector<auth::IssuerSpec>* out, auth::Provider* provider) {
  std::optional<yaml::Map> map =
      reader.map(node, "issuer",
                 {"issuer", "algorithms", "jwks_file", "jwks_url", "refresh_interval",
                  "stale_after", "min_refresh_interval", "fetch_timeout", "audiences",
                  "require_exp", "clock_skew", "max_token_bytes", "claims"});
  if (!map) return;
  auth::IssuerSpec spec;
  if (const YAML::Node* issuer = reader.require(*map, "issuer", "issuer")) {
    if (auto text = reader.string(*issuer, "issuer")) {
      if (text->empty()) reader.error(*issuer, "issuer: must not be empty");
      for (const auth::IssuerSpec& other : *out) {
        if (other.issuer == *text) reader.error(*issuer, "issuer: '" + *text + "' is listed twice");
      }
      spec.issuer = *text;
    }
  }
  if (const YAML::Node* algorithms = reader.require(*map, "algorithms", "issuer")) {
    readAlgorithms(reader, *algorithms, &spec);
  }
  const YAML::Node* jwks_file = map->find("jwks_file");
  const YAML::Node* jwks_url = map->find("jwks_url");
  if ((jwks_file == nullptr) == (jwks_url == nullptr)) {
    reader.error(map->position(), "issuer: expected exactly one of jwks_file or jwks_url");
  } else if (jwks_file != nullptr) {
    readJwksFile(reader, *jwks_file, base_dir, &spec);
    for (const char* key :
         {"refresh_interval", "stale_after", "min_refresh_interval", "fetch_timeout"}) {
      if (map->find(key))
        reader.error(map->keyPosition(key), std::string(key) + ": only with jwks_url");
    }
  } else {
    readJwksUrl(reader, *map, *jwks_url, &spec, provider);
  }
  if (const YAML::Node* audiences = map->find("audiences")) {
    spec.audiences = readStrings(reader, *audiences, "audiences");
  }
  reader.readBool(*map, "require_exp", &spec.require_exp);
  std::chrono::milliseconds skew{spec.clock_skew_seconds * 1000};
  reader.readDuration(*map, "clock_skew", &skew);
  spec.clock_skew_seconds = std::min<int64_t>(skew.count() / 1000, kMaxClockSkewSeconds);
  reader.readSize(*map, "max_token_bytes", 64, 1 << 20, &spec.max_token_bytes);
  if (const YAML::Node* claims = map->find("claims"))
    readClaimMapping(reader, *claims, &spec.claims);
  out->push_back(std::move(spec));
}

void readJwtProvider(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                     auth::Provider* provider) {
  std::optional<yaml::Map> map = reader.map(node, "jwt", {"from", "issuers"});
  if (!map) return;
  provider->kind = auth::Provider::Kind::kJwt;
  if (const YAML::Node* from = map->find("from")) readSource(reader, *from, &provider->from);
  std::vector<auth::IssuerSpec> issuers;
  if (const YAML::Node* list = reader.require(*map, "issuers", "jwt")) {
    if (reader.sequence(*list, "issuers")) {
      for (const YAML::Node& item : *list) readIssuer(reader, item, base_dir, &issuers, provider);
      if (list->size() == 0) reader.error(*list, "issuers: list at least one issuer");
    }
  }
  if (reader.hasErrors()) return;
  std::string problem;
  std::unique_ptr<auth::Authenticator> authenticator =
      auth::Authenticator::create(std::move(issuers), problem);
  if (!authenticator) {
    reader.error(map->keyPosition("issuers"), "issuers: " + problem);
    return;
  }
  provider->jwt = std::move(authenticator);
  provider->challenge = "Bearer realm=\"rampart\"";
}

// One key of an API-key file; positions are the key file's own.
void readApiKey(yaml::Reader& reader, const YAML::Node& node,
                std::map<auth::Sha256Digest, int>* seen, std::vector<auth::ApiKeyEntry>* out) {
  std::optional<yaml::Map> map =
      reader.map(node, "key", {"name", "sha256", "principal", "account", "scopes", "roles"});
  if (!map) return;
  auth::ApiKeyEntry entry;
  auto identity = std::make_shared<auth::Identity>();
  identity->kind = auth::CredentialKind::kApiKey;
  identity->issuer = "api-key";
  reader.readString(*map, "name", &entry.name);
  if (const YAML::Node* digest = reader.require(*map, "sha256", "key")) {
    if (auto hex = reader.string(*digest, "sha256")) {
      if (!auth::parseSha256Hex(*hex, &entry.digest)) {
        reader.error(*digest,
                     "sha256: expected the key's SHA-256 digest as 64 hex digits (never the key "
                     "itself), e.g. from: printf %s KEY | sha256sum");
      } else if (auto [it, fresh] = seen->emplace(entry.digest, digest->Mark().line + 1); !fresh) {
        reader.error(*digest, "sha256: the same key is already listed at line " +
                                  std::to_string(it->second));
      }
      // What a revocation names (docs/store.md): the digest, lower case.
      identity->token_id = "key:";
      for (char c : *hex) identity->token_id += static_cast<char>(std::tolower(c));
    }
  }
  if (const YAML::Node* principal = reader.require(*map, "principal", "key")) {
    if (auto text = reader.string(*principal, "principal")) identity->principal = *text;
  }
  reader.readString(*map, "account", &identity->account);
  if (const YAML::Node* scopes = map->find("scopes"))
    identity->scopes = readStrings(reader, *scopes, "scopes");
  if (const YAML::Node* roles = map->find("roles"))
    identity->roles = readStrings(reader, *roles, "roles");
  if (entry.name.empty()) entry.name = identity->principal;
  if (!auth::identityHeaderSafe(*identity)) {
    reader.error(map->position(),
                 "key: principal, account, scopes and roles must not hold control characters");
  }
  entry.identity = std::move(identity);
  out->push_back(std::move(entry));
}

// The key file: `keys:` with one entry per key. Read with its own reader, so
// its problems are reported at its own lines.
// Reads and parses one API-key file; problems go to `file_reader` (whose
// file is `full`), except an unreadable file, which goes to `*unreadable`
// when given (the config then points at its own `file:` line). Null when
// there is any problem.
std::shared_ptr<const auth::ApiKeyStore> loadApiKeyFile(const std::string& full,
                                                        yaml::Reader& file_reader,
                                                        std::string* unreadable) {
  std::string problem;
  std::optional<std::string> text = readWholeFile(full, &problem);
  if (!text) {
    if (unreadable != nullptr) {
      *unreadable = problem;
    } else {
      file_reader.error(yaml::Position{}, problem);
    }
    return nullptr;
  }
  std::vector<auth::ApiKeyEntry> entries;
  try {
    YAML::Node root = YAML::Load(*text);
    std::optional<yaml::Map> top = file_reader.map(root, "the API-key file", {"keys"});
    if (top) {
      if (const YAML::Node* keys = file_reader.require(*top, "keys", "the API-key file")) {
        if (file_reader.sequence(*keys, "keys")) {
          std::map<auth::Sha256Digest, int> seen;
          for (const YAML::Node& item : *keys) readApiKey(file_reader, item, &seen, &entries);
        }
      }
    }
  } catch (const YAML::Exception& e) {
    file_reader.error(yaml::positionOf(e.mark), "YAML syntax error: " + e.msg);
  }
  if (file_reader.hasErrors()) return nullptr;
  return std::make_shared<const auth::ApiKeyStore>(std::move(entries));
}

// The watcher's loader: the same parse, its first problem as one line.
auth::ApiKeyFile::Loader reloaderFor(std::string full) {
  return [full = std::move(full)](std::string* error) -> std::shared_ptr<const auth::ApiKeyStore> {
    yaml::Reader file_reader(full);
    std::shared_ptr<const auth::ApiKeyStore> store = loadApiKeyFile(full, file_reader, nullptr);
    if (store == nullptr && error != nullptr) {
      std::vector<Diagnostic> errors = file_reader.takeErrors();
      *error = errors.empty() ? full + ": unreadable" : format(errors.front());
      if (errors.size() > 1) *error += " (and " + std::to_string(errors.size() - 1) + " more)";
    }
    return store;
  };
}

std::shared_ptr<auth::ApiKeyFile> readApiKeyFile(yaml::Reader& reader, const yaml::Map& map,
                                                 const YAML::Node& node,
                                                 const std::string& base_dir) {
  std::optional<std::string> path = reader.string(node, "file");
  if (!path) return nullptr;
  auto file = std::make_shared<auth::ApiKeyFile>();
  file->path = resolvePath(base_dir, *path);
  reader.readDuration(map, "watch_interval", &file->watch_interval);
  yaml::Reader file_reader(file->path);
  std::string unreadable;
  std::shared_ptr<const auth::ApiKeyStore> store =
      loadApiKeyFile(file->path, file_reader, &unreadable);
  if (!unreadable.empty()) reader.error(node, "file: " + unreadable);
  reader.absorb(file_reader);
  if (store == nullptr) return nullptr;
  file->store.store(std::move(store));
  file->load = reloaderFor(file->path);
  return file;
}

void readApiKeyProvider(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                        auth::Provider* provider) {
  std::optional<yaml::Map> map = reader.map(node, "api_keys", {"from", "file", "watch_interval"});
  if (!map) return;
  provider->kind = auth::Provider::Kind::kApiKey;
  provider->from.name = "x-api-key";  // the documented default
  provider->from.scheme.clear();
  if (const YAML::Node* from = map->find("from")) readSource(reader, *from, &provider->from);
  if (const YAML::Node* file = reader.require(*map, "file", "api_keys")) {
    provider->api_keys = readApiKeyFile(reader, *map, *file, base_dir);
  }
  provider->challenge = "ApiKey realm=\"rampart\"";
}

// `mtls: {principal: subject}`: the connection's verified client
// certificate (a TLS listener with client_certificates, docs/tls.md).
void readMtlsProvider(yaml::Reader& reader, const YAML::Node& node, auth::Provider* provider) {
  provider->kind = auth::Provider::Kind::kMtls;
  provider->challenge = "Mutual-TLS";
  if (node.IsNull()) return;  // `mtls:` alone: the defaults
  std::optional<yaml::Map> map = reader.map(node, "mtls", {"principal"});
  if (!map) return;
  if (const YAML::Node* principal = map->find("principal")) {
    if (auto text = reader.oneOf(*principal, "principal",
                                 {"subject", "cn", "san_uri", "san_dns", "san_email"})) {
      auth::parseMtlsPrincipal(*text, &provider->mtls_principal);
    }
  }
}

void readProvider(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                  AuthSettings* out) {
  std::string label = labelOf(node, "provider");
  std::optional<yaml::Map> map = reader.map(node, label, {"name", "jwt", "api_keys", "mtls"});
  if (!map) return;
  auth::Provider provider;
  if (const YAML::Node* name = reader.require(*map, "name", label)) {
    if (auto text = reader.string(*name, "name")) {
      if (text->empty()) reader.error(*name, "name: a provider name must not be empty");
      for (const auth::Provider& other : out->providers) {
        if (other.name == *text)
          reader.error(*name, "name: duplicate provider name '" + *text + "'");
      }
      provider.name = *text;
    }
  }
  const YAML::Node* jwt = map->find("jwt");
  const YAML::Node* keys = map->find("api_keys");
  const YAML::Node* mtls = map->find("mtls");
  if ((jwt != nullptr) + (keys != nullptr) + (mtls != nullptr) != 1) {
    reader.error(map->position(), label + ": expected exactly one of jwt, api_keys or mtls");
  } else if (jwt != nullptr) {
    readJwtProvider(reader, *jwt, base_dir, &provider);
  } else if (keys != nullptr) {
    readApiKeyProvider(reader, *keys, base_dir, &provider);
  } else {
    readMtlsProvider(reader, *mtls, &provider);
  }
  out->providers.push_back(std::move(provider));
}

void readIdentityHeaders(yaml::Reader& reader, const YAML::Node& node, IdentityHeaders* out) {
  std::optional<yaml::Map> map =
      reader.map(node, "identity_headers", {"principal", "account", "scopes", "roles", "issuer"});
  if (!map) return;
  std::string* fields[] = {&out->principal, &out->account, &out->scopes, &out->roles, &out->issuer};
  const char* keys[] = {"principal", "account", "scopes", "roles", "issuer"};
  for (size_t i = 0; i < 5; ++i) {
    const YAML::Node* value = map->find(keys[i]);
    if (value == nullptr) continue;
    std::optional<std::string> name = reader.string(*value, keys[i]);
    if (!name) continue;
    if (!isToken(*name)) {
      reader.error(*value, std::string(keys[i]) + ": expected a header name");
      continue;
    }
    *fields[i] = lowercase(*name);
  }
  for (size_t i = 0; i < 5; ++i) {
    for (size_t j = i + 1; j < 5; ++j) {
      if (*fields[i] == *fields[j]) {
        reader.error(map->position(), "identity_headers: " + std::string(keys[i]) + " and " +
                                          keys[j] + " use the same header '" + *fields[i] + "'");
      }
    }
  }
}

void readOneRouteAuth(yaml::Reader& reader, const YAML::Node& node, AuthSettings* settings,
                      auth::RouteRequirement* out) {
  std::optional<yaml::Map> map =
      reader.map(node, "auth", {"providers", "allow_anonymous", "required_scopes"});
  if (!map) return;
  if (const YAML::Node* list = reader.require(*map, "providers", "auth")) {
    if (reader.sequence(*list, "providers")) {
      for (const YAML::Node& item : *list) {
        std::optional<std::string> name = reader.string(item, "providers");
        if (!name) continue;
        auto& providers = settings->providers;
        auto it = std::find_if(providers.begin(), providers.end(),
                               [&](const auth::Provider& p) { return p.name == *name; });
        if (it == providers.end()) {
          std::string known;
          for (const auth::Provider& p : providers) known += (known.empty() ? "" : ", ") + p.name;
          reader.error(item, "providers: undefined provider '" + *name + "' (" +
                                 (known.empty() ? "none defined under authentication.providers"
                                                : "defined: " + known) +
                                 ")");
          continue;
        }
        out->providers.push_back(static_cast<uint32_t>(it - providers.begin()));
      }
      if (list->size() == 0) reader.error(*list, "providers: list at least one provider");
    }
  }
  reader.readBool(*map, "allow_anonymous", &out->allow_anonymous);
  if (const YAML::Node* scopes = map->find("required_scopes")) {
    out->required_scopes = readStrings(reader, *scopes, "required_scopes");
    if (out->allow_anonymous && !out->required_scopes.empty()) {
      reader.error(*scopes,
                   "required_scopes: an anonymous caller has no scopes; drop allow_anonymous or "
                   "the required scopes");
    }
  }
}

}  // namespace

void readAuthentication(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                        AuthSettings* out) {
  std::optional<yaml::Map> map =
      reader.map(node, "authentication", {"providers", "identity_headers", "token_cache_entries"});
  if (!map) return;
  if (const YAML::Node* providers = map->find("providers")) {
    if (reader.sequence(*providers, "providers")) {
      for (const YAML::Node& item : *providers) readProvider(reader, item, base_dir, out);
    }
  }
  if (const YAML::Node* headers = map->find("identity_headers")) {
    readIdentityHeaders(reader, *headers, &out->identity_headers);
  }
  reader.readInteger(*map, "token_cache_entries", 0, kMaxU32, &out->token_cache_entries);
}

void readRouteAuth(yaml::Reader& reader, const std::vector<RouteExtras>& routes,
                   AuthSettings* settings) {
  settings->routes.resize(routes.size());
  for (size_t i = 0; i < routes.size(); ++i) {
    if (!routes[i].auth) continue;
    readOneRouteAuth(reader, *routes[i].auth, settings, &settings->routes[i]);
  }
}

}  // namespace rampart::config::detail
