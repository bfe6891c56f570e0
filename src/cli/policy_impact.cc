// `rampart policy impact`: loads two configs, reads the accounts and request
// log files (JSON lines, formats in docs/authorization.md), hands plain views
// to policy::computeImpact and prints its report as a table or JSON.
#include "cli/policy_impact.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "policy/impact.h"

namespace rampart::cli {

namespace {

using policy::ImpactAccount;
using policy::LoggedRequest;

// ------------------------------------------------------------ the views

policy::ImpactConfig viewOf(const config::Snapshot& snapshot) {
  policy::ImpactConfig view;
  const config::AuthorizationSettings& settings = snapshot.authorization;
  view.rollout_seed = settings.rollout_seed;
  for (size_t i = 0; i < settings.policies.size(); ++i) {
    view.policies.push_back({settings.names[i], &settings.policies[i], &settings.specs[i]});
  }
  for (size_t i = 0; i < snapshot.route_specs.size(); ++i) {
    const routing::RouteSpec& spec = snapshot.route_specs[i];
    policy::ImpactRoute route;
    route.name = spec.name;
    route.kind = spec.kind == routing::PathMatchKind::kExact    ? policy::RouteKind::kExact
                 : spec.kind == routing::PathMatchKind::kPrefix ? policy::RouteKind::kPrefix
                                                                : policy::RouteKind::kRegex;
    route.path = spec.path;
    route.methods = spec.methods;
    if (i < settings.routes.size()) {
      const config::RoutePolicy& decision = settings.routes[i];
      route.is_public = decision.is_public;
      route.enforced = decision.enforced;
      route.rollout = decision.rollout;
      route.rollout_percent = decision.rollout_percent;
    }
    view.routes.push_back(std::move(route));
  }
  return view;
}

// ------------------------------------------------------------ input files

struct LineError {
  std::string reason;
};

// A JSON-lines file, line by line; blank lines are skipped.
template <typename OnLine>
bool readLines(const std::string& path, OnLine on_line) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << path << ": cannot open\n";
    return false;
  }
  simdjson::dom::parser parser;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    simdjson::dom::element doc;
    std::optional<std::string> problem;
    if (auto error = parser.parse(line).get(doc); error) {
      problem = std::string("not valid JSON: ") + simdjson::error_message(error);
    } else if (!doc.is_object()) {
      problem = "expected a JSON object";
    } else {
      problem = on_line(doc.get_object().value_unsafe(), number);
    }
    if (problem) {
      std::cerr << path << ":" << number << ": " << *problem << "\n";
      return false;
    }
  }
  return true;
}

std::optional<std::string> duplicateKey(simdjson::dom::object object) {
  std::vector<std::string_view> keys;
  for (auto field : object) keys.push_back(field.key);
  std::sort(keys.begin(), keys.end());
  auto it = std::adjacent_find(keys.begin(), keys.end());
  if (it == keys.end()) return std::nullopt;
  std::string out = "duplicate key '";
  out += *it;
  out += "'";
  return out;
}

std::string expected(std::string_view key, std::string_view what) {
  std::string out(key);
  out += ": expected ";
  out += what;
  return out;
}

// An optional string member; false when present and not a string (or null).
bool optionalString(simdjson::dom::object object, std::string_view key, std::string* out) {
  simdjson::dom::element value;
  if (object[key].get(value)) return true;  // absent
  if (value.is_null()) return true;
  std::string_view text;
  if (value.get_string().get(text)) return false;
  out->assign(text);
  return true;
}

bool stringList(simdjson::dom::object object, std::string_view key, std::vector<std::string>* out) {
  simdjson::dom::element value;
  if (object[key].get(value) || value.is_null()) return true;
  simdjson::dom::array array;
  if (value.get_array().get(array)) return false;
  for (simdjson::dom::element item : array) {
    std::string_view text;
    if (item.get_string().get(text)) return false;
    out->emplace_back(text);
  }
  return true;
}

