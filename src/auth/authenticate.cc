#include "auth/authenticate.h"

#include <algorithm>

namespace rampart::auth {

namespace {

using http::equalsIgnoreCase;

std::string_view trimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "Bearer <token>": the scheme is case-insensitive (RFC 9110 11.1), then at
// least one space. Another scheme is not this provider's credential.
std::string_view afterScheme(std::string_view value, std::string_view scheme) {
  if (scheme.empty()) return value;
  if (value.size() <= scheme.size() || !equalsIgnoreCase(value.substr(0, scheme.size()), scheme) ||
      value[scheme.size()] != ' ') {
    return {};
  }
  return trimSpaces(value.substr(scheme.size() + 1));
}

std::string_view fromHeader(const CredentialSource& source, const AuthInput& input,
                            bool* ambiguous) {
  std::string_view found;
  int seen = 0;
  for (const http::Header& header : input.head->headers) {
    if (!equalsIgnoreCase(header.name, source.name)) continue;
    std::string_view value = afterScheme(header.value, source.scheme);
    if (value.empty()) continue;
    if (++seen > 1) *ambiguous = true;
    found = value;
  }
  return found;
}

// Calls `each(name, value)` for every "name=value" separated by `separator`.
template <typename Fn>
void forEachPair(std::string_view text, char separator, Fn each) {
  while (!text.empty()) {
    size_t end = text.find(separator);
    std::string_view pair = trimSpaces(text.substr(0, end));
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos) each(pair.substr(0, eq), pair.substr(eq + 1));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

std::string_view fromCookie(const CredentialSource& source, const AuthInput& input,
                            bool* ambiguous) {
  std::string_view found;
  for (const http::Header& header : input.head->headers) {
    if (!equalsIgnoreCase(header.name, "cookie")) continue;
    forEachPair(header.value, ';', [&](std::string_view name, std::string_view value) {
      if (name != source.name) return;
      if (!found.empty()) *ambiguous = true;
      found = value;
    });
  }
  return found;
}

std::string_view fromQuery(const CredentialSource& source, const AuthInput& input,
                           bool* ambiguous) {
  std::string_view found;
  forEachPair(input.query, '&', [&](std::string_view name, std::string_view value) {
    if (name != source.name) return;
    if (!found.empty()) *ambiguous = true;
    found = value;
  });
  return found;
}

bool hasAllScopes(const Identity& identity, const std::vector<std::string>& required) {
  return std::all_of(required.begin(), required.end(), [&](const std::string& scope) {
    return std::find(identity.scopes.begin(), identity.scopes.end(), scope) !=
           identity.scopes.end();
  });
}

// The cache is one per worker, shared by every JWT provider: an entry counts
// only for the provider that verified it (a token one provider accepts may
// mean nothing to another) and only under the key epoch it was verified in.
uint64_t cacheGeneration(uint32_t provider_index, const Provider& provider) {
  uint64_t epoch = provider.key_epoch->load(std::memory_order_acquire);
  return (static_cast<uint64_t>(provider_index) << 48) | (epoch & ((uint64_t{1} << 48) - 1));
}

// The issuer may have rotated its keys: its refresher fetches them early, at
// a rate it bounds itself. Only a flag is set here.
void askForKeys(const Provider& provider, std::string_view issuer) {
  for (const std::shared_ptr<JwksSource>& source : provider.jwks_sources) {
    if (source->issuer == issuer) source->requestRefresh();
  }
}

AuthResult verifyJwt(uint32_t provider_index, const Provider& provider, std::string_view token,
                     const AuthInput& input, AuthWorkerState& state) {
  AuthResult result;
  result.provider = &provider;
  uint64_t epoch = cacheGeneration(provider_index, provider);
  if (auto cached = state.cache.find(token, input.now, epoch)) {
    ++state.cache_hits;
    result.outcome = AuthOutcome::kAuthenticated;
    result.identity = std::move(cached);
    return result;
  }
  ++state.cache_misses;
  auto identity = std::make_shared<Identity>();
  JwtError error =
      provider.jwt->authenticate(token, input.now, state.scratch, *identity, input.signature_gate);
  if (error == JwtError::kBusy) {
    result.outcome = AuthOutcome::kBusy;
    result.reason = describe(error);
    return result;
  }
  if (error != JwtError::kNone) {
    if (keyRefreshMayHelp(error) || error == JwtError::kNoKey)
      askForKeys(provider, identity->issuer);
    result.outcome = AuthOutcome::kInvalid;
    result.jwt_error = error;
    result.reason = describe(error);
    return result;
  }
  if (!identityHeaderSafe(*identity)) {
    result.outcome = AuthOutcome::kInvalid;
    result.reason = "the token's identity claims hold control characters";
    return result;
  }
  if (input.header_names != nullptr) {
    identity->header_lines = renderIdentityHeaders(*input.header_names, *identity);
  }
  state.cache.insert(token, identity, identity->expires_at, epoch);
  result.outcome = AuthOutcome::kAuthenticated;
  result.identity = std::move(identity);
  return result;
}

bool headerSafe(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && byte != '\t') || byte == 0x7f;
  });
}

