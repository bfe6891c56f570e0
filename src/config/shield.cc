// The `shield:` section, listener `limits:` and route `limits:` (see
// docs/shield.md): compiled into shield::ShieldSettings, with every mistake
// reported at its file:line:col. Loading thread only.
#include <cmath>
#include <limits>
#include <map>

#include "config/sections.h"

namespace rampart::config::detail {

namespace {

using shield::LimitAction;
using shield::LimitKey;
using shield::RequestLimit;
using yaml::Map;

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kMaxTrackedKeys = 50'000'000;
constexpr uint64_t kMaxBurst = 1'000'000;
constexpr uint64_t kMaxRatePerSecond = 1'000'000'000;

constexpr const char* kRateHint = "expected a rate like 100/s, 600/m or 1000/h";

}  // namespace

std::optional<double> parseRate(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash + 2 != text.size()) return std::nullopt;
  std::optional<uint64_t> count = yaml::parseUnsigned(text.substr(0, slash));
  if (!count || *count == 0 || *count > kMaxRatePerSecond * 3600) return std::nullopt;
  double per = 0;
  switch (text[slash + 1]) {
    case 's':
      per = 1;
      break;
    case 'm':
      per = 60;
      break;
    case 'h':
      per = 3600;
      break;
    default:
      return std::nullopt;
  }
  double rate = static_cast<double>(*count) / per;
  if (rate > static_cast<double>(kMaxRatePerSecond)) return std::nullopt;
  return rate;
}