// `claims`: {"name": "value" or ["v1", "v2"]}, arrays joined by ',' as
// Identity::claims holds them.
std::optional<std::string> readClaims(simdjson::dom::object object,
                                      std::vector<std::pair<std::string, std::string>>* out) {
  simdjson::dom::element value;
  if (object["claims"].get(value) || value.is_null()) return std::nullopt;
  simdjson::dom::object claims;
  if (value.get_object().get(claims)) return expected("claims", "an object");
  if (auto dup = duplicateKey(claims)) return "claims: " + *dup;
  for (auto field : claims) {
    std::string joined;
    std::string_view text;
    simdjson::dom::array array;
    if (!field.value.get_string().get(text)) {
      joined = text;
    } else if (!field.value.get_array().get(array)) {
      bool first = true;
      for (simdjson::dom::element item : array) {
        if (item.get_string().get(text)) {
          std::string key = "claims.";
          key += field.key;
          return expected(key, "a string or an array of strings");
        }
        if (!first) joined += ',';
        joined += text;
        first = false;
      }
    } else {
      std::string key = "claims.";
      key += field.key;
      return expected(key, "a string or an array of strings");
    }
    out->emplace_back(std::string(field.key), std::move(joined));
  }
  return std::nullopt;
}

std::optional<std::string> readAttributes(
    simdjson::dom::object object, std::vector<std::string>* roles, std::vector<std::string>* scopes,
    std::vector<std::pair<std::string, std::string>>* claims) {
  if (!stringList(object, "roles", roles)) return expected("roles", "an array of strings");
  if (!stringList(object, "scopes", scopes)) return expected("scopes", "an array of strings");
  return readClaims(object, claims);
}

bool readAccounts(const std::string& path, std::vector<ImpactAccount>* out) {
  std::unordered_map<std::string, size_t> first_line;
  return readLines(
      path, [&](simdjson::dom::object object, size_t line) -> std::optional<std::string> {
        if (auto dup = duplicateKey(object)) return dup;
        ImpactAccount account;
        simdjson::dom::element name;
        std::string_view text;
        if (object["account"].get(name) || name.get_string().get(text)) {
          return expected("account", "a string (the account's name)");
        }
        account.account = text;
        if (!stringList(object, "principals", &account.principals)) {
          return expected("principals", "an array of strings");
        }
        if (auto problem =
                readAttributes(object, &account.roles, &account.scopes, &account.claims)) {
          return problem;
        }
        auto [it, inserted] = first_line.try_emplace(account.account, line);
        if (!inserted) {
          std::string message = "duplicate account '";
          message += account.account;
          message += "' (first at line ";
          message += std::to_string(it->second);
          message += ")";
          return message;
        }
        out->push_back(std::move(account));
        return std::nullopt;
      });
}

std::optional<net::SocketAddress> parseClient(std::string_view ip) {
  std::string text;
  if (ip.find(':') != std::string_view::npos) {
    text += '[';
    text += ip;
    text += ']';
  } else {
    text += ip;
  }
  text += ":0";
  return net::SocketAddress::parseNumeric(text);
}

bool readRequests(const std::string& path, std::vector<LoggedRequest>* out,
                  std::vector<size_t>* lines) {
  return readLines(
      path, [&](simdjson::dom::object object, size_t line) -> std::optional<std::string> {
        if (auto dup = duplicateKey(object)) return dup;
        LoggedRequest request;
        if (!optionalString(object, "method", &request.method) || request.method.empty()) {
          return expected("method", "a non-empty string");
        }
        if (!optionalString(object, "path", &request.path) || request.path.empty() ||
            request.path.front() != '/') {
          return expected("path", "a string starting with '/' (the canonical path)");
        }
        if (!optionalString(object, "route", &request.route) || request.route.empty()) {
          return expected("route", "a non-empty string (the route's name)");
        }
        if (!optionalString(object, "request_id", &request.request_id)) {
          return expected("request_id", "a string");
        }
        auth::Identity& identity = request.identity;
        if (!optionalString(object, "principal", &identity.principal)) {
          return expected("principal", "a string");
        }
        if (!optionalString(object, "account", &identity.account)) {
          return expected("account", "a string");
        }
        if (!optionalString(object, "issuer", &identity.issuer)) {
          return expected("issuer", "a string");
        }
        if (auto problem =
                readAttributes(object, &identity.roles, &identity.scopes, &identity.claims)) {
          return problem;
        }
        std::string client;
        if (!optionalString(object, "client", &client)) return expected("client", "a string");
        if (!client.empty()) {
          request.client = parseClient(client);
          if (!request.client) return expected("client", "an IP address such as 192.0.2.1 or ::1");
        }
        request.anonymous = identity.principal.empty() && identity.account.empty();
        identity.kind =
            request.anonymous ? auth::CredentialKind::kNone : auth::CredentialKind::kJwt;
        out->push_back(std::move(request));
        lines->push_back(line);
        return std::nullopt;
      });
}

