// The JWT verification engine (RFC 7519 over compact JWS, RFC 7515): plain
// input in, a verdict and an Identity out. Knows nothing of sockets, HTTP or
// config files. An Authenticator is built once per config snapshot (control
// thread) and then shared read-only by every worker; only its key sets may be
// swapped later, atomically (replaceKeys).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/identity.h"
#include "auth/jwks.h"
#include "auth/signature.h"

namespace rampart::auth {

// Why a token was refused. Every value has its own test in tests/unit/auth.
enum class JwtError : uint8_t {
  kNone,
  kTooLarge,          // over the largest max_token_bytes (checked before decoding) or the issuer's
  kMalformed,         // not exactly three "."-separated segments, or an empty header
  kBadBase64,         // a segment that is not canonical unpadded base64url
  kBadJson,           // header or claims are not valid UTF-8 JSON
  kNotObject,         // header or claims are JSON but not an object
  kDuplicateMember,   // the same member name twice in header or claims
  kAlgNone,           // "alg":"none" in any letter case
  kUnknownAlgorithm,  // "alg" missing, not a string, or not one we implement
  kAlgorithmNotAllowed,  // the issuer's allow-list does not include "alg"
  kRemoteKeyReference,   // "jku", "x5u", "jwk" or "x5c" in the header: never followed
  kCriticalHeader,       // "crit" present: we understand no extension
  kBadHeaderMember,      // "kid" (or "typ"/"cty") not a string
  kIssuerMissing,        // no "iss", or not a string
  kUnknownIssuer,        // "iss" names no configured issuer
  kUnknownKid,           // "kid" names no key of the issuer (a JWKS refresh may help)
  kNoKey,                // no "kid": the issuer has no key at all, or several fitting "alg"
  kKeyTypeMismatch,      // the key (or, without kid, every key) cannot verify "alg": key confusion
  kWeakKey,              // HMAC secret shorter than the digest
  kBadSignatureLength,   // not the exact JWS length for "alg" (ES256 DER lands here)
  kBadSignature,         // the signature does not verify
  kBadTimeClaim,         // "exp", "nbf" or "iat" present but not a number
  kExpMissing,           // no "exp" while the issuer requires it
  kExpired,              // now >= exp + skew
  kNotYetValid,          // now + skew < nbf
  kIssuedInFuture,       // iat > now + skew
  kAudienceMismatch,     // none of the required audiences in "aud" (or "aud" malformed/missing)
  kPrincipalMissing,     // the principal claim is missing or not a string
  kBadClaimType,         // account/roles/scopes claim of the wrong JSON type
  kInternal,             // OpenSSL failure: refused, never accepted
  // Every cheap check passed, but the caller's SignatureGate refused the
  // signature verification (its budget is spent): not a judgement of the token.
  kBusy,
};

// Short reason for logs and 401 bodies ("token expired"). Never secret.
const char* describe(JwtError error);

// True for kUnknownKid: the issuer may have rotated its keys, so a caller may
// refetch its JWKS (rate-limited) and retry once.
constexpr bool keyRefreshMayHelp(JwtError error) {
  return error == JwtError::kUnknownKid;
}

// Asked right before a token's signature is verified, the one costly step
// (tens of microseconds for ES256, more for RSA), after every check that
// costs nothing: false refuses the token with kBusy, unverified. How a
// caller bounds the CPU a flood of unknown tokens can take; the engine
// itself has no clock and no budget.
class SignatureGate {
 public:
  virtual bool admit() = 0;

