// The shield as wired into the request path (proxy/shield_phase.cc): phase 3
// with one listener limit, phase 7 with two route limits, the whole phase
// runner with and without them (the difference is what the shield costs a
// request), the client address behind a trusted proxy, and the overload
// glue (proxy/overload_phase.cc: learned baselines and the shedder's
// admission plus release). Limits are set
// high so every request is allowed (the common case); the tables hold up to
// 1,000,000 keys and random-client runs spread over that many addresses.
#include <benchmark/benchmark.h>

#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "config/config.h"
#include "http/parser.h"
#include "proxy/shield_phase.h"

namespace {

using namespace rampart;

std::string configText(bool limits, bool overload) {
  std::string text = R"(
shield:
  trusted_proxies: ["10.0.0.0/8"]
  max_tracked_keys: 1000000
)";
  if (overload) text += "  overload: {capacity: 1000000}\n  baselines: {key: prefix}\n";
  text += R"(listeners:
  - name: main
    address: "127.0.0.1:8080"
)";
  if (limits) {
    text +=
        "    limits:\n      - {name: per-ip, key: address, rate: 1000000000/s, burst: 1000000}\n";
  }
  text += R"(clusters: [{name: app, endpoints: ["127.0.0.1:9000"]}]
virtual_hosts:
  - name: v
    routes:
      - name: api
        match: {prefix: /api}
        cluster: app
        public: true
)";
  if (limits) {
    text +=
        "        limits:\n"
        "          - {name: per-prefix, key: prefix, rate: 1000000000/s, burst: 1000000}\n"
        "          - {name: per-tenant, key: \"header:x-tenant\", rate: 1000000000/s, burst: "
        "1000000}\n";
  }
  return text;
}

struct Fixture {
  explicit Fixture(bool limits, const char* peer_text = "192.0.2.1:4000",
                   const std::string& extra = "", bool with_overload = false) {
    config::LoadResult result = config::loadString(configText(limits, with_overload), "bench.yaml");
    if (!result.ok()) {
      std::fprintf(stderr, "%s\n", config::format(result.errors[0]).c_str());
      std::abort();
    }
    snapshot = result.snapshot;
    shield = std::make_unique<shield::WorkerShield>(snapshot->shield, shield::Seed{3, 4});
    overload = std::make_unique<shield::WorkerOverload>(
        snapshot->shield.overload, snapshot->shield.baselines, snapshot->shield.max_tracked_keys,
        shield::Seed{5, 6});
    auth = std::make_unique<auth::AuthWorkerState>(16);
    raw =
        "GET /api/orders?id=7 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: bench\r\n"
        "Accept: */*\r\nx-tenant: acme\r\n" +
        extra + "\r\n";
    head.headers.reserve(32);
    http::parseRequestHead(raw, snapshot->http.limits, head);
    peer = *net::SocketAddress::parseNumeric(peer_text);
  }

  proxy::RequestContext context(int64_t nanos) {
    proxy::RequestContext ctx;
    ctx.snapshot = snapshot.get();
    ctx.head = &head;
    ctx.peer = &peer;
    ctx.target = &target;
    ctx.auth_state = auth.get();
    ctx.now = 1'700'000'000;
    ctx.reply_headers = &headers;
    ctx.shield = shield.get();
    ctx.overload = overload.get();
    ctx.mono_nanos = nanos;
    return ctx;
  }

  // Rewrites the peer's IPv4 address in place (a different client each call).
  void setPeer(uint32_t ip) {
    auto* sin = reinterpret_cast<sockaddr_in*>(const_cast<sockaddr*>(peer.sockaddrPtr()));
    sin->sin_addr.s_addr = htonl(ip);
  }

  std::shared_ptr<const config::Snapshot> snapshot;
  std::unique_ptr<shield::WorkerShield> shield;
  std::unique_ptr<shield::WorkerOverload> overload;
  std::unique_ptr<auth::AuthWorkerState> auth;
  std::string raw;
  http::RequestHead head;
  http::CanonicalTarget target;
  net::SocketAddress peer;
  std::string headers;
};

constexpr int64_t kStart = int64_t{1000} * 1'000'000'000;

// Phase 3 with one per-address limit, one client (its state stays in cache).
void BM_ShieldPhaseOneLimitHotClient(benchmark::State& state) {
  Fixture f(true);
  int64_t now = kStart;
  for (auto _ : state) {
    proxy::RequestContext ctx = f.context(now += 1000);
    benchmark::DoNotOptimize(proxy::shieldRequest(ctx));
  }
}
BENCHMARK(BM_ShieldPhaseOneLimitHotClient);

