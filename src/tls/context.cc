#include "tls/context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>

#include "tls/socket_bio.h"

namespace rampart::tls {

namespace {

// All of a listener's contexts share one session-id context, so a ticket
// issued under one certificate's context opens under another's (the ticket
// is checked before the SNI callback moves the connection).
constexpr unsigned char kSessionContext[] = "rampart";

bool readable(const std::string& path, std::string* why) {
  std::ifstream in(path, std::ios::binary);
  if (in) return true;
  *why = "cannot read " + path + ": " + std::strerror(errno);
  return false;
}

bool readFile(const std::string& path, std::string* out, std::string* why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *why = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// The DNS names a certificate holds (subjectAltName), or its CN when it has
// none: what a listener answers for when the config lists no names.
std::vector<std::string> namesOf(SSL_CTX* ctx) {
  std::vector<std::string> names;
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr) return names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type != GEN_DNS) continue;
      const ASN1_STRING* text = name->d.dNSName;
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                         static_cast<size_t>(ASN1_STRING_length(text)));
    }
    GENERAL_NAMES_free(sans);
  }
  if (!names.empty()) return names;
  X509_NAME* subject = X509_get_subject_name(cert);
  int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at >= 0) {
    const ASN1_STRING* text = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                       static_cast<size_t>(ASN1_STRING_length(text)));
  }
  return names;
}

bool fail(BuildError* error, BuildError::Where where, size_t certificate, std::string message) {
  error->where = where;
  error->certificate = certificate;
  error->message = std::move(message);
  return false;
}

bool applyClientCertificates(SSL_CTX* ctx, const ClientCertificates& client, size_t index,
                             BuildError* error) {
  if (client.mode == ClientCertificates::Mode::kOff) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return true;
  }
  std::string why;
  if (!readable(client.ca_file, &why)) return fail(error, BuildError::Where::kClientCa, index, why);
  if (SSL_CTX_load_verify_locations(ctx, client.ca_file.c_str(), nullptr) != 1) {
    return fail(error, BuildError::Where::kClientCa, index,
                "no CA certificate in " + client.ca_file + ": " + lastError());
  }
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(client.ca_file.c_str());
  if (names == nullptr) {
    return fail(error, BuildError::Where::kClientCa, index,
                "no CA certificate in " + client.ca_file + ": " + lastError());
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  int mode = SSL_VERIFY_PEER;
  if (client.mode == ClientCertificates::Mode::kRequired) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, nullptr);
  SSL_CTX_set_verify_depth(ctx, static_cast<int>(client.verify_depth));
  return true;
}

}  // namespace

std::string lastError() {
  unsigned long code = ERR_peek_last_error();
  std::string out;
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    // "error:0A080009:SSL routines::PEM lib": the reason after the last ':'.
    std::string_view view(text);
    size_t colon = view.rfind(':');
    out = std::string(colon == std::string_view::npos ? view : view.substr(colon + 1));
  }
  ERR_clear_error();
  return out;
}

std::optional<Protocol> protocolNamed(std::string_view alpn) {
  if (alpn == "http/1.1") return Protocol::kHttp11;
  if (alpn == "h2") return Protocol::kH2;
  return std::nullopt;
}

ServerTls::~ServerTls() {
  for (SSL_CTX* ctx : contexts_) SSL_CTX_free(ctx);
}

std::shared_ptr<ServerTls> ServerTls::build(const ServerTlsSpec& spec, BuildError* error) {
  if (spec.certificates.empty()) {
    fail(error, BuildError::Where::kCertFile, 0, "at least one certificate is needed");
    return nullptr;
  }
  std::shared_ptr<ServerTls> tls(new ServerTls());
  tls->spec_ = spec;
  tls->tickets_ = std::make_shared<TicketKeys>(spec.ticket_rotate_seconds);
  for (const std::string& name : spec.alpn) {
    if (name.empty() || name.size() > 255) {
      fail(error, BuildError::Where::kAlpn, 0, "an ALPN protocol id is 1 to 255 bytes");
      return nullptr;
    }
    tls->alpn_wire_.push_back(static_cast<char>(name.size()));
    tls->alpn_wire_ += name;
  }
  ERR_clear_error();
  for (size_t i = 0; i < spec.certificates.size(); ++i) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
      fail(error, BuildError::Where::kCertFile, i, "out of memory: " + lastError());
      return nullptr;
    }
    tls->contexts_.push_back(ctx);
    if (!tls->configure(ctx, spec.certificates[i], i, error)) return nullptr;
  }
  return tls;
}

