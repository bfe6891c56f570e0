// Cluster admission (proxy/cluster_admission.h) on one core, per request, as
// the session drives it: the fast path (a slot is free: admit, response
// head, finish, with the three precise clock reads it costs), and the queued
// path (every slot taken: admit into the fair queue, then a finishing request
// hands its slot over), with the anonymous spread over many /24 flows.
#include <benchmark/benchmark.h>

#include <deque>
#include <vector>

#include "proxy/cluster_admission.h"

namespace {

using namespace rampart;
using proxy::AdmitVerdict;
using proxy::ClusterAdmission;
using proxy::ClusterHold;

struct Waiter : proxy::SlotWaiter {
  void onClusterSlot() override {}
};

shield::ClusterAdmissionPolicy policy() {
  shield::ClusterAdmissionPolicy p;
  p.concurrency.min_rtt_interval = 3600 * shield::kSecond;
  p.concurrency.probe_limit = p.concurrency.initial_limit;  // no probe pinning the limit
  return p;
}

net::SocketAddress address(uint32_t i) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(0x0A000000u | (i << 8) | 1);  // 10.x.y.1: one /24 each
  return net::SocketAddress(reinterpret_cast<sockaddr*>(&in), sizeof(in));
}

void BM_AdmitFinishFastPath(benchmark::State& state) {
  shield::KeyDeriver keys(shield::Seed{1, 2});
  ClusterAdmission admission(policy(), &keys, proxy::preciseNanos());
  net::SocketAddress client = address(1);
  Waiter waiter;
  ClusterHold hold;
  for (auto _ : state) {
    AdmitVerdict v = admission.admit(&hold, {nullptr, &client}, shield::RequestClass::kAnonymous,
                                     &waiter, proxy::preciseNanos());
    benchmark::DoNotOptimize(v);
    hold.head_at = proxy::preciseNanos();
    admission.finish(&hold, proxy::preciseNanos());
  }
  state.counters["limit"] = admission.limiter().limit();
}
BENCHMARK(BM_AdmitFinishFastPath);

// A request of the queued benchmark: told when it gets its slot.
struct Request : proxy::SlotWaiter {
  ClusterHold hold;
  std::deque<Request*>* holders = nullptr;
  void onClusterSlot() override { holders->push_back(this); }
};

void BM_QueueAndHandOver(benchmark::State& state) {
  shield::KeyDeriver keys(shield::Seed{1, 2});
  shield::ClusterAdmissionPolicy p = policy();
  p.concurrency.min_limit = p.concurrency.max_limit = 64;
  p.concurrency.initial_limit = p.concurrency.probe_limit = 64;
  p.concurrency.queue_min = 1000;
  p.queue.capacity = 2048;
  p.queue.per_flow = 2048;
  p.queue.reserved_authenticated = 0;
  ClusterAdmission admission(p, &keys, 0);
  const uint32_t flows = static_cast<uint32_t>(state.range(0));
  std::vector<net::SocketAddress> clients;
  for (uint32_t i = 0; i < flows; ++i) clients.push_back(address(i));
  // 64 hold slots and 1,000 wait: each iteration one more comes, and the
  // oldest slot holder ends and hands its slot over.
  std::vector<Request> requests(2048);
  std::deque<Request*> holders;
  std::vector<Request*> free;
  for (Request& r : requests) {
    r.holders = &holders;
    free.push_back(&r);
  }
  shield::Nanos now = 1'000 * shield::kSecond;
  uint64_t arrivals = 0;
  auto arrive = [&] {
    Request* r = free.back();
    free.pop_back();
    const AdmitVerdict v = admission.admit(&r->hold, {nullptr, &clients[arrivals++ % flows]},
                                           shield::RequestClass::kAnonymous, r, now);
    if (v == AdmitVerdict::kForward) holders.push_back(r);
    return v;
  };
  for (int i = 0; i < 1064; ++i) arrive();
  for (auto _ : state) {
    now += 1000;
    benchmark::DoNotOptimize(arrive());
    Request* done = holders.front();
    holders.pop_front();
    done->hold.head_at = now;
    admission.finish(&done->hold, now);
    free.push_back(done);
  }
  state.counters["waiting"] = admission.waiting();
}
BENCHMARK(BM_QueueAndHandOver)->Arg(10)->Arg(1000);

}  // namespace
