// Phase 5, "authenticate": finds the route's credential in a request, checks
// it with the right engine (JWT verifier, API-key store), and yields an
// Identity or a refusal. Providers and route requirements are compiled into
// the config snapshot (immutable, shared by every worker); the token cache is
// the calling worker's own.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/api_keys.h"
#include "auth/identity.h"
#include "auth/jwks_refresh.h"
#include "auth/jwt.h"
#include "auth/mtls.h"
#include "auth/token_cache.h"
#include "http/message.h"

namespace rampart::auth {

// Where a credential travels.
struct CredentialSource {
  enum class Kind : uint8_t { kHeader, kCookie, kQuery };
  Kind kind = Kind::kHeader;
  std::string name = "authorization";  // header name (lower case), cookie or query parameter
  std::string scheme = "Bearer";       // headers only: "Bearer <token>"; empty = the whole value
};

// One named way to authenticate: a set of JWT issuers, an API-key file, or
// the connection's verified client certificate (mtls).
struct Provider {
  enum class Kind : uint8_t { kJwt, kApiKey, kMtls };
  std::string name;
  Kind kind = Kind::kJwt;
  CredentialSource from;
  std::shared_ptr<Authenticator> jwt;                      // kJwt
  std::shared_ptr<ApiKeyFile> api_keys;                    // kApiKey
  MtlsPrincipal mtls_principal = MtlsPrincipal::kSubject;  // kMtls
  // Bumped (release) after any key set of this provider is replaced, so
  // cached tokens verified under the old keys stop counting at once.
  // Shared so that a JWKS refresher and the snapshot see the same counter.
  std::shared_ptr<std::atomic<uint64_t>> key_epoch = std::make_shared<std::atomic<uint64_t>>(0);
  std::string challenge;  // the WWW-Authenticate value for a missing credential
  // Issuers whose keys come from a URL (kJwt); an unknown kid flags its source.
  std::vector<std::shared_ptr<JwksSource>> jwks_sources;
};

// What one route asks. No providers: nothing is checked, the request goes on
// anonymous (the authorization issue decides what anonymous may do).
struct RouteRequirement {
  std::vector<uint32_t> providers;           // indexes into the provider list, tried in order
  bool allow_anonymous = false;              // no credential at all is accepted
  std::vector<std::string> required_scopes;  // all of them, else 403
};

enum class AuthOutcome : uint8_t {
  kAuthenticated,      // identity set
  kAnonymous,          // no credential, and the route allows that (or checks nothing)
  kMissing,            // 401: no credential where one is required
  kInvalid,            // 401: a credential was present and did not verify
  kInsufficientScope,  // 403: verified, but a required scope is missing
  kBusy,  // not judged: a token not in the cache, and the worker's signature budget is spent
};

struct AuthResult {
  AuthOutcome outcome = AuthOutcome::kAnonymous;
  std::shared_ptr<const Identity> identity;  // kAuthenticated and kInsufficientScope
  const Provider* provider = nullptr;        // the one that decided (kInvalid, kAuthenticated)
  std::string_view reason;                   // short, safe to show: "token expired"
  JwtError jwt_error = JwtError::kNone;
};

// Per-worker state of phase 5: the token cache and the verifier's scratch.
// Worker thread only; lives as long as the worker (cleared on a new snapshot).
struct AuthWorkerState {
  explicit AuthWorkerState(size_t cache_entries) : cache(cache_entries) {}
  TokenCache cache;
  std::vector<ApiKeyView> api_keys;  // by provider index, grown on first use
  VerifyScratch scratch;
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
};

// What the phase looks at: views into the current request.
struct AuthInput {
  const http::RequestHead* head = nullptr;
  std::string_view query;  // canonical query string, without '?'
  int64_t now = 0;         // unix seconds
  // The snapshot's identity header names: a newly verified token's identity
  // is rendered into its header lines once, here, and cached with it.
  const IdentityHeaderNames* header_names = nullptr;
  // Asked before each signature verification (a token not in the cache);
  // null: every one is verified. Cached tokens never reach it.
  SignatureGate* signature_gate = nullptr;
  // The connection's verified client certificate (null: none, or not TLS)
  // and the identity an mtls provider made of it, kept by the connection.
  const tls::PeerCertificate* peer_certificate = nullptr;
  MtlsCache* mtls_cache = nullptr;
};

// Runs the route's providers in order: the first whose credential is present
// decides (a bad token is refused, never passed over for a weaker one);
// with none present the route's allow_anonymous decides.
AuthResult authenticate(const RouteRequirement& route, const std::vector<Provider>& providers,
                        const AuthInput& input, AuthWorkerState& state);

// True when every identity value can go into a header line as is (no CR, LF,
// NUL or other control character). Identities that fail are refused.
bool identityHeaderSafe(const Identity& identity);

// The credential of `source` in the request: "" when absent. `ambiguous` is
// set when it appears more than once (two Authorization headers, a cookie
// or parameter twice): that is refused rather than guessed.
std::string_view findCredential(const CredentialSource& source, const AuthInput& input,
                                bool* ambiguous);

}  // namespace rampart::auth
