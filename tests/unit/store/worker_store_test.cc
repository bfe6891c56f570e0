#include "store/worker_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/event_loop.h"

namespace rampart::store {
namespace {

TEST(GlobalLimitKey, SameOnEveryInstanceAndHidesTheValue) {
  const std::string a = globalLimitKey("rampart:", "route 'orders'/per-account", "acme");
  EXPECT_EQ(a, globalLimitKey("rampart:", "route 'orders'/per-account", "acme"));
  EXPECT_EQ(a.rfind("rampart:gl:", 0), 0u);
  EXPECT_EQ(a.size(), std::string("rampart:gl:").size() + 32);
  EXPECT_EQ(a.find("acme"), std::string::npos);
  EXPECT_NE(a, globalLimitKey("rampart:", "route 'orders'/per-account", "acme2"));
  EXPECT_NE(a, globalLimitKey("rampart:", "route 'orders'/per-ip", "acme"));
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  EXPECT_NE(globalLimitKey("p:", "ab", "c"), globalLimitKey("p:", "a", "bc"));
}

// A store that is never reachable (nothing listens on the port): the worker
// side must decide at once by the limit's failure mode, never wait.
TEST(WorkerStore, DownStoreFollowsOnStoreError) {
  StoreSettings settings;
  settings.enabled = true;
  settings.addresses.push_back(*net::SocketAddress::parseNumeric("127.0.0.1:1"));
  settings.address_texts.push_back("127.0.0.1:1");
  StoreClient client(settings, [](const StoreEvent&) {});  // not started: down
  core::EventLoop loop;
  WorkerStore store(client, loop, 64);
  ASSERT_FALSE(store.up());

  shield::RequestLimit limit("g", shield::LimitKey::kAddress, shield::Limit{100, 10});
  limit.global = true;
  limit.lease = 2;
  limit.share = shield::Gcra(shield::Limit{10, 2});  // the local share: burst 2
  const shield::Key key{7, 7};
  int redis_keys = 0;
  auto make = [&] {
    ++redis_keys;
    return std::string("k");
  };
  limit.fail_open = true;
  EXPECT_EQ(store.check(limit, key, 1000, make).kind, GlobalDecision::Kind::kAllow);
  EXPECT_EQ(store.check(limit, key, 1000, make).kind, GlobalDecision::Kind::kAllow);
  GlobalDecision third = store.check(limit, key, 1000, make);
  EXPECT_EQ(third.kind, GlobalDecision::Kind::kDeny);
  EXPECT_GT(third.decision.retry_after, 0);
  EXPECT_EQ(redis_keys, 0);  // down: no lease asked for
  limit.fail_open = false;
  EXPECT_EQ(store.check(limit, key, 1000, make).kind, GlobalDecision::Kind::kUnavailable);
  EXPECT_EQ(store.stats().degraded.load(), 4u);
}

TEST(WorkerStore, Revocations) {
  StoreSettings settings;
  settings.addresses.push_back(*net::SocketAddress::parseNumeric("127.0.0.1:1"));
  settings.address_texts.push_back("127.0.0.1:1");
  StoreClient client(settings, [](const StoreEvent&) {});
  core::EventLoop loop;
  WorkerStore store(client, loop, 64);
  EXPECT_FALSE(store.revoked("jti:a", 1000));
  const int64_t far = 4'000'000'000'000;  // year 2096, in ms
  EXPECT_TRUE(store.applyRevocation("jti:a", far));
  EXPECT_FALSE(store.applyRevocation("jti:a", far));  // known: nothing to drop
  EXPECT_TRUE(store.revoked("jti:a", 1000));
  EXPECT_FALSE(store.revoked("jti:a", far));  // over
  EXPECT_FALSE(store.revoked("jti:b", 1000));
  EXPECT_FALSE(store.revoked("", 1000));
}

}  // namespace
}  // namespace rampart::store
