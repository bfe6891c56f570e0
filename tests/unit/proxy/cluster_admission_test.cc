// Cluster admission glue: acquire / queue / shed, the hand-over of freed
// slots in the fair queue's order, timeouts, cancels, latencies, flows and
// count mode, with an injected clock and test waiters (no sockets).
#include "proxy/cluster_admission.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace rampart::proxy {
namespace {

using shield::kSecond;
using shield::Nanos;
using shield::RequestClass;
using State = ClusterHold::State;

constexpr Nanos kT0 = 1000 * kSecond;
constexpr Nanos kMs = 1'000'000;

net::SocketAddress ip(const char* text) {
  return net::SocketAddress::parseNumeric(std::string(text) + ":1").value();
}

// A fixed limit of `limit` slots (no probing that moves it), `bound` waiting.
shield::ClusterAdmissionPolicy fixedPolicy(uint32_t limit, uint32_t bound, uint32_t per_flow = 8) {
  shield::ClusterAdmissionPolicy p;
  p.concurrency.min_limit = p.concurrency.max_limit = limit;
  p.concurrency.initial_limit = p.concurrency.probe_limit = limit;
  p.concurrency.queue_min = bound;
  p.concurrency.queue_factor = 0;
  p.queue.capacity = 64;
  p.queue.per_flow = per_flow;
  p.queue.reserved_authenticated = 0;
  p.queue_timeout = 500 * kMs;
  return p;
}

// One request: its hold and what it was told.
struct Request : SlotWaiter {
  ClusterHold hold;
  int slots = 0;
  std::function<void(Request&)> on_slot;  // e.g. fails at once and finishes
  std::vector<int>* order = nullptr;
  int id = 0;
  void onClusterSlot() override {
    ++slots;
    if (order != nullptr) order->push_back(id);
    if (on_slot) on_slot(*this);
  }
};

auth::Identity account(const std::string& name) {
  auth::Identity identity;
  identity.kind = auth::CredentialKind::kApiKey;
  identity.principal = name + "-svc";
  identity.account = name;
  return identity;
}

class ClusterAdmissionTest : public ::testing::Test {
 protected:
  void make(const shield::ClusterAdmissionPolicy& policy) {
    admission_ = std::make_unique<ClusterAdmission>(policy, &keys_, kT0);
  }
  AdmitVerdict admit(Request& r, const auth::Identity* identity = nullptr,
                     const char* client = "10.0.0.1", Nanos now = kT0) {
    client_ = ip(client);
    RequestClass c = identity != nullptr ? RequestClass::kAuthenticated : RequestClass::kAnonymous;
    return admission_->admit(&r.hold, FlowInput{identity, &client_}, c, &r, now);
  }
  // The request was forwarded at `sent` and its response head came at `head`.
  void respond(Request& r, Nanos sent, Nanos head) {
    r.hold.sent_at = sent;
    r.hold.head_at = head;
    admission_->finish(&r.hold, head);
  }

