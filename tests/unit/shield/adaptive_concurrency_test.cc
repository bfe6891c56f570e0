#include "shield/adaptive_concurrency.h"

#include <gtest/gtest.h>

#include <functional>
#include <queue>
#include <vector>

namespace rampart::shield {
namespace {

constexpr Nanos kMs = 1'000'000;
constexpr Nanos kT0 = 1'000 * kSecond;

// A simulated upstream with `workers` parallel workers: a request that finds
// c requests in flight (itself included) takes base * max(1, c / workers),
// as a server does once its workers are busy and requests queue inside it.
// Demand is unlimited: every free slot is filled at once (a closed loop).
class Simulation {
 public:
  Simulation(AdaptiveConcurrency& limiter, uint32_t workers, Nanos base)
      : limiter_(limiter), workers_(workers), base_(base) {}

  void setBase(Nanos base) { base_ = base; }

  // Runs until `until`, in 1 ms steps.
  void runUntil(Nanos until) {
    for (; now_ < until; now_ += kMs) {
      while (!done_.empty() && done_.top().end <= now_) {
        const Running r = done_.top();
        done_.pop();
        limiter_.release(r.end - r.start, r.end);
      }
      while (limiter_.tryAcquire(now_) == ConcurrencyVerdict::kAcquired) {
        const double c = limiter_.inFlight();
        const double factor = c > workers_ ? c / workers_ : 1.0;
        done_.push(Running{now_, now_ + static_cast<Nanos>(static_cast<double>(base_) * factor)});
        peak_ = std::max(peak_, limiter_.inFlight());
      }
    }
  }
  Nanos now() const { return now_; }

