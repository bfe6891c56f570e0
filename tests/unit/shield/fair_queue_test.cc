#include "shield/fair_queue.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace rampart::shield {

uint64_t allocationCount();  // keyed_table_test.cc

namespace {

constexpr Nanos kT0 = 100 * kSecond;
constexpr RequestClass kAuth = RequestClass::kAuthenticated;
constexpr RequestClass kAnon = RequestClass::kAnonymous;
constexpr RequestClass kSusp = RequestClass::kSuspicious;

Key flow(uint64_t i) {
  return Key{i * 0x9e3779b97f4a7c15ULL + 1, i * 0xbf58476d1ce4e5b9ULL + 7};
}

FairQueuePolicy policy(uint32_t capacity, uint32_t per_flow, double reserved = 0) {
  FairQueuePolicy p;
  p.capacity = capacity;
  p.per_flow = per_flow;
  p.reserved_authenticated = reserved;
  return p;
}

TEST(FairQueueTest, FlowsTakeTurnsAndEachFlowIsFifo) {
  FairQueue queue(policy(100, 10));
  // Flow 1 queues 1, 2, 3; flow 2 queues 11, 12; flow 3 queues 21.
  for (uint64_t h : {1, 2, 3})
    ASSERT_EQ(queue.enqueue(flow(1), kAnon, h, kT0), EnqueueResult::kQueued);
  for (uint64_t h : {11, 12})
    ASSERT_EQ(queue.enqueue(flow(2), kAnon, h, kT0), EnqueueResult::kQueued);
  ASSERT_EQ(queue.enqueue(flow(3), kAnon, 21, kT0 + 5), EnqueueResult::kQueued);
  EXPECT_EQ(queue.size(), 6u);
  EXPECT_EQ(queue.flows(), 3u);
  EXPECT_EQ(queue.waiting(flow(1), kAnon), 3u);
  EXPECT_EQ(queue.waiting(flow(1), kAuth), 0u);  // another class, another flow
  std::vector<uint64_t> order;
  while (auto w = queue.dequeue()) order.push_back(w->handle);
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 11, 21, 2, 12, 3}));
  EXPECT_EQ(queue.flows(), 0u);
  EXPECT_FALSE(queue.dequeue().has_value());
}

TEST(FairQueueTest, BoundsPerFlowAndInAll) {
  FairQueue queue(policy(5, 2));
  EXPECT_EQ(queue.enqueue(flow(1), kAnon, 1, kT0), EnqueueResult::kQueued);
  EXPECT_EQ(queue.enqueue(flow(1), kAnon, 2, kT0), EnqueueResult::kQueued);
  EXPECT_EQ(queue.enqueue(flow(1), kAnon, 3, kT0), EnqueueResult::kFlowFull);
  EXPECT_EQ(queue.enqueue(flow(2), kAnon, 4, kT0), EnqueueResult::kQueued);
  EXPECT_EQ(queue.enqueue(flow(2), kAnon, 5, kT0), EnqueueResult::kQueued);
  EXPECT_EQ(queue.enqueue(flow(3), kAnon, 6, kT0), EnqueueResult::kQueued);
  EXPECT_EQ(queue.enqueue(flow(4), kAnon, 7, kT0), EnqueueResult::kFull);
  EXPECT_EQ(queue.size(), 5u);
  ASSERT_TRUE(queue.dequeue().has_value());
  EXPECT_EQ(queue.enqueue(flow(4), kAnon, 7, kT0), EnqueueResult::kQueued);
}

TEST(FairQueueTest, CancelRemovesAnywhereAndStaleTicketsAreRefused) {
  FairQueue queue(policy(10, 10));
  Ticket a, b, c, d;
  queue.enqueue(flow(1), kAnon, 1, kT0, &a);
  queue.enqueue(flow(1), kAnon, 2, kT0, &b);
  queue.enqueue(flow(1), kAnon, 3, kT0, &c);
  queue.enqueue(flow(2), kAnon, 4, kT0, &d);
  EXPECT_TRUE(queue.cancel(b));   // middle of a flow
  EXPECT_FALSE(queue.cancel(b));  // twice
  EXPECT_TRUE(queue.cancel(d));   // a whole flow: it leaves the ring
  EXPECT_EQ(queue.flows(), 1u);
  EXPECT_EQ(queue.dequeue()->handle, 1u);
  EXPECT_FALSE(queue.cancel(a));  // already dequeued
  // The slot of `a` is reused: its old ticket still does not match.
  Ticket e;
  queue.enqueue(flow(3), kAnon, 5, kT0, &e);
  EXPECT_FALSE(queue.cancel(a));
  EXPECT_FALSE(queue.cancel(Ticket{}));
  EXPECT_EQ(queue.dequeue()->handle, 3u);
  EXPECT_EQ(queue.dequeue()->handle, 5u);
  EXPECT_EQ(queue.size(), 0u);
}

