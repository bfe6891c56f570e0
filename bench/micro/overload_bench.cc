// The overload engines on one core, per request: an adaptive concurrency
// acquire + release (windows closing every 256 latencies included), a shedder
// admit + release, a fair queue enqueue + dequeue with 1,000 requests waiting
// across many flows, and a baseline check against 1,000,000 known clients
// (random keys, a hot key, a flood of new keys evicting).
#include <benchmark/benchmark.h>

#include <vector>

#include "shield/shield.h"

namespace {

using namespace rampart::shield;

constexpr Nanos kStart = 1'000'000 * kSecond;

struct XorShift {
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  size_t below(size_t n) {
    return static_cast<size_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
};

Key key(uint64_t i) {
  return Key{i * 0x9e3779b97f4a7c15ULL + 1, i * 0xbf58476d1ce4e5b9ULL + 7};
}

void BM_AdaptiveAcquireRelease(benchmark::State& state) {
  AdaptiveConcurrencyPolicy policy;
  policy.min_rtt_interval = 3600 * kSecond;
  AdaptiveConcurrency limiter(policy, kStart);
  XorShift rng;
  Nanos now = kStart;
  // Keep some requests in flight so acquire works against a real count.
  for (int i = 0; i < 2; ++i) limiter.tryAcquire(now);
  for (auto _ : state) {
    const ConcurrencyVerdict v = limiter.tryAcquire(now);
    benchmark::DoNotOptimize(v);
    now += 10'000;
    if (v == ConcurrencyVerdict::kAcquired) {
      limiter.release(5'000'000 + static_cast<Nanos>(rng.below(1'000'000)), now);
    }
  }
  state.counters["limit"] = limiter.limit();
  state.counters["windows"] = static_cast<double>(limiter.stats().windows);
}
BENCHMARK(BM_AdaptiveAcquireRelease);

void BM_ShedderAdmitRelease(benchmark::State& state) {
  OverloadShedder shedder(OverloadPolicy{});
  for (int i = 0; i < 700; ++i) shedder.admit(RequestClass::kAuthenticated);  // 70% loaded
  uint32_t i = 0;
  uint64_t admitted = 0;
  for (auto _ : state) {
    const RequestClass c = static_cast<RequestClass>(i++ % kRequestClasses);
    const ShedDecision d = shedder.admit(c);
    admitted += d.admitted;
    if (d.admitted) shedder.release(c);
  }
  benchmark::DoNotOptimize(admitted);
}
BENCHMARK(BM_ShedderAdmitRelease);

// `range(0)` flows share 1,000 waiting requests; each iteration enqueues one
// from a random flow and dequeues one.
void BM_FairQueueEnqueueDequeue(benchmark::State& state) {
  const uint64_t flows = static_cast<uint64_t>(state.range(0));
  FairQueuePolicy policy;
  policy.capacity = 4096;
  policy.per_flow = 4096;
  FairQueue queue(policy);
  XorShift rng;
  uint64_t handle = 0;
  auto classOf = [](uint64_t f) {
    return f % 4 == 0 ? RequestClass::kAuthenticated : RequestClass::kAnonymous;
  };
  for (int i = 0; i < 1'000; ++i) {
    const uint64_t f = rng.below(flows);
    queue.enqueue(key(f), classOf(f), handle++, kStart);
  }
  for (auto _ : state) {
    const uint64_t f = rng.below(flows);
    queue.enqueue(key(f), classOf(f), handle++, kStart);
    benchmark::DoNotOptimize(queue.dequeue());
  }
  state.counters["waiting"] = queue.size();
  state.counters["active_flows"] = queue.flows();
}
BENCHMARK(BM_FairQueueEnqueueDequeue)->Arg(10)->Arg(1'000)->Arg(100'000);

constexpr size_t kClients = 1'000'000;
constexpr Nanos kWindow = 60 * kSecond;

// 1,000,000 clients known after three windows; a total that stays normal
// (so every check runs the whole per-client path).
Baselines& learned() {
  static Baselines* baselines = [] {
    BaselinePolicy policy;
    policy.window = kWindow;
    auto* b = new Baselines(policy, kClients);
    for (int w = 0; w < 4; ++w) {
      for (size_t i = 0; i < kClients; ++i) {
        b->check(key(i), kStart + w * kWindow + static_cast<Nanos>(i) * 50);
      }
    }
    return b;
  }();
  return *baselines;
}

void BM_BaselineCheckRandomKnown(benchmark::State& state) {
  Baselines& b = learned();
  XorShift rng;
  Nanos now = kStart + 4 * kWindow;
  uint64_t allowed = 0;
  for (auto _ : state) {
    allowed += b.check(key(rng.below(kClients)), now).allowed();
    now += 10;
  }
  benchmark::DoNotOptimize(allowed);
  state.counters["known"] = b.totalKnown();
  state.counters["MB"] = static_cast<double>(b.memoryBytes()) / 1e6;
}
BENCHMARK(BM_BaselineCheckRandomKnown);

void BM_BaselineCheckHotKey(benchmark::State& state) {
  Baselines& b = learned();
  Nanos now = kStart + 5 * kWindow;
  uint64_t allowed = 0;
  for (auto _ : state) {
    allowed += b.check(key(4242), now).allowed();
    now += 10;
  }
  benchmark::DoNotOptimize(allowed);
}
BENCHMARK(BM_BaselineCheckHotKey);

// A flood of keys never seen, into the full table of known clients: each
// one evicts, and since every entry is known the eviction scans the wide
// sample (64 entries). The worst case of the table's sizing.
void BM_BaselineCheckNewKeysFlood(benchmark::State& state) {
  Baselines& b = learned();
  Nanos now = kStart + 6 * kWindow;
  uint64_t i = 0;
  uint64_t allowed = 0;
  for (auto _ : state) {
    allowed += b.check(key(kClients + i++), now).allowed();
    now += 10;
  }
  benchmark::DoNotOptimize(allowed);
  state.counters["evictions"] = static_cast<double>(b.evictions());
  state.counters["overloaded"] = static_cast<double>(b.stats().overloaded);
}
BENCHMARK(BM_BaselineCheckNewKeysFlood);

// The same flood into a table sized at twice the known clients (the sizing
// docs/overload.md advises): new keys then evict earlier flood keys, not a
// wide sample of known clients.
void BM_BaselineCheckNewKeysFloodWithHeadroom(benchmark::State& state) {
  constexpr size_t kKnown = 100'000;
  BaselinePolicy policy;
  policy.window = kWindow;
  Baselines b(policy, 2 * kKnown);
  for (int w = 0; w < 4; ++w) {
    for (size_t i = 0; i < kKnown; ++i) {
      b.check(key(i), kStart + w * kWindow + static_cast<Nanos>(i) * 500);
    }
  }
  Nanos now = kStart + 4 * kWindow;
  uint64_t i = 0;
  uint64_t allowed = 0;
  for (auto _ : state) {
    allowed += b.check(key(kClients + i++), now).allowed();
    now += 10;
  }
  benchmark::DoNotOptimize(allowed);
  state.counters["evictions"] = static_cast<double>(b.evictions());
  size_t known = 0;
  for (size_t k = 0; k < kKnown; k += 100) known += b.known(key(k));
  state.counters["known_kept_pct"] = static_cast<double>(known) / 10;
}
BENCHMARK(BM_BaselineCheckNewKeysFloodWithHeadroom);

}  // namespace
