// External authorization on a cache hit: building the key from the request
// (principal, route, path) and the decision cache's lookup, over 10,000
// distinct cached callers. This is all a cached decision costs a request.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "authz/authorizer.h"
#include "authz/decision_cache.h"

namespace {

using namespace rampart::authz;

void BM_CachedDecision(benchmark::State& state) {
  constexpr size_t kCallers = 10000;
  std::vector<rampart::auth::Identity> ids(kCallers);
  for (size_t i = 0; i < kCallers; ++i) {
    ids[i].kind = rampart::auth::CredentialKind::kJwt;
    ids[i].principal = "user-" + std::to_string(i);
    ids[i].account = "acme";
  }
  std::vector<KeyPart> parts(3);
  parts[0].kind = KeyPart::Kind::kPrincipal;
  parts[1].kind = KeyPart::Kind::kRoute;
  parts[2].kind = KeyPart::Kind::kPath;
  DecisionCache cache(kCallers * 2, 60'000, 300'000);
  CheckInput input;
  input.method = "GET";
  input.route = "orders";
  input.path = "/orders/7";
  std::string key;
  for (size_t i = 0; i < kCallers; ++i) {
    input.identity = &ids[i];
    buildKey(parts, input, &key);
    cache.insert(key, true, "X-User-Plan: gold\r\n", 0);
  }
  size_t i = 0;
  for (auto _ : state) {
    input.identity = &ids[i];
    buildKey(parts, input, &key);
    const DecisionCache::Decision* hit = cache.findFresh(key, 1000);
    benchmark::DoNotOptimize(hit);
    if (++i == kCallers) i = 0;
  }
}
BENCHMARK(BM_CachedDecision);

}  // namespace
