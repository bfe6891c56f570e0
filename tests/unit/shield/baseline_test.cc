#include "shield/baseline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace rampart::shield {

uint64_t allocationCount();  // keyed_table_test.cc

namespace {

constexpr Nanos kMinute = 60 * kSecond;
constexpr Nanos kT0 = 1'000 * kMinute;  // aligned to a window

Key key(uint64_t i) {
  return Key{i * 0x9e3779b97f4a7c15ULL + 1, i * 0xbf58476d1ce4e5b9ULL + 7};
}

BaselinePolicy policy(bool count_only = false) {
  BaselinePolicy p;
  p.window = kMinute;
  p.horizon = 60;
  p.min_windows = 3;
  p.factor = 3;
  p.default_rate = 1;
  p.floor_rate = 0.5;
  p.count_only = count_only;
  return p;
}

struct Client {
  uint64_t id;
  uint32_t rate;  // requests per second, evenly spaced
};

struct Tally {
  uint64_t sent = 0;
  uint64_t throttled = 0;  // verdict kThrottle
  uint64_t would = 0;      // would_throttle
  uint64_t overloaded = 0;
};

// Scripted traffic: for every second in [from, to), each client sends its
// rate's worth of requests spread over the second, all in time order.
void run(Baselines& baselines, const std::vector<Client>& clients, Nanos from, Nanos to,
         std::vector<Tally>& tally) {
  std::vector<std::pair<Nanos, size_t>> second;
  for (Nanos s = from; s < to; s += kSecond) {
    second.clear();
    for (size_t c = 0; c < clients.size(); ++c) {
      for (uint32_t j = 0; j < clients[c].rate; ++j) {
        // A per-client phase so clients interleave.
        const Nanos offset = (kSecond * j + static_cast<Nanos>(c % 97) * 1'000) / clients[c].rate;
        second.emplace_back(s + std::min<Nanos>(offset, kSecond - 1), c);
      }
    }
    std::sort(second.begin(), second.end());
    for (const auto& [now, c] : second) {
      const BaselineDecision d = baselines.check(key(clients[c].id), now);
      Tally& t = tally[clients[c].id];
      ++t.sent;
      t.throttled += d.verdict == BaselineVerdict::kThrottle;
      t.would += d.would_throttle;
      t.overloaded += d.overloaded;
    }
  }
}

// 20 regulars at 2 req/s and one at 2 req/s who turns greedy (10 req/s)
// during the flood; 50 new prefixes at 50 req/s each are the flood.
struct Scenario {
  std::vector<Client> regulars;
  std::vector<Client> flood;
  std::vector<Tally> tally = std::vector<Tally>(200);

  Scenario() {
    for (uint64_t i = 0; i < 21; ++i) regulars.push_back(Client{i, 2});
    flood = regulars;
    flood[20].rate = 10;
    for (uint64_t i = 100; i < 150; ++i) flood.push_back(Client{i, 50});
  }

  void learn(Baselines& b, int windows) { run(b, regulars, kT0, kT0 + windows * kMinute, tally); }
  void attack(Baselines& b, Nanos from, int windows) {
    run(b, flood, from, from + windows * kMinute, tally);
  }
};

TEST(BaselineTest, AFloodOfNewPrefixesIsThrottledAndRegularsAreUntouched) {
  Baselines baselines(policy(), 10'000);
  Scenario s;
  s.learn(baselines, 30);
  // Learning: nothing throttled, the total and every regular are known.
  EXPECT_EQ(baselines.stats().would_throttle, 0u);
  EXPECT_EQ(baselines.stats().overloaded, 0u);
  EXPECT_TRUE(baselines.totalKnown());
  EXPECT_NEAR(baselines.totalBaseline(), 42, 0.5);
  for (uint64_t i = 0; i < 21; ++i) {
    EXPECT_TRUE(baselines.known(key(i)));
    EXPECT_NEAR(baselines.baseline(key(i)), 2, 0.01);
  }
  s.attack(baselines, kT0 + 30 * kMinute, 5);
  // 20 regulars at their normal rate: never throttled, through the flood.
  for (uint64_t i = 0; i < 20; ++i) {
    EXPECT_EQ(s.tally[i].would, 0u) << i;
    EXPECT_GT(s.tally[i].overloaded, 0u) << i;  // they were there while it was overloaded
  }
  // Rates are counts over a sliding window, so a client is "far above" once
  // it has sent factor * baseline * window requests in it; from then on it
  // gets baseline * window per window. Over the five minutes: at most
  // 3 * b * 60 in the first minute and b * 60 in each of the four others.
  // The greedy regular is held to its own baseline (2 req/s).
  const Tally& greedy = s.tally[20];
  const uint64_t greedy_flood_sent = 5 * 60 * 10;
  const uint64_t greedy_admitted = greedy_flood_sent - greedy.throttled;
  EXPECT_GE(greedy.throttled, 2'000u);
  EXPECT_GE(greedy_admitted, 5 * 120u - 10);
  EXPECT_LE(greedy_admitted, 3 * 120u + 4 * 120u + 10);
  // The flood prefixes are new: held to the default 1 req/s each.
  for (uint64_t i = 100; i < 150; ++i) {
    const uint64_t admitted = s.tally[i].sent - s.tally[i].throttled;
    EXPECT_EQ(s.tally[i].sent, 5u * 60 * 50);
    EXPECT_GE(admitted, 5 * 60u - 10) << i;
    EXPECT_LE(admitted, 3 * 60u + 4 * 60u + 10) << i;
  }
  // Nothing was learned from the flood windows.
  EXPECT_NEAR(baselines.totalBaseline(), 42, 0.5);
  EXPECT_FALSE(baselines.known(key(100)));
  EXPECT_NEAR(baselines.baseline(key(20)), 2, 0.01);
  EXPECT_EQ(baselines.stats().throttled, baselines.stats().would_throttle);
}

TEST(BaselineTest, CountModeReportsExactlyWhatEnforcingWouldDo) {
  Baselines enforce(policy(false), 10'000);
  Baselines count(policy(true), 10'000);
  Scenario e;
  Scenario c;
  e.learn(enforce, 30);
  c.learn(count, 30);
  e.attack(enforce, kT0 + 30 * kMinute, 3);
  c.attack(count, kT0 + 30 * kMinute, 3);
  EXPECT_EQ(count.stats().throttled, 0u);
  EXPECT_GT(count.stats().would_throttle, 100'000u);
  EXPECT_EQ(count.stats().would_throttle, enforce.stats().throttled);
  for (size_t i = 0; i < c.tally.size(); ++i) {
    EXPECT_EQ(c.tally[i].throttled, 0u);
    EXPECT_EQ(c.tally[i].would, e.tally[i].throttled) << i;
  }
}

TEST(BaselineTest, NobodyIsThrottledWhileTheTotalIsNormal) {
  Baselines baselines(policy(), 1'000);
  Scenario s;
  s.learn(baselines, 10);
  // One regular goes 10x its baseline; the total rises from 42 to 60 req/s,
  // under 3x: stage 1 does not engage and nobody is throttled.
  std::vector<Client> busy = s.regulars;
  busy[0].rate = 20;
  run(baselines, busy, kT0 + 10 * kMinute, kT0 + 15 * kMinute, s.tally);
  EXPECT_EQ(baselines.stats().overloaded, 0u);
  EXPECT_EQ(baselines.stats().would_throttle, 0u);
  // It learns the growth, slowly: a window teaches at most 3x its baseline.
  EXPECT_GT(baselines.baseline(key(0)), 2.5);
  EXPECT_LT(baselines.baseline(key(0)), 6.0);
}

TEST(BaselineTest, EwmaAndIdleDecayAreExact) {
  BaselinePolicy p = policy();
  p.window = 10 * kSecond;
  p.horizon = 3;  // alpha = 0.5
  p.min_windows = 2;
  Baselines baselines(p, 100);
  const Nanos w = 10 * kSecond;
  auto burst = [&](uint64_t client, Nanos at, int n) {
    for (int i = 0; i < n; ++i) baselines.check(key(client), at + i);
  };
  burst(1, kT0, 100);  // window 0: 10 req/s
  EXPECT_FALSE(baselines.totalKnown());
  burst(1, kT0 + w, 20);  // closes window 0: seeded at 10
  EXPECT_DOUBLE_EQ(baselines.totalBaseline(), 10);
  EXPECT_FLOAT_EQ(baselines.baseline(key(1)), 10);
  EXPECT_FALSE(baselines.known(key(1)));
  burst(1, kT0 + 2 * w, 1);  // closes window 1 (2 req/s): 10 + 0.5 * (2 - 10) = 6
  EXPECT_DOUBLE_EQ(baselines.totalBaseline(), 6);
  EXPECT_FLOAT_EQ(baselines.baseline(key(1)), 6);
  EXPECT_TRUE(baselines.known(key(1)));
  EXPECT_TRUE(baselines.totalKnown());
  // Window 2 had 0.1 req/s; then 3 idle windows. The total: 6 -> 3.05, then
  // halved three times; the client learns only its active window.
  burst(2, kT0 + 6 * w, 1);
  EXPECT_DOUBLE_EQ(baselines.totalBaseline(), 3.05 / 8);
  EXPECT_FLOAT_EQ(baselines.baseline(key(1)), 6);  // not seen since: unchanged
  burst(1, kT0 + 7 * w, 1);
  EXPECT_FLOAT_EQ(baselines.baseline(key(1)), 3.05f);
}

TEST(BaselineTest, TheSlidingWindowWeighsThePreviousWindow) {
  BaselinePolicy p = policy();
  p.window = 10 * kSecond;
  Baselines baselines(p, 100);
  for (int i = 0; i < 100; ++i) baselines.check(key(1), kT0 + i);
  // A quarter into the next window, 75% of the previous one still counts.
  const BaselineDecision d = baselines.check(key(1), kT0 + 10 * kSecond + 25 * kSecond / 10);
  EXPECT_DOUBLE_EQ(d.rate, (100 * 0.75 + 1) / 10);
  EXPECT_FALSE(d.known);
  EXPECT_DOUBLE_EQ(d.baseline, 1);  // the default
}

TEST(BaselineTest, StateSurvivesExportAndImport) {
  Baselines learned(policy(), 10'000);
  Scenario s;
  s.learn(learned, 30);
  const std::string bytes = learned.exportState();
  EXPECT_EQ(bytes.size(), 32u + 21 * 24);
  Baselines restored(policy(), 10'000);
  ASSERT_TRUE(restored.importState(bytes));
  EXPECT_DOUBLE_EQ(restored.totalBaseline(), learned.totalBaseline());
  EXPECT_TRUE(restored.totalKnown());
  for (uint64_t i = 0; i < 21; ++i) {
    EXPECT_TRUE(restored.known(key(i)));
    EXPECT_FLOAT_EQ(restored.baseline(key(i)), learned.baseline(key(i)));
  }
  // Hours later, normal traffic on the restored worker: not overloaded, and
  // the learned total is intact (the downtime is not taken as idle windows).
  Scenario r;
  run(restored, r.regulars, kT0 + 300 * kMinute, kT0 + 302 * kMinute, r.tally);
  EXPECT_EQ(restored.stats().overloaded, 0u);
  EXPECT_NEAR(restored.totalBaseline(), 42, 0.5);
  // The restored worker stops the flood at once, with no relearning.
  r.attack(restored, kT0 + 302 * kMinute, 2);
  EXPECT_GT(restored.stats().overloaded, 0u);
  for (uint64_t i = 0; i < 20; ++i) EXPECT_EQ(r.tally[i].would, 0u) << i;
  for (uint64_t i = 100; i < 150; ++i) EXPECT_GT(r.tally[i].throttled, 5'000u) << i;
}

TEST(BaselineTest, MalformedStateIsRefusedAndChangesNothing) {
  Baselines learned(policy(), 100);
  Scenario s;
  s.learn(learned, 5);
  const std::string good = learned.exportState();
  Baselines target(policy(), 100);
  EXPECT_FALSE(target.importState(""));
  EXPECT_FALSE(target.importState(good.substr(0, good.size() - 1)));
  std::string magic = good;
  magic[0] = 'X';
  EXPECT_FALSE(target.importState(magic));
  std::string negative = good;
  const float bad = -1;
  std::memcpy(negative.data() + 32 + 16, &bad, sizeof(bad));
  EXPECT_FALSE(target.importState(negative));
  EXPECT_EQ(target.size(), 0u);
  EXPECT_FALSE(target.totalKnown());
  EXPECT_TRUE(target.importState(good));
  EXPECT_EQ(target.size(), 21u);
}

TEST(BaselineTest, AMillionNewKeysStayBoundedAndKeepTheRegulars) {
  Baselines baselines(policy(), 10'000);
  Scenario s;
  s.learn(baselines, 10);
  const uint64_t before = allocationCount();
  const Nanos start = kT0 + 10 * kMinute;
  uint64_t throttled = 0;
  for (uint64_t i = 0; i < 1'000'000; ++i) {
    // 1,000,000 distinct keys in two minutes, a few requests each.
    const Nanos now = start + static_cast<Nanos>(i) * 120;
    for (int j = 0; j < 3; ++j) throttled += !baselines.check(key(1'000'000 + i), now).allowed();
  }
  EXPECT_EQ(allocationCount(), before);
  EXPECT_EQ(baselines.size(), 10'000u);
  EXPECT_GT(baselines.evictions(), 990'000u);
  EXPECT_EQ(baselines.memoryBytes(), 12'501u * sizeof(Baselines::Table::Entry));
  // Known clients were kept through the churn.
  for (uint64_t i = 0; i < 21; ++i) EXPECT_TRUE(baselines.known(key(i))) << i;
  // Each key is new, at 3 requests it is under its default 60 per window.
  EXPECT_EQ(throttled, 0u);
}

}  // namespace
}  // namespace rampart::shield