 protected:
  ~SignatureGate() = default;
};

// Which claims become which Identity fields.
struct ClaimMapping {
  std::string principal_claim = "sub";  // required, a string
  std::string account_claim;  // e.g. "tenant"; empty = none. Optional in the token; a string
  std::string roles_claim;    // empty = none. Array of strings or a space-separated string
  // Empty = the default: "scope" (space-separated string), else "scp" (array
  // of strings or space-separated string). Set = only that claim, either form.
  std::string scopes_claim;
  // Copied into Identity::claims when present: strings as is, numbers and
  // booleans as text, arrays joined by ',', objects as minified JSON.
  std::vector<std::string> extra_claims;
};

// One trusted issuer. A plain struct: config fills it, create() checks it.
struct IssuerSpec {
  std::string issuer;                  // exact "iss" value
  std::vector<Algorithm> algorithms;   // explicit allow-list, non-empty ("none" cannot be named)
  std::shared_ptr<const KeySet> keys;  // initial keys; replaceable (Authenticator::replaceKeys)
  std::vector<std::string> audiences;  // any-of; empty = "aud" not checked
  bool require_exp = true;
  int64_t clock_skew_seconds = 60;  // 0..86400, applied to exp, nbf and iat
  size_t max_token_bytes = 8192;    // whole compact token
  ClaimMapping claims;
};

// Per-thread reusable buffers and JSON parsers, so verification does not
// allocate per call. Owned by one thread (a worker), lives as long as it; not
// shareable between threads at once.
class VerifyScratch {
 public:
  VerifyScratch();
  ~VerifyScratch();
  VerifyScratch(const VerifyScratch&) = delete;
  VerifyScratch& operator=(const VerifyScratch&) = delete;

 private:
  friend class Authenticator;
  struct State;
  std::unique_ptr<State> state_;
};

// Verifies tokens against several issuers. Thread-safety: authenticate() may
// run on any number of threads at once; replaceKeys() may run at the same time
// from a control thread. Each issuer's keys sit in an
// std::atomic<std::shared_ptr<const KeySet>>: a call loads it once and keeps
// that set alive until it returns, so a swap is never seen half-done and never
// frees keys in use. Everything else is immutable after create().
class Authenticator {
 public:
  // Checks the specs (at least one; non-empty distinct issuers, non-empty allow-lists,
  // non-null keys, skew in range, a principal claim). Returns nullptr and sets
  // `error` on a bad spec. Config/control thread.
  static std::unique_ptr<Authenticator> create(std::vector<IssuerSpec> issuers, std::string& error);

  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Verifies a compact JWS token at unix time `now` (seconds). Order: size,
  // segments, header (alg, crit, jku/x5u/jwk/x5c, kid), claims JSON, issuer by
  // "iss", alg allow-list, key by kid, signature, then exp/nbf/iat/aud, then
  // the Identity. The claims are parsed before the signature is checked (the
  // issuer, hence the key, comes from "iss"), but nothing else in them is read
  // until it verifies. Returns kNone and fills `out` (kind kJwt) on success. On
  // failure `out.issuer` holds the token's "iss" when it was read (so a caller
  // knows whose JWKS to refresh on kUnknownKid); other fields are unspecified.
  // `gate` (optional) is asked once, right before the signature.
  JwtError authenticate(std::string_view token, int64_t now, VerifyScratch& scratch, Identity& out,
                        SignatureGate* gate = nullptr) const;
  // The same with a thread_local scratch of the calling thread.
  JwtError authenticate(std::string_view token, int64_t now, Identity& out) const;

  // Swaps one issuer's whole key set (after a JWKS refresh). Safe while other
  // threads authenticate: calls already running finish with the old set.
  // Returns false when `issuer` is not configured or `keys` is null.
  bool replaceKeys(std::string_view issuer, std::shared_ptr<const KeySet> keys);
  // The issuer's current key set, or nullptr for an unknown issuer.
  std::shared_ptr<const KeySet> keys(std::string_view issuer) const;

 private:
  struct Issuer;
  explicit Authenticator(std::vector<IssuerSpec> issuers);
  const Issuer* findIssuer(std::string_view name) const;
  JwtError verify(std::string_view token, int64_t now, VerifyScratch::State& scratch, Identity& out,
                  SignatureGate* gate) const;

  std::vector<std::unique_ptr<Issuer>> issuers_;
  size_t max_token_bytes_ = 0;  // the largest of all issuers: the limit before "iss" is known
};

}  // namespace rampart::auth
