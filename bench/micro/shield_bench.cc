// The shield's engines on one core: a GCRA check against a table of
// 1,000,000 live keys (random keys, a hot key, a flood of new keys), key
// derivation from an address and a string, admission at accept, and a CIDR
// list of 1,000 ranges. Keys are derived up front so the table is measured
// alone; BM_DeriveAndCheck measures the two together.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "shield/shield.h"

namespace {

using namespace rampart::shield;
using rampart::net::SocketAddress;

constexpr size_t kLiveKeys = 1'000'000;
constexpr Nanos kStart = 1'000 * kSecond;

const KeyDeriver& deriver() {
  static const KeyDeriver keys(Seed{0x1234, 0x5678});
  return keys;
}

SocketAddress v4(uint32_t n) {
  std::string text = std::to_string(n >> 24);
  for (int shift : {16, 8, 0}) {
    text += ".";
    text += std::to_string((n >> shift) & 0xff);
  }
  text += ":443";
  return *SocketAddress::parseNumeric(text);
}

const std::vector<Key>& liveKeys() {
  static const std::vector<Key> keys = [] {
    std::vector<Key> out;
    out.reserve(kLiveKeys);
    for (size_t i = 0; i < kLiveKeys; ++i) {
      std::string name = "client-";
      name += std::to_string(i);
      out.push_back(deriver().string(1, name));
    }
    return out;
  }();
  return keys;
}

// One shared, filled table so each benchmark does not pay 1,000,000 inserts.
RateLimiter& filledLimiter(const Gcra& limit) {
  static RateLimiter* limiter = [&] {
    auto* table = new RateLimiter(kLiveKeys);
    for (const Key& key : liveKeys()) table->check(key, limit, kStart);
    return table;
  }();
  return *limiter;
}

const Gcra kLimit(Limit{100, 50});

std::string hex16(uint32_t value) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%x", value & 0xffff);
  return buf;
}

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

void BM_LimitCheckRandomKey(benchmark::State& state) {
  RateLimiter& limiter = filledLimiter(kLimit);
  const std::vector<Key>& keys = liveKeys();
  XorShift rng;
  Nanos now = kStart + kSecond;
  uint64_t allowed = 0;
  for (auto _ : state) {
    Decision d = limiter.check(keys[rng.below(keys.size())], kLimit, now);
    allowed += d.allowed();
    now += 10;
  }
  benchmark::DoNotOptimize(allowed);
  state.counters["live_keys"] = static_cast<double>(limiter.size());
  state.counters["evictions"] = static_cast<double>(limiter.evictions());
  state.counters["MB"] = static_cast<double>(limiter.memoryBytes()) / 1e6;
}
BENCHMARK(BM_LimitCheckRandomKey);

void BM_LimitCheckHotKey(benchmark::State& state) {
  RateLimiter& limiter = filledLimiter(kLimit);
  const Key hot = liveKeys()[12345];
  Nanos now = kStart + kSecond;
  uint64_t allowed = 0;
  for (auto _ : state) {
    allowed += limiter.check(hot, kLimit, now).allowed();  // mostly denied: a flood from one key
    now += 10;
  }
  benchmark::DoNotOptimize(allowed);
}
BENCHMARK(BM_LimitCheckHotKey);

// Every check a key never seen, into the full table: each one evicts.
void BM_LimitCheckNewKeysEvicting(benchmark::State& state) {
  RateLimiter& limiter = filledLimiter(kLimit);
  uint64_t i = 0;
  Nanos now = kStart + 2 * kSecond;
  for (auto _ : state) {
    Key key{0xabcdef ^ i, (i + 1) * 0x9e3779b97f4a7c15ULL};
    benchmark::DoNotOptimize(limiter.check(key, kLimit, now));
    ++i;
    now += 10;
  }
  state.counters["evictions"] = static_cast<double>(limiter.evictions());
}
BENCHMARK(BM_LimitCheckNewKeysEvicting);

void BM_DeriveAndCheckApiKey(benchmark::State& state) {
  RateLimiter& limiter = filledLimiter(kLimit);
  std::vector<std::string> names;
  for (int i = 0; i < 4096; ++i) {
    std::string name = "client-";
    name += std::to_string(i * 97);
    names.push_back(name);
  }
  XorShift rng;
  Nanos now = kStart + 3 * kSecond;
  for (auto _ : state) {
    const Key key = deriver().string(1, names[rng.below(names.size())]);
    benchmark::DoNotOptimize(limiter.check(key, kLimit, now));
    now += 10;
  }
}
BENCHMARK(BM_DeriveAndCheckApiKey);

void BM_KeyFromAddressV4(benchmark::State& state) {
  const SocketAddress peer = v4(0xc6336401);
  for (auto _ : state) benchmark::DoNotOptimize(deriver().address(7, peer));
}
BENCHMARK(BM_KeyFromAddressV4);