  shield::KeyDeriver keys_{shield::Seed{1, 2}};
  net::SocketAddress client_;
  std::unique_ptr<ClusterAdmission> admission_;
};

TEST_F(ClusterAdmissionTest, AcquiresUpToTheLimitThenQueuesThenSheds) {
  make(fixedPolicy(2, 2));
  Request r[5];
  EXPECT_EQ(admit(r[0]), AdmitVerdict::kForward);
  EXPECT_EQ(admit(r[1]), AdmitVerdict::kForward);
  EXPECT_EQ(r[0].hold.state, State::kSlot);
  EXPECT_EQ(admit(r[2], nullptr, "10.0.1.1"), AdmitVerdict::kWait);
  EXPECT_EQ(admit(r[3], nullptr, "10.0.2.1"), AdmitVerdict::kWait);
  EXPECT_EQ(r[2].hold.state, State::kQueued);
  EXPECT_EQ(admit(r[4], nullptr, "10.0.3.1"), AdmitVerdict::kShed);  // 2 waiting: the bound
  EXPECT_EQ(r[4].hold.cluster, nullptr);                             // a shed request holds nothing
  EXPECT_EQ(admission_->limiter().inFlight(), 2u);
  EXPECT_EQ(admission_->waiting(), 2u);
  EXPECT_EQ(admission_->stats().forwarded, 2u);
  EXPECT_EQ(admission_->stats().queued, 2u);
  EXPECT_EQ(admission_->stats().shed_limit, 1u);
}

TEST_F(ClusterAdmissionTest, AFreedSlotGoesToTheNextFlowInTurn) {
  make(fixedPolicy(1, 10));
  std::vector<int> order;
  Request holder;
  ASSERT_EQ(admit(holder), AdmitVerdict::kForward);
  // Flow "heavy" queues three, then flow "light" one: light is served second, not fourth.
  auth::Identity heavy = account("heavy"), light = account("light");
  Request q[4];
  for (int i = 0; i < 4; ++i) {
    q[i].id = i;
    q[i].order = &order;
    ASSERT_EQ(admit(q[i], i < 3 ? &heavy : &light), AdmitVerdict::kWait);
  }
  // Each request, once served, answers 10 ms later and frees its slot.
  Request* last = &holder;
  for (int i = 0; i < 4; ++i) {
    respond(*last, kT0, kT0 + 10 * kMs);
    ASSERT_EQ(order.size(), static_cast<size_t>(i + 1));
    last = &q[order.back()];
    EXPECT_EQ(last->hold.state, State::kSlot);
    EXPECT_EQ(admission_->limiter().inFlight(), 1u);
  }
  EXPECT_EQ(order, (std::vector<int>{0, 3, 1, 2}));
  EXPECT_EQ(admission_->stats().dequeued, 4u);
}

TEST_F(ClusterAdmissionTest, AHandOverThatEndsAtOnceDoesNotRecurseAndServesTheNext) {
  make(fixedPolicy(1, 10));
  std::vector<int> order;
  Request holder, a, b;
  ASSERT_EQ(admit(holder), AdmitVerdict::kForward);
  a.id = 1;
  b.id = 2;
  a.order = b.order = &order;
  // `a` fails at once when it gets its slot (a refused connect): it
  // finishes inside the hand-over, and `b` must get the slot next.
  a.on_slot = [this](Request& self) { admission_->finish(&self.hold, kT0 + kMs); };
  ASSERT_EQ(admit(a, nullptr, "10.0.1.1"), AdmitVerdict::kWait);
  ASSERT_EQ(admit(b, nullptr, "10.0.2.1"), AdmitVerdict::kWait);
  respond(holder, kT0, kT0 + kMs);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(a.hold.state, State::kNone);
  EXPECT_EQ(b.hold.state, State::kSlot);
  EXPECT_EQ(admission_->limiter().inFlight(), 1u);
  EXPECT_EQ(admission_->waiting(), 0u);
}

TEST_F(ClusterAdmissionTest, ATimeoutOrACancelFreesTheQueuePlace) {
  make(fixedPolicy(1, 1));
  Request holder, waiter, refused, cancelled, next;
  ASSERT_EQ(admit(holder), AdmitVerdict::kForward);
  ASSERT_EQ(admit(waiter), AdmitVerdict::kWait);
  EXPECT_EQ(admit(refused), AdmitVerdict::kShed);
  admission_->timeOut(&waiter.hold);  // its queue timer fired
  EXPECT_EQ(waiter.hold.state, State::kNone);
  EXPECT_EQ(admission_->stats().timeouts, 1u);
  ASSERT_EQ(admit(cancelled), AdmitVerdict::kWait);
  admission_->finish(&cancelled.hold, kT0 + kMs);  // its client left
  EXPECT_EQ(admission_->stats().cancelled, 1u);
  EXPECT_EQ(admission_->waiting(), 0u);
  ASSERT_EQ(admit(next), AdmitVerdict::kWait);
  respond(holder, kT0, kT0 + kMs);
  EXPECT_EQ(next.slots, 1);
  EXPECT_EQ(waiter.slots + cancelled.slots, 0);
}

TEST_F(ClusterAdmissionTest, LatenciesTeachTheLimitAndAbandonsDoNot) {
  shield::ClusterAdmissionPolicy policy = fixedPolicy(10, 10);
  policy.concurrency.min_limit = 1;
  policy.concurrency.probe_limit = 10;
  policy.concurrency.min_rtt_samples = 4;
  policy.concurrency.min_samples = 4;
  policy.concurrency.sample_window = kMs;
  make(policy);
  Nanos now = kT0;
  auto round = [&](Nanos latency, bool abandon) {
    Request r;
    EXPECT_EQ(admit(r, nullptr, "10.0.0.1", now), AdmitVerdict::kForward);
    r.hold.sent_at = now;
    now += latency;
    if (!abandon) r.hold.head_at = now;
    admission_->finish(&r.hold, now);
  };
  for (int i = 0; i < 4; ++i) round(kMs, false);  // the probe: min-RTT 1 ms
  ASSERT_EQ(admission_->limiter().stats().probes, 1u);
  for (int i = 0; i < 40; ++i) round(kMs, true);  // client cancels: nothing learned
  EXPECT_EQ(admission_->limiter().stats().windows, 0u);
  EXPECT_EQ(admission_->limiter().inFlight(), 0u);
  for (int i = 0; i < 40; ++i) round(20 * kMs, false);  // the upstream slowed 20x
  EXPECT_GT(admission_->limiter().stats().windows, 0u);
  EXPECT_LT(admission_->limiter().limit(), 10u);
}

TEST_F(ClusterAdmissionTest, AnUpstreamTimeoutCountsAsItsLatency) {
  shield::ClusterAdmissionPolicy policy = fixedPolicy(10, 10);
  policy.concurrency.min_limit = 1;
  policy.concurrency.min_rtt_samples = 1;
  policy.concurrency.min_samples = 1;
  policy.concurrency.sample_window = kMs;
  policy.concurrency.probe_limit = 10;
  make(policy);
  Request probe;
  ASSERT_EQ(admit(probe), AdmitVerdict::kForward);
  respond(probe, kT0, kT0 + kMs);
  Request slow;
  ASSERT_EQ(admit(slow, nullptr, "10.0.0.1", kT0 + 2 * kMs), AdmitVerdict::kForward);
  slow.hold.sent_at = kT0 + 2 * kMs;
  slow.hold.upstream_timed_out = true;
  admission_->finish(&slow.hold, kT0 + 2 * kSecond);
  EXPECT_EQ(admission_->limiter().stats().windows, 1u);
  EXPECT_LT(admission_->limiter().limit(), 10u);  // a timeout is the slowest sample there is
}

TEST_F(ClusterAdmissionTest, FlowsAreTheAccountThenThePrincipalThenTheAddressPrefix) {
  make(fixedPolicy(1, 100, /*per_flow=*/1));
  Request holder;
  ASSERT_EQ(admit(holder), AdmitVerdict::kForward);
  Request r[8];
  EXPECT_EQ(admit(r[0], nullptr, "10.1.1.1"), AdmitVerdict::kWait);
  EXPECT_EQ(admit(r[1], nullptr, "10.1.1.200"), AdmitVerdict::kShed);  // same /24: same flow
  EXPECT_EQ(admit(r[2], nullptr, "10.1.2.1"), AdmitVerdict::kWait);
  auth::Identity acme = account("acme");
  auth::Identity acme_other = account("acme");
  acme_other.principal = "another-svc";
  EXPECT_EQ(admit(r[3], &acme), AdmitVerdict::kWait);
  EXPECT_EQ(admit(r[4], &acme_other), AdmitVerdict::kShed);  // one account, one flow
  auth::Identity lone = account("");
  lone.principal = "lone";
  EXPECT_EQ(admit(r[5], &lone, "10.1.1.1"), AdmitVerdict::kWait);  // no account: its principal
  EXPECT_EQ(admission_->stats().shed_flow_full, 2u);
}

TEST_F(ClusterAdmissionTest, AnAnonymousBacklogDoesNotShedTheAuthenticated) {
  make(fixedPolicy(1, 2));
  Request holder, anon[3], authed;
  ASSERT_EQ(admit(holder), AdmitVerdict::kForward);
  ASSERT_EQ(admit(anon[0], nullptr, "10.0.1.1"), AdmitVerdict::kWait);
  ASSERT_EQ(admit(anon[1], nullptr, "10.0.2.1"), AdmitVerdict::kWait);
  EXPECT_EQ(admit(anon[2], nullptr, "10.0.3.1"), AdmitVerdict::kShed);
  auth::Identity acme = account("acme");
  EXPECT_EQ(admit(authed, &acme), AdmitVerdict::kWait);
}

TEST_F(ClusterAdmissionTest, CountModeForwardsEverythingAndCountsWhatEnforcingWouldDo) {
  shield::ClusterAdmissionPolicy policy = fixedPolicy(1, 1);
  policy.count_only = true;
  make(policy);
  Request holder, shadow, over, late;
  EXPECT_EQ(admit(holder), AdmitVerdict::kForward);
  EXPECT_EQ(admit(shadow), AdmitVerdict::kForward);  // would have queued
  EXPECT_EQ(shadow.hold.state, State::kQueued);
  EXPECT_EQ(admit(over), AdmitVerdict::kForward);  // would have been shed
  EXPECT_EQ(over.hold.state, State::kNone);
  EXPECT_EQ(admission_->stats().would_queue, 1u);
  EXPECT_EQ(admission_->stats().would_shed, 1u);
  // The holder ends: the shadow-queued request now holds the slot (no waking: it is forwarded).
  respond(holder, kT0, kT0 + kMs);
  EXPECT_EQ(shadow.slots, 0);
  EXPECT_EQ(shadow.hold.state, State::kSlot);
  admission_->finish(&over.hold, kT0 + 2 * kMs);
  // One that would have waited past the timeout counts as shed when it ends.
  ASSERT_EQ(admit(late, nullptr, "10.0.0.1", kT0 + 3 * kMs), AdmitVerdict::kForward);
  ASSERT_EQ(late.hold.state, State::kQueued);
  admission_->finish(&late.hold, kT0 + 3 * kMs + 2 * policy.queue_timeout);
  EXPECT_EQ(admission_->stats().would_shed, 2u);
  EXPECT_EQ(admission_->stats().queued + admission_->stats().shed_limit, 0u);
}

TEST_F(ClusterAdmissionTest, ForgetLeavesSilently) {
  make(fixedPolicy(1, 4));
  Request holder, waiter;
  ASSERT_EQ(admit(holder), AdmitVerdict::kForward);
  ASSERT_EQ(admit(waiter), AdmitVerdict::kWait);
  admission_->forget(&holder.hold);  // nobody is woken
  EXPECT_EQ(waiter.slots, 0);
  EXPECT_EQ(admission_->limiter().inFlight(), 0u);
  admission_->forget(&waiter.hold);
  EXPECT_EQ(admission_->waiting(), 0u);
}

TEST(ClusterAdmissionHeadersTest, ShedHeadersNameTheCauseAndRetryAfterInWholeSeconds) {
  shield::ClusterAdmissionPolicy policy;
  policy.retry_after = 1500 * kMs;
  std::string out = "stale";
  appendShedHeaders(out, policy);
  EXPECT_EQ(out, "Retry-After: 2\r\nx-rampart-shed: adaptive-concurrency\r\n");
}

TEST(ClusterAdmissionClassTest, TheIdentityDecidesAuthenticatedOrAnonymous) {
  RequestContext ctx;
  EXPECT_EQ(admissionClassOf(ctx), RequestClass::kAnonymous);
  ctx.auth.identity = std::make_shared<auth::Identity>(account("acme"));
  EXPECT_EQ(admissionClassOf(ctx), RequestClass::kAuthenticated);
}

}  // namespace
}  // namespace rampart::proxy
