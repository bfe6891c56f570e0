// ServerTls and Transport against a real OpenSSL client over a socketpair:
// certificate choice by SNI, ALPN, ticket resumption, client certificates,
// and the build errors the config loader turns into file:line:col messages.
#include "tls/context.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "test_certs.h"
#include "tls/transport.h"

namespace rampart::tls {
namespace {

using test_support::KeyPair;
using test_support::makeCert;

class ServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/rampart-tls-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    ca_ = makeCert("Test CA", "", nullptr, true);
    KeyPair main = makeCert("main.test", "DNS:main.test", &ca_);
    KeyPair wild = makeCert("wild", "DNS:*.example.com", &ca_);
    KeyPair client = makeCert("alice", "URI:spiffe://acme/alice,DNS:alice.test", &ca_);
    KeyPair stranger_ca = makeCert("Stranger CA", "", nullptr, true);
    KeyPair stranger = makeCert("mallory", "", &stranger_ca);
    test_support::writeCert(ca_, path("ca.pem"));
    for (auto& [name, pair] : {std::pair<const char*, KeyPair*>{"main", &main},
                               {"wild", &wild},
                               {"client", &client},
                               {"stranger", &stranger}}) {
      test_support::writeCert(*pair, path(std::string(name) + ".pem"));
      test_support::writeKey(*pair, path(std::string(name) + ".key"));
    }
    test_support::release(main);
    test_support::release(wild);
    test_support::release(client);
    test_support::release(stranger);
    test_support::release(stranger_ca);
  }
  void TearDown() override {
    for (auto& [kind, cctx] : clients_) SSL_CTX_free(cctx);
    test_support::release(ca_);
    std::string command = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  ServerTlsSpec twoCertificates() {
    ServerTlsSpec spec;
    spec.certificates.push_back({path("main.pem"), path("main.key"), {}, "", std::nullopt});
    spec.certificates.push_back({path("wild.pem"), path("wild.key"), {}, "", std::nullopt});
    return spec;
  }

  // One handshake between `server` and an OpenSSL client (SNI `name`,
  // optional client certificate, optional session to resume) over a
  // socketpair, both sides non-blocking, stepped in turn.
  struct Outcome {
    bool server_ok = false;
    bool client_ok = false;
    bool resumed = false;
    std::string server_cn;  // the certificate the client was shown
    std::string alpn;
    bool has_peer = false;
    PeerCertificate peer;
    SSL_SESSION* session = nullptr;  // for the next connection (caller frees)
  };
  Outcome connect(const ServerTls& server, const std::string& name, const char* client_cert,
                  SSL_SESSION* resume = nullptr, Version max = Version::kTls13) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    Transport transport(server.newConnection(fds[0]));
    // One client context per kind of client, as a real client keeps one.
    std::string kind =
        std::string(client_cert ? client_cert : "-") + (max == Version::kTls12 ? "/1.2" : "/1.3");
    SSL_CTX*& cctx = clients_[kind];
    if (cctx == nullptr) cctx = clientContext(max, client_cert);
    SSL* client = SSL_new(cctx);

    SSL_set_fd(client, fds[1]);
    SSL_set_connect_state(client);
    if (!name.empty()) SSL_set_tlsext_host_name(client, name.c_str());
    static const unsigned char kAlpn[] = "\x02h2\x08http/1.1";
    SSL_set_alpn_protos(client, kAlpn, sizeof(kAlpn) - 1);
    if (resume != nullptr) SSL_set_session(client, resume);
    Outcome out;
    bool server_failed = false;
    for (int i = 0; i < 50 && !(out.server_ok && out.client_ok) && !server_failed; ++i) {
      if (!out.client_ok) {
        int r = SSL_do_handshake(client);
        if (r == 1)
          out.client_ok = true;
        else {
          int e = SSL_get_error(client, r);
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) break;
        }
      }
      if (!out.server_ok) {
        IoResult r = transport.handshake();
        if (r.io == Io::kDone) out.server_ok = true;
        if (r.io == Io::kError || r.io == Io::kClosed) server_failed = true;
      }
    }
    if (out.server_ok && out.client_ok) {
      // Application data both ways: the client takes its ticket meanwhile.
      EXPECT_EQ(transport.write("hi", 2).io, Io::kDone);
      char buffer[8];
      size_t got = 0;
      for (int i = 0; i < 10 && got == 0; ++i) SSL_read_ex(client, buffer, sizeof(buffer), &got);
      EXPECT_EQ(std::string(buffer, got), "hi");
      out.resumed = transport.resumed();
      out.has_peer = transport.peerCertificate(&out.peer);
      const unsigned char* alpn = nullptr;
      unsigned int length = 0;
      SSL_get0_alpn_selected(client, &alpn, &length);
      out.alpn.assign(reinterpret_cast<const char*>(alpn), length);
      X509* shown = SSL_get0_peer_certificate(client);
      char cn[128] = {};
      X509_NAME_get_text_by_NID(X509_get_subject_name(shown), NID_commonName, cn, sizeof(cn));
      out.server_cn = cn;
      out.session = SSL_get1_session(client);
    }
    // A client that leaves without close_notify has its session marked
    // not resumable by OpenSSL: say goodbye as a real client does.
    SSL_shutdown(client);
    SSL_free(client);
    ERR_clear_error();
    close(fds[0]);
    close(fds[1]);
    return out;
  }

  SSL_CTX* clientContext(Version max, const char* client_cert) {
    SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(cctx, max == Version::kTls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
    SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT);
    if (client_cert != nullptr) {
      SSL_CTX_use_certificate_file(cctx, path(std::string(client_cert) + ".pem").c_str(),
                                   SSL_FILETYPE_PEM);
      SSL_CTX_use_PrivateKey_file(cctx, path(std::string(client_cert) + ".key").c_str(),
                                  SSL_FILETYPE_PEM);
    }
    return cctx;
  }

  std::string dir_;
  KeyPair ca_;
  std::map<std::string, SSL_CTX*> clients_;
};

