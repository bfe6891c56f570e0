// The `store:` section and global limits: what a good config compiles to,
// and every mistake refused at its file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace rampart::config {
namespace {

using test_support::all;
using ::testing::HasSubstr;

LoadResult load(std::string_view text) {
  return test_support::loadText(text, "store.yaml");
}

std::string withStore(std::string_view store, std::string_view limit) {
  std::string text = "workers: 2\n";
  text += store;
  text += R"(listeners: [{name: main, address: "127.0.0.1:8080"}]
clusters: [{name: backend, endpoints: ["127.0.0.1:9000"]}]
virtual_hosts:
  - name: api
    domains: ["*"]
    routes:
      - name: orders
        match: {prefix: /}
        cluster: backend
        public: true
        limits:
          - )";
  text += limit;
  text += "\n";
  return text;
}

constexpr std::string_view kStore = R"(store:
  redis:
    addresses: ["127.0.0.1:6379"]
    timeout: 20ms
    username: rampart
    password: secret
  prefix: "edge:"
  expected_instances: 3
  lease_ttl: 500ms
)";

TEST(StoreConfig, CompilesStoreAndGlobalLimit) {
  LoadResult result =
      load(withStore(kStore,
                     "{name: per-client, key: route, rate: 600/s, burst: 120, scope: global, "
                     "on_store_error: closed}"));
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const store::StoreSettings& s = result.snapshot->store;
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.mode, store::Mode::kSingle);
  ASSERT_EQ(s.address_texts.size(), 1u);
  EXPECT_EQ(s.address_texts[0], "127.0.0.1:6379");
  EXPECT_EQ(s.timeout.count(), 20);
  EXPECT_EQ(s.username, "rampart");
  EXPECT_EQ(s.password, "secret");
  EXPECT_EQ(s.channel(), "edge:events");
  EXPECT_EQ(s.expected_instances, 3u);
  EXPECT_EQ(s.lease_ttl.count(), 500);
  EXPECT_EQ(s.workers, 2u);
  const shield::RequestLimit& limit = result.snapshot->shield.route_limits[0][0];
  EXPECT_TRUE(limit.global);
  EXPECT_FALSE(limit.fail_open);
  // 120 / (3 instances x 2 workers) = 20 per worker; a lease is a quarter of it.
  EXPECT_EQ(limit.lease, 5u);
  EXPECT_EQ(limit.share.burst(), 20u);
  EXPECT_NEAR(static_cast<double>(limit.share.interval()),
              static_cast<double>(limit.gcra.interval()) * 6, 10);
  EXPECT_EQ(limit.store_id, "route 'orders'/per-client");
}

TEST(StoreConfig, SentinelModeNamesTheSentinelsAndTheMaster) {
  LoadResult result =
      load(withStore(R"(store:
  redis:
    mode: sentinel
    sentinels: ["127.0.0.1:26379", "127.0.0.1:26380", "127.0.0.1:26381"]
    master_name: mymaster
)",
                     "{name: g, key: route, rate: 10/s, burst: 10, scope: global}"));
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const store::StoreSettings& s = result.snapshot->store;
  EXPECT_EQ(s.mode, store::Mode::kSentinel);
  EXPECT_EQ(s.master_name, "mymaster");
  // The sentinels, in the order they are asked.
  ASSERT_EQ(s.address_texts.size(), 3u);
  EXPECT_EQ(s.address_texts[0], "127.0.0.1:26379");
  EXPECT_EQ(s.address_texts[2], "127.0.0.1:26381");
}

TEST(StoreConfig, LocalByDefaultAndNoStoreNeeded) {
  LoadResult result = load(withStore("", "{name: l, key: route, rate: 1/s, burst: 1}"));
  ASSERT_TRUE(result.ok()) << all(result.errors);
  EXPECT_FALSE(result.snapshot->store.enabled);
  EXPECT_FALSE(result.snapshot->shield.route_limits[0][0].global);
}

struct Bad {
  std::string store;
  std::string limit;
  std::string where;    // "line:col"
  std::string message;  // part of it
};

