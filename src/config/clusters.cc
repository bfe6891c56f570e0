#include <algorithm>
#include <limits>
#include <map>

#include "config/cluster_admission.h"
#include "config/sections.h"

namespace rampart::config::detail {

namespace {

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

// Resolves every endpoint; one written name may give several addresses
// ("localhost" is often 127.0.0.1 and ::1). An address already in the
// cluster is kept once, so balancing stays even across distinct servers.
void readEndpoints(yaml::Reader& reader, const YAML::Node& node, upstream::ClusterSpec* spec) {
  if (!reader.sequence(node, "endpoints")) return;
  if (node.size() == 0) {
    reader.error(node, "endpoints: a cluster needs at least one endpoint");
    return;
  }
  for (const YAML::Node& item : node) {
    std::optional<std::string> text = reader.string(item, "endpoints");
    if (!text) continue;
    std::string problem;
    std::vector<net::SocketAddress> addresses = net::SocketAddress::resolve(*text, &problem);
    if (addresses.empty()) {
      reader.error(item, "endpoints: bad endpoint '" + *text + "': " + problem);
      continue;
    }
    for (const net::SocketAddress& address : addresses) {
      auto& known = spec->endpoints;
      if (std::find(known.begin(), known.end(), address) != known.end()) continue;
      known.push_back(address);
      spec->endpoint_names.push_back(*text);  // parallel to endpoints
    }
  }
}

void readBalance(yaml::Reader& reader, const yaml::Map& map, upstream::ClusterSpec* spec) {
  const YAML::Node* node = map.find("balance");
  if (node == nullptr) return;
  std::optional<std::string> value =
      reader.oneOf(*node, "balance", {"round_robin", "least_request"});
  if (!value) return;
  spec->balance = *value == "least_request" ? upstream::BalancePolicy::kLeastRequest
                                            : upstream::BalancePolicy::kRoundRobin;
}

// Reads the name; false when the cluster cannot be referenced.
bool readName(yaml::Reader& reader, const yaml::Map& map, std::map<std::string, int>* seen,
              upstream::ClusterSpec* spec) {
  const YAML::Node* node = reader.require(map, "name", "cluster");
  if (node == nullptr) return false;
  std::optional<std::string> name = reader.string(*node, "name");
  if (!name) return false;
  if (name->empty()) {
    reader.error(*node, "name: a cluster name must not be empty");
    return false;
  }
  auto [it, inserted] = seen->emplace(*name, yaml::positionOf(*node).line);
  if (!inserted) {
    reader.error(*node, "duplicate cluster name '" + *name + "' (first at line " +
                            std::to_string(it->second) + ")");
    return false;
  }
  spec->name = *name;
  return true;
}

void readCluster(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                 std::map<std::string, int>* seen, std::vector<upstream::ClusterSpec>* out) {
  std::string label = labelOf(node, "cluster");
  std::optional<yaml::Map> map = reader.map(
      node, label,
      {"name", "endpoints", "balance", "connect_timeout", "response_timeout", "max_idle",
       "idle_timeout", "max_requests", "adaptive_concurrency", "health_check", "outlier_detection",
       "panic_threshold", "retry_budget", "circuit_breakers", "tls"});
  if (!map) return;
  upstream::ClusterSpec spec;
  bool named = readName(reader, *map, seen, &spec);
  if (const YAML::Node* endpoints = reader.require(*map, "endpoints", label)) {
    readEndpoints(reader, *endpoints, &spec);
  }
  readBalance(reader, *map, &spec);
  reader.readDuration(*map, "connect_timeout", &spec.connect_timeout);
  reader.readDuration(*map, "response_timeout", &spec.response_timeout);
  reader.readDuration(*map, "idle_timeout", &spec.idle_timeout);
  reader.readInteger(*map, "max_idle", 0, kMaxU32, &spec.max_idle_per_endpoint);
  reader.readInteger(*map, "max_requests", 0, kMaxU32, &spec.max_requests);
  if (const YAML::Node* admission = map->find("adaptive_concurrency")) {
    readClusterAdmission(reader, *admission, &spec);
  }
  readClusterHealth(reader, *map, &spec);
  readClusterResilience(reader, *map, &spec);
  if (const YAML::Node* tls = map->find("tls")) {
    // The checks speak cleartext HTTP: against a TLS port they would fail
    // every endpoint. Refused until they speak TLS too.
    if (spec.health_check) {
      reader.error(*tls,
                   "tls: a cluster with tls cannot have a health_check yet (the checks "
                   "speak cleartext HTTP)");
    }
    readClusterTls(reader, *tls, base_dir, &spec);
  }
  // Unchanged by a reload when it is written the same and resolves the same.
  spec.fingerprint = YAML::Dump(node);
  for (const net::SocketAddress& endpoint : spec.endpoints) {
    spec.fingerprint += "\n#" + endpoint.toString();
  }
  if (named) out->push_back(std::move(spec));
}

}  // namespace

std::string labelOf(const YAML::Node& node, std::string_view kind) {
  if (!node.IsMap()) return std::string(kind);
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == "name" && it->second.IsScalar()) {
      return std::string(kind) + " '" + it->second.Scalar() + "'";
    }
  }
  return std::string(kind);
}

void readClusters(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                  std::vector<upstream::ClusterSpec>* out) {
  if (!reader.sequence(node, "clusters")) return;
  std::map<std::string, int> seen;  // name -> line of its first definition
  for (const YAML::Node& item : node) readCluster(reader, item, base_dir, &seen, out);
}

}  // namespace rampart::config::detail
