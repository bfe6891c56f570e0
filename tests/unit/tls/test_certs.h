// Certificates made in-process for the TLS unit tests (EC P-256, PEM files in
// a scratch directory): a CA, leaves it signs with chosen names, and
// self-signed ones. The integration tests make theirs with the openssl CLI.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace rampart::tls::test_support {

struct KeyPair {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
};

inline EVP_PKEY* makeKey() {
  return EVP_EC_gen("P-256");
}

inline void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// `sans`: "DNS:a.example.com,URI:spiffe://x" (empty: none). `issuer` null:
// self-signed. `ca`: basicConstraints CA:TRUE.
inline KeyPair makeCert(const std::string& cn, const std::string& sans, const KeyPair* issuer,
                        bool ca = false) {
  static long serial = 1;
  KeyPair out;
  out.key = makeKey();
  out.cert = X509_new();
  X509_set_version(out.cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(out.cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(out.cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(out.cert), 86400);
  X509_set_pubkey(out.cert, out.key);
  X509_NAME* name = X509_get_subject_name(out.cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Rampart Test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer->cert : out.cert;
  X509_set_issuer_name(out.cert, X509_get_subject_name(signer));
  addExtension(out.cert, signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (!sans.empty()) addExtension(out.cert, signer, NID_subject_alt_name, sans);
  X509_sign(out.cert, issuer ? issuer->key : out.key, EVP_sha256());
  return out;
}

inline void writeCert(const KeyPair& pair, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_X509(f, pair.cert);
  std::fclose(f);
}

inline void writeKey(const KeyPair& pair, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_PrivateKey(f, pair.key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

inline void release(KeyPair& pair) {
  X509_free(pair.cert);
  EVP_PKEY_free(pair.key);
  pair = {};
}

}  // namespace rampart::tls::test_support
