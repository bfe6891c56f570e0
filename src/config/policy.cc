// `policies:`, `policy_files:`, `authorization:` and each route's `policy`,
// `shadow_policy`, `rollout` and `public`: named policies compiled by the
// policy engine, then resolved per route. Loading thread only.
#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include "config/sections.h"

namespace rampart::config::detail {

namespace {

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

std::optional<std::vector<std::string>> readList(yaml::Reader& reader, const yaml::Map& map,
                                                 std::string_view key) {
  const YAML::Node* node = map.find(key);
  if (node == nullptr) return std::nullopt;
  std::vector<std::string> out;
  if (!reader.sequence(*node, key)) return out;
  for (const YAML::Node& item : *node) {
    if (auto text = reader.string(item, key)) out.push_back(*text);
  }
  return out;
}

// A path pattern: a plain string is a glob ("/admin/**", "/accounts/{account}"),
// or one of {exact: ...}, {prefix: ...}, {glob: ...}.
std::optional<policy::PathPattern> readPathPattern(yaml::Reader& reader, const YAML::Node& node) {
  policy::PathPattern pattern;
  if (node.IsScalar()) {
    pattern.kind = policy::PathPatternKind::kGlob;
    pattern.pattern = node.Scalar();
    return pattern;
  }
  std::optional<yaml::Map> map = reader.map(node, "paths", {"exact", "prefix", "glob"});
  if (!map) return std::nullopt;
  int kinds = 0;
  for (auto [key, kind] : {std::pair{"exact", policy::PathPatternKind::kExact},
                           std::pair{"prefix", policy::PathPatternKind::kPrefix},
                           std::pair{"glob", policy::PathPatternKind::kGlob}}) {
    if (const YAML::Node* value = map->find(key)) {
      ++kinds;
      if (auto text = reader.string(*value, key)) {
        pattern.kind = kind;
        pattern.pattern = *text;
      }
    }
  }
  if (kinds != 1) {
    reader.error(map->position(), "paths: expected exactly one of exact, prefix or glob");
    return std::nullopt;
  }
  return pattern;
}

void readRule(yaml::Reader& reader, const YAML::Node& node, policy::RuleSpec* rule) {
  std::optional<yaml::Map> map =
      reader.map(node, "rule",
                 {"name", "effect", "principals", "accounts", "roles", "scopes", "claims",
                  "methods", "paths", "param_equals", "sources", "authenticated"});
  if (!map) return;
  reader.readString(*map, "name", &rule->name);
  if (const YAML::Node* effect = reader.require(*map, "effect", "rule")) {
    if (auto value = reader.oneOf(*effect, "effect", {"allow", "deny"})) {
      rule->effect = *value == "allow" ? policy::Effect::kAllow : policy::Effect::kDeny;
    }
  }
  rule->principals = readList(reader, *map, "principals");
  rule->accounts = readList(reader, *map, "accounts");
  rule->roles = readList(reader, *map, "roles");
  rule->scopes = readList(reader, *map, "scopes");
  rule->methods = readList(reader, *map, "methods");
  rule->sources = readList(reader, *map, "sources");
  if (rule->sources) {
    for (const std::string& cidr : *rule->sources) {
      if (!net::Cidr::parse(cidr)) {
        reader.error(map->keyPosition("sources"),
                     "sources: bad CIDR '" + cidr + "' (expected like 10.0.0.0/8 or fd00::/16)");
      }
    }
  }
  if (const YAML::Node* paths = map->find("paths")) {
    rule->paths.emplace();
    if (reader.sequence(*paths, "paths")) {
      for (const YAML::Node& item : *paths) {
        if (auto pattern = readPathPattern(reader, item)) rule->paths->push_back(*pattern);
      }
    }
  }
  if (const YAML::Node* claims = map->find("claims")) {
    rule->claims.emplace();
    if (!claims->IsMap()) {
      reader.error(*claims, "claims: expected a mapping of claim names to values");
    } else {
      for (const auto& entry : *claims) {
        policy::ClaimMatch match;
        match.name = entry.first.as<std::string>();
        if (entry.second.IsScalar()) {
          match.values.push_back(entry.second.Scalar());
        } else if (reader.sequence(entry.second, match.name)) {
          for (const YAML::Node& value : entry.second) {
            if (auto text = reader.string(value, match.name)) match.values.push_back(*text);
          }
        }
        rule->claims->push_back(std::move(match));
      }
    }
  }
  if (const YAML::Node* params = map->find("param_equals")) {
    if (params->IsMap()) {
      for (const auto& entry : *params) {
        policy::ParamEquals equals;
        equals.param = entry.first.as<std::string>();
        std::string attribute = entry.second.IsScalar() ? entry.second.Scalar() : "";
        std::optional<policy::Attribute> parsed = policy::parseAttribute(attribute);
        if (!parsed) {
          reader.error(entry.second, "param_equals: expected principal, account or issuer for '" +
                                         equals.param + "'");
          continue;
        }
        equals.attribute = *parsed;
        rule->param_equals.push_back(std::move(equals));
      }
    } else {
      reader.error(*params, "param_equals: expected a mapping like {account: account}");
    }
  }
  if (const YAML::Node* authenticated = map->find("authenticated")) {
    if (auto value = reader.boolean(*authenticated, "authenticated")) rule->authenticated = *value;
  }
}

// One named policy: compiled here, so its errors and warnings point at it.
void readPolicy(yaml::Reader& reader, const YAML::Node& node, AuthorizationSettings* out) {
  std::string label = labelOf(node, "policy");
  std::optional<yaml::Map> map = reader.map(node, label, {"name", "rules"});
  if (!map) return;
  std::string name;
  if (const YAML::Node* name_node = reader.require(*map, "name", label)) {
    if (auto text = reader.string(*name_node, "name")) {
      if (std::find(out->names.begin(), out->names.end(), *text) != out->names.end()) {
        reader.error(*name_node, "name: duplicate policy name '" + *text + "'");
        return;
      }
      name = *text;
    }
  }
  policy::PolicySpec spec;
  std::vector<yaml::Position> rule_positions;
  if (const YAML::Node* rules = reader.require(*map, "rules", label)) {
    if (reader.sequence(*rules, "rules")) {
      for (const YAML::Node& item : *rules) {
        rule_positions.push_back(yaml::positionOf(item));
        readRule(reader, item, &spec.rules.emplace_back());
      }
    }
  }
  if (name.empty() || reader.hasErrors()) return;
  policy::Policy compiled;
  std::vector<policy::CompileWarning> warnings;
  std::string problem;
  auto at = [&](uint32_t rule) {
    return rule < rule_positions.size() ? rule_positions[rule] : map->position();
  };
  if (!compiled.compile(spec, &warnings, &problem)) {
    reader.error(map->keyPosition("rules"), label + ": " + problem);
    return;
  }
  for (const policy::CompileWarning& warning : warnings) {
    reader.warning(at(warning.rule), label + ": " + warning.message);
  }
  out->names.push_back(name);
  out->policies.push_back(std::move(compiled));
  out->specs.push_back(std::move(spec));
}

void readPolicyList(yaml::Reader& reader, const YAML::Node& node, AuthorizationSettings* out) {
  if (!reader.sequence(node, "policies")) return;
  for (const YAML::Node& item : node) readPolicy(reader, item, out);
}

// A policy file: `policies:` as at the top level. Read with its own reader so
// that its problems are reported at its own lines.
void readPolicyFile(yaml::Reader& reader, const YAML::Node& node, const std::string& base_dir,
                    AuthorizationSettings* out) {
  std::optional<std::string> path = reader.string(node, "policy_files");
  if (!path) return;
  std::string full = path->empty() || path->front() == '/' ? *path : base_dir + "/" + *path;
  std::ifstream in(full, std::ios::binary);
  if (!in) {
    reader.error(node, "policy_files: cannot open '" + full + "'");
    return;
  }
  std::ostringstream text;
  text << in.rdbuf();
  noteSourceFile(full, text.str());  // a reload compares it (and the watch polls it)
  yaml::Reader file_reader(full);
  try {
    YAML::Node root = YAML::Load(text.str());
    if (std::optional<yaml::Map> top = file_reader.map(root, "the policy file", {"policies"})) {
      if (const YAML::Node* list = file_reader.require(*top, "policies", "the policy file")) {
        readPolicyList(file_reader, *list, out);
      }
    }
  } catch (const YAML::Exception& e) {
    file_reader.error(yaml::positionOf(e.mark), "YAML syntax error: " + e.msg);
  }
  reader.absorb(file_reader);
}

int32_t findPolicy(yaml::Reader& reader, const YAML::Node& node, std::string_view key,
                   const AuthorizationSettings& settings) {
  std::optional<std::string> name = reader.string(node, key);
  if (!name) return RoutePolicy::kNone;
  auto it = std::find(settings.names.begin(), settings.names.end(), *name);
  if (it == settings.names.end()) {
    std::string known;
    for (const std::string& n : settings.names) known += (known.empty() ? "" : ", ") + n;
    reader.error(node, std::string(key) + ": undefined policy '" + *name + "' (" +
                           (known.empty() ? "no policies are defined" : "defined: " + known) + ")");
    return RoutePolicy::kNone;
  }
  return static_cast<int32_t>(it - settings.names.begin());
}

void readRollout(yaml::Reader& reader, const YAML::Node& node,
                 const AuthorizationSettings& settings, RoutePolicy* route) {
  std::optional<yaml::Map> map = reader.map(node, "rollout", {"policy", "percent"});
  if (!map) return;
  if (const YAML::Node* policy = reader.require(*map, "policy", "rollout")) {
    route->rollout = findPolicy(reader, *policy, "policy", settings);
  }
  if (const YAML::Node* percent = reader.require(*map, "percent", "rollout")) {
    if (auto value = reader.integer(*percent, "percent", 0, 100)) {
      route->rollout_percent = static_cast<uint32_t>(*value);
    }
  }
}

}  // namespace

void readPolicies(yaml::Reader& reader, const yaml::Map& top, const std::string& base_dir,
                  AuthorizationSettings* out) {
  if (const YAML::Node* policies = top.find("policies")) readPolicyList(reader, *policies, out);
  if (const YAML::Node* files = top.find("policy_files")) {
    if (reader.sequence(*files, "policy_files")) {
      for (const YAML::Node& item : *files) readPolicyFile(reader, item, base_dir, out);
    }
  }
  if (const YAML::Node* node = top.find("authorization")) {
    std::optional<yaml::Map> map =
        reader.map(*node, "authorization", {"rollout_seed", "shadow_log_per_second"});
    if (map) {
      reader.readInteger(*map, "rollout_seed", 0, UINT64_MAX, &out->rollout_seed);
      reader.readInteger(*map, "shadow_log_per_second", 0, kMaxU32, &out->shadow_log_per_second);
    }
  }
}

void readRoutePolicies(yaml::Reader& reader, const std::vector<RouteExtras>& routes,
                       AuthorizationSettings* settings) {
  settings->routes.resize(routes.size());
  for (size_t i = 0; i < routes.size(); ++i) {
    const RouteExtras& extras = routes[i];
    RoutePolicy& route = settings->routes[i];
    std::string label = "route '" + extras.name + "'";
    if (extras.is_public) {
      if (auto value = reader.boolean(*extras.is_public, "public")) route.is_public = *value;
    }
    if (extras.policy) route.enforced = findPolicy(reader, *extras.policy, "policy", *settings);
    if (extras.shadow_policy) {
      route.shadow = findPolicy(reader, *extras.shadow_policy, "shadow_policy", *settings);
    }
    if (extras.rollout) readRollout(reader, *extras.rollout, *settings, &route);
    route.external = extras.ext_authz.has_value();
    if (route.is_public && (extras.policy || extras.rollout)) {
      reader.error(extras.at, label + ": public: true and a policy contradict each other");
    } else if (route.is_public && route.external) {
      reader.error(extras.at, label +
                                  ": public: true and ext_authz contradict each other (a route "
                                  "with ext_authz and no policy is decided by its authorizer)");
    } else if (extras.rollout && !extras.policy) {
      reader.error(extras.at, label + ": rollout needs a policy for the accounts outside it");
    } else if (route.is_public) {
      reader.warning(extras.at, label + " is public: every caller reaches its upstream");
    } else if (!extras.policy && !route.external) {
      reader.warning(extras.at, label +
                                    " has no policy: every request to it is denied (403); give "
                                    "it `policy: NAME` or say `public: true`");
    }
  }
}

void readListenerShadows(yaml::Reader& reader, const yaml::Map& top,
                         const AuthorizationSettings& settings, std::vector<ListenerSpec>* out) {
  const YAML::Node* node = top.find("listeners");
  if (node == nullptr || !node->IsSequence()) return;
  size_t index = 0;
  for (const YAML::Node& item : *node) {
    size_t at = index++;
    if (!item.IsMap() || at >= out->size() || !item["shadow_policy"]) continue;
    (*out)[at].shadow_policy = findPolicy(reader, item["shadow_policy"], "shadow_policy", settings);
  }
}

}  // namespace rampart::config::detail