void BM_KeyFromAddressV6(benchmark::State& state) {
  const SocketAddress peer = *SocketAddress::parseNumeric("[2001:db8:1:2:3:4:5:6]:443");
  for (auto _ : state) benchmark::DoNotOptimize(deriver().address(7, peer));
}
BENCHMARK(BM_KeyFromAddressV6);

void BM_KeyFromPrefixV6(benchmark::State& state) {
  const SocketAddress peer = *SocketAddress::parseNumeric("[2001:db8:1:2:3:4:5:6]:443");
  for (auto _ : state) benchmark::DoNotOptimize(deriver().prefix(7, peer));
}
BENCHMARK(BM_KeyFromPrefixV6);

void BM_KeyFromString(benchmark::State& state) {
  const std::string value(state.range(0), 'k');
  for (auto _ : state) benchmark::DoNotOptimize(deriver().string(7, value));
}
BENCHMARK(BM_KeyFromString)->Arg(16)->Arg(40)->Arg(200);

// Accept and close against 100,000 addresses with open connections.
void BM_AdmissionAdmitRelease(benchmark::State& state) {
  AdmissionLimits limits;
  limits.max_concurrent = 64;
  limits.accept_rate = Limit{20, 40};
  ConnectionAdmission admission(limits, 200'000);
  std::vector<Key> keys;
  for (uint32_t i = 0; i < 100'000; ++i) {
    keys.push_back(deriver().address(9, v4(0x0a000000 + i * 7)));
    admission.admit(keys.back(), kStart);
  }
  XorShift rng;
  Nanos now = kStart + kSecond;
  for (auto _ : state) {
    const Key& key = keys[rng.below(keys.size())];
    if (admission.admit(key, now) == Admission::kAdmitted) admission.release(key);
    now += 100;
  }
}
BENCHMARK(BM_AdmissionAdmitRelease);

// The whole accept gate: lists, escalation, admission, key derivation.
void BM_AcceptGate(benchmark::State& state) {
  std::vector<std::string> deny;
  for (int i = 0; i < 1000; ++i) {
    std::string cidr = "100.";
    cidr += std::to_string(i / 256);
    cidr += ".";
    cidr += std::to_string(i % 256);
    cidr += ".0/24";
    deny.push_back(cidr);
  }
  GateConfig config;
  config.admission.max_concurrent = 64;
  config.admission.accept_rate = Limit{20, 40};
  config.deny = std::make_shared<const AddressList>(*AddressList::compile(deny, nullptr));
  config.allow =
      std::make_shared<const AddressList>(*AddressList::compile({"10.0.0.0/8"}, nullptr));
  AcceptGate gate(config, deriver(), 3, 200'000);
  std::vector<SocketAddress> peers;
  for (uint32_t i = 0; i < 100'000; ++i) peers.push_back(v4(0xc0000000 + i * 13));
  XorShift rng;
  Nanos now = kStart;
  for (auto _ : state) {
    GateTicket ticket = gate.admit(peers[rng.below(peers.size())], now);
    gate.release(ticket);
    now += 100;
  }
}
BENCHMARK(BM_AcceptGate);

AddressList thousandRanges() {
  std::mt19937 rng(7);
  std::vector<std::string> cidrs;
  for (int i = 0; i < 1000; ++i) {
    std::string text;
    if (i % 4 == 0) {
      text = "2001:db8:";
      text += hex16(rng());
      text += "::/48";
    } else {
      text = std::to_string(rng() % 224);
      for (int j = 0; j < 3; ++j) {
        text += ".";
        text += std::to_string(rng() % 256);
      }
      text += "/";
      text += std::to_string(16 + rng() % 17);
    }
    cidrs.push_back(text);
  }
  std::string error;
  std::optional<AddressList> list = AddressList::compile(cidrs, &error);
  if (!list) {
    std::fprintf(stderr, "bad ranges: %s\n", error.c_str());
    std::abort();
  }
  return *list;
}

void BM_AddressListLookupV4(benchmark::State& state) {
  const AddressList list = thousandRanges();
  std::vector<SocketAddress> peers;
  std::mt19937 rng(9);
  for (int i = 0; i < 4096; ++i) peers.push_back(v4(static_cast<uint32_t>(rng())));
  size_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) hits += list.contains(peers[i++ & 4095]);
  benchmark::DoNotOptimize(hits);
  state.counters["ranges"] = static_cast<double>(list.rangeCount());
}
BENCHMARK(BM_AddressListLookupV4);

void BM_AddressListLookupV6(benchmark::State& state) {
  const AddressList list = thousandRanges();
  std::vector<SocketAddress> peers;
  std::mt19937 rng(9);
  for (int i = 0; i < 4096; ++i) {
    std::string text = "[2001:db8:";
    text += hex16(rng());
    text += "::1]:443";
    peers.push_back(*SocketAddress::parseNumeric(text));
  }
  size_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) hits += list.contains(peers[i++ & 4095]);
  benchmark::DoNotOptimize(hits);
}
BENCHMARK(BM_AddressListLookupV6);

}  // namespace