TEST_F(ServerTlsTest, SniChoosesTheCertificateAndTheFirstIsTheDefault) {
  BuildError error;
  auto server = ServerTls::build(twoCertificates(), &error);
  ASSERT_NE(server, nullptr) << error.message;
  EXPECT_EQ(server->certificateFor("main.test"), 0u);
  EXPECT_EQ(server->certificateFor("a.example.com"), 1u);
  EXPECT_EQ(server->names()[1], std::vector<std::string>{"*.example.com"});
  Outcome wild = connect(*server, "shop.example.com", nullptr);
  ASSERT_TRUE(wild.server_ok && wild.client_ok);
  EXPECT_EQ(wild.server_cn, "wild");
  Outcome none = connect(*server, "", nullptr);
  ASSERT_TRUE(none.server_ok);
  EXPECT_EQ(none.server_cn, "main.test");
  Outcome unknown = connect(*server, "elsewhere.test", nullptr);
  EXPECT_EQ(unknown.server_cn, "main.test");
  SSL_SESSION_free(wild.session);
  SSL_SESSION_free(none.session);
  SSL_SESSION_free(unknown.session);
}

TEST_F(ServerTlsTest, AlpnSelectsHttp11AmongTheClientsOffers) {
  BuildError error;
  auto server = ServerTls::build(twoCertificates(), &error);
  ASSERT_NE(server, nullptr);
  Outcome out = connect(*server, "main.test", nullptr);
  EXPECT_EQ(out.alpn, "http/1.1");
  SSL_SESSION_free(out.session);
}

