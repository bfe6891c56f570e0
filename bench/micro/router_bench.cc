// RouteTable::match on a table of 50 routes across 5 virtual hosts, as a
// worker runs it once per request.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "routing/router.h"

namespace {

using rampart::routing::MatchInput;
using rampart::routing::PathMatchKind;
using rampart::routing::RouteSpec;
using rampart::routing::RouteTable;
using rampart::routing::VirtualHostSpec;

// Five hosts (three exact, one wildcard, one catch-all), ten routes each:
// prefixes, a few exact paths, method and header constraints (in the last
// host regexes), then a fallback prefix "/".
RouteTable buildTable() {
  const char* domains[] = {"api.example.com", "www.example.com", "admin.example.com",
                           "*.apps.example.com", "*"};
  std::vector<VirtualHostSpec> hosts;
  for (int h = 0; h < 5; ++h) {
    VirtualHostSpec host;
    host.name = "host" + std::to_string(h);
    host.domains = {domains[h]};
    for (int r = 0; r < 9; ++r) {
      RouteSpec route;
      route.name = host.name + "-route" + std::to_string(r);
      route.path = "/service" + std::to_string(r) + "/v1";
      route.kind = PathMatchKind::kPrefix;
      if (r % 4 == 1) route.kind = PathMatchKind::kExact;
      if (r % 3 == 2) route.methods = {"POST", "PUT"};
      if (r == 3) route.headers = {{"x-canary", "yes", false}};
      if (h == 4 && r % 2 == 0) {
        route.kind = PathMatchKind::kRegex;
        route.path = "/service" + std::to_string(r) + "/v1/[0-9]+";
      }
      route.cluster_index = static_cast<uint32_t>(r);
      host.routes.push_back(std::move(route));
    }
    RouteSpec fallback;
    fallback.name = host.name + "-fallback";
    fallback.path = "/";
    host.routes.push_back(std::move(fallback));
    hosts.push_back(std::move(host));
  }
  RouteTable table;
  std::string error;
  if (!table.compile(hosts, &error)) std::abort();
  return table;
}

void runMatch(benchmark::State& state, std::string_view host, std::string_view path,
              std::string_view method) {
  RouteTable table = buildTable();
  std::vector<rampart::http::Header> headers = {
      {"Host", host}, {"User-Agent", "bench/1.0"}, {"Accept", "*/*"}, {"X-Canary", "no"}};
  MatchInput input;
  input.host = host;
  input.path = path;
  input.method = method;
  input.headers = &headers;
  if (table.match(input) == nullptr) std::abort();
  for (auto _ : state) {
    benchmark::DoNotOptimize(table.match(input));
  }
}

// Mid-table: third host, route 4 (a prefix route after four misses).
void BM_PrefixMidTable(benchmark::State& state) {
  runMatch(state, "admin.example.com", "/service4/v1/users/12345", "GET");
}
BENCHMARK(BM_PrefixMidTable);

void BM_PrefixHostWithPort(benchmark::State& state) {
  runMatch(state, "Admin.Example.com:8443", "/service4/v1/users/12345", "GET");
}
BENCHMARK(BM_PrefixHostWithPort);

void BM_WildcardHost(benchmark::State& state) {
  runMatch(state, "tenant42.apps.example.com", "/service4/v1/users/12345", "GET");
}
BENCHMARK(BM_WildcardHost);

// Route 3 matches on path but wants a header the request lacks: every later
// route is tried until the fallback.
void BM_HeaderMissToFallback(benchmark::State& state) {
  runMatch(state, "api.example.com", "/service3/v1", "GET");
}
BENCHMARK(BM_HeaderMissToFallback);

void BM_ExactPath(benchmark::State& state) {
  runMatch(state, "api.example.com", "/service1/v1", "GET");
}
BENCHMARK(BM_ExactPath);

void BM_RegexCatchAll(benchmark::State& state) {
  runMatch(state, "unknown.org", "/service6/v1/12345", "GET");
}
BENCHMARK(BM_RegexCatchAll);

}  // namespace