bool ServerTls::configure(SSL_CTX* ctx, const CertificateSpec& certificate, size_t index,
                          BuildError* error) {
  using Where = BuildError::Where;
  SSL_CTX_set_app_data(ctx, this);
  SSL_CTX_set_min_proto_version(
      ctx, spec_.min_version == Version::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  // Renegotiation is a client-driven CPU cost with no use to HTTP/1.1 here;
  // compression is CRIME. Server preference: our AEAD order wins.
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Partial writes let a write report what went, as writev does; a moving
  // buffer lets the retry of a blocked write come from a buffer that grew.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read ahead: one read(2) takes whatever records arrived, instead of one
  // for each record's header and another for its body. What OpenSSL holds
  // is not in the socket, so the session reads until OpenSSL says it wants
  // the socket, and once more after the handshake (session_tls.cc).
  SSL_CTX_set_read_ahead(ctx, 1);
  const std::string ciphers = spec_.ciphers.empty() ? kDefaultCiphers : spec_.ciphers;
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    return fail(error, Where::kCiphers, index, "no usable cipher in '" + ciphers + "'");
  }
  const std::string suites = spec_.ciphersuites.empty() ? kDefaultCiphersuites : spec_.ciphersuites;
  if (SSL_CTX_set_ciphersuites(ctx, suites.c_str()) != 1) {
    return fail(error, Where::kCiphersuites, index, "no usable TLS 1.3 suite in '" + suites + "'");
  }
  std::string why;
  if (!readable(certificate.cert_file, &why)) return fail(error, Where::kCertFile, index, why);
  if (SSL_CTX_use_certificate_chain_file(ctx, certificate.cert_file.c_str()) != 1) {
    return fail(error, Where::kCertFile, index,
                "no PEM certificate in " + certificate.cert_file + ": " + lastError());
  }
  if (!readable(certificate.key_file, &why)) return fail(error, Where::kKeyFile, index, why);
  if (SSL_CTX_use_PrivateKey_file(ctx, certificate.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL checks the pair as it loads the key: say which mistake it is.
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return fail(error, Where::kKeyFile, index,
                  certificate.key_file + " is not the private key of " + certificate.cert_file);
    }
    return fail(error, Where::kKeyFile, index,
                "no PEM private key in " + certificate.key_file + ": " + lastError());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail(error, Where::kKeyFile, index,
                certificate.key_file + " is not the private key of " + certificate.cert_file);
  }
  std::vector<std::string> names = certificate.names.empty() ? namesOf(ctx) : certificate.names;
  for (const std::string& name : names) {
    SniTable::NameProblem problem = sni_.add(name, static_cast<uint32_t>(index));
    // A certificate's own names may repeat another's (the default's); only
    // names written in the config are refused for that.
    if (problem == SniTable::NameProblem::kNone ||
        (certificate.names.empty() && problem == SniTable::NameProblem::kDuplicate)) {
      continue;
    }
    return fail(error, Where::kNames, index, "'" + name + "': " + describe(problem));
  }
  names_.push_back(std::move(names));

  std::string staple;
  if (!certificate.ocsp_file.empty()) {
    if (!readFile(certificate.ocsp_file, &staple, &why)) {
      return fail(error, Where::kOcspFile, index, why);
    }
    const unsigned char* der = reinterpret_cast<const unsigned char*>(staple.data());
    OCSP_RESPONSE* response = d2i_OCSP_RESPONSE(nullptr, &der, static_cast<long>(staple.size()));
    if (response == nullptr) {
      ERR_clear_error();
      return fail(error, Where::kOcspFile, index,
                  certificate.ocsp_file + " is not a DER OCSP response");
    }
    OCSP_RESPONSE_free(response);
  }
  ocsp_.push_back(std::move(staple));
  SSL_CTX_set_tlsext_status_cb(ctx, onStatus);
  SSL_CTX_set_tlsext_status_arg(ctx, this);

  const ClientCertificates& client = certificate.client ? *certificate.client : spec_.client;
  if (!applyClientCertificates(ctx, client, index, error)) return false;

  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  // Stateless resumption only: tickets sealed with the shared rotating keys
  // resume on any worker; a server-side cache would be per process and
  // need a lock. Tickets live two rotation periods (the keys' own life).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (spec_.session_tickets) {
    SSL_CTX_set_timeout(ctx, static_cast<long>(2 * spec_.ticket_rotate_seconds));
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, onTicket);
    SSL_CTX_set_num_tickets(ctx, 1);
  } else {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
  }
  SSL_CTX_set_tlsext_servername_callback(ctx, onServerName);
  SSL_CTX_set_tlsext_servername_arg(ctx, this);
  if (!alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(ctx, onAlpn, this);
  return true;
}

