// The `mtls` credential: a client certificate that the TLS handshake already
// verified against the listener's CA bundle (tls/context.h) becomes the
// request's Identity. Pure: a PeerCertificate in, an Identity out. The
// identity is made once per connection and provider and then reused by every
// request on that connection (MtlsCache), since the certificate cannot change.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string_view>

#include "auth/identity.h"
#include "tls/peer.h"

namespace rampart::auth {

// Which part of the certificate names the principal.
enum class MtlsPrincipal : uint8_t {
  kSubject,     // the whole subject DN, RFC 2253 ("CN=alice,O=Acme")
  kCommonName,  // the subject's CN
  kSanUri,      // the first URI SAN (a SPIFFE ID: "spiffe://acme/ns/web")
  kSanDns,      // the first DNS SAN
  kSanEmail,    // the first e-mail SAN
};

// The connection's identity for one provider, made on first use.
struct MtlsCache {
  uint32_t provider = std::numeric_limits<uint32_t>::max();
  std::shared_ptr<const Identity> identity;
};

// The identity, or null when the certificate lacks the part `principal`
// names (`*why` says which). The issuer is the certificate's issuer DN; the
// claims "subject", "san_dns", "san_uri" and "san_email" (comma-joined) are
// there for policies. Header lines are rendered for `names` when given.
std::shared_ptr<Identity> identityFromCertificate(const tls::PeerCertificate& certificate,
                                                  MtlsPrincipal principal,
                                                  const IdentityHeaderNames* names,
                                                  std::string_view* why);

// "subject", "cn", "san_uri", "san_dns", "san_email".
bool parseMtlsPrincipal(std::string_view text, MtlsPrincipal* out);

}  // namespace rampart::auth
