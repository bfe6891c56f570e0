// A listener's `tls:` section (docs/tls.md): read, resolved against the
// config file's directory, and compiled into tls::ServerTls here, so that an
// unreadable file, a key that is not its certificate's, a bad name or cipher
// list is refused at its line, and a running server never meets one.
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "config/sections.h"
#include "tls/client.h"

namespace rampart::config::detail {

namespace {

using yaml::Map;
using yaml::Position;
using yaml::Reader;

// Every certificate, key, CA and staple file is a source of the snapshot: a
// reload whose files changed is not "unchanged", and the watch polls them.
std::string resolve(const std::string& base_dir, const std::string& path) {
  std::string full = path.empty() || path.front() == '/' ? path : base_dir + "/" + path;
  if (!full.empty()) {
    std::ifstream in(full, std::ios::binary);
    std::ostringstream content;
    if (in) content << in.rdbuf();
    noteSourceFile(full, content.str());
  }
  return full;
}

// Where each part of the spec was written, to point a build error at it.
struct Positions {
  Position tls;
  Position ciphers;
  Position ciphersuites;
  Position alpn;
  Position client_ca;
  struct Certificate {
    Position cert, key, names, ocsp, client_ca;
    bool own_client = false;  // has its own client_certificates
  };
  std::vector<Certificate> certificates;
};

std::optional<std::string> readPath(Reader& reader, const Map& map, std::string_view key,
                                    const std::string& what, const std::string& base_dir,
                                    Position* at) {
  const YAML::Node* node = reader.require(map, key, what);
  if (node == nullptr) return std::nullopt;
  *at = reader.where(*node);
  std::optional<std::string> text = reader.string(*node, key);
  if (!text) return std::nullopt;
  if (text->empty()) {
    reader.error(*node, std::string(key) + ": a file name must not be empty");
    return std::nullopt;
  }
  return resolve(base_dir, *text);
}

std::vector<std::string> readNames(Reader& reader, const YAML::Node& node, std::string_view what) {
  std::vector<std::string> out;
  if (!reader.sequence(node, what)) return out;
  for (const YAML::Node& item : node) {
    if (auto text = reader.string(item, what)) out.push_back(*text);
  }
  return out;
}

// `client_certificates: {mode: required | optional, ca: file, verify_depth: 4}`.
std::optional<tls::ClientCertificates> readClientCertificates(Reader& reader,
                                                              const YAML::Node& node,
                                                              const std::string& base_dir,
                                                              Position* ca_at) {
  std::optional<Map> map = reader.map(node, "client_certificates", {"mode", "ca", "verify_depth"});
  if (!map) return std::nullopt;
  tls::ClientCertificates out;
  out.mode = tls::ClientCertificates::Mode::kRequired;
  if (const YAML::Node* mode = map->find("mode")) {
    if (auto text = reader.oneOf(*mode, "mode", {"required", "optional", "off"})) {
      if (*text == "optional") out.mode = tls::ClientCertificates::Mode::kOptional;
      if (*text == "off") out.mode = tls::ClientCertificates::Mode::kOff;
    }
  }
  reader.readInteger(*map, "verify_depth", 1, 16, &out.verify_depth);
  if (out.mode == tls::ClientCertificates::Mode::kOff) return out;
  std::optional<std::string> ca =
      readPath(reader, *map, "ca", "client_certificates", base_dir, ca_at);
  if (!ca) return std::nullopt;
  out.ca_file = *ca;
  return out;
}

void readCertificate(Reader& reader, const YAML::Node& node, const std::string& base_dir,
                     tls::ServerTlsSpec* spec, Positions* positions) {
  std::optional<Map> map = reader.map(
      node, "certificate", {"cert", "key", "names", "ocsp_staple", "client_certificates"});
  Positions::Certificate at;
  at.cert = at.key = at.names = at.ocsp = at.client_ca = reader.where(node);
  if (!map) return;
  tls::CertificateSpec certificate;
  auto cert = readPath(reader, *map, "cert", "certificate", base_dir, &at.cert);
  auto key = readPath(reader, *map, "key", "certificate", base_dir, &at.key);
  if (const YAML::Node* names = map->find("names")) {
    at.names = reader.where(*names);
    certificate.names = readNames(reader, *names, "names");
    if (names->IsSequence() && names->size() == 0) {
      reader.error(*names,
                   "names: list at least one name, or leave names out to use the "
                   "certificate's own");
    }
  }
  if (const YAML::Node* ocsp = map->find("ocsp_staple")) {
    at.ocsp = reader.where(*ocsp);
    if (auto text = reader.string(*ocsp, "ocsp_staple"))
      certificate.ocsp_file = resolve(base_dir, *text);
  }
  if (const YAML::Node* client = map->find("client_certificates")) {
    at.own_client = true;
    certificate.client = readClientCertificates(reader, *client, base_dir, &at.client_ca);
  }
  if (cert) certificate.cert_file = *cert;
  if (key) certificate.key_file = *key;
  spec->certificates.push_back(std::move(certificate));
  positions->certificates.push_back(at);
}

// `session_tickets: false`, or `{rotate: 1h}`.
void readTickets(Reader& reader, const YAML::Node& node, tls::ServerTlsSpec* spec) {
  if (node.IsScalar()) {
    if (auto on = reader.boolean(node, "session_tickets")) spec->session_tickets = *on;
    return;
  }
  std::optional<Map> map = reader.map(node, "session_tickets", {"rotate"});
  if (!map) return;
  std::chrono::milliseconds rotate{spec->ticket_rotate_seconds * 1000};
  reader.readDuration(*map, "rotate", &rotate);
  if (rotate < std::chrono::minutes(1)) {
    reader.error(map->keyPosition("rotate"),
                 "rotate: at least 1m (each key seals tickets this long and opens them twice "
                 "as long)");
    return;
  }
  spec->ticket_rotate_seconds = rotate.count() / 1000;
}

Position errorPosition(const tls::BuildError& error, const Positions& at) {
  using Where = tls::BuildError::Where;
  const Positions::Certificate* certificate =
      error.certificate < at.certificates.size() ? &at.certificates[error.certificate] : nullptr;
  switch (error.where) {
    case Where::kCertFile:
      return certificate ? certificate->cert : at.tls;
    case Where::kKeyFile:
      return certificate ? certificate->key : at.tls;
    case Where::kNames:
      return certificate ? certificate->names : at.tls;
    case Where::kOcspFile:
      return certificate ? certificate->ocsp : at.tls;
    case Where::kClientCa:
      // A certificate's own client_certificates, else the listener's.
      if (certificate && certificate->own_client) return certificate->client_ca;
      return at.client_ca;
    case Where::kCiphers:
      return at.ciphers;
    case Where::kCiphersuites:
      return at.ciphersuites;
    case Where::kAlpn:
      return at.alpn;
    case Where::kNone:
      break;
  }
  return at.tls;
}

}  // namespace

void readListenerTls(Reader& reader, const YAML::Node& node, const std::string& base_dir,
                     ListenerSpec* listener) {
  std::optional<Map> map =
      reader.map(node, "tls",
                 {"certificates", "min_version", "ciphers", "ciphersuites", "alpn",
                  "session_tickets", "client_certificates", "handshake_rate_per_address"});
  if (!map) return;
  tls::ServerTlsSpec spec;
  Positions at;
  at.tls = at.ciphers = at.ciphersuites = at.alpn = at.client_ca = map->position();
  if (const YAML::Node* list = reader.require(*map, "certificates", "tls")) {
    if (reader.sequence(*list, "certificates")) {
      if (list->size() == 0)
        reader.error(*list, "certificates: at least one certificate is needed");
      for (const YAML::Node& item : *list) readCertificate(reader, item, base_dir, &spec, &at);
    }
  }
  if (const YAML::Node* version = map->find("min_version")) {
    if (auto text = reader.oneOf(*version, "min_version", {"1.2", "1.3"})) {
      spec.min_version = *text == "1.3" ? tls::Version::kTls13 : tls::Version::kTls12;
    }
  }
  if (const YAML::Node* ciphers = map->find("ciphers")) {
    at.ciphers = reader.where(*ciphers);
    if (auto text = reader.string(*ciphers, "ciphers")) spec.ciphers = *text;
  }
  if (const YAML::Node* suites = map->find("ciphersuites")) {
    at.ciphersuites = reader.where(*suites);
    if (auto text = reader.string(*suites, "ciphersuites")) spec.ciphersuites = *text;
  }
  if (const YAML::Node* alpn = map->find("alpn")) {
    at.alpn = reader.where(*alpn);
    spec.alpn = readNames(reader, *alpn, "alpn");
    for (const std::string& name : spec.alpn) {
      if (name != "h2" && name != "http/1.1") {
        reader.error(*alpn, "alpn: unknown protocol '" + name + "' (known: h2, http/1.1)");
      }
    }
    if (alpn->IsSequence() && alpn->size() == 0) {
      reader.error(*alpn, "alpn: list at least http/1.1");
    }
  }
  if (const YAML::Node* tickets = map->find("session_tickets"))
    readTickets(reader, *tickets, &spec);
  if (const YAML::Node* client = map->find("client_certificates")) {
    if (auto value = readClientCertificates(reader, *client, base_dir, &at.client_ca)) {
      spec.client = *value;
    }
  }
  if (const YAML::Node* rate = map->find("handshake_rate_per_address")) {
    listener->handshake_limit = readRateLimit(reader, *rate, "handshake_rate_per_address");
  }
  // Files are opened once every path is known: a missing key is reported
  // once, not again as an unreadable "".
  if (spec.certificates.empty()) return;
  for (const tls::CertificateSpec& certificate : spec.certificates) {
    if (certificate.cert_file.empty() || certificate.key_file.empty()) return;
  }
  tls::BuildError error;
  listener->tls = tls::ServerTls::build(spec, &error);
  if (listener->tls == nullptr) reader.error(errorPosition(error, at), "tls: " + error.message);
}

// `tls: {ca: file, server_name: name, client_cert: file, client_key: file,
// min_version: "1.2"}`. The name is required: verification is always on,
// and a certificate is only worth checking against the name expected.
void readClusterTls(Reader& reader, const YAML::Node& node, const std::string& base_dir,
                    upstream::ClusterSpec* cluster) {
  std::optional<Map> map =
      reader.map(node, "tls", {"ca", "server_name", "client_cert", "client_key", "min_version"});
  if (!map) return;
  tls::ClientTlsSpec spec;
  Position ca_at = map->position(), cert_at = map->position(), key_at = map->position();
  bool ok = true;
  if (map->find("ca") != nullptr) {
    auto path = readPath(reader, *map, "ca", "tls", base_dir, &ca_at);
    ok = ok && path.has_value();
    if (path) spec.ca_file = *path;
  }
  if (const YAML::Node* name = reader.require(*map, "server_name", "tls")) {
    if (auto text = reader.string(*name, "server_name")) {
      if (text->empty())
        reader.error(*name, "server_name: the name the upstream's certificate holds");
      spec.server_name = *text;
    }
  } else {
    ok = false;
  }
  const YAML::Node* cert = map->find("client_cert");
  const YAML::Node* key = map->find("client_key");
  if ((cert == nullptr) != (key == nullptr)) {
    reader.error(map->position(), "tls: client_cert and client_key go together");
    ok = false;
  } else if (cert != nullptr) {
    auto cert_path = readPath(reader, *map, "client_cert", "tls", base_dir, &cert_at);
    auto key_path = readPath(reader, *map, "client_key", "tls", base_dir, &key_at);
    ok = ok && cert_path && key_path;
    if (cert_path) spec.cert_file = *cert_path;
    if (key_path) spec.key_file = *key_path;
  }
  if (const YAML::Node* version = map->find("min_version")) {
    if (auto text = reader.oneOf(*version, "min_version", {"1.2", "1.3"})) {
      spec.min_version = *text == "1.3" ? tls::Version::kTls13 : tls::Version::kTls12;
    }
  }
  if (!ok || spec.server_name.empty()) return;
  tls::BuildError error;
  cluster->tls = tls::ClientTls::build(spec, &error);
  if (cluster->tls != nullptr) return;
  Position at = error.where == tls::BuildError::Where::kCertFile  ? cert_at
                : error.where == tls::BuildError::Where::kKeyFile ? key_at
                                                                  : ca_at;
  reader.error(at, "tls: " + error.message);
}

}  // namespace rampart::config::detail