SSL* ServerTls::newConnection(int fd) const {
  SSL* ssl = SSL_new(contexts_[0]);
  if (ssl == nullptr) return nullptr;
  // Our socket BIO: it says when a read drained the socket (socket_bio.h).
  BIO* bio = newSocketBio(fd);
  if (bio == nullptr) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_bio(ssl, bio, bio);  // one reference, both directions
  SSL_set_accept_state(ssl);
  return ssl;
}

size_t ServerTls::indexOf(const SSL_CTX* ctx) const {
  for (size_t i = 0; i < contexts_.size(); ++i) {
    if (contexts_[i] == ctx) return i;
  }
  return 0;
}

// SNI: move the connection to the certificate that answers for the name.
// The client-certificate settings move with it (a name may ask for one
// where the default does not).
int ServerTls::onServerName(SSL* ssl, int*, void* arg) {
  auto* self = static_cast<ServerTls*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  SSL_CTX* chosen = self->contexts_[self->sni_.match(name == nullptr ? "" : name)];
  if (chosen == SSL_get_SSL_CTX(ssl)) return SSL_TLSEXT_ERR_OK;
  SSL_set_SSL_CTX(ssl, chosen);
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(chosen), nullptr);
  SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(chosen));
  if (SSL_CTX_get_verify_mode(chosen) != SSL_VERIFY_NONE) {
    SSL_set_client_CA_list(ssl, SSL_dup_CA_list(SSL_CTX_get_client_CA_list(chosen)));
  }
  return SSL_TLSEXT_ERR_OK;
}

// ALPN: our first protocol the client offers. None in common is refused
// with the fatal alert RFC 7301 asks for, not silently served as HTTP/1.1.
int ServerTls::onAlpn(SSL*, const unsigned char** out, unsigned char* out_length,
                      const unsigned char* in, unsigned int in_length, void* arg) {
  auto* self = static_cast<ServerTls*>(arg);
  unsigned char* selected = nullptr;
  int found = SSL_select_next_proto(
      &selected, out_length, reinterpret_cast<const unsigned char*>(self->alpn_wire_.data()),
      static_cast<unsigned int>(self->alpn_wire_.size()), in, in_length);
  if (found != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// OCSP stapling: the chosen certificate's response, when it has one and the
// client asked. OpenSSL frees the copy with the connection.
int ServerTls::onStatus(SSL* ssl, void* arg) {
  auto* self = static_cast<ServerTls*>(arg);
  const std::string& staple = self->ocsp_[self->indexOf(SSL_get_SSL_CTX(ssl))];
  if (staple.empty()) return SSL_TLSEXT_ERR_NOACK;
  auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(staple.size()));
  if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
  std::memcpy(copy, staple.data(), staple.size());
  SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(staple.size()));
  return SSL_TLSEXT_ERR_OK;
}

// Session tickets (RFC 5077 layout as OpenSSL seals it): AES-256-CBC and
// HMAC-SHA256 under the listener's rotating keys. Returns 1 to use the key,
// 2 to open with it and send a fresh ticket (the previous key, or TLS 1.3),
// 0 for an unknown key (a full handshake), -1 on error.
int ServerTls::onTicket(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                        EVP_MAC_CTX* mac, int encrypt) {
  auto* self = static_cast<ServerTls*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  TicketKey key;
  int result = 1;
  if (encrypt) {
    key = self->tickets_->sealing(now);
    if (RAND_bytes(iv, EVP_CIPHER_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    std::memcpy(name, key.name.data(), key.name.size());
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
  } else {
    TicketKeyRing::Match match = self->tickets_->opening(name, now, &key);
    if (match == TicketKeyRing::Match::kNone) return 0;
    // 2: open it and send a fresh ticket. Always so on TLS 1.3, whose
    // clients use a ticket once (RFC 8446 C.4): without a new one, the
    // next connection could not resume.
    if (match == TicketKeyRing::Match::kPrevious || SSL_version(ssl) == TLS1_3_VERSION) result = 2;
    if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  return result;
}

}  // namespace rampart::tls
