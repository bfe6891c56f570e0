// A TLS listener's server side, compiled once per config snapshot on the
// loading thread: one SSL_CTX per certificate (chosen by SNI, sni.h), ALPN,
// session tickets with rotating keys (ticket_keys.h), an OCSP staple per
// certificate, client-certificate verification. Immutable once built and
// shared by every worker; an SSL made from it holds its own reference to
// its SSL_CTX, so a connection outlives a reload that drops this object.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tls/sni.h"
#include "tls/ticket_keys.h"

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;
using EVP_CIPHER_CTX = struct evp_cipher_ctx_st;
using EVP_MAC_CTX = struct evp_mac_ctx_st;
using SSL_SESSION = struct ssl_session_st;

namespace rampart::tls {

enum class Version : uint8_t { kTls12, kTls13 };

// Client certificates (mTLS): none asked; asked and verified when sent;
// or required (a handshake without one, or with one that does not verify
// against `ca_file`, is refused).
struct ClientCertificates {
  enum class Mode : uint8_t { kOff, kOptional, kRequired };
  Mode mode = Mode::kOff;
  std::string ca_file;
  uint32_t verify_depth = 4;
};

struct CertificateSpec {
  std::string cert_file;  // PEM chain: the leaf first
  std::string key_file;   // PEM private key matching the leaf
  // SNI names it answers for; empty: the certificate's own DNS names.
  std::vector<std::string> names;
  std::string ocsp_file;  // a DER OCSPResponse to staple; "" none
  // Overrides the listener's client_certificates for clients that ask for
  // one of this certificate's names.
  std::optional<ClientCertificates> client;
};

struct ServerTlsSpec {
  std::vector<CertificateSpec> certificates;  // the first is the default
  Version min_version = Version::kTls12;
  std::string ciphers;                        // TLS 1.2 cipher list; "" = kDefaultCiphers
  std::string ciphersuites;                   // TLS 1.3 suites; "" = kDefaultCiphersuites
  std::vector<std::string> alpn{"http/1.1"};  // in server preference order
  bool session_tickets = true;
  int64_t ticket_rotate_seconds = 3600;
  ClientCertificates client;
};

// Mozilla's "intermediate" TLS 1.2 list (forward-secret AEAD only) and the
// TLS 1.3 suites with AES-128 first (fastest where AES-NI exists).
inline constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
inline constexpr const char* kDefaultCiphersuites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// What failed to build, and where in the spec, for a file:line:col message.
struct BuildError {
  enum class Where : uint8_t {
    kNone,
    kCertFile,  // certificates[certificate].cert
    kKeyFile,   // certificates[certificate].key (unreadable, or not the cert's key)
    kNames,     // certificates[certificate].names
    kOcspFile,  // certificates[certificate].ocsp_staple
    kClientCa,  // client_certificates.ca (certificate: SIZE_MAX = the listener's)
    kCiphers,
    kCiphersuites,
    kAlpn,
  };
  Where where = Where::kNone;
  size_t certificate = 0;
  std::string message;
};

// The application protocol a handshake settled on: the hook HTTP/2 plugs
// into (a session reads it once, after the handshake).
enum class Protocol : uint8_t { kHttp11, kH2 };

class ServerTls {
 public:
  // nullptr with `error` set when a file is unreadable, a key does not
  // match its certificate, a name or a cipher list is refused.
  static std::shared_ptr<ServerTls> build(const ServerTlsSpec& spec, BuildError* error);
  ~ServerTls();
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;

  // A server-side SSL on `fd` (non-blocking), in accept state; null when
  // OpenSSL is out of memory.
  SSL* newConnection(int fd) const;
  // Keeps sealing and opening tickets with `previous`'s keys, so clients
  // resume across a reload. Before the object is shared only.
  void adoptTicketKeys(const ServerTls& previous) { tickets_ = previous.tickets_; }

  const ServerTlsSpec& spec() const { return spec_; }
  size_t certificateCount() const { return contexts_.size(); }
  // The certificate a client naming `server_name` gets (for tests and logs).
  uint32_t certificateFor(std::string_view server_name) const { return sni_.match(server_name); }
  // Every certificate's names, for the start-up log.
  const std::vector<std::vector<std::string>>& names() const { return names_; }

 private:
  ServerTls() = default;
  static int onServerName(SSL* ssl, int* alert, void* arg);
  static int onAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_length,
                    const unsigned char* in, unsigned int in_length, void* arg);
  static int onStatus(SSL* ssl, void* arg);
  static int onTicket(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                      EVP_MAC_CTX* mac, int encrypt);
  bool configure(SSL_CTX* ctx, const CertificateSpec& certificate, size_t index, BuildError* error);
  size_t indexOf(const SSL_CTX* ctx) const;

  ServerTlsSpec spec_;
  std::vector<SSL_CTX*> contexts_;  // by certificate; [0] the default
  std::vector<std::string> ocsp_;   // DER staple by certificate ("" none)
  std::vector<std::vector<std::string>> names_;
  SniTable sni_;
  std::string alpn_wire_;  // length-prefixed protocol names
  std::shared_ptr<TicketKeys> tickets_;
};

// The protocol named by an ALPN id ("http/1.1", "h2"), or nullopt.
std::optional<Protocol> protocolNamed(std::string_view alpn);

// OpenSSL's last error as text ("" if none), and the queue cleared.
std::string lastError();

}  // namespace rampart::tls
