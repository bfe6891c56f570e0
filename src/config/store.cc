// `store:` — Redis for the state instances share (docs/store.md): its
// addresses, mode, timeout, AUTH, key prefix, and the lease parameters of
// global limits. Loading thread only; every mistake at its file:line:col.
#include <fstream>
#include <thread>

#include "config/sections.h"

namespace rampart::config::detail {

namespace {

// A file a TLS setting names, relative to the config's directory; it must
// be readable now (the store thread reads it at start).
bool readTlsFile(yaml::Reader& reader, const yaml::Map& map, std::string_view key,
                 const std::string& base_dir, std::string* out) {
  const YAML::Node* node = map.find(key);
  if (node == nullptr) return true;
  std::optional<std::string> text = reader.string(*node, key);
  if (!text || text->empty()) {
    if (text) reader.error(*node, std::string(key) + ": a file path");
    return false;
  }
  std::string path = text->front() == '/' ? *text : base_dir + "/" + *text;
  std::ifstream in(path);
  if (!in) {
    reader.error(*node, std::string(key) + ": cannot read " + path);
    return false;
  }
  *out = path;
  return true;
}

bool readTls(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
             store::StoreTls* out) {
  std::optional<yaml::Map> map = reader.map(node, "tls", {"ca", "cert", "key", "server_name"});
  if (!map) return false;
  out->enabled = true;
  bool ok = readTlsFile(reader, *map, "ca", base_dir, &out->ca_file);
  ok = readTlsFile(reader, *map, "cert", base_dir, &out->cert_file) && ok;
  ok = readTlsFile(reader, *map, "key", base_dir, &out->key_file) && ok;
  if (out->cert_file.empty() != out->key_file.empty()) {
    reader.error(node, "tls: cert and key go together (a client certificate and its key)");
    ok = false;
  }
  reader.readString(*map, "server_name", &out->server_name);
  return ok;
}

// A list of host:port (`addresses` or `sentinels`), resolved now.
bool readAddresses(yaml::Reader& reader, const YAML::Node& addresses, const char* key,
                   store::StoreSettings* out) {
  const std::string name(key);
  if (!reader.sequence(addresses, name) || addresses.size() == 0) {
    if (addresses.IsSequence()) reader.error(addresses, name + ": at least one host:port");
    return false;
  }
  bool ok = true;
  for (const YAML::Node& item : addresses) {
    std::optional<std::string> text = reader.string(item, name);
    if (!text) {
      ok = false;
      continue;
    }
    std::string error;
    std::vector<net::SocketAddress> resolved = net::SocketAddress::resolve(*text, &error);
    if (resolved.empty()) {
      reader.error(item, name + ": expected host:port like 127.0.0.1:6379, got " +
                             yaml::describe(item) + (error.empty() ? "" : " (" + error + ")"));
      ok = false;
      continue;
    }
    // The name as the connection and the logs use it: the first address.
    out->addresses.push_back(resolved.front());
    out->address_texts.push_back(resolved.front().toString());
  }
  return ok;
}

}  // namespace

void readStore(yaml::Reader& reader, const yaml::Map& top, const std::string& base_dir,
               Snapshot* snapshot) {
  store::StoreSettings& out = snapshot->store;
  const uint32_t cores = std::thread::hardware_concurrency();
  out.workers = snapshot->workers != 0 ? snapshot->workers : (cores == 0 ? 1 : cores);
  const YAML::Node* node = top.find("store");
  if (node == nullptr) return;
  std::optional<yaml::Map> map =
      reader.map(*node, "store", {"redis", "prefix", "expected_instances", "lease_ttl"});
  if (!map) return;
  // Present: global limits may name it (with errors the load fails anyway,
  // and a limit should not add "needs a store" to the real message).
  out.enabled = true;
  bool ok = true;
  if (const YAML::Node* redis = reader.require(*map, "redis", "store")) {
    std::optional<yaml::Map> r = reader.map(*redis, "redis",
                                            {"addresses", "sentinels", "master_name", "mode",
                                             "timeout", "username", "password", "tls"});
    if (!r) {
      ok = false;
    } else {
      if (const YAML::Node* mode = r->find("mode")) {
        if (auto text = reader.oneOf(*mode, "mode", {"single", "cluster", "sentinel"})) {
          out.mode = *text == "cluster"    ? store::Mode::kCluster
                     : *text == "sentinel" ? store::Mode::kSentinel
                                           : store::Mode::kSingle;
        } else {
          ok = false;
        }
      }
      // Sentinel mode names the sentinels, never the master (it moves).
      const bool sentinel = out.mode == store::Mode::kSentinel;
      const char* const list_key = sentinel ? "sentinels" : "addresses";
      const char* const other_key = sentinel ? "addresses" : "sentinels";
      if (r->find(other_key) != nullptr) {
        reader.error(r->keyPosition(other_key),
                     sentinel ? "addresses: mode sentinel finds the master through `sentinels` "
                                "(host:port of each sentinel), not a fixed address"
                              : "sentinels: only with mode: sentinel");
        ok = false;
      }
      if (const YAML::Node* addresses = reader.require(*r, list_key, "redis")) {
        if (!readAddresses(reader, *addresses, list_key, &out)) {
          ok = false;
        } else if (out.mode == store::Mode::kSingle && out.addresses.size() > 1) {
          reader.error(*addresses,
                       "addresses: mode single takes one address (use mode: cluster for seed "
                       "nodes of a Redis Cluster, or mode: sentinel with `sentinels`)");
          ok = false;
        }
      } else {
        ok = false;
      }
      if (const YAML::Node* name = r->find("master_name")) {
        std::optional<std::string> text = reader.string(*name, "master_name");
        if (!sentinel) {
          reader.error(r->keyPosition("master_name"), "master_name: only with mode: sentinel");
          ok = false;
        } else if (!text || text->empty() || text->find_first_of(" \t\r\n") != std::string::npos) {
          if (text) {
            reader.error(*name, "master_name: the name the sentinels monitor (no spaces), got " +
                                    yaml::describe(*name));
          }
          ok = false;
        } else {
          out.master_name = *text;
        }
      } else if (sentinel) {
        reader.require(*r, "master_name", "redis");  // reports the missing key
        ok = false;
      }
      if (const YAML::Node* timeout = r->find("timeout")) {
        auto value = reader.duration(*timeout, "timeout");
        if (value && (value->count() < 1 || value->count() > 10000)) {
          reader.error(*timeout,
                       "timeout: between 1ms and 10s (a request on a global limit never "
                       "waits for it, but a lease does)");
          ok = false;
        } else if (value) {
          out.timeout = *value;
        } else {
          ok = false;
        }
      }
      reader.readString(*r, "username", &out.username);
      reader.readString(*r, "password", &out.password);
      if (!out.username.empty() && out.password.empty()) {
        reader.error(r->keyPosition("username"), "username: needs a password (AUTH user pass)");
        ok = false;
      }
      if (const YAML::Node* tls = r->find("tls")) {
        if (!readTls(reader, *tls, base_dir, &out.tls)) ok = false;
      }
    }
  } else {
    ok = false;
  }
  if (const YAML::Node* prefix = map->find("prefix")) {
    if (auto text = reader.string(*prefix, "prefix")) {
      if (text->empty() || text->size() > 64 ||
          text->find_first_of(" \t\r\n{}") != std::string::npos) {
        reader.error(*prefix, "prefix: 1 to 64 characters without spaces or braces, got " +
                                  yaml::describe(*prefix));
        ok = false;
      } else {
        out.prefix = *text;
      }
    } else {
      ok = false;
    }
  }
  reader.readInteger(*map, "expected_instances", 1, 10000, &out.expected_instances);
  if (const YAML::Node* ttl = map->find("lease_ttl")) {
    auto value = reader.duration(*ttl, "lease_ttl");
    if (value && (value->count() < 10 || value->count() > 60000)) {
      reader.error(*ttl, "lease_ttl: between 10ms and 60s");
      ok = false;
    } else if (value) {
      out.lease_ttl = *value;
    } else {
      ok = false;
    }
  }
  (void)ok;
}

}  // namespace rampart::config::detail
