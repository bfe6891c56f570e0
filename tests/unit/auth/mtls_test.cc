#include "auth/mtls.h"

#include <gtest/gtest.h>

#include "auth/authenticate.h"

namespace rampart::auth {
namespace {

tls::PeerCertificate alice() {
  tls::PeerCertificate certificate;
  certificate.subject = "CN=alice,O=Acme";
  certificate.issuer = "CN=Acme CA,O=Acme";
  certificate.common_name = "alice";
  certificate.uri = {"spiffe://acme/ns/web", "spiffe://acme/other"};
  certificate.dns = {"alice.acme.test"};
  return certificate;
}

std::string claim(const Identity& identity, const std::string& name) {
  for (const auto& [key, value] : identity.claims) {
    if (key == name) return value;
  }
  return "(absent)";
}

TEST(MtlsIdentityTest, ThePrincipalComesFromTheChosenName) {
  std::string_view why;
  auto subject = identityFromCertificate(alice(), MtlsPrincipal::kSubject, nullptr, &why);
  ASSERT_NE(subject, nullptr);
  EXPECT_EQ(subject->kind, CredentialKind::kMtls);
  EXPECT_EQ(subject->principal, "CN=alice,O=Acme");
  EXPECT_EQ(subject->issuer, "CN=Acme CA,O=Acme");
  EXPECT_EQ(claim(*subject, "san_uri"), "spiffe://acme/ns/web,spiffe://acme/other");
  EXPECT_EQ(claim(*subject, "san_dns"), "alice.acme.test");
  EXPECT_EQ(claim(*subject, "san_email"), "(absent)");
  EXPECT_EQ(identityFromCertificate(alice(), MtlsPrincipal::kCommonName, nullptr, &why)->principal,
            "alice");
  EXPECT_EQ(identityFromCertificate(alice(), MtlsPrincipal::kSanUri, nullptr, &why)->principal,
            "spiffe://acme/ns/web");
  EXPECT_EQ(identityFromCertificate(alice(), MtlsPrincipal::kSanDns, nullptr, &why)->principal,
            "alice.acme.test");
}

TEST(MtlsIdentityTest, AMissingNameOrAControlCharacterIsRefused) {
  std::string_view why;
  EXPECT_EQ(identityFromCertificate(alice(), MtlsPrincipal::kSanEmail, nullptr, &why), nullptr);
  EXPECT_NE(why.find("lacks"), std::string_view::npos);
  tls::PeerCertificate evil = alice();
  evil.subject = "CN=alice\r\nX-Admin: yes";
  EXPECT_EQ(identityFromCertificate(evil, MtlsPrincipal::kSubject, nullptr, &why), nullptr);
}

TEST(MtlsIdentityTest, HeaderLinesAreRenderedOnce) {
  IdentityHeaderNames names;
  std::string_view why;
  auto identity = identityFromCertificate(alice(), MtlsPrincipal::kSubject, &names, &why);
  EXPECT_EQ(identity->header_lines,
            "x-auth-subject: CN=alice,O=Acme\r\nx-auth-issuer: CN=Acme CA,O=Acme\r\n");
}

TEST(MtlsIdentityTest, PrincipalNamesParse) {
  MtlsPrincipal out;
  EXPECT_TRUE(parseMtlsPrincipal("san_uri", &out));
  EXPECT_EQ(out, MtlsPrincipal::kSanUri);
  EXPECT_FALSE(parseMtlsPrincipal("serial", &out));
}

class MtlsAuthenticateTest : public ::testing::Test {
 protected:
  MtlsAuthenticateTest() : state_(16) {
    Provider provider;
    provider.name = "certs";
    provider.kind = Provider::Kind::kMtls;
    providers_.push_back(provider);
    route_.providers = {0};
    input_.head = &head_;
  }
  std::vector<Provider> providers_;
  RouteRequirement route_;
  http::RequestHead head_;
  AuthInput input_;
  AuthWorkerState state_;
};

TEST_F(MtlsAuthenticateTest, NoCertificateIsAMissingCredential) {
  EXPECT_EQ(authenticate(route_, providers_, input_, state_).outcome, AuthOutcome::kMissing);
  route_.allow_anonymous = true;
  EXPECT_EQ(authenticate(route_, providers_, input_, state_).outcome, AuthOutcome::kAnonymous);
}

TEST_F(MtlsAuthenticateTest, AVerifiedCertificateAuthenticatesAndIsMadeOncePerConnection) {
  tls::PeerCertificate certificate = alice();
  MtlsCache cache;
  input_.peer_certificate = &certificate;
  input_.mtls_cache = &cache;
  AuthResult first = authenticate(route_, providers_, input_, state_);
  ASSERT_EQ(first.outcome, AuthOutcome::kAuthenticated);
  EXPECT_EQ(first.identity->principal, "CN=alice,O=Acme");
  AuthResult second = authenticate(route_, providers_, input_, state_);
  EXPECT_EQ(second.identity.get(), first.identity.get());  // the cached one
  route_.required_scopes = {"admin"};
  EXPECT_EQ(authenticate(route_, providers_, input_, state_).outcome,
            AuthOutcome::kInsufficientScope);
}

TEST_F(MtlsAuthenticateTest, ACertificateWithoutTheNamedPartIsInvalid) {
  providers_[0].mtls_principal = MtlsPrincipal::kSanEmail;
  tls::PeerCertificate certificate = alice();
  input_.peer_certificate = &certificate;
  EXPECT_EQ(authenticate(route_, providers_, input_, state_).outcome, AuthOutcome::kInvalid);
}

}  // namespace
}  // namespace rampart::auth
