// canonicalizeTarget on typical and hostile targets, with the output reused
// across iterations as a connection reuses it across requests.
#include <benchmark/benchmark.h>

#include "http/canonical.h"

namespace {

using rampart::http::CanonicalError;
using rampart::http::canonicalizeTarget;
using rampart::http::CanonicalTarget;

void runTarget(benchmark::State& state, std::string_view raw) {
  CanonicalTarget out;
  rampart::http::CanonicalOptions options;
  for (auto _ : state) {
    CanonicalError error = canonicalizeTarget(raw, options, out);
    benchmark::DoNotOptimize(error);
    benchmark::DoNotOptimize(out.text.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw.size()));
}

void BM_Typical(benchmark::State& state) {
  runTarget(state, "/api/v1/users/12345/orders?limit=10&offset=20");
}
BENCHMARK(BM_Typical);

void BM_Root(benchmark::State& state) {
  runTarget(state, "/");
}
BENCHMARK(BM_Root);

void BM_AbsoluteForm(benchmark::State& state) {
  runTarget(state, "http://api.example.com:8080/api/v1/users/12345/orders?limit=10&offset=20");
}
BENCHMARK(BM_AbsoluteForm);

void BM_DotsAndEscapes(benchmark::State& state) {
  runTarget(state, "/api/./v1//users/%61%62c/../12345/%c3%a9/orders/.?limit=10");
}
BENCHMARK(BM_DotsAndEscapes);

void BM_LongPath(benchmark::State& state) {
  std::string raw;
  for (int i = 0; i < 64; ++i) raw += "/segment" + std::to_string(i);
  runTarget(state, raw);
}
BENCHMARK(BM_LongPath);

}  // namespace
