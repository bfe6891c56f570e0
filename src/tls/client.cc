#include "tls/client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fstream>

namespace rampart::tls {

namespace {

bool readable(const std::string& path) {
  return static_cast<bool>(std::ifstream(path));
}

std::shared_ptr<ClientTls> fail(BuildError* error, BuildError::Where where, std::string message) {
  error->where = where;
  error->certificate = 0;
  error->message = std::move(message);
  return nullptr;
}

bool isIpAddress(const std::string& name) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, name.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

}  // namespace

ClientTls::~ClientTls() {
  SSL_CTX_free(ctx_);
}

std::shared_ptr<ClientTls> ClientTls::build(const ClientTlsSpec& spec, BuildError* error) {
  using Where = BuildError::Where;
  std::shared_ptr<ClientTls> tls(new ClientTls());
  tls->spec_ = spec;
  tls->name_is_ip_ = isIpAddress(spec.server_name);
  ERR_clear_error();
  tls->ctx_ = SSL_CTX_new(TLS_client_method());
  if (tls->ctx_ == nullptr) return fail(error, Where::kClientCa, "out of memory: " + lastError());
  SSL_CTX* ctx = tls->ctx_;
  SSL_CTX_set_min_proto_version(
      ctx, spec.min_version == Version::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // No read-ahead upstream: one record per read, nothing held by OpenSSL
  // that the socket's readiness would not show (see context.cc).
  SSL_CTX_set_read_ahead(ctx, 0);
  SSL_CTX_set_cipher_list(ctx, kDefaultCiphers);
  SSL_CTX_set_ciphersuites(ctx, kDefaultCiphersuites);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (spec.ca_file.empty()) {
    SSL_CTX_set_default_verify_paths(ctx);
  } else {
    if (!readable(spec.ca_file))
      return fail(error, Where::kClientCa, "cannot read " + spec.ca_file);
    if (SSL_CTX_load_verify_locations(ctx, spec.ca_file.c_str(), nullptr) != 1) {
      return fail(error, Where::kClientCa,
                  "no CA certificate in " + spec.ca_file + ": " + lastError());
    }
  }
  if (!spec.cert_file.empty()) {
    if (!readable(spec.cert_file))
      return fail(error, Where::kCertFile, "cannot read " + spec.cert_file);
    if (SSL_CTX_use_certificate_chain_file(ctx, spec.cert_file.c_str()) != 1) {
      return fail(error, Where::kCertFile,
                  "no PEM certificate in " + spec.cert_file + ": " + lastError());
    }
    if (!readable(spec.key_file))
      return fail(error, Where::kKeyFile, "cannot read " + spec.key_file);
    if (SSL_CTX_use_PrivateKey_file(ctx, spec.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        return fail(error, Where::kKeyFile,
                    spec.key_file + " is not the private key of " + spec.cert_file);
      }
      return fail(error, Where::kKeyFile,
                  "no PEM private key in " + spec.key_file + ": " + lastError());
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      ERR_clear_error();
      return fail(error, Where::kKeyFile,
                  spec.key_file + " is not the private key of " + spec.cert_file);
    }
  }
  // ALPN: the upstream request is HTTP/1.1, whatever the client spoke.
  static const unsigned char kAlpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn) - 1);
  return tls;
}

SSL* ClientTls::newConnection(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  bool ok = SSL_set_fd(ssl, fd) == 1;
  if (name_is_ip_) {
    ok = ok && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), spec_.server_name.c_str()) == 1;
  } else {
    ok = ok && SSL_set_tlsext_host_name(ssl, spec_.server_name.c_str()) == 1;
    ok = ok && SSL_set1_host(ssl, spec_.server_name.c_str()) == 1;
  }
  if (!ok) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_connect_state(ssl);
  return ssl;
}

}  // namespace rampart::tls