namespace {

// `{rate: 100/s, burst: 50}` (both required), as in limits, accept_rate_per_address and
// auth_failures. Extra keys are the caller's (`extra`), read from the returned map.
std::optional<shield::Limit> readRateAndBurst(yaml::Reader& reader, const yaml::Map& map,
                                              const std::string& label) {
  shield::Limit limit;
  bool ok = true;
  if (const YAML::Node* rate = reader.require(map, "rate", label)) {
    std::optional<std::string> text = reader.string(*rate, "rate");
    std::optional<double> value = text ? parseRate(*text) : std::nullopt;
    if (text && !value) {
      reader.error(*rate, std::string("rate: ") + kRateHint + " (at most 1000000000/s), got " +
                              yaml::describe(*rate));
    }
    if (value) limit.rate = *value;
    ok = ok && value.has_value();
  } else {
    ok = false;
  }
  if (const YAML::Node* burst = reader.require(map, "burst", label)) {
    std::optional<uint64_t> value = reader.integer(*burst, "burst", 1, kMaxBurst);
    if (value) limit.burst = static_cast<uint32_t>(*value);
    ok = ok && value.has_value();
  } else {
    ok = false;
  }
  if (!ok) return std::nullopt;
  return limit;
}

std::optional<shield::Limit> readRateMap(yaml::Reader& reader, const YAML::Node& node,
                                         const std::string& what) {
  std::optional<yaml::Map> map = reader.map(node, what, {"rate", "burst"});
  if (!map) return std::nullopt;
  return readRateAndBurst(reader, *map, what);
}

// `key: address | prefix | api_key | principal | account | route | header:<name>`.
bool readKey(yaml::Reader& reader, const YAML::Node& node, RequestLimit* limit) {
  std::optional<std::string> text = reader.string(node, "key");
  if (!text) return false;
  static constexpr std::pair<std::string_view, LimitKey> kKeys[] = {
      {"address", LimitKey::kAddress}, {"prefix", LimitKey::kPrefix},
      {"api_key", LimitKey::kApiKey},  {"principal", LimitKey::kPrincipal},
      {"account", LimitKey::kAccount}, {"route", LimitKey::kRoute},
  };
  for (const auto& [name, key] : kKeys) {
    if (*text == name) {
      limit->key = key;
      return true;
    }
  }
  if (text->starts_with("header:")) {
    std::string header = text->substr(7);
    if (!isToken(header)) {
      reader.error(node,
                   "key: expected a header name after 'header:', got " + yaml::describe(node));
      return false;
    }
    limit->key = LimitKey::kHeader;
    limit->header = lowercase(header);  // header names are case-insensitive
    return true;
  }
  reader.error(node,
               "key: expected one of address, prefix, api_key, principal, account, route, "
               "header:<name>, got " +
                   yaml::describe(node));
  return false;
}

// The RateLimit-Policy item of the IETF httpapi draft: "name";q=<quota>;w=<window>.
std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string policyItem(const RequestLimit& limit) {
  std::string out = limit.quoted_name;
  out += ";q=";
  out += std::to_string(limit.gcra.quotaPerWindow());
  out += ";w=";
  out += std::to_string(limit.gcra.windowSeconds());
  return out;
}

// A name goes into a header line (a quoted sf-string) and a JSON detail:
// printable ASCII only.
bool printableName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Which scope the limits belong to, for messages and for what keys make sense there.
struct Scope {
  std::string label;  // "listener 'public'", "route 'orders'"
  bool is_route = false;
  bool has_auth = false;                        // route scope: the route authenticates
  const store::StoreSettings* store = nullptr;  // for `scope: global`
};

// `scope`, `on_store_error` and `lease` of a limit (docs/store.md): a global
// limit's local share and lease size follow from the store's
// expected_instances and the worker count.
bool readLimitScope(yaml::Reader& reader, const yaml::Map& map, const Scope& scope,
                    const shield::Limit& rate, RequestLimit* limit) {
  bool ok = true;
  if (const YAML::Node* node = map.find("scope")) {
    if (auto text = reader.oneOf(*node, "scope", {"local", "global"})) {
      limit->global = *text == "global";
      if (limit->global && (scope.store == nullptr || !scope.store->enabled)) {
        reader.error(*node, "scope: global needs a `store:` section (Redis; docs/store.md)");
        ok = false;
      }
    } else {
      ok = false;
    }
  }
  for (std::string_view key : {"on_store_error", "lease"}) {
    if (map.find(key) != nullptr && !limit->global) {
      reader.error(map.keyPosition(key), std::string(key) + ": only for `scope: global` limits");
      ok = false;
    }
  }
  if (!limit->global || !ok) return ok;
  if (const YAML::Node* node = map.find("on_store_error")) {
    if (auto text = reader.oneOf(*node, "on_store_error", {"open", "closed"})) {
      limit->fail_open = *text == "open";
    } else {
      ok = false;
    }
  }
  const double sharers =
      static_cast<double>(scope.store->expected_instances) * scope.store->workers;
  const uint32_t burst = std::max<uint32_t>(rate.burst, 1);
  // A quarter of a sharer's part of the burst per lease: small enough that
  // one instance cannot hold the others' budget for long, large enough that
  // Redis sees a fraction of the requests.
  limit->lease = std::max<uint32_t>(1, static_cast<uint32_t>(burst / sharers / 4));
  if (const YAML::Node* node = map.find("lease")) {
    if (auto value = reader.integer(*node, "lease", 1, burst)) {
      limit->lease = static_cast<uint32_t>(*value);
    } else {
      ok = false;
    }
  }
  shield::Limit share;
  share.rate = rate.rate / sharers;
  share.burst = std::max<uint32_t>(1, static_cast<uint32_t>(burst / sharers));
  limit->share = shield::Gcra(share);
  return ok;
}

void readLimit(yaml::Reader& reader, const YAML::Node& node, const Scope& scope,
               std::map<std::string, int>* names, uint64_t space, std::vector<RequestLimit>* out) {
  std::string label = labelOf(node, "limit");
  std::optional<yaml::Map> map = reader.map(node, label,
                                            {"name", "key", "rate", "burst", "action", "prefix_v4",
                                             "prefix_v6", "scope", "on_store_error", "lease"});
  if (!map) return;
  RequestLimit limit("", LimitKey::kAddress, shield::Limit{});
  bool ok = true;
  if (const YAML::Node* name = reader.require(*map, "name", label)) {
    if (auto text = reader.string(*name, "name")) {
      if (!printableName(*text)) {
        reader.error(*name, "name: expected 1 to 64 printable ASCII characters, got " +
                                yaml::describe(*name));
        ok = false;
      }
      auto [it, inserted] = names->emplace(*text, yaml::positionOf(*name).line);
      if (!inserted) {
        reader.error(*name, "name: duplicate limit name '" + *text + "' in " + scope.label +
                                " (first at line " + std::to_string(it->second) + ")");
        ok = false;
      }
      limit.name = *text;
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  if (const YAML::Node* key = reader.require(*map, "key", label)) {
    if (readKey(reader, *key, &limit)) {
      if (!scope.is_route && (shield::needsIdentity(limit.key) || limit.key == LimitKey::kRoute)) {
        reader.error(*key, std::string("key: '") + shield::limitKeyName(limit.key) +
                               "' is not known before routing and authentication; put this "
                               "limit in a route's limits");
        ok = false;
      } else if (scope.is_route && shield::needsIdentity(limit.key) && !scope.has_auth) {
        reader.warning(yaml::positionOf(*key),
                       std::string("key: ") + scope.label + " has no auth, so no request has a" +
                           (limit.key == LimitKey::kAccount ? "n " : " ") +
                           shield::limitKeyName(limit.key) + ": this limit never counts");
      }
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  std::optional<shield::Limit> rate = readRateAndBurst(reader, *map, label);
  ok = ok && rate.has_value();
  if (const YAML::Node* action = map->find("action")) {
    if (auto text = reader.oneOf(*action, "action", {"reject", "drop"})) {
      limit.action = *text == "drop" ? LimitAction::kDrop : LimitAction::kReject;
    } else {
      ok = false;
    }
  }
  for (std::string_view key : {"prefix_v4", "prefix_v6"}) {
    const YAML::Node* value = map->find(key);
    if (value == nullptr) continue;
    if (limit.key != LimitKey::kPrefix) {
      reader.error(map->keyPosition(key), std::string(key) + ": only for `key: prefix` limits");
      ok = false;
      continue;
    }
    const bool v4 = key == "prefix_v4";
    if (auto bits = reader.integer(*value, key, v4 ? 1 : 1, v4 ? 32 : 128)) {
      (v4 ? limit.prefix.v4 : limit.prefix.v6) = static_cast<int>(*bits);
    } else {
      ok = false;
    }
  }
  if (rate && !readLimitScope(reader, *map, scope, *rate, &limit)) ok = false;
  if (!ok) return;
  RequestLimit compiled(limit.name, limit.key, *rate);
  compiled.global = limit.global;
  compiled.fail_open = limit.fail_open;
  compiled.lease = limit.lease;
  compiled.share = limit.share;
  compiled.store_id = scope.label + "/" + limit.name;
  compiled.header = limit.header;
  compiled.prefix = limit.prefix;
  compiled.action = limit.action;
  compiled.space = space;
  compiled.detail = "rate limit '" + compiled.name + "' exceeded";
  compiled.quoted_name = quoted(compiled.name);
  compiled.policy_item = policyItem(compiled);
  out->push_back(std::move(compiled));
}

// Every limit's key namespace is a hash of its scope's kind and name and of
// the limit as written: unique in the snapshot (limit names are unique in a
// scope), and the same in the next snapshot when the reload left the limit
// unchanged, so its state in the worker's table carries over
// (docs/operations.md); a changed limit starts afresh. `space_base` (the
// scope's kind and index) only tells apart scopes without a name.
void readLimits(yaml::Reader& reader, const YAML::Node& node, const Scope& scope,
                uint64_t space_base, std::vector<RequestLimit>* out) {
  if (!reader.sequence(node, "limits")) return;
  if (node.size() > shield::kMaxLimitsPerScope) {
    reader.error(node, "limits: at most " + std::to_string(shield::kMaxLimitsPerScope) +
                           " limits per " + (scope.is_route ? "route" : "listener") + ", got " +
                           std::to_string(node.size()));
    return;
  }
  std::map<std::string, int> names;
  uint64_t position = 0;
  for (const YAML::Node& item : node) {
    ++position;
    const std::string scope_id =
        scope.label.find('\'') != std::string::npos ? scope.label : std::to_string(space_base);
    const std::string digest = sha256Hex(scope_id + "\n" + YAML::Dump(item));
    uint64_t space = std::stoull(digest.substr(0, 16), nullptr, 16);
    if (space == 0) space = space_base | position;
    readLimit(reader, item, scope, &names, space, out);
  }
}

std::shared_ptr<const shield::AddressList> readList(yaml::Reader& reader, const YAML::Node& node,
                                                    std::string_view what) {
  if (!reader.sequence(node, what)) return nullptr;
  std::vector<net::Cidr> cidrs;
  for (const YAML::Node& item : node) {
    std::optional<std::string> text = reader.string(item, what);
    if (!text) continue;
    std::optional<net::Cidr> cidr = net::Cidr::parse(*text);
    if (!cidr) {
      reader.error(item, std::string(what) +
                             ": expected a CIDR like 192.0.2.0/24, 2001:db8::/32 or an address, "
                             "got " +
                             yaml::describe(item));
      continue;
    }
    cidrs.push_back(*cidr);
  }
  return std::make_shared<const shield::AddressList>(shield::AddressList::fromCidrs(cidrs));
}

shield::Nanos toNanos(std::chrono::milliseconds millis) {
  return static_cast<shield::Nanos>(millis.count()) * 1'000'000;
}

void readAdmission(yaml::Reader& reader, const YAML::Node& node, const Map& top,
                   Snapshot* snapshot) {
  std::optional<yaml::Map> map = reader.map(node, "admission",
                                            {"max_connections", "max_connections_per_address",
                                             "accept_rate_per_address", "allow", "deny"});
  if (!map) return;
  shield::GateConfig& gate = snapshot->shield.gate;
  if (const YAML::Node* max = map->find("max_connections")) {
    if (auto value = reader.integer(*max, "max_connections", 1, kMaxU32)) {
      const YAML::Node* outer = top.find("max_connections");
      if (outer != nullptr && outer->IsScalar() && yaml::parseUnsigned(outer->Scalar()) != value) {
        reader.warning(yaml::positionOf(*max),
                       "max_connections: also set at the top level (line " +
                           std::to_string(top.keyPosition("max_connections").line) +
                           "); shield.admission.max_connections wins");
      }
      snapshot->max_connections = static_cast<uint32_t>(*value);
    }
  }
  reader.readInteger(*map, "max_connections_per_address", 1, kMaxU32,
                     &gate.admission.max_concurrent);
  if (const YAML::Node* rate = map->find("accept_rate_per_address")) {
    gate.admission.accept_rate = readRateMap(reader, *rate, "accept_rate_per_address");
  }
  if (const YAML::Node* allow = map->find("allow")) gate.allow = readList(reader, *allow, "allow");
  if (const YAML::Node* deny = map->find("deny")) gate.deny = readList(reader, *deny, "deny");
  snapshot->shield.gate_enabled = true;
}

void readEscalation(yaml::Reader& reader, const YAML::Node& node, shield::ShieldSettings* out) {
  std::optional<yaml::Map> map =
      reader.map(node, "escalation", {"after", "within", "block_for", "max_block"});
  if (!map) return;
  shield::EscalationPolicy& policy = out->gate.escalation;
  reader.readInteger(*map, "after", 1, kMaxU32, &policy.refusals);
  struct Field {
    std::string_view key;
    shield::Nanos* slot;
  };
  for (Field field : {Field{"within", &policy.window}, Field{"block_for", &policy.base_block},
                      Field{"max_block", &policy.max_block}}) {
    const YAML::Node* value = map->find(field.key);
    if (value == nullptr) continue;
    if (auto duration = reader.duration(*value, field.key)) {
      if (duration->count() == 0) {
        reader.error(*value, std::string(field.key) + ": must be more than 0");
        continue;
      }
      *field.slot = toNanos(*duration);
    }
  }
  if (map->find("max_block") == nullptr && policy.max_block < policy.base_block) {
    policy.max_block = policy.base_block;
  }
  if (policy.max_block < policy.base_block) {
    reader.error(map->keyPosition("max_block"),
                 "max_block: must be at least block_for (blocks double from block_for up to "
                 "max_block)");
  }
  out->gate.escalate = true;
  out->gate_enabled = true;
}

void readSlowClients(yaml::Reader& reader, const YAML::Node& node, const Map& top,
                     HttpSettings* http) {
  std::optional<yaml::Map> map =
      reader.map(node, "slow_clients", {"head_timeout", "body_min_rate", "body_grace"});
  if (!map) return;
  // The core's own timers enforce these (session.cc): the shield's names are
  // another way to set http.head_timeout, http.min_body_rate and
  // http.body_rate_window, and win when both are given.
  const YAML::Node* http_node = top.find("http");
  auto warnIfBoth = [&](std::string_view key, std::string_view http_key) {
    if (http_node == nullptr || !http_node->IsMap() || !(*http_node)[std::string(http_key)]) {
      return;
    }
    reader.warning(map->keyPosition(key), std::string(key) + ": http." + std::string(http_key) +
                                              " is also set; shield.slow_clients." +
                                              std::string(key) + " wins");
  };
  if (map->find("head_timeout") != nullptr) {
    warnIfBoth("head_timeout", "head_timeout");
    reader.readDuration(*map, "head_timeout", &http->head_timeout);
  }
  if (map->find("body_min_rate") != nullptr) {
    warnIfBoth("body_min_rate", "min_body_rate");
    reader.readSize(*map, "body_min_rate", 0, kMaxU32, &http->min_body_rate);
  }
  if (map->find("body_grace") != nullptr) {
    warnIfBoth("body_grace", "body_rate_window");
    reader.readDuration(*map, "body_grace", &http->body_rate_window);
  }
}

}  // namespace

void readShield(yaml::Reader& reader, const Map& top, const std::string& base_dir,
                Snapshot* snapshot) {
  shield::ShieldSettings& out = snapshot->shield;
  const YAML::Node* node = top.find("shield");
  if (node != nullptr) {
    std::optional<yaml::Map> map = reader.map(
        *node, "shield",
        {"trusted_proxies", "max_tracked_keys", "admission", "escalation", "auth_failures",
         "signature_verifications", "slow_clients", "overload", "baselines", "kernel_drop"});
    if (map) {
      if (const YAML::Node* proxies = map->find("trusted_proxies")) {
        if (reader.sequence(*proxies, "trusted_proxies")) {
          for (const YAML::Node& item : *proxies) {
            std::optional<std::string> text = reader.string(item, "trusted_proxies");
            if (!text) continue;
            std::optional<net::Cidr> cidr = net::Cidr::parse(*text);
            if (!cidr) {
              reader.error(item,
                           "trusted_proxies: expected a CIDR like 10.0.0.0/8, 2001:db8::/32 or "
                           "an address, got " +
                               yaml::describe(item));
              continue;
            }
            snapshot->trusted_proxies.push_back(*cidr);
          }
        }
      }
      reader.readInteger(*map, "max_tracked_keys", 1, kMaxTrackedKeys, &out.max_tracked_keys);
      reader.readBool(*map, "kernel_drop", &out.gate.kernel_drop);
      if (const YAML::Node* admission = map->find("admission")) {
        readAdmission(reader, *admission, top, snapshot);
      }
      if (const YAML::Node* escalation = map->find("escalation")) {
        readEscalation(reader, *escalation, &out);
      }
      if (const YAML::Node* auth = map->find("auth_failures")) {
        out.auth_failures = readRateMap(reader, *auth, "auth_failures");
      }
      if (const YAML::Node* budget = map->find("signature_verifications")) {
        out.signature_verifications = readRateMap(reader, *budget, "signature_verifications");
      }
      if (const YAML::Node* slow = map->find("slow_clients")) {
        readSlowClients(reader, *slow, top, &snapshot->http);
      }
      if (const YAML::Node* overload = map->find("overload")) {
        readOverload(reader, *overload, &out.overload);
      }
      if (const YAML::Node* baselines = map->find("baselines")) {
        readBaselines(reader, *baselines, base_dir, &out.baselines);
      }
    }
  }
  out.trusted_proxies = shield::AddressList::fromCidrs(snapshot->trusted_proxies);
}

void readListenerLimits(yaml::Reader& reader, const Map& top, Snapshot* snapshot) {
  shield::ShieldSettings& out = snapshot->shield;
  out.listener_limits.assign(snapshot->listeners.size(), {});
  const YAML::Node* listeners = top.find("listeners");
  if (listeners == nullptr || !listeners->IsSequence()) return;
  uint64_t index = 0;
  for (const YAML::Node& item : *listeners) {
    const uint64_t at = index++;
    if (!item.IsMap() || at >= out.listener_limits.size()) continue;
    const YAML::Node limits = item["limits"];
    if (!limits) continue;
    Scope scope{labelOf(item, "listener"), false, false, &snapshot->store};
    readLimits(reader, limits, scope, (uint64_t{1} << 40) | (at << 8), &out.listener_limits[at]);
  }
}

void readRouteLimits(yaml::Reader& reader, const std::vector<RouteExtras>& routes,
                     const store::StoreSettings& store, shield::ShieldSettings* out) {
  out->route_limits.assign(routes.size(), {});
  for (uint64_t index = 0; index < routes.size(); ++index) {
    const RouteExtras& route = routes[index];
    if (!route.limits) continue;
    Scope scope{"route '" + route.name + "'", true, route.auth.has_value(), &store};
    readLimits(reader, *route.limits, scope, (uint64_t{2} << 40) | (index << 8),
               &out->route_limits[index]);
  }
}

std::optional<shield::Limit> readRateLimit(yaml::Reader& reader, const YAML::Node& node,
                                           const std::string& what) {
  return readRateMap(reader, node, what);
}

}  // namespace rampart::config::detail