bool listHeaderSafe(const std::vector<std::string>& items) {
  return std::all_of(items.begin(), items.end(),
                     [](const std::string& s) { return headerSafe(s); });
}

}  // namespace

bool identityHeaderSafe(const Identity& identity) {
  return headerSafe(identity.principal) && headerSafe(identity.account) &&
         headerSafe(identity.issuer) && listHeaderSafe(identity.scopes) &&
         listHeaderSafe(identity.roles);
}

namespace {

AuthResult verifyApiKey(uint32_t provider_index, const Provider& provider, std::string_view key,
                        AuthWorkerState& state) {
  AuthResult result;
  result.provider = &provider;
  if (state.api_keys.size() <= provider_index) state.api_keys.resize(provider_index + 1);
  const ApiKeyStore* store = state.api_keys[provider_index].current(*provider.api_keys);
  const ApiKeyEntry* entry = store == nullptr ? nullptr : store->find(key);
  if (entry == nullptr) {
    result.outcome = AuthOutcome::kInvalid;
    result.reason = "unknown API key";
    return result;
  }
  result.outcome = AuthOutcome::kAuthenticated;
  result.identity = entry->identity;
  return result;
}

// The certificate was verified in the handshake; here it only becomes an
// identity, once per connection and provider.
AuthResult verifyMtls(uint32_t provider_index, const Provider& provider, const AuthInput& input) {
  AuthResult result;
  result.provider = &provider;
  MtlsCache* cache = input.mtls_cache;
  if (cache != nullptr && cache->provider == provider_index && cache->identity != nullptr) {
    result.outcome = AuthOutcome::kAuthenticated;
    result.identity = cache->identity;
    return result;
  }
  std::string_view why;
  std::shared_ptr<Identity> identity = identityFromCertificate(
      *input.peer_certificate, provider.mtls_principal, input.header_names, &why);
  if (identity == nullptr) {
    result.outcome = AuthOutcome::kInvalid;
    result.reason = why;
    return result;
  }
  if (cache != nullptr) *cache = {provider_index, identity};
  result.outcome = AuthOutcome::kAuthenticated;
  result.identity = std::move(identity);
  return result;
}

}  // namespace

std::string_view findCredential(const CredentialSource& source, const AuthInput& input,
                                bool* ambiguous) {
  switch (source.kind) {
    case CredentialSource::Kind::kHeader:
      return fromHeader(source, input, ambiguous);
    case CredentialSource::Kind::kCookie:
      return fromCookie(source, input, ambiguous);
    case CredentialSource::Kind::kQuery:
      return fromQuery(source, input, ambiguous);
  }
  return {};
}

AuthResult authenticate(const RouteRequirement& route, const std::vector<Provider>& providers,
                        const AuthInput& input, AuthWorkerState& state) {
  AuthResult result;
  if (route.providers.empty()) return result;  // the route checks nothing: anonymous
  for (uint32_t index : route.providers) {
    const Provider& provider = providers[index];
    if (provider.kind == Provider::Kind::kMtls) {
      if (input.peer_certificate == nullptr) continue;  // no verified certificate: absent
      result = verifyMtls(index, provider, input);
      if (result.outcome == AuthOutcome::kAuthenticated &&
          !hasAllScopes(*result.identity, route.required_scopes)) {
        result.outcome = AuthOutcome::kInsufficientScope;
        result.reason = "the credential lacks a scope this route requires";
      }
      return result;
    }
    bool ambiguous = false;
    std::string_view credential = findCredential(provider.from, input, &ambiguous);
    if (credential.empty()) continue;
    if (ambiguous) {
      result.outcome = AuthOutcome::kInvalid;
      result.provider = &provider;
      result.reason = "more than one credential of the same kind";
      return result;
    }
    result = provider.kind == Provider::Kind::kJwt
                 ? verifyJwt(index, provider, credential, input, state)
                 : verifyApiKey(index, provider, credential, state);
    if (result.outcome == AuthOutcome::kAuthenticated &&
        !hasAllScopes(*result.identity, route.required_scopes)) {
      result.outcome = AuthOutcome::kInsufficientScope;
      result.reason = "the credential lacks a scope this route requires";
    }
    return result;
  }
  result.outcome = route.allow_anonymous ? AuthOutcome::kAnonymous : AuthOutcome::kMissing;
  if (result.outcome == AuthOutcome::kMissing) result.reason = "this route requires a credential";
  return result;
}

}  // namespace rampart::auth