// Phase 3, a different client each time, 1,000,000 of them (cache misses).
void BM_ShieldPhaseOneLimitMillionClients(benchmark::State& state) {
  Fixture f(true);
  int64_t now = kStart;
  uint32_t i = 0;
  for (auto _ : state) {
    f.setPeer(0x0a000000u + (i++ * 2654435761u) % 1'000'000u);
    proxy::RequestContext ctx = f.context(now += 1000);
    benchmark::DoNotOptimize(proxy::shieldRequest(ctx));
  }
}
BENCHMARK(BM_ShieldPhaseOneLimitMillionClients);

// Phase 7 with two limits (prefix, header): peek both, then charge both.
void BM_LimitPhaseTwoLimitsHotClient(benchmark::State& state) {
  Fixture f(true);
  int64_t now = kStart;
  proxy::RequestContext warm = f.context(now);
  proxy::runRequestPhases(warm);  // sets the route
  const routing::Route* route = warm.route;
  for (auto _ : state) {
    proxy::RequestContext ctx = f.context(now += 1000);
    ctx.route = route;
    ctx.client = &f.peer;
    benchmark::DoNotOptimize(proxy::limitRequest(ctx));
  }
}
BENCHMARK(BM_LimitPhaseTwoLimitsHotClient);

// Phases 2-7 without any limit, then with three (one listener, two route):
// the difference is what the wired shield adds to a request.
void BM_AllPhasesNoLimits(benchmark::State& state) {
  Fixture f(false);
  int64_t now = kStart;
  for (auto _ : state) {
    proxy::RequestContext ctx = f.context(now += 1000);
    benchmark::DoNotOptimize(proxy::runRequestPhases(ctx));
  }
}
BENCHMARK(BM_AllPhasesNoLimits);

void BM_AllPhasesThreeLimits(benchmark::State& state) {
  Fixture f(true);
  int64_t now = kStart;
  for (auto _ : state) {
    proxy::RequestContext ctx = f.context(now += 1000);
    benchmark::DoNotOptimize(proxy::runRequestPhases(ctx));
  }
}
BENCHMARK(BM_AllPhasesThreeLimits);

void BM_AllPhasesThreeLimitsMillionClients(benchmark::State& state) {
  Fixture f(true);
  int64_t now = kStart;
  uint32_t i = 0;
  for (auto _ : state) {
    f.setPeer(0x0a000000u + (i++ * 2654435761u) % 1'000'000u);
    proxy::RequestContext ctx = f.context(now += 1000);
    benchmark::DoNotOptimize(proxy::runRequestPhases(ctx));
  }
}
BENCHMARK(BM_AllPhasesThreeLimitsMillionClients);

// Phases 2-7b with three limits, learned baselines and the shedder: each
// request is admitted and released, as the session does. One client, then
// a million (a few thousand /24 prefixes for the baselines).
void BM_AllPhasesThreeLimitsOverload(benchmark::State& state) {
  Fixture f(true, "192.0.2.1:4000", "", true);
  int64_t now = kStart;
  for (auto _ : state) {
    proxy::RequestContext ctx = f.context(now += 1000);
    benchmark::DoNotOptimize(proxy::runRequestPhases(ctx));
    if (ctx.overload_admitted) f.overload->release(ctx.request_class);
  }
}
BENCHMARK(BM_AllPhasesThreeLimitsOverload);

void BM_AllPhasesThreeLimitsOverloadMillionClients(benchmark::State& state) {
  Fixture f(true, "192.0.2.1:4000", "", true);
  int64_t now = kStart;
  uint32_t i = 0;
  for (auto _ : state) {
    f.setPeer(0x0a000000u + (i++ * 2654435761u) % 1'000'000u);
    proxy::RequestContext ctx = f.context(now += 1000);
    benchmark::DoNotOptimize(proxy::runRequestPhases(ctx));
    if (ctx.overload_admitted) f.overload->release(ctx.request_class);
  }
}
BENCHMARK(BM_AllPhasesThreeLimitsOverloadMillionClients);

// The client address behind a trusted proxy: X-Forwarded-For parsed from the right.
void BM_ShieldPhaseTrustedProxyXff(benchmark::State& state) {
  Fixture f(true, "10.1.2.3:4000", "X-Forwarded-For: 203.0.113.9, 10.0.0.7\r\n");
  int64_t now = kStart;
  for (auto _ : state) {
    proxy::RequestContext ctx = f.context(now += 1000);
    benchmark::DoNotOptimize(proxy::shieldRequest(ctx));
  }
}
BENCHMARK(BM_ShieldPhaseTrustedProxyXff);

}  // namespace
