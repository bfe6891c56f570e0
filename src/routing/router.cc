#include "routing/router.h"

#include <re2/re2.h>

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <array>
#include <optional>

namespace rampart::routing {

namespace {

// Longer hosts cannot be DNS names (RFC 1035: 253 bytes); they can still
// reach the catch-all "*" virtual host, but no named one.
constexpr size_t kMaxHostLength = 255;

// How long the bounds of a regex's possible matches may be: enough to hold
// the literal head of typical path patterns ("/api/v1/users/").
constexpr int kRegexRangeLength = 32;

char lowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

struct CompiledRoute {
  Route route;
  PathMatchKind kind = PathMatchKind::kPrefix;
  std::string path;
  std::unique_ptr<RE2> regex;
  // Every path the regex can match lies in [regex_min, regex_max] (RE2's
  // PossibleMatchRange): two compares skip most regexes without running them.
  std::string regex_min;
  std::string regex_max;
  bool regex_range = false;
  std::vector<std::string> methods;
  std::vector<HeaderMatch> headers;
};

struct VirtualHost {
  std::vector<CompiledRoute> routes;
};

bool prefixMatches(std::string_view prefix, std::string_view path) {
  if (!path.starts_with(prefix)) return false;
  // Segment boundary: "/api" must not match "/apix".
  return path.size() == prefix.size() || prefix.back() == '/' || path[prefix.size()] == '/';
}

bool pathMatches(const CompiledRoute& route, std::string_view path) {
  switch (route.kind) {
    case PathMatchKind::kExact:
      return path == route.path;
    case PathMatchKind::kPrefix:
      return prefixMatches(route.path, path);
    case PathMatchKind::kRegex:
      if (route.regex_range && (path < route.regex_min || path > route.regex_max)) return false;
      return RE2::FullMatch(re2::StringPiece(path.data(), path.size()), *route.regex);
  }
  return false;
}

bool methodMatches(const CompiledRoute& route, std::string_view method) {
  if (route.methods.empty()) return true;
  return std::any_of(route.methods.begin(), route.methods.end(),
                     [method](const std::string& m) { return m == method; });
}

// Any one header of that name satisfying the match is enough.
bool headerMatches(const HeaderMatch& match, const std::vector<http::Header>* headers) {
  if (headers == nullptr) return false;
  bool presenceOnly = match.present && match.value.empty();
  for (const http::Header& header : *headers) {
    if (!http::equalsIgnoreCase(header.name, match.name)) continue;
    if (presenceOnly || header.value == match.value) return true;
  }
  return false;
}

bool routeMatches(const CompiledRoute& route, const MatchInput& input) {
  if (!pathMatches(route, input.path) || !methodMatches(route, input.method)) return false;
  return std::all_of(route.headers.begin(), route.headers.end(),
                     [&input](const HeaderMatch& m) { return headerMatches(m, input.headers); });
}

// The host part of a Host value: without ":port" (an IPv6 literal keeps its
// brackets), lowercased into `buffer`, without one trailing dot. Returns
// nullopt when it cannot name a virtual host.
std::optional<std::string_view> normalizeHost(std::string_view host,
                                              std::array<char, kMaxHostLength>& buffer) {
  size_t end;
  if (!host.empty() && host[0] == '[') {
    end = host.find(']');
    end = end == std::string_view::npos ? host.size() : end + 1;
  } else {
    end = std::min(host.find(':'), host.size());
  }
  if (end > 0 && host[end - 1] == '.') --end;
  if (end == 0 || end > buffer.size()) return std::nullopt;
  for (size_t i = 0; i < end; ++i) buffer[i] = lowerAscii(host[i]);
  return std::string_view(buffer.data(), end);
}

bool isLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// A lowercased domain without a wildcard: dot-separated non-empty labels, or
// an IPv6 literal in brackets.
bool isValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxHostLength) return false;
  if (name[0] == '[') {
    if (name.size() < 3 || name.back() != ']') return false;
    return std::all_of(name.begin() + 1, name.end() - 1, [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
    });
  }
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (isLabelChar(c)) {
      ++label;
    } else {
      return false;
    }
  }
  return label != 0;
}

}  // namespace

struct RouteTable::Impl {
  std::vector<VirtualHost> hosts;
  // Keyed by std::string, looked up by absl::string_view (Debian's abseil
  // keeps its own string_view type) so match() never builds a string.
  absl::flat_hash_map<std::string, uint32_t> exact;  // domain -> host index
  // Wildcard suffixes stored with their leading dot (".example.com"), so a
  // lookup of each suffix of the host starting at a '.' finds them.
  absl::flat_hash_map<std::string, uint32_t> wildcard;
  std::optional<uint32_t> catch_all;
  size_t route_count = 0;

  const VirtualHost* findHost(std::string_view rawHost) const;
  bool addDomain(std::string_view domain, uint32_t hostIndex, const std::string& hostName,
                 std::vector<std::string>& owners, std::string* error);
};

