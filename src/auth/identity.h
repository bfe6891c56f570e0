// Who a request proved to be: the output of phase 5 (authenticate) and the
// input of phase 6 (authorize). Owned by the session, one per request; a
// cached verified token holds its own copy (immutable once cached).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rampart::auth {

// How the identity was proven. mTLS arrives with the TLS issue: the verified
// client certificate's subject/SAN become the principal, nothing else changes.
enum class CredentialKind : uint8_t {
  kNone,    // anonymous (only where a route allows it)
  kJwt,     // a verified JWT
  kApiKey,  // a key found in the key file
  kMtls,    // a verified client certificate
};

// Headers that carry the verified identity upstream (and to an external
// authorizer). Incoming headers with these names are removed from every
// request, on every route: an identity header upstream always comes from
// Rampart. Lower case; set once per config snapshot.
struct IdentityHeaderNames {
  std::string principal = "x-auth-subject";
  std::string account = "x-auth-account";
  std::string scopes = "x-auth-scopes";  // space-separated
  std::string roles = "x-auth-roles";    // space-separated
  std::string issuer = "x-auth-issuer";
};

struct Identity {
  CredentialKind kind = CredentialKind::kNone;
  std::string issuer;  // JWT iss, "api-key" for keys, the CA for mTLS
  std::string
      principal;        // JWT sub (or the configured claim), the key's principal, the cert subject
  std::string account;  // tenant: a configured claim, or the key's account
  std::vector<std::string> roles;
  std::vector<std::string> scopes;
  // Claims the issuer config selects for policy and upstream headers, as
  // (name, value) with arrays joined by ','. Only what was configured.
  std::vector<std::pair<std::string, std::string>> claims;
  int64_t expires_at = 0;  // unix seconds; 0 = no expiry (API keys, until revoked)
  // What a revocation through the store names (docs/store.md): "jti:<jti>"
  // for a JWT with a jti claim, "key:<sha256 hex>" for an API key; else empty.
  std::string token_id;
  // The identity's header lines ("name: value\r\n" each), rendered once when
  // the token was verified, for the names of the snapshot that verified it
  // (a cached token is dropped when that snapshot's keys change). A repeated
  // token then costs one append upstream instead of five. Empty: rendered on
  // use (API-key identities, which outlive no snapshot but are shared).
  std::string header_lines;

  bool authenticated() const { return kind != CredentialKind::kNone; }
};

// Appends the identity's header lines for `names` to `out` (a core::Buffer or
// a std::string): principal always, account and issuer when set, scopes and
// roles space-joined when any. Nothing for an anonymous identity. Callers
// only pass identities that phase 5 found header-safe (no CR, LF or NUL).
template <class Out>
void appendIdentityHeaders(Out& out, const IdentityHeaderNames& names, const Identity& identity) {
  if (!identity.authenticated()) return;
  auto line = [&out](std::string_view name, std::string_view value) {
    out.append(name);
    out.append(std::string_view(": "));
    out.append(value);
    out.append(std::string_view("\r\n"));
  };
  auto joined = [&out](std::string_view name, const std::vector<std::string>& items) {
    if (items.empty()) return;
    out.append(name);
    out.append(std::string_view(": "));
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out.append(std::string_view(" "));
      out.append(std::string_view(items[i]));
    }
    out.append(std::string_view("\r\n"));
  };
  line(names.principal, identity.principal);
  if (!identity.account.empty()) line(names.account, identity.account);
  joined(names.scopes, identity.scopes);
  joined(names.roles, identity.roles);
  if (!identity.issuer.empty()) line(names.issuer, identity.issuer);
}

// The same lines as one string: what Identity::header_lines holds.
inline std::string renderIdentityHeaders(const IdentityHeaderNames& names,
                                         const Identity& identity) {
  std::string out;
  appendIdentityHeaders(out, names, identity);
  return out;
}

// Appends the identity's header lines: the pre-rendered ones when present,
// else rendered now for `names`.
template <class Out>
void appendIdentityHeaderLines(Out& out, const IdentityHeaderNames& names,
                               const Identity& identity) {
  if (!identity.header_lines.empty()) {
    out.append(std::string_view(identity.header_lines));
  } else {
    appendIdentityHeaders(out, names, identity);
  }
}

}  // namespace rampart::auth
