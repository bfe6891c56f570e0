#include "auth/mtls.h"

#include <string>
#include <vector>

#include "auth/authenticate.h"

namespace rampart::auth {

namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ',';
    out += item;
  }
  return out;
}

}  // namespace

std::shared_ptr<Identity> identityFromCertificate(const tls::PeerCertificate& certificate,
                                                  MtlsPrincipal principal,
                                                  const IdentityHeaderNames* names,
                                                  std::string_view* why) {
  auto identity = std::make_shared<Identity>();
  identity->kind = CredentialKind::kMtls;
  identity->issuer = certificate.issuer;
  switch (principal) {
    case MtlsPrincipal::kSubject:
      identity->principal = certificate.subject;
      break;
    case MtlsPrincipal::kCommonName:
      identity->principal = certificate.common_name;
      break;
    case MtlsPrincipal::kSanUri:
      if (!certificate.uri.empty()) identity->principal = certificate.uri.front();
      break;
    case MtlsPrincipal::kSanDns:
      if (!certificate.dns.empty()) identity->principal = certificate.dns.front();
      break;
    case MtlsPrincipal::kSanEmail:
      if (!certificate.email.empty()) identity->principal = certificate.email.front();
      break;
  }
  if (identity->principal.empty()) {
    *why = "the client certificate lacks the name this provider takes as principal";
    return nullptr;
  }
  identity->claims.emplace_back("subject", certificate.subject);
  if (!certificate.dns.empty()) identity->claims.emplace_back("san_dns", joined(certificate.dns));
  if (!certificate.uri.empty()) identity->claims.emplace_back("san_uri", joined(certificate.uri));
  if (!certificate.email.empty()) {
    identity->claims.emplace_back("san_email", joined(certificate.email));
  }
  if (!identityHeaderSafe(*identity)) {
    *why = "the client certificate's names hold control characters";
    return nullptr;
  }
  if (names != nullptr) identity->header_lines = renderIdentityHeaders(*names, *identity);
  return identity;
}

bool parseMtlsPrincipal(std::string_view text, MtlsPrincipal* out) {
  if (text == "subject")
    *out = MtlsPrincipal::kSubject;
  else if (text == "cn")
    *out = MtlsPrincipal::kCommonName;
  else if (text == "san_uri")
    *out = MtlsPrincipal::kSanUri;
  else if (text == "san_dns")
    *out = MtlsPrincipal::kSanDns;
  else if (text == "san_email")
    *out = MtlsPrincipal::kSanEmail;
  else
    return false;
  return true;
}

}  // namespace rampart::auth