const VirtualHost* RouteTable::Impl::findHost(std::string_view rawHost) const {
  std::array<char, kMaxHostLength> buffer;
  std::optional<std::string_view> host = normalizeHost(rawHost, buffer);
  if (host) {
    if (auto it = exact.find(absl::string_view(host->data(), host->size())); it != exact.end()) {
      return &hosts[it->second];
    }
    // Suffixes from the longest: "a.b.example.com" tries ".b.example.com",
    // then ".example.com", then ".com". The first label is never empty, so
    // "*.example.com" never matches "example.com" itself.
    if (!wildcard.empty()) {
      for (size_t dot = host->find('.', 1); dot != std::string_view::npos;
           dot = host->find('.', dot + 1)) {
        if (auto it = wildcard.find(absl::string_view(host->data() + dot, host->size() - dot));
            it != wildcard.end()) {
          return &hosts[it->second];
        }
      }
    }
  }
  return catch_all ? &hosts[*catch_all] : nullptr;
}

bool RouteTable::Impl::addDomain(std::string_view domain, uint32_t hostIndex,
                                 const std::string& hostName, std::vector<std::string>& owners,
                                 std::string* error) {
  auto fail = [&](std::string_view why) {
    if (error != nullptr) {
      *error = "virtual host \"" + hostName + "\": domain \"" + std::string(domain) + "\" " +
               std::string(why);
    }
    return false;
  };
  std::string name(domain);
  std::transform(name.begin(), name.end(), name.begin(), lowerAscii);
  // "example.com." is "example.com"; "*." stays malformed.
  if (name.size() > 1 && name.back() == '.' && name != "*.") name.pop_back();

  absl::flat_hash_map<std::string, uint32_t>* table = &exact;
  std::string key = name;
  if (name == "*") {
    if (catch_all && *catch_all != hostIndex) {
      return fail("also appears in virtual host \"" + owners[*catch_all] + "\"");
    }
    catch_all = hostIndex;
    return true;
  }
  if (name.starts_with("*.")) {
    if (!isValidName(std::string_view(name).substr(2)) || name[2] == '[') {
      return fail("is malformed: a wildcard is \"*.\" followed by a domain");
    }
    table = &wildcard;
    key = name.substr(1);
  } else if (!isValidName(name)) {
    return fail("is malformed: expected labels of [a-z0-9_-], \"*.\" + domain, \"*\" or [ipv6]");
  }
  auto [it, inserted] = table->emplace(key, hostIndex);
  if (!inserted && it->second != hostIndex) {
    return fail("also appears in virtual host \"" + owners[it->second] + "\"");
  }
  return true;
}

RouteTable::RouteTable() : impl_(std::make_unique<Impl>()) {}
RouteTable::~RouteTable() = default;
RouteTable::RouteTable(RouteTable&&) noexcept = default;
RouteTable& RouteTable::operator=(RouteTable&&) noexcept = default;

namespace {

bool compileRoute(const RouteSpec& spec, uint32_t index, const std::string& hostName,
                  CompiledRoute& out, std::string* error) {
  auto fail = [&](std::string_view why) {
    if (error != nullptr) {
      *error =
          "virtual host \"" + hostName + "\": route \"" + spec.name + "\": " + std::string(why);
    }
    return false;
  };
  out.route =
      Route{spec.name,  index,      spec.cluster_index, spec.max_body_bytes, spec.method_override,
            spec.split, spec.mirror};
  out.kind = spec.kind;
  out.path = spec.path;
  out.methods = spec.methods;
  out.headers = spec.headers;
  if (spec.kind == PathMatchKind::kRegex) {
    RE2::Options options;
    options.set_log_errors(false);
    out.regex = std::make_unique<RE2>(spec.path, options);
    if (!out.regex->ok()) return fail("bad regex \"" + spec.path + "\": " + out.regex->error());
    out.regex_range =
        out.regex->PossibleMatchRange(&out.regex_min, &out.regex_max, kRegexRangeLength);
  } else if (spec.path.empty() || spec.path[0] != '/') {
    // Canonical paths always start with '/': such a route could never match.
    return fail("path \"" + spec.path + "\" must start with '/'");
  }
  for (const HeaderMatch& header : spec.headers) {
    if (header.name.empty()) return fail("header match without a name");
  }
  return true;
}

}  // namespace

bool RouteTable::compile(const std::vector<VirtualHostSpec>& hosts, std::string* error) {
  // Build aside and swap in, so a failed compile leaves the table unchanged.
  auto next = std::make_unique<Impl>();
  std::vector<std::string> owners;
  uint32_t routeIndex = 0;
  for (const VirtualHostSpec& spec : hosts) {
    auto hostIndex = static_cast<uint32_t>(next->hosts.size());
    owners.push_back(spec.name);
    for (const std::string& domain : spec.domains) {
      if (!next->addDomain(domain, hostIndex, spec.name, owners, error)) return false;
    }
    VirtualHost& host = next->hosts.emplace_back();
    host.routes.resize(spec.routes.size());
    for (size_t i = 0; i < spec.routes.size(); ++i) {
      if (!compileRoute(spec.routes[i], routeIndex++, spec.name, host.routes[i], error)) {
        return false;
      }
    }
  }
  next->route_count = routeIndex;
  impl_ = std::move(next);
  return true;
}

const Route* RouteTable::match(const MatchInput& input) const {
  if (!impl_) return nullptr;  // moved from
  const VirtualHost* host = impl_->findHost(input.host);
  if (host == nullptr) return nullptr;
  for (const CompiledRoute& route : host->routes) {
    if (routeMatches(route, input)) return &route.route;
  }
  return nullptr;
}

size_t RouteTable::routeCount() const {
  return impl_ ? impl_->route_count : 0;
}

}  // namespace rampart::routing
