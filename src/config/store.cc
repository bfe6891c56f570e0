// `store:` — Redis for the state instances share (docs/store.md): its
// addresses, mode, timeout, AUTH, key prefix, and the lease parameters of
// global limits. Loading thread only; every mistake at its file:line:col.
#include <thread>

#include "config/sections.h"

namespace rampart::config::detail {

void readStore(yaml::Reader& reader, const yaml::Map& top, Snapshot* snapshot) {
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
    std::optional<yaml::Map> r = reader.map(
        *redis, "redis", {"addresses", "mode", "timeout", "username", "password", "tls"});
    if (!r) {
      ok = false;
    } else {
      if (const YAML::Node* mode = r->find("mode")) {
        if (auto text = reader.oneOf(*mode, "mode", {"single", "cluster"})) {
          out.mode = *text == "cluster" ? store::Mode::kCluster : store::Mode::kSingle;
        } else {
          ok = false;
        }
      }
      if (const YAML::Node* addresses = reader.require(*r, "addresses", "redis")) {
        if (!reader.sequence(*addresses, "addresses") || addresses->size() == 0) {
          if (addresses->IsSequence()) {
            reader.error(*addresses, "addresses: at least one host:port");
          }
          ok = false;
        } else {
          for (const YAML::Node& item : *addresses) {
            std::optional<std::string> text = reader.string(item, "addresses");
            if (!text) {
              ok = false;
              continue;
            }
            std::string error;
            std::vector<net::SocketAddress> resolved = net::SocketAddress::resolve(*text, &error);
            if (resolved.empty()) {
              reader.error(item, "addresses: expected host:port like 127.0.0.1:6379, got " +
                                     yaml::describe(item) +
                                     (error.empty() ? "" : " (" + error + ")"));
              ok = false;
              continue;
            }
            // The name as the connection and the logs use it: the first address.
            out.addresses.push_back(resolved.front());
            out.address_texts.push_back(resolved.front().toString());
          }
          if (ok && out.mode == store::Mode::kSingle && out.addresses.size() > 1) {
            reader.error(*addresses,
                         "addresses: mode single takes one address (use mode: cluster for seed "
                         "nodes of a Redis Cluster)");
            ok = false;
          }
        }
      } else {
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
        reader.error(*tls,
                     "tls: not supported yet; reach Redis over loopback or a private network, or "
                     "through a TLS tunnel (stunnel, spiped) on loopback");
        ok = false;
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
