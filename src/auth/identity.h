// Who a request proved to be: the output of phase 5 (authenticate) and the
// input of phase 6 (authorize). Owned by the session, one per request; a
// cached verified token holds its own copy (immutable once cached).
#pragma once

#include <cstdint>
#include <string>
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

  bool authenticated() const { return kind != CredentialKind::kNone; }
};

}  // namespace rampart::auth
