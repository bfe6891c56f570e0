// Recording a request's metrics: the budget is 50 ns. A request
// records one latency into its route's histogram and one into its
// cluster's, and bumps a status-class counter.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "observe/histogram.h"
#include "observe/stats.h"

namespace {

using rampart::observe::Counter;
using rampart::observe::HistogramShard;
using rampart::observe::HistogramSnapshot;

std::vector<uint64_t> latencies(size_t n) {
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> d(std::log(900.0), 1.0);
  std::vector<uint64_t> out(n);
  for (uint64_t& v : out) v = static_cast<uint64_t>(d(rng));
  return out;
}

void BM_HistogramRecord(benchmark::State& state) {
  auto shard = std::make_unique<HistogramShard>();
  std::vector<uint64_t> values = latencies(4096);
  size_t i = 0;
  for (auto _ : state) {
    shard->record(values[i++ & 4095]);
  }
  benchmark::DoNotOptimize(shard->sumMicros());
}
BENCHMARK(BM_HistogramRecord);

// What one request costs: route histogram, cluster histogram, a counter,
// with 50 routes' histograms live (their memory not all in cache).
void BM_RecordOneRequest(benchmark::State& state) {
  constexpr size_t kRoutes = 50;
  std::vector<std::unique_ptr<HistogramShard>> routes, clusters;
  for (size_t r = 0; r < kRoutes; ++r) {
    routes.push_back(std::make_unique<HistogramShard>());
    clusters.push_back(std::make_unique<HistogramShard>());
  }
  std::vector<Counter> by_status(kRoutes * 5);
  std::vector<uint64_t> values = latencies(4096);
  std::mt19937 rng(1);
  std::vector<uint32_t> route_of(4096);
  for (uint32_t& r : route_of) r = rng() % kRoutes;
  size_t i = 0;
  for (auto _ : state) {
    size_t k = i++ & 4095;
    uint32_t route = route_of[k];
    routes[route]->record(values[k]);
    clusters[route]->record(values[k] / 2);
    by_status[route * 5 + 1].inc();
  }
  benchmark::DoNotOptimize(by_status.data());
}
BENCHMARK(BM_RecordOneRequest);

// The reader's side: merging two workers' shards (the admin listener does
// this per scrape, per route).
void BM_MergeTwoShards(benchmark::State& state) {
  auto a = std::make_unique<HistogramShard>();
  auto b = std::make_unique<HistogramShard>();
  for (uint64_t v : latencies(100000)) a->record(v), b->record(v * 2);
  for (auto _ : state) {
    HistogramSnapshot s;
    s.add(*a);
    s.add(*b);
    benchmark::DoNotOptimize(s.quantileMicros(0.99));
  }
}
BENCHMARK(BM_MergeTwoShards);

}  // namespace