// ------------------------------------------------------------ output

struct Printing {
  const policy::ImpactReport& report;
  const policy::ImpactConfig& before;
  const policy::ImpactConfig& after;
  const std::vector<ImpactAccount>& accounts;
  const std::vector<LoggedRequest>& requests;
  const std::vector<size_t>& lines;
  std::string from;
  std::string to;
  std::string requests_path;
  size_t limit = 0;
};

constexpr std::string_view kParamNote =
    "the sweep evaluates each route's declared path only (exact: the path, prefix: the "
    "prefix); rules with path parameters ({account} with param_equals) are exercised only by "
    "--requests";

std::string accountName(const std::vector<ImpactAccount>& accounts, uint32_t account) {
  return account == policy::kAnonymous ? "(anonymous)" : accounts[account].account;
}

struct Counts {
  size_t changed = 0, unchanged = 0, added = 0, removed = 0, regex = 0, regex_differs = 0;
  size_t with_effect = 0;
  size_t callers = 0, principals = 0;
};

Counts countsOf(const Printing& p) {
  Counts c;
  for (const policy::RouteImpact& route : p.report.routes) {
    switch (route.status) {
      case policy::RouteStatus::kUnchanged:
        ++c.unchanged;
        break;
      case policy::RouteStatus::kChanged:
        ++c.changed;
        break;
      case policy::RouteStatus::kAdded:
        ++c.added;
        break;
      case policy::RouteStatus::kRemoved:
        ++c.removed;
        break;
      case policy::RouteStatus::kRegex:
        ++c.regex;
        if (route.decision_differs) ++c.regex_differs;
        break;
    }
    if (route.changed()) ++c.with_effect;
  }
  c.callers = p.report.callers.size();
  for (const ImpactAccount& account : p.accounts) c.principals += account.principals.size();
  return c;
}

std::string describeDecision(const policy::ImpactConfig& config, const policy::Decision& d) {
  std::string out = d.allowed ? "allowed" : "denied";
  out += " (";
  if (d.reason == policy::DecisionReason::kPolicy) {
    out += "policy ";
    out += config.policies[d.policy].name;
    out += ", ";
    if (d.rule == policy::kDefaultDeny) {
      out += "default deny";
    } else {
      out += "rule ";
      out += d.rule_name.empty() ? std::to_string(d.rule) : std::string(d.rule_name);
    }
  } else {
    out += policy::describe(d.reason);
  }
  out += ")";
  return out;
}

std::string callerOf(const LoggedRequest& request) {
  if (request.anonymous) return "(anonymous)";
  std::string out = request.identity.principal.empty() ? "-" : request.identity.principal;
  out += '@';
  out += request.identity.account.empty() ? "-" : request.identity.account;
  return out;
}