// One heavy flow with a deep backlog and ten light flows, each sending a
// request every 20 ticks; one request is served per tick. Every light request
// waits at most one turn of each flow: 11 ticks.
TEST(FairQueueTest, AHeavyFlowCannotStarveLightOnes) {
  FairQueue queue(policy(1'000, 500));
  uint64_t next_handle = 0;
  std::map<uint64_t, Nanos> light_sent;
  for (int i = 0; i < 500; ++i) {
    ASSERT_EQ(queue.enqueue(flow(0), kAnon, next_handle++, kT0), EnqueueResult::kQueued);
  }
  Nanos worst = 0;
  uint64_t light_served = 0;
  uint64_t heavy_served = 0;
  for (Nanos tick = 0; tick < 2'000; ++tick) {
    const Nanos now = kT0 + tick;
    if (tick % 20 == 0) {
      for (uint64_t f = 1; f <= 10; ++f) {
        light_sent[next_handle] = now;
        ASSERT_EQ(queue.enqueue(flow(f), kAnon, next_handle++, now), EnqueueResult::kQueued);
      }
    }
    // The heavy flow keeps its backlog full.
    queue.enqueue(flow(0), kAnon, next_handle++, now);
    auto served = queue.dequeue();
    ASSERT_TRUE(served.has_value());
    EXPECT_EQ(served->enqueued_at <= now, true);
    auto it = light_sent.find(served->handle);
    if (it == light_sent.end()) {
      ++heavy_served;
      continue;
    }
    ++light_served;
    worst = std::max(worst, now - it->second);
    light_sent.erase(it);
  }
  EXPECT_LE(worst, 11);
  EXPECT_EQ(light_served, 1'000u - light_sent.size());
  EXPECT_LE(light_sent.size(), 10u);  // only the last round may still wait
  // Light flows send 0.5 per tick in all; the heavy flow gets the rest.
  EXPECT_GE(heavy_served, 980u);
}

TEST(FairQueueTest, LanesShareByWeightAndAnAloneLaneGetsEverything) {
  FairQueuePolicy p = policy(10'000, 10'000);
  p.weights = {8, 2, 1};
  FairQueue queue(p);
  for (uint64_t i = 0; i < 3'000; ++i) {
    queue.enqueue(flow(1), kAuth, i, kT0);
    queue.enqueue(flow(2), kAnon, i, kT0);
    queue.enqueue(flow(3), kSusp, i, kT0);
  }
  std::array<int, 3> served{};
  for (int i = 0; i < 1'100; ++i) ++served[static_cast<size_t>(queue.dequeue()->request_class)];
  EXPECT_EQ(served[0], 800);
  EXPECT_EQ(served[1], 200);
  EXPECT_EQ(served[2], 100);
  // The authenticated lane drains: the other two share 2:1 and take every turn.
  while (queue.size(kAuth) > 0) queue.dequeue();
  served = {};
  for (int i = 0; i < 300; ++i) ++served[static_cast<size_t>(queue.dequeue()->request_class)];
  EXPECT_EQ(served[0], 0);
  EXPECT_EQ(served[1], 200);
  EXPECT_EQ(served[2], 100);
}

TEST(FairQueueTest, AnIdleLaneSavesNoCredit) {
  FairQueue queue(policy(10'000, 10'000));
  for (uint64_t i = 0; i < 1'000; ++i) queue.enqueue(flow(2), kAnon, i, kT0);
  for (int i = 0; i < 900; ++i) queue.dequeue();  // the anonymous lane runs alone for a while
  // Authenticated arrives: it gets its 8 of 10 turns, not a catch-up burst
  // of 900 turns, and the anonymous lane still gets its 2 (give or take the
  // one turn of phase the anonymous lane is ahead by when the other joins).
  for (uint64_t i = 0; i < 1'000; ++i) queue.enqueue(flow(1), kAuth, i, kT0);
  std::array<int, 3> served{};
  for (int i = 0; i < 50; ++i) ++served[static_cast<size_t>(queue.dequeue()->request_class)];
  EXPECT_GE(served[0], 39);
  EXPECT_LE(served[0], 41);
  EXPECT_EQ(served[0] + served[1], 50);
}

TEST(FairQueueTest, AReservedShareStaysOpenToTheAuthenticated) {
  FairQueue queue(policy(100, 100, 0.25));
  // An anonymous flood from many addresses fills its 75 slots, no more.
  int queued = 0;
  for (uint64_t i = 0; i < 1'000; ++i) {
    queued += queue.enqueue(flow(i), i % 2 ? kAnon : kSusp, i, kT0) == EnqueueResult::kQueued;
  }
  EXPECT_EQ(queued, 75);
  for (uint64_t i = 0; i < 25; ++i) {
    EXPECT_EQ(queue.enqueue(flow(5'000 + i), kAuth, i, kT0), EnqueueResult::kQueued);
  }
  EXPECT_EQ(queue.enqueue(flow(6'000), kAuth, 0, kT0), EnqueueResult::kFull);
  // The authenticated may also use the shared part when it is free.
  FairQueue empty(policy(100, 100, 0.25));
  for (uint64_t i = 0; i < 100; ++i) {
    ASSERT_EQ(empty.enqueue(flow(i), kAuth, i, kT0), EnqueueResult::kQueued);
  }
}

TEST(FairQueueTest, StateStaysBoundedUnderAMillionFlows) {
  FairQueue queue(policy(4'096, 8, 0.2));
  const uint64_t before = allocationCount();
  uint64_t full = 0;
  for (uint64_t i = 0; i < 1'000'000; ++i) {
    full +=
        queue.enqueue(flow(i), i % 3 == 0 ? kAuth : kAnon, i, kT0 + i) != EnqueueResult::kQueued;
    if (i % 2 == 0) queue.dequeue();
    ASSERT_LE(queue.size(), 4'096u);
  }
  EXPECT_EQ(allocationCount(), before);
  EXPECT_GT(full, 0u);
  EXPECT_LE(queue.flows(), 4'096u);
  while (queue.dequeue()) {
  }
  EXPECT_EQ(queue.flows(), 0u);
  EXPECT_EQ(queue.size(), 0u);
}

}  // namespace
}  // namespace rampart::shield