TEST(StoreConfig, MistakesAreRefusedWhereTheyAre) {
  const std::string limit = "{name: g, key: route, rate: 10/s, burst: 10, scope: global}";
  const Bad cases[] = {
      {"", limit, "13:", "scope: global needs a `store:` section"},
      {"", "{name: g, key: route, rate: 1/s, burst: 1, on_store_error: open}",
       "13:", "on_store_error: only for `scope: global` limits"},
      {std::string(kStore), "{name: g, key: route, rate: 1/s, burst: 4, scope: global, lease: 5}",
       "22:", "lease"},
      {std::string(kStore),
       "{name: g, key: route, rate: 1/s, burst: 4, scope: global, on_store_error: maybe}",
       "22:", "on_store_error"},
      {"store:\n  redis: {addresses: []}\n", limit, "3:", "at least one"},
      {"store:\n  redis: {addresses: [\"127.0.0.1:1\", \"127.0.0.1:2\"]}\n", limit,
       "3:", "mode single takes one address"},
      {"store:\n  redis: {addresses: [\"nonsense\"]}\n", limit, "3:", "expected host:port"},
      {"store:\n  redis: {addresses: [\"127.0.0.1:1\"], timeout: 0}\n", limit, "3:", "timeout"},
      {"store:\n  redis: {addresses: [\"127.0.0.1:1\"], mode: sentinel, master_name: m}\n", limit,
       "3:", "addresses: mode sentinel finds the master through `sentinels`"},
      {"store:\n  redis: {mode: sentinel, master_name: m}\n", limit,
       "3:", "missing required key 'sentinels'"},
      {"store:\n  redis: {mode: sentinel, sentinels: [\"127.0.0.1:1\"]}\n", limit,
       "3:", "missing required key 'master_name'"},
      {"store:\n  redis: {mode: sentinel, sentinels: [], master_name: m}\n", limit,
       "3:", "sentinels: at least one host:port"},
      {"store:\n  redis: {mode: sentinel, sentinels: [\"nope\"], master_name: m}\n", limit,
       "3:", "sentinels: expected host:port"},
      {"store:\n  redis: {mode: sentinel, sentinels: [\"127.0.0.1:1\"], master_name: \"a b\"}\n",
       limit, "3:", "master_name: the name the sentinels monitor"},
      {"store:\n  redis: {addresses: [\"127.0.0.1:1\"], sentinels: [\"127.0.0.1:2\"]}\n", limit,
       "3:", "sentinels: only with mode: sentinel"},
      {"store:\n  redis: {addresses: [\"127.0.0.1:1\"], master_name: m}\n", limit,
       "3:", "master_name: only with mode: sentinel"},
      {"store:\n  redis: {addresses: [\"127.0.0.1:1\"], mode: primary}\n", limit, "3:", "mode"},
      {"store:\n  redis: {addresses: [\"127.0.0.1:1\"], username: u}\n", limit,
       "3:", "needs a password"},
      {"store:\n  redis: {addresses: [\"127.0.0.1:1\"], tls: {ca: /nonexistent/ca.pem}}\n", limit,
       "3:", "ca: cannot read /nonexistent/ca.pem"},
      {"store:\n  redis: {addresses: [\"127.0.0.1:1\"], tls: {cert: /etc/hostname}}\n", limit,
       "3:", "cert and key go together"},
      {"store:\n  redis: {addresses: [\"127.0.0.1:1\"]}\n  prefix: \"a b\"\n", limit,
       "4:", "prefix"},
      {"store:\n  redis: {addresses: [\"127.0.0.1:1\"]}\n  shards: 3\n", limit, "4:", "shards"},
      {"store:\n  prefix: x\n", limit, "3:", "missing required key 'redis'"},
  };
  for (const Bad& bad : cases) {
    LoadResult result = load(withStore(bad.store, bad.limit));
    ASSERT_FALSE(result.ok()) << bad.message;
    const std::string text = all(result.errors);
    EXPECT_THAT(text, HasSubstr("store.yaml:" + bad.where)) << text;
    EXPECT_THAT(text, HasSubstr(bad.message)) << text;
  }
}

}  // namespace
}  // namespace rampart::config