void printTable(const Printing& p) {
  const Counts c = countsOf(p);
  std::cout << "policy impact: " << p.from << " -> " << p.to << "\n";
  std::cout << "callers: " << p.accounts.size() << " accounts (" << c.principals
            << " principals) + (anonymous); routes: " << p.report.routes.size() << " (" << c.changed
            << " changed, " << c.added << " added, " << c.removed << " removed, " << c.unchanged
            << " unchanged, " << c.regex << " regex not swept)\n";
  std::cout << "note: " << kParamNote << "\n\n";

  std::vector<std::vector<std::string>> rows;
  rows.push_back({"ROUTE", "STATUS", "METHOD", "CHANGE", "CALLERS", "ACCOUNTS", "WHO"});
  for (const policy::RouteImpact& route : p.report.routes) {
    if (route.status == policy::RouteStatus::kRegex && route.decision_differs) {
      rows.push_back({std::string(route.name), "regex", "-", "unknown", "-", "-",
                      "not swept (regex path); its decision differs: judge it with --requests"});
    }
    for (const policy::MethodImpact& method : route.methods) {
      for (bool gained : {false, true}) {
        const policy::CallerSet& set = gained ? method.gained : method.lost;
        if (set.groups.empty()) continue;
        std::string who;
        std::vector<policy::AffectedAccount> list = policy::listAccounts(p.report, set, p.limit);
        for (const policy::AffectedAccount& affected : list) {
          if (!who.empty()) who += ", ";
          who += accountName(p.accounts, affected.account);
          const ImpactAccount* account =
              affected.account == policy::kAnonymous ? nullptr : &p.accounts[affected.account];
          // Principals are named only when not all of the account's changed.
          if (account != nullptr && affected.principals.size() < account->principals.size()) {
            who += " (";
            for (size_t i = 0; i < affected.principals.size(); ++i) {
              if (i != 0) who += ", ";
              who += account->principals[affected.principals[i]];
            }
            who += ")";
          }
        }
        if (list.size() < set.accounts) {
          who += ", ... ";
          who += std::to_string(set.accounts - list.size());
          who += " more";
        }
        rows.push_back({std::string(route.name), std::string(policy::describe(route.status)),
                        std::string(method.method), gained ? "gained" : "lost",
                        std::to_string(set.callers), std::to_string(set.accounts), who});
      }
    }
  }
  if (rows.size() == 1) {
    std::cout << "no route's decision changes for any caller\n";
  } else {
    std::vector<size_t> widths(rows[0].size(), 0);
    for (const auto& row : rows) {
      for (size_t i = 0; i + 1 < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    for (const auto& row : rows) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
      }
      std::cout << line << "\n";
    }
    std::cout << "\nper route:";
    for (const policy::RouteImpact& route : p.report.routes) {
      if (!route.changed()) continue;
      std::cout << "\n  " << route.name << ": " << route.gained_accounts
                << " accounts gain access, " << route.lost_accounts << " lose access";
    }
    std::cout << "\n";
  }

  if (!p.requests_path.empty()) {
    std::cout << "\nrequests: " << p.requests.size() << " replayed from " << p.requests_path << ", "
              << p.report.requests.size() << " would change (" << p.report.requests_gained
              << " gained, " << p.report.requests_lost << " lost)\n";
    size_t shown = 0;
    for (const policy::RequestImpact& change : p.report.requests) {
      if (p.limit != 0 && shown == p.limit) {
        std::cout << "  ... " << p.report.requests.size() - shown << " more\n";
        break;
      }
      ++shown;
      const LoggedRequest& request = p.requests[change.index];
      std::cout << "  " << p.requests_path << ":" << p.lines[change.index] << "  "
                << (change.after.allowed ? "gained" : "lost") << "  " << request.method << " "
                << request.path << "  route " << request.route << "  " << callerOf(request);
      if (!request.request_id.empty()) std::cout << "  id " << request.request_id;
      std::cout << "  " << describeDecision(p.before, change.before) << " -> "
                << describeDecision(p.after, change.after) << "\n";
    }
  }
  std::cout << "\nsummary: " << c.with_effect << " routes change for " << p.report.affected_accounts
            << " accounts";
  if (!p.requests_path.empty()) std::cout << "; " << p.report.requests.size() << " requests change";
  std::cout << (p.report.changed() ? " (exit 3)" : " (nothing changes)") << "\n";
}

void jsonString(std::string* out, std::string_view text) {
  *out += '"';
  for (unsigned char ch : text) {
    switch (ch) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          *out += buf;
        } else {
          *out += static_cast<char>(ch);
        }
    }
  }
  *out += '"';
}

