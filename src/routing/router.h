// Route table: chooses the route of a request by virtual host, then path,
// method and headers (phase 4, "route"). Compiled once per config snapshot,
// immutable, shared read-only by every worker.
//
// Precedence (documented in docs/configuration.md and tested):
//  - virtual host: an exact domain beats a wildcard ("*.example.com", the
//    longest suffix wins), which beats the catch-all "*";
//  - route: inside the chosen virtual host the FIRST declared route whose
//    path, methods and headers all match wins (as in Envoy and Caddy); order
//    specific routes before general ones.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"
#include "routing/mirror.h"
#include "routing/weighted.h"

namespace rampart::routing {

enum class PathMatchKind : uint8_t {
  kExact,   // the canonical path equals `path`
  kPrefix,  // `path` is a prefix ending on a segment boundary: "/api" matches "/api", "/api/x", not
            // "/apix"
  kRegex,   // RE2 full match against the canonical path
};

struct HeaderMatch {
  std::string name;   // case-insensitive
  std::string value;  // exact value; empty with `present` true means "header present"
  bool present = false;
};

// One route as written in the config, with its cluster already resolved.
struct RouteSpec {
  std::string name;
  PathMatchKind kind = PathMatchKind::kPrefix;
  std::string path;                  // exact path, prefix, or RE2 pattern
  std::vector<std::string> methods;  // empty: any method
  std::vector<HeaderMatch> headers;  // all must match
  uint32_t cluster_index = 0;        // index into Snapshot::clusters
  uint64_t max_body_bytes = 0;       // 0: no limit
  bool method_override = false;      // honour X-HTTP-Method-Override (policy sees that method)
  // `clusters:` a weighted split (weighted.h); null: cluster_index alone.
  // With a split, cluster_index is its first listed cluster.
  std::shared_ptr<const Split> split;
  std::shared_ptr<const Mirror> mirror;  // `mirror:` (mirror.h); null: none
};

struct VirtualHostSpec {
  std::string name;
  std::vector<std::string> domains;  // "api.example.com", "*.example.com", or "*"
  std::vector<RouteSpec> routes;
};

// A compiled route. Lives as long as its snapshot.
struct Route {
  std::string name;
  uint32_t index = 0;  // stable index of this route in the snapshot (for stats)
  uint32_t cluster_index = 0;
  uint64_t max_body_bytes = 0;
  bool method_override = false;
  std::shared_ptr<const Split> split;    // null: always cluster_index (phase 8 chooses)
  std::shared_ptr<const Mirror> mirror;  // null: no request is mirrored
};

// What the router looks at: all views into the current request.
struct MatchInput {
  std::string_view host;  // Host header or absolute-form authority; may carry ":port"
  std::string_view path;  // the canonical path (no query)
  std::string_view method;
  const std::vector<http::Header>* headers = nullptr;
};

class RouteTable {
 public:
  RouteTable();
  ~RouteTable();
  RouteTable(RouteTable&&) noexcept;
  RouteTable& operator=(RouteTable&&) noexcept;

  // Compiles the virtual hosts. Returns false with `error` set (naming the
  // route) when a regex does not compile or a domain is malformed.
  bool compile(const std::vector<VirtualHostSpec>& hosts, std::string* error);

  // The matching route, or nullptr (the session answers 404). No allocation.
  const Route* match(const MatchInput& input) const;

  size_t routeCount() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::routing