TEST_F(ServerTlsTest, TicketsResumeOnTls13AndTls12AndAcrossAReload) {
  BuildError error;
  auto server = ServerTls::build(twoCertificates(), &error);
  ASSERT_NE(server, nullptr);
  for (Version version : {Version::kTls13, Version::kTls12}) {
    SCOPED_TRACE(version == Version::kTls13 ? "TLS 1.3" : "TLS 1.2");
    Outcome first = connect(*server, "main.test", nullptr, nullptr, version);
    ASSERT_NE(first.session, nullptr);
    EXPECT_FALSE(first.resumed);
    Outcome second = connect(*server, "main.test", nullptr, first.session, version);
    EXPECT_TRUE(second.resumed);
    // A reloaded server that adopted the keys opens the old ticket too.
    auto reloaded = ServerTls::build(twoCertificates(), &error);
    reloaded->adoptTicketKeys(*server);
    Outcome third = connect(*reloaded, "main.test", nullptr, second.session, version);
    EXPECT_TRUE(third.resumed);
    // One that did not cannot: a full handshake, not a failure.
    auto fresh = ServerTls::build(twoCertificates(), &error);
    Outcome fourth = connect(*fresh, "main.test", nullptr, third.session, version);
    EXPECT_TRUE(fourth.server_ok);
    EXPECT_FALSE(fourth.resumed);
    for (SSL_SESSION* s : {first.session, second.session, third.session, fourth.session})
      SSL_SESSION_free(s);
  }
}

TEST_F(ServerTlsTest, TicketsOffMeansNoResumption) {
  ServerTlsSpec spec = twoCertificates();
  spec.session_tickets = false;
  BuildError error;
  auto server = ServerTls::build(spec, &error);
  ASSERT_NE(server, nullptr);
  Outcome first = connect(*server, "main.test", nullptr, nullptr, Version::kTls12);
  Outcome second = connect(*server, "main.test", nullptr, first.session, Version::kTls12);
  EXPECT_TRUE(second.server_ok);
  EXPECT_FALSE(second.resumed);
  SSL_SESSION_free(first.session);
  SSL_SESSION_free(second.session);
}

TEST_F(ServerTlsTest, RequiredClientCertificatesAreVerifiedAndRead) {
  ServerTlsSpec spec = twoCertificates();
  spec.client = {ClientCertificates::Mode::kRequired, path("ca.pem"), 4};
  BuildError error;
  auto server = ServerTls::build(spec, &error);
  ASSERT_NE(server, nullptr) << error.message;
  Outcome alice = connect(*server, "main.test", "client");
  ASSERT_TRUE(alice.server_ok);
  ASSERT_TRUE(alice.has_peer);
  EXPECT_EQ(alice.peer.subject, "CN=alice,O=Rampart Test");
  EXPECT_EQ(alice.peer.common_name, "alice");
  EXPECT_EQ(alice.peer.issuer, "CN=Test CA,O=Rampart Test");
  EXPECT_EQ(alice.peer.uri, std::vector<std::string>{"spiffe://acme/alice"});
  EXPECT_EQ(alice.peer.dns, std::vector<std::string>{"alice.test"});
  EXPECT_FALSE(connect(*server, "main.test", nullptr).server_ok);
  EXPECT_FALSE(connect(*server, "main.test", "stranger").server_ok);
  SSL_SESSION_free(alice.session);
}

TEST_F(ServerTlsTest, OptionalClientCertificatesAndAPerNameOverride) {
  ServerTlsSpec spec = twoCertificates();
  spec.client = {ClientCertificates::Mode::kOptional, path("ca.pem"), 4};
  // The wildcard's names require one.
  spec.certificates[1].client =
      ClientCertificates{ClientCertificates::Mode::kRequired, path("ca.pem"), 4};
  BuildError error;
  auto server = ServerTls::build(spec, &error);
  ASSERT_NE(server, nullptr) << error.message;
  Outcome anonymous = connect(*server, "main.test", nullptr);
  EXPECT_TRUE(anonymous.server_ok);
  EXPECT_FALSE(anonymous.has_peer);
  EXPECT_FALSE(connect(*server, "main.test", "stranger").server_ok);  // sent, but unverifiable
  EXPECT_FALSE(connect(*server, "x.example.com", nullptr).server_ok);
  Outcome named = connect(*server, "x.example.com", "client");
  EXPECT_TRUE(named.server_ok);
  EXPECT_TRUE(named.has_peer);
  SSL_SESSION_free(anonymous.session);
  SSL_SESSION_free(named.session);
}

