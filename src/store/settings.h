// The `store:` section compiled: where Redis is and how Rampart talks to it
// (docs/store.md). Built by config/ while loading, owned by the Snapshot,
// immutable; read by the store thread and, for the leases, by the workers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "net/address.h"

namespace rampart::store {

enum class Mode : uint8_t {
  kSingle,    // one Redis server
  kCluster,   // Redis Cluster: keys routed by slot, the slot map read with CLUSTER SLOTS
  kSentinel,  // one master found through Redis Sentinel, followed across failovers
};

// TLS to Redis (redis-server --tls-port): the server's certificate is
// verified against `ca_file` (or the system's CAs) and against
// `server_name`, or, without one, against the IP address connected to.
struct StoreTls {
  bool enabled = false;
  std::string ca_file;      // PEM; empty: the system's default CA paths
  std::string cert_file;    // client certificate (tls-auth-clients yes); optional
  std::string key_file;     // its key; with cert_file
  std::string server_name;  // SNI and the name to verify; empty: the IP address
};

struct StoreSettings {
  bool enabled = false;
  Mode mode = Mode::kSingle;
  // Resolved at load. single: the server; cluster: the seed nodes;
  // sentinel: the sentinels (in the order they are asked), not the master.
  std::vector<net::SocketAddress> addresses;
  std::vector<std::string> address_texts;  // as written, for logs
  std::string master_name;                 // sentinel: the name the sentinels monitor
  std::chrono::milliseconds timeout{50};   // connect and each command
  std::string username;                    // AUTH (ACL user); empty: the default user
  std::string password;                    // AUTH; empty: none
  StoreTls tls;
  std::string prefix = "rampart:";  // of every key and of the channel
  // How many instances share a global limit: the local share of a limit is
  // rate / (instances x workers) per worker, used before the first lease of a
  // key and, with on_store_error: open, while Redis is down.
  uint32_t expected_instances = 1;
  std::chrono::milliseconds lease_ttl{1000};  // leased tokens unused after this are void
  uint32_t workers = 1;                       // resolved worker count (for the local share)

  std::string channel() const { return prefix + "events"; }
  std::string blocksKey() const { return prefix + "blocks"; }
  std::string revokedKey() const { return prefix + "revoked"; }
};

}  // namespace rampart::store
