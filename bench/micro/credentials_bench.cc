// Phase 5 around the JWT engine: a repeated token served from the worker's
// token cache (the common case), the whole phase on a cache hit (credential
// extraction from the headers included), and an API-key lookup (SHA-256 and
// a digest-map probe). Verification per algorithm is in auth_bench.cc.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "auth/api_keys.h"
#include "auth/authenticate.h"
#include "auth/token_cache.h"

namespace {

using namespace rampart::auth;

// Token-shaped strings of a realistic size (~300 bytes), all distinct.
std::vector<std::string> tokens(size_t count) {
  std::vector<std::string> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    std::string t = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0.";
    t += std::string(180, 'x');
    t += std::to_string(i);
    t += ".";
    t += std::string(86, 'y');
    out.push_back(std::move(t));
  }
  return out;
}

std::shared_ptr<const Identity> identity() {
  auto id = std::make_shared<Identity>();
  id->kind = CredentialKind::kJwt;
  id->principal = "alice";
  id->scopes = {"orders:read"};
  return id;
}

// A cache holding 10,000 live tokens (a worker's default), probed in turn.
void BM_TokenCacheHit(benchmark::State& state) {
  std::vector<std::string> pool = tokens(10000);
  TokenCache cache(10000);
  for (const std::string& t : pool) cache.insert(t, identity(), 2'000'000'000, 1);
  size_t i = 0;
  for (auto _ : state) {
    auto hit = cache.find(pool[i], 1'700'000'000, 1);
    benchmark::DoNotOptimize(hit);
    if (++i == pool.size()) i = 0;
  }
}
BENCHMARK(BM_TokenCacheHit);

// The same, probed in a random order, as a worker sees tokens from many
// clients: each probe's cache lines are cold unless the cache keeps them few.
void BM_TokenCacheHitRandomOrder(benchmark::State& state) {
  std::vector<std::string> pool = tokens(10000);
  TokenCache cache(10000);
  for (const std::string& t : pool) cache.insert(t, identity(), 2'000'000'000, 1);
  std::vector<size_t> order(pool.size());
  uint64_t x = 88172645463325252ULL;  // xorshift: a fixed, repeatable order
  for (size_t& o : order) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    o = x % pool.size();
  }
  size_t i = 0;
  for (auto _ : state) {
    auto hit = cache.find(pool[order[i]], 1'700'000'000, 1);
    benchmark::DoNotOptimize(hit);
    if (++i == order.size()) i = 0;
  }
}
BENCHMARK(BM_TokenCacheHitRandomOrder);

// The whole phase for a repeated token: Authorization header found among
// ten headers, "Bearer" stripped, cache probed, scopes checked.
void BM_AuthenticatePhaseCacheHit(benchmark::State& state) {
  std::vector<std::string> pool = tokens(10000);
  std::vector<std::string> values;
  for (const std::string& t : pool) values.push_back("Bearer " + t);
  std::vector<Provider> providers(1);
  providers[0].name = "users";
  providers[0].kind = Provider::Kind::kJwt;
  RouteRequirement route;
  route.providers = {0};
  route.required_scopes = {"orders:read"};
  AuthWorkerState worker(10000);
  const IdentityHeaderNames header_names;
  // Warm the cache the way the phase does: generation of provider 0, epoch 0.
  for (const std::string& t : pool) worker.cache.insert(t, identity(), 2'000'000'000, 0);
  rampart::http::RequestHead head;
  const char* names[] = {"host",
                         "user-agent",
                         "accept",
                         "accept-encoding",
                         "accept-language",
                         "x-forwarded-for",
                         "cookie",
                         "referer",
                         "content-type",
                         "authorization"};
  for (const char* name : names) head.headers.push_back({name, "some-value-of-typical-length"});
  size_t i = 0;
  for (auto _ : state) {
    head.headers.back().value = values[i];
    AuthInput input{&head, {}, 1'700'000'000, &header_names};
    AuthResult result = authenticate(route, providers, input, worker);
    if (result.outcome != AuthOutcome::kAuthenticated) state.SkipWithError("not a cache hit");
    benchmark::DoNotOptimize(result);
    if (++i == pool.size()) i = 0;
  }
}
BENCHMARK(BM_AuthenticatePhaseCacheHit);

// An API key among 10,000 keys.
void BM_ApiKeyLookup(benchmark::State& state) {
  std::vector<ApiKeyEntry> entries;
  std::vector<std::string> keys;
  for (int i = 0; i < 10000; ++i) {
    keys.push_back("key-" + std::to_string(i) + "-0123456789abcdef0123456789");
    ApiKeyEntry entry;
    entry.digest = sha256(keys.back());
    entry.identity = identity();
    entries.push_back(std::move(entry));
  }
  ApiKeyStore store(std::move(entries));
  size_t i = 0;
  for (auto _ : state) {
    const ApiKeyEntry* found = store.find(keys[i]);
    if (found == nullptr) state.SkipWithError("key not found");
    benchmark::DoNotOptimize(found);
    if (++i == keys.size()) i = 0;
  }
}
BENCHMARK(BM_ApiKeyLookup);

}  // namespace
