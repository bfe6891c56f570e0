// The `tls:` sections of listeners and clusters, and the `mtls` provider:
// compiled contexts when valid, file:line:col reasons when not.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "../tls/test_certs.h"
#include "config/config.h"

namespace rampart::config {
namespace {

using tls::test_support::KeyPair;

class TlsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/rampart-tlsconfig-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    KeyPair ca = tls::test_support::makeCert("CA", "", nullptr, true);
    KeyPair a = tls::test_support::makeCert("a.test", "DNS:a.test", &ca);
    KeyPair b = tls::test_support::makeCert("b.test", "DNS:b.test,DNS:*.b.test", &ca);
    tls::test_support::writeCert(ca, dir_ + "/ca.pem");
    tls::test_support::writeCert(a, dir_ + "/a.pem");
    tls::test_support::writeKey(a, dir_ + "/a.key");
    tls::test_support::writeCert(b, dir_ + "/b.pem");
    tls::test_support::writeKey(b, dir_ + "/b.key");
    for (KeyPair* pair : {&ca, &a, &b}) tls::test_support::release(*pair);
  }
  void TearDown() override {
    std::string command = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  LoadResult load(std::string_view text) {
    if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
    return loadString(text, dir_ + "/rampart.yaml");
  }
  std::string where(int line, int column) const {
    return dir_ + "/rampart.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  }
  static std::string all(const std::vector<Diagnostic>& diagnostics) {
    std::string out;
    for (const Diagnostic& d : diagnostics) out += format(d) + "\n";
    return out;
  }
  std::string dir_;
};

TEST_F(TlsConfigTest, AListenerCompilesItsCertificatesRelativeToTheConfig) {
  LoadResult result = load(R"(
listeners:
  - name: edge
    address: "127.0.0.1:8443"
    tls:
      certificates:
        - {cert: a.pem, key: a.key}
        - {cert: b.pem, key: b.key}
      min_version: "1.3"
      session_tickets: {rotate: 30m}
      client_certificates: {mode: optional, ca: ca.pem}
      handshake_rate_per_address: {rate: 10/s, burst: 20}
  - name: plain
    address: "127.0.0.1:8080"
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const ListenerSpec& edge = result.snapshot->listeners[0];
  ASSERT_NE(edge.tls, nullptr);
  EXPECT_EQ(edge.tls->certificateCount(), 2u);
  EXPECT_EQ(edge.tls->certificateFor("x.b.test"), 1u);
  EXPECT_EQ(edge.tls->certificateFor("a.test"), 0u);
  EXPECT_EQ(edge.tls->spec().min_version, tls::Version::kTls13);
  EXPECT_EQ(edge.tls->spec().ticket_rotate_seconds, 1800);
  EXPECT_EQ(edge.tls->spec().client.mode, tls::ClientCertificates::Mode::kOptional);
  EXPECT_EQ(edge.tls->spec().client.ca_file, dir_ + "/ca.pem");
  ASSERT_TRUE(edge.handshake_limit.has_value());
  EXPECT_EQ(edge.handshake_limit->burst, 20u);
  EXPECT_EQ(result.snapshot->listeners[1].tls, nullptr);
}

// HTTP/2 (docs/http2.md): h2 by ALPN on TLS, prior knowledge on cleartext.
TEST_F(TlsConfigTest, Http2ByAlpnAndByPriorKnowledge) {
  LoadResult result = load(R"(
listeners:
  - name: edge
    address: "127.0.0.1:8443"
    tls:
      certificates: [{cert: a.pem, key: a.key}]
      alpn: [h2, http/1.1]
  - name: plain
    address: "127.0.0.1:8080"
    http2: true
  - name: old
    address: "127.0.0.1:8081"
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  ASSERT_NE(result.snapshot->listeners[0].tls, nullptr);
  EXPECT_EQ(result.snapshot->listeners[0].tls->spec().alpn,
            (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_TRUE(result.snapshot->listeners[1].http2);
  EXPECT_FALSE(result.snapshot->listeners[2].http2);

  LoadResult bad = load(R"(
listeners:
  - address: "127.0.0.1:8080"
    http2: maybe
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
)");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(all(bad.errors).find(where(3, 12) + "http2: expected a boolean"), std::string::npos)
      << all(bad.errors);
}

TEST_F(TlsConfigTest, FileProblemsPointAtTheirKey) {
  LoadResult result = load(R"(
listeners:
  - address: "127.0.0.1:8443"
    tls:
      certificates:
        - cert: a.pem
          key: b.key
        - cert: missing.pem
          key: b.key
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
)");
  ASSERT_FALSE(result.ok());
  std::string text = all(result.errors);
  EXPECT_NE(text.find(where(6, 16) + "tls: " + dir_ + "/b.key is not the private key of " + dir_ +
                      "/a.pem"),
            std::string::npos)
      << text;
  // Build stops at the first broken certificate: one reason per run is the
  // whole build's, but each section is still read (shape errors all show).
  EXPECT_EQ(result.errors.size(), 1u) << text;
}

TEST_F(TlsConfigTest, AnUnreadableFileAndABadCaAreNamed) {
  LoadResult result = load(R"(
listeners:
  - address: "127.0.0.1:8443"
    tls:
      certificates: [{cert: nope.pem, key: a.key}]
  - address: "127.0.0.1:8444"
    tls:
      certificates: [{cert: a.pem, key: a.key}]
      client_certificates: {mode: required, ca: a.key}
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
)");
  ASSERT_FALSE(result.ok());
  std::string text = all(result.errors);
  EXPECT_NE(text.find(where(4, 29) + "tls: cannot read " + dir_ + "/nope.pem"), std::string::npos)
      << text;
  EXPECT_NE(text.find(where(8, 49) + "tls: no CA certificate in"), std::string::npos) << text;
}

TEST_F(TlsConfigTest, ShapeErrors) {
  LoadResult result = load(R"(
listeners:
  - address: "127.0.0.1:8443"
    tls:
      certificates: []
      min_version: "1.1"
      alpn: [h3]
      session_tickets: {rotate: 10s}
      client_certificates: {mode: sometimes}
      colour: blue
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
)");
  ASSERT_FALSE(result.ok());
  std::string text = all(result.errors);
  EXPECT_NE(text.find(where(4, 21) + "certificates: at least one"), std::string::npos) << text;
  EXPECT_NE(text.find(where(5, 20) + "min_version"), std::string::npos) << text;
  EXPECT_NE(text.find(where(6, 13) + "alpn: unknown protocol 'h3'"), std::string::npos) << text;
  EXPECT_NE(text.find(where(7, 25) + "rotate: at least 1m"), std::string::npos) << text;
  EXPECT_NE(text.find(where(8, 35) + "mode"), std::string::npos) << text;
  EXPECT_NE(text.find("colour"), std::string::npos) << text;
}

TEST_F(TlsConfigTest, ProxyProtocolAndTlsDoNotMixYet) {
  LoadResult result = load(R"(
trusted_proxies: ["127.0.0.2/32"]
listeners:
  - address: "127.0.0.1:8443"
    proxy_protocol: true
    tls:
      certificates: [{cert: a.pem, key: a.key}]
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
)");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(all(result.errors).find(where(6, 7) + "tls: a listener with proxy_protocol"),
            std::string::npos)
      << all(result.errors);
}

TEST_F(TlsConfigTest, AClusterTlsSectionNeedsItsNameAndPairs) {
  LoadResult result = load(R"(
listeners: [{address: "127.0.0.1:8080"}]
clusters:
  - name: good
    endpoints: ["127.0.0.1:9000"]
    tls: {ca: ca.pem, server_name: api.internal, client_cert: a.pem, client_key: a.key}
  - name: bad
    endpoints: ["127.0.0.1:9001"]
    tls: {ca: ca.pem, client_cert: a.pem}
  - name: wrongkey
    endpoints: ["127.0.0.1:9002"]
    tls: {server_name: x, client_cert: a.pem, client_key: b.key}
)");
  ASSERT_FALSE(result.ok());
  std::string text = all(result.errors);
  EXPECT_NE(text.find(where(8, 10) + "missing required key 'server_name'"), std::string::npos)
      << text;
  EXPECT_NE(text.find(where(8, 10) + "tls: client_cert and client_key go together"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(where(11, 59) + "tls: " + dir_ + "/b.key is not the private key"),
            std::string::npos)
      << text;
}

TEST_F(TlsConfigTest, AClusterWithTlsCompiles) {
  LoadResult result = load(R"(
listeners: [{address: "127.0.0.1:8080"}]
clusters:
  - name: good
    endpoints: ["127.0.0.1:9000"]
    tls: {ca: ca.pem, server_name: api.internal}
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  ASSERT_NE(result.snapshot->clusters[0].tls, nullptr);
  EXPECT_EQ(result.snapshot->clusters[0].tls->spec().server_name, "api.internal");
}

TEST_F(TlsConfigTest, TheMtlsProvider) {
  LoadResult result = load(R"(
listeners: [{address: "127.0.0.1:8080"}]
clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
authentication:
  providers:
    - {name: certs, mtls: {principal: san_uri}}
    - {name: plain, mtls: }
    - {name: bad, mtls: {principal: serial}}
)");
  ASSERT_FALSE(result.ok());
  std::string text = all(result.errors);
  EXPECT_NE(text.find(where(7, 37) + "principal"), std::string::npos) << text;
  EXPECT_EQ(result.errors.size(), 1u) << text;
}

}  // namespace
}  // namespace rampart::config