void jsonDecision(std::string* out, const policy::ImpactConfig& config, const policy::Decision& d) {
  *out += "{\"allowed\":";
  *out += d.allowed ? "true" : "false";
  *out += ",\"reason\":";
  jsonString(out, policy::describe(d.reason));
  if (d.reason == policy::DecisionReason::kPolicy) {
    *out += ",\"policy\":";
    jsonString(out, config.policies[d.policy].name);
    *out += ",\"rule\":";
    if (d.rule == policy::kDefaultDeny) {
      *out += "null,\"default_deny\":true";
    } else {
      *out += std::to_string(d.rule);
      *out += ",\"rule_name\":";
      jsonString(out, d.rule_name);
    }
  }
  *out += '}';
}

void jsonCallerSet(std::string* out, const Printing& p, const policy::CallerSet& set) {
  std::vector<policy::AffectedAccount> list = policy::listAccounts(p.report, set, p.limit);
  *out += "{\"callers\":";
  *out += std::to_string(set.callers);
  *out += ",\"accounts\":";
  *out += std::to_string(set.accounts);
  *out += ",\"truncated\":";
  *out += list.size() < set.accounts ? "true" : "false";
  *out += ",\"list\":[";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i != 0) *out += ',';
    *out += "{\"account\":";
    jsonString(out, accountName(p.accounts, list[i].account));
    *out += ",\"anonymous\":";
    *out += list[i].account == policy::kAnonymous ? "true" : "false";
    *out += ",\"principals\":[";
    for (size_t k = 0; k < list[i].principals.size(); ++k) {
      if (k != 0) *out += ',';
      jsonString(out, p.accounts[list[i].account].principals[list[i].principals[k]]);
    }
    *out += "]}";
  }
  *out += "]}";
}

void printJson(const Printing& p) {
  const Counts c = countsOf(p);
  std::string out;
  out += "{\"from\":";
  jsonString(&out, p.from);
  out += ",\"to\":";
  jsonString(&out, p.to);
  out += ",\"changed\":";
  out += p.report.changed() ? "true" : "false";
  out += ",\"notes\":[";
  jsonString(&out, kParamNote);
  out += "],\"summary\":{\"accounts\":";
  out += std::to_string(p.accounts.size());
  out += ",\"callers\":";
  out += std::to_string(c.callers);
  out += ",\"affected_accounts\":";
  out += std::to_string(p.report.affected_accounts);
  out += ",\"evaluations\":";
  out += std::to_string(p.report.evaluations);
  out += ",\"routes\":{\"total\":";
  out += std::to_string(p.report.routes.size());
  out += ",\"changed\":";
  out += std::to_string(c.changed);
  out += ",\"added\":";
  out += std::to_string(c.added);
  out += ",\"removed\":";
  out += std::to_string(c.removed);
  out += ",\"unchanged\":";
  out += std::to_string(c.unchanged);
  out += ",\"regex\":";
  out += std::to_string(c.regex);
  out += ",\"with_changes\":";
  out += std::to_string(c.with_effect);
  out += "},\"requests\":{\"replayed\":";
  out += std::to_string(p.requests.size());
  out += ",\"changed\":";
  out += std::to_string(p.report.requests.size());
  out += ",\"gained\":";
  out += std::to_string(p.report.requests_gained);
  out += ",\"lost\":";
  out += std::to_string(p.report.requests_lost);
  out += "}},\"routes\":[";
  bool first = true;
  for (const policy::RouteImpact& route : p.report.routes) {
    if (route.status == policy::RouteStatus::kUnchanged) continue;
    if (!first) out += ',';
    first = false;
    out += "{\"route\":";
    jsonString(&out, route.name);
    out += ",\"status\":";
    jsonString(&out, policy::describe(route.status));
    if (route.status == policy::RouteStatus::kRegex) {
      out += ",\"swept\":false,\"decision_differs\":";
      out += route.decision_differs ? "true" : "false";
    }
    out += ",\"gained_accounts\":";
    out += std::to_string(route.gained_accounts);
    out += ",\"lost_accounts\":";
    out += std::to_string(route.lost_accounts);
    out += ",\"methods\":[";
    for (size_t m = 0; m < route.methods.size(); ++m) {
      if (m != 0) out += ',';
      out += "{\"method\":";
      jsonString(&out, route.methods[m].method);
      out += ",\"gained\":";
      jsonCallerSet(&out, p, route.methods[m].gained);
      out += ",\"lost\":";
      jsonCallerSet(&out, p, route.methods[m].lost);
      out += '}';
    }
    out += "]}";
    if (out.size() > (1u << 20)) {
      std::cout << out;
      out.clear();
    }
  }
  out += "],\"requests\":[";
  for (size_t i = 0; i < p.report.requests.size(); ++i) {
    if (p.limit != 0 && i == p.limit) break;
    const policy::RequestImpact& change = p.report.requests[i];
    const LoggedRequest& request = p.requests[change.index];
    if (i != 0) out += ',';
    out += "{\"line\":";
    out += std::to_string(p.lines[change.index]);
    out += ",\"change\":";
    out += change.after.allowed ? "\"gained\"" : "\"lost\"";
    out += ",\"method\":";
    jsonString(&out, request.method);
    out += ",\"path\":";
    jsonString(&out, request.path);
    out += ",\"route\":";
    jsonString(&out, request.route);
    out += ",\"principal\":";
    jsonString(&out, request.identity.principal);
    out += ",\"account\":";
    jsonString(&out, request.identity.account);
    out += ",\"anonymous\":";
    out += request.anonymous ? "true" : "false";
    out += ",\"request_id\":";
    jsonString(&out, request.request_id);
    out += ",\"before\":";
    jsonDecision(&out, p.before, change.before);
    out += ",\"after\":";
    jsonDecision(&out, p.after, change.after);
    out += '}';
  }
  out += "]}\n";
  std::cout << out;
}

