// The verified client certificate of a TLS connection, as plain strings: what
// the mtls authentication provider turns into an Identity (auth/mtls.h).
// Filled once per connection, at the end of its handshake; owned by the
// session and read by the requests on that connection.
#pragma once

#include <string>
#include <vector>

namespace rampart::tls {

struct PeerCertificate {
  std::string subject;             // RFC 2253: "CN=alice,O=Acme"
  std::string issuer;              // the same form, of the issuing CA
  std::string common_name;         // the subject's (last) CN, or ""
  std::vector<std::string> dns;    // subjectAltName DNS names, in certificate order
  std::vector<std::string> uri;    // subjectAltName URIs (SPIFFE IDs and the like)
  std::vector<std::string> email;  // subjectAltName rfc822 names
};

}  // namespace rampart::tls
