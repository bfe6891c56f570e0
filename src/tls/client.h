// TLS to an upstream cluster (`tls:` of a cluster, docs/tls.md): one client
// SSL_CTX per cluster, compiled with the config snapshot; verification is
// always on (the CA bundle given, or the system's), the certificate must
// name `server_name`, and a client certificate can be presented. Immutable
// once built; shared by every worker's pool of that cluster.
#pragma once

#include <memory>
#include <string>

#include "tls/context.h"

namespace rampart::tls {

struct ClientTlsSpec {
  std::string ca_file;      // "": the system's default trust store
  std::string server_name;  // SNI and the name (or IP address) the certificate must hold
  std::string cert_file;    // client certificate (PEM chain); "" none
  std::string key_file;     // its key
  Version min_version = Version::kTls12;
};

class ClientTls {
 public:
  // nullptr with `error` set (kClientCa: the CA file; kCertFile/kKeyFile:
  // the client certificate or key).
  static std::shared_ptr<ClientTls> build(const ClientTlsSpec& spec, BuildError* error);
  ~ClientTls();
  ClientTls(const ClientTls&) = delete;
  ClientTls& operator=(const ClientTls&) = delete;

  // A client SSL on `fd`, in connect state, with SNI and the name check
  // set; null when OpenSSL is out of memory.
  SSL* newConnection(int fd) const;
  const ClientTlsSpec& spec() const { return spec_; }

 private:
  ClientTls() = default;
  ClientTlsSpec spec_;
  SSL_CTX* ctx_ = nullptr;
  bool name_is_ip_ = false;
};

}  // namespace rampart::tls
