// Recording a request's metrics: the budget is 50 ns. A request
// records one latency into its route's histogram and one into its
// cluster's, and bumps a status-class counter.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "observe/histogram.h"
#include "observe/metrics.h"
#include "observe/stats.h"
#include "observe/top_talkers.h"

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

// Everything the session records per request through the worker's shards:
// route histogram and status class, listener histogram, cluster (upstream)
// histogram, and the client in the top-talkers sketch, a keep-alive client
// whose remembered slot still holds it (the common case).
void BM_RecordOneRequestAllShards(benchmark::State& state) {
  rampart::observe::WorkerMetrics metrics(50, 2, std::vector<size_t>(10, 4));
  rampart::observe::TopTalkers talkers;
  std::vector<uint64_t> values = latencies(4096);
  std::vector<rampart::observe::TalkerAddress> clients(64);
  for (size_t c = 0; c < clients.size(); ++c) clients[c] = {0, 0x0000ffff00000000ULL | (c + 1)};
  std::vector<uint8_t> hints(clients.size(), UINT8_MAX);
  size_t i = 0;
  for (auto _ : state) {
    size_t k = i++ & 4095;
    auto route = static_cast<uint32_t>(k % 50);
    metrics.recordResponse(route, 200, values[k]);
    metrics.recordListener(static_cast<uint32_t>(k & 1), values[k]);
    metrics.recordCluster(route % 10, static_cast<uint32_t>(k & 3), values[k] / 2);
    size_t c = k % 16;  // 16 busy clients: they stay in the sketch
    talkers.record(clients[c], &hints[c]);
  }
  benchmark::DoNotOptimize(talkers.size());
}
BENCHMARK(BM_RecordOneRequestAllShards);

// The sketch's worst case: every request from a new address (a spoofed or
// widely spread flood), a scan of 32 counters and a replacement each time.
void BM_TopTalkersNewAddressEachTime(benchmark::State& state) {
  rampart::observe::TopTalkers talkers;
  uint64_t n = 0;
  for (auto _ : state) {
    uint8_t hint = UINT8_MAX;
    talkers.record({0, 0x0000ffff00000000ULL | (++n & 0xffffffff)}, &hint);
  }
  benchmark::DoNotOptimize(talkers.size());
}
BENCHMARK(BM_TopTalkersNewAddressEachTime);

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