 private:
  struct Running {
    Nanos start;
    Nanos end;
    bool operator>(const Running& other) const { return end > other.end; }
  };
  AdaptiveConcurrency& limiter_;
  uint32_t workers_;
  Nanos base_;
  Nanos now_ = kT0;
  uint32_t peak_ = 0;
  std::priority_queue<Running, std::vector<Running>, std::greater<>> done_;
};

AdaptiveConcurrencyPolicy simPolicy() {
  AdaptiveConcurrencyPolicy policy;
  policy.min_limit = 3;
  policy.max_limit = 1000;
  policy.initial_limit = 10;
  policy.sample_window = 100 * kMs;
  policy.buffer = 0.1;
  policy.min_rtt_interval = 30 * kSecond;
  return policy;
}

TEST(AdaptiveConcurrencyTest, ConvergesNearTheUpstreamsParallelism) {
  AdaptiveConcurrency limiter(simPolicy(), kT0);
  Simulation sim(limiter, 100, 20 * kMs);
  sim.runUntil(kT0 + 20 * kSecond);
  EXPECT_EQ(limiter.minRtt(), 20 * kMs);  // probed at concurrency 3 <= 100 workers
  // Fixed point: 1.1 * N + sqrt(1.1 * N) = 120.5 for N = 100.
  EXPECT_GE(limiter.limit(), 100u);
  EXPECT_LE(limiter.limit(), 130u);
  EXPECT_GE(limiter.stats().windows, 50u);
  // Stays there: sampled over the next seconds, no drift.
  for (int i = 0; i < 10; ++i) {
    sim.runUntil(sim.now() + kSecond);
    EXPECT_GE(limiter.limit(), 100u) << i;
    EXPECT_LE(limiter.limit(), 130u) << i;
  }
}

TEST(AdaptiveConcurrencyTest, ALatencySpikeShrinksTheLimitAndRecoveryGrowsIt) {
  AdaptiveConcurrency limiter(simPolicy(), kT0);
  Simulation sim(limiter, 100, 20 * kMs);
  sim.runUntil(kT0 + 20 * kSecond);
  const uint32_t settled = limiter.limit();
  ASSERT_GE(settled, 100u);
  // The upstream slows down 4x (a GC pause, a slow disk): latency is far over
  // min-RTT, the gradient is at its floor and the limit falls.
  sim.setBase(80 * kMs);
  sim.runUntil(sim.now() + 3 * kSecond);
  EXPECT_LE(limiter.limit(), settled / 3);
  EXPECT_GE(limiter.limit(), 3u);
  // Back to normal before the next probe: the gradient rises and so does the limit.
  sim.setBase(20 * kMs);
  sim.runUntil(sim.now() + 5 * kSecond);
  EXPECT_GE(limiter.limit(), 100u);
  EXPECT_LE(limiter.limit(), 130u);
}

TEST(AdaptiveConcurrencyTest, AProbeRelearnsMinRtt) {
  AdaptiveConcurrencyPolicy policy = simPolicy();
  policy.min_rtt_interval = 5 * kSecond;
  AdaptiveConcurrency limiter(policy, kT0);
  Simulation sim(limiter, 50, 10 * kMs);
  sim.runUntil(kT0 + 4 * kSecond);
  EXPECT_EQ(limiter.minRtt(), 10 * kMs);
  EXPECT_EQ(limiter.stats().probes, 1u);
  // The upstream moves to a slower region for good: the next probe learns it,
  // and the limit settles near the parallelism again.
  sim.setBase(40 * kMs);
  sim.runUntil(kT0 + 30 * kSecond);
  EXPECT_EQ(limiter.minRtt(), 40 * kMs);
  EXPECT_GE(limiter.stats().probes, 2u);
  EXPECT_GE(limiter.limit(), 50u);
  EXPECT_LE(limiter.limit(), 70u);
}

TEST(AdaptiveConcurrencyTest, ProbeHoldsConcurrencyAtProbeLimit) {
  AdaptiveConcurrencyPolicy policy = simPolicy();
  policy.min_rtt_samples = 4;
  policy.probe_limit = 2;
  AdaptiveConcurrency limiter(policy, kT0);
  EXPECT_TRUE(limiter.probing());
  EXPECT_EQ(limiter.limit(), 2u);
  EXPECT_EQ(limiter.tryAcquire(kT0), ConcurrencyVerdict::kAcquired);
  EXPECT_EQ(limiter.tryAcquire(kT0), ConcurrencyVerdict::kAcquired);
  EXPECT_EQ(limiter.tryAcquire(kT0), ConcurrencyVerdict::kQueue);  // queue bound 2 * 1.0
  EXPECT_EQ(limiter.tryAcquire(kT0, 1), ConcurrencyVerdict::kQueue);
  EXPECT_EQ(limiter.tryAcquire(kT0, 2), ConcurrencyVerdict::kShed);
  // Latencies 5, 6, 7, 8 ms: p90 of four is the fourth (ceil(3.6) = 4).
  for (Nanos l : {5, 6, 7, 8}) {
    limiter.release(l * kMs, kT0 + l * kMs);
    ASSERT_EQ(limiter.tryAcquire(kT0), ConcurrencyVerdict::kAcquired);
  }
  EXPECT_FALSE(limiter.probing());
  EXPECT_EQ(limiter.minRtt(), 8 * kMs);
  EXPECT_EQ(limiter.limit(), 10u);  // back to the initial limit
  EXPECT_EQ(limiter.inFlight(), 2u);
  EXPECT_EQ(limiter.stats().probes, 1u);
  EXPECT_EQ(limiter.stats().shed, 1u);
}

TEST(AdaptiveConcurrencyTest, WindowMathIsExact) {
  AdaptiveConcurrencyPolicy policy = simPolicy();
  policy.min_rtt_samples = 1;
  policy.min_samples = 2;
  policy.percentile = 1.0;
  policy.buffer = 0;
  policy.smoothing = 1.0;
  policy.initial_limit = 16;
  AdaptiveConcurrency limiter(policy, kT0);
  ASSERT_EQ(limiter.tryAcquire(kT0), ConcurrencyVerdict::kAcquired);
  limiter.release(10 * kMs, kT0);  // ends the probe: M = 10 ms
  ASSERT_EQ(limiter.limit(), 16u);
  // Latency equal to M: gradient 1, limit 16 + sqrt(16) = 20.
  limiter.tryAcquire(kT0);
  limiter.release(10 * kMs, kT0 + 10 * kMs);
  EXPECT_EQ(limiter.limit(), 16u);  // the window is not over yet
  limiter.tryAcquire(kT0);
  limiter.release(10 * kMs, kT0 + 100 * kMs);
  EXPECT_EQ(limiter.limit(), 20u);
  // Latency 4 x M: gradient clamps at 0.5: 20 * 0.5 + sqrt(10) = 13.16.
  limiter.tryAcquire(kT0);
  limiter.release(40 * kMs, kT0 + 150 * kMs);
  limiter.tryAcquire(kT0);
  limiter.release(40 * kMs, kT0 + 200 * kMs);
  EXPECT_EQ(limiter.limit(), 13u);
  // Far slower, many windows: never below min_limit.
  for (int i = 0; i < 50; ++i) {
    limiter.tryAcquire(kT0);
    limiter.release(kSecond, kT0 + (300 + 100 * i) * kMs);
    limiter.tryAcquire(kT0);
    limiter.release(kSecond, kT0 + (300 + 100 * i) * kMs);
  }
  EXPECT_EQ(limiter.limit(), 3u);
  // Faster than M: the gradient clamps at 2 and the limit climbs to max_limit.
  for (int i = 0; i < 200; ++i) {
    limiter.tryAcquire(kT0);
    limiter.release(kMs, kT0 + (6'000 + 100 * i) * kMs);
    limiter.tryAcquire(kT0);
    limiter.release(kMs, kT0 + (6'000 + 100 * i) * kMs);
  }
  EXPECT_EQ(limiter.limit(), 1000u);
}

TEST(AdaptiveConcurrencyTest, StuckRequestsCannotPinTheProbe) {
  AdaptiveConcurrencyPolicy policy = simPolicy();
  policy.probe_limit = 2;
  policy.probe_timeout = 5 * kSecond;
  policy.min_samples = 2;
  policy.percentile = 1.0;
  policy.buffer = 0;
  policy.smoothing = 1.0;
  AdaptiveConcurrency limiter(policy, kT0);
  // Two requests that never finish (a hung upstream connection) hold the
  // probe's two slots: no latency ever comes back.
  ASSERT_EQ(limiter.tryAcquire(kT0), ConcurrencyVerdict::kAcquired);
  ASSERT_EQ(limiter.tryAcquire(kT0), ConcurrencyVerdict::kAcquired);
  EXPECT_EQ(limiter.tryAcquire(kT0 + 5 * kSecond - 1), ConcurrencyVerdict::kQueue);
  EXPECT_TRUE(limiter.probing());
  // At the timeout the probe ends empty-handed and the limit is back.
  EXPECT_EQ(limiter.tryAcquire(kT0 + 5 * kSecond), ConcurrencyVerdict::kAcquired);
  EXPECT_FALSE(limiter.probing());
  EXPECT_EQ(limiter.limit(), 10u);
  EXPECT_EQ(limiter.minRtt(), 0);
  // The first window supplies min-RTT: gradient 1, 10 + sqrt(10) = 13.16.
  limiter.release(7 * kMs, kT0 + 5 * kSecond + 50 * kMs);
  limiter.tryAcquire(kT0 + 5 * kSecond + 50 * kMs);
  limiter.release(7 * kMs, kT0 + 5 * kSecond + 100 * kMs);
  EXPECT_EQ(limiter.minRtt(), 7 * kMs);
  EXPECT_EQ(limiter.limit(), 13u);
  EXPECT_EQ(limiter.inFlight(), 2u);  // the stuck two
}

TEST(AdaptiveConcurrencyTest, AbandonFreesASlotWithoutASample) {
  AdaptiveConcurrencyPolicy policy = simPolicy();
  policy.probe_limit = 1;
  AdaptiveConcurrency limiter(policy, kT0);
  ASSERT_EQ(limiter.tryAcquire(kT0), ConcurrencyVerdict::kAcquired);
  EXPECT_EQ(limiter.tryAcquire(kT0), ConcurrencyVerdict::kQueue);
  limiter.abandon();
  EXPECT_EQ(limiter.inFlight(), 0u);
  EXPECT_TRUE(limiter.probing());  // no sample taken
  limiter.abandon();               // saturates at zero
  EXPECT_EQ(limiter.inFlight(), 0u);
  EXPECT_EQ(limiter.tryAcquire(kT0), ConcurrencyVerdict::kAcquired);
}

TEST(AdaptiveConcurrencyTest, PolicyIsClamped) {
  AdaptiveConcurrencyPolicy policy;
  policy.min_limit = 0;
  policy.max_limit = 0;
  policy.initial_limit = 500;
  policy.percentile = 7;
  policy.probe_limit = 0;
  AdaptiveConcurrency limiter(policy, kT0);
  EXPECT_EQ(limiter.limit(), 1u);  // probing at 1
  ASSERT_EQ(limiter.tryAcquire(kT0), ConcurrencyVerdict::kAcquired);
  for (int i = 0; i < 32; ++i) limiter.release(kMs, kT0 + i);
  EXPECT_FALSE(limiter.probing());
  EXPECT_EQ(limiter.limit(), 1u);  // min = max = 1
}

}  // namespace
}  // namespace rampart::shield