std::shared_ptr<const config::Snapshot> load(const std::string& path) {
  config::LoadResult result = config::loadFile(path);
  for (const config::Diagnostic& error : result.errors) {
    std::cerr << config::format(error) << "\n";
  }
  return result.snapshot;
}

}  // namespace

PolicyCommand::PolicyCommand(CLI::App* app) {
  CLI::App* policy = app->add_subcommand("policy", "authorization policy tools");
  policy->require_subcommand(1);
  impact_ = policy->add_subcommand(
      "impact", "who gains or loses access when config OLD is replaced by NEW (exit 3 if any)");
  impact_->add_option("--from", from_, "the current config (OLD)")->required();
  impact_->add_option("--to", to_, "the proposed config (NEW)")->required();
  impact_->add_option("--accounts", accounts_,
                      "JSON lines: {\"account\", \"principals\", \"roles\", \"scopes\", "
                      "\"claims\"} to sweep over every route and method");
  impact_->add_option("--requests", requests_,
                      "JSON lines of recorded requests to replay (docs/authorization.md)");
  impact_->add_option("--format", format_, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  impact_->add_option("--limit", limit_,
                      "accounts listed per entry (and requests listed); 0: all (default: 10 in "
                      "the table, all in JSON)");
  impact_->add_option("--threads", threads_, "threads for the sweep (default 2)")
      ->check(CLI::Range(1, 64));
}

int PolicyCommand::run() const {
  std::shared_ptr<const config::Snapshot> before = load(from_);
  std::shared_ptr<const config::Snapshot> after = load(to_);
  if (!before || !after) return 1;
  std::vector<ImpactAccount> accounts;
  if (!accounts_.empty() && !readAccounts(accounts_, &accounts)) return 1;
  std::vector<LoggedRequest> requests;
  std::vector<size_t> lines;
  if (!requests_.empty() && !readRequests(requests_, &requests, &lines)) return 1;

  policy::ImpactConfig old_view = viewOf(*before);
  policy::ImpactConfig new_view = viewOf(*after);
  policy::ImpactOptions options;
  options.threads = threads_;
  policy::ImpactReport report =
      policy::computeImpact(old_view, new_view, accounts, requests, options);

  bool json = format_ == "json";
  Printing printing{report, old_view, new_view, accounts, requests, lines, from_, to_, requests_};
  printing.limit = limit_ >= 0 ? static_cast<size_t>(limit_) : json ? 0 : 10;
  if (json) {
    printJson(printing);
  } else {
    printTable(printing);
  }
  std::cout.flush();
  return report.changed() ? 3 : 0;
}

}  // namespace rampart::cli
