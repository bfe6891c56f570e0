// The per-route state that survives reloads: kept while the route and its
// fingerprint stay, replaced when the fingerprint changes, dropped with the route.
#include "proxy/route_state.h"

#include <gtest/gtest.h>

#include <atomic>

namespace rampart::proxy {
namespace {

struct Step {
  std::atomic<int> percent{0};
};

TEST(RouteStateRegistryTest, KeptAcrossReloadsUntilItsFingerprintOrRouteChanges) {
  RouteStateRegistry registry;
  int made = 0;
  auto make = [&] {
    ++made;
    return std::make_shared<Step>();
  };
  auto first = registry.obtain<Step>("rollout", "orders", "spec-a", make);
  first->percent = 25;
  // The next reload, same route and spec: the same state.
  auto again = registry.obtain<Step>("rollout", "orders", "spec-a", make);
  EXPECT_EQ(again.get(), first.get());
  EXPECT_EQ(again->percent.load(), 25);
  EXPECT_EQ(made, 1);
  // Another kind of state of the same route is its own entry.
  registry.obtain<Step>("split", "orders", "spec-a", make);
  EXPECT_EQ(registry.size(), 2u);
  // The spec changed: a fresh state.
  auto changed = registry.obtain<Step>("rollout", "orders", "spec-b", make);
  EXPECT_NE(changed.get(), first.get());
  EXPECT_EQ(changed->percent.load(), 0);
  // The route is gone from the config: its entries go.
  registry.obtain<Step>("rollout", "users", "spec-a", make);
  registry.retainOnly({"users"});
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(first->percent.load(), 25);  // holders of the old state still have it
}

}  // namespace
}  // namespace rampart::proxy