TEST_F(ServerTlsTest, Tls13OnlyRefusesATls12Client) {
  ServerTlsSpec spec = twoCertificates();
  spec.min_version = Version::kTls13;
  BuildError error;
  auto server = ServerTls::build(spec, &error);
  ASSERT_NE(server, nullptr);
  EXPECT_FALSE(connect(*server, "main.test", nullptr, nullptr, Version::kTls12).server_ok);
  Outcome modern = connect(*server, "main.test", nullptr);
  EXPECT_TRUE(modern.server_ok);
  SSL_SESSION_free(modern.session);
}

TEST_F(ServerTlsTest, BuildErrorsSayWhere) {
  BuildError error;
  ServerTlsSpec spec = twoCertificates();
  spec.certificates[1].key_file = path("main.key");
  EXPECT_EQ(ServerTls::build(spec, &error), nullptr);
  EXPECT_EQ(error.where, BuildError::Where::kKeyFile);
  EXPECT_EQ(error.certificate, 1u);
  EXPECT_NE(error.message.find("is not the private key of"), std::string::npos) << error.message;

  spec = twoCertificates();
  spec.certificates[0].cert_file = path("missing.pem");
  EXPECT_EQ(ServerTls::build(spec, &error), nullptr);
  EXPECT_EQ(error.where, BuildError::Where::kCertFile);
  EXPECT_NE(error.message.find("cannot read"), std::string::npos) << error.message;

  spec = twoCertificates();
  spec.certificates[0].cert_file = path("main.key");  // a key where a certificate belongs
  EXPECT_EQ(ServerTls::build(spec, &error), nullptr);
  EXPECT_EQ(error.where, BuildError::Where::kCertFile);

  spec = twoCertificates();
  spec.ciphers = "NOT-A-CIPHER";
  EXPECT_EQ(ServerTls::build(spec, &error), nullptr);
  EXPECT_EQ(error.where, BuildError::Where::kCiphers);

  spec = twoCertificates();
  spec.ciphersuites = "TLS_NOPE";
  EXPECT_EQ(ServerTls::build(spec, &error), nullptr);
  EXPECT_EQ(error.where, BuildError::Where::kCiphersuites);

  spec = twoCertificates();
  std::ofstream(path("bad.ocsp")) << "not der";
  spec.certificates[0].ocsp_file = path("bad.ocsp");
  EXPECT_EQ(ServerTls::build(spec, &error), nullptr);
  EXPECT_EQ(error.where, BuildError::Where::kOcspFile);

  spec = twoCertificates();
  spec.certificates[1].names = {"main.test"};  // the first one's own (derived) name
  EXPECT_EQ(ServerTls::build(spec, &error), nullptr);
  EXPECT_EQ(error.where, BuildError::Where::kNames);
  spec.certificates[0].names = {"a.example.com"};
  spec.certificates[1].names = {"A.example.com"};
  EXPECT_EQ(ServerTls::build(spec, &error), nullptr);
  EXPECT_EQ(error.where, BuildError::Where::kNames);

  spec = twoCertificates();
  spec.client = {ClientCertificates::Mode::kRequired, path("nope.pem"), 4};
  EXPECT_EQ(ServerTls::build(spec, &error), nullptr);
  EXPECT_EQ(error.where, BuildError::Where::kClientCa);
}

}  // namespace
}  // namespace rampart::tls
