// What a reload compares (config/config.cc): the content hash over the config
// and every file it names, the cluster fingerprints that keep pools, the
// limit key spaces that keep limiter state, and the `reload:` section.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace rampart::config {
namespace {

using test_support::all;
using ::testing::HasSubstr;

// One listener, two clusters, one route with a limit; `extra` is appended.
std::string base(const std::string& orders_endpoint = "127.0.0.1:9001",
                 const std::string& burst = "3", const std::string& extra = "") {
  return R"(listeners:
  - name: main
    address: 127.0.0.1:8080
clusters:
  - name: orders
    endpoints: [")" +
         orders_endpoint + R"("]
  - name: users
    endpoints: ["127.0.0.1:9002"]
virtual_hosts:
  - name: default
    domains: ["*"]
    routes:
      - name: orders
        match: {prefix: /orders}
        cluster: orders
        public: true
        limits:
          - {name: per-ip, key: address, rate: 1/m, burst: )" +
         burst + R"(}
      - name: users
        match: {prefix: /users}
        cluster: users
        public: true
)" + extra;
}

std::shared_ptr<const Snapshot> load(const std::string& text) {
  LoadResult result = loadString(text, "live.yaml");
  EXPECT_TRUE(result.ok()) << all(result.errors);
  return result.snapshot;
}

TEST(ReloadConfigTest, TheSameContentHashesTheSameAndAnyChangeDoesNot) {
  auto a = load(base());
  auto b = load(base());
  auto c = load(base("127.0.0.1:9001", "3", "drain_timeout: 5s\n"));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->content_hash.size(), 64u);
  EXPECT_EQ(a->content_hash, b->content_hash);
  EXPECT_NE(a->content_hash, c->content_hash);
  ASSERT_EQ(a->sources.size(), 1u);
  EXPECT_EQ(a->sources[0].path, "live.yaml");
}

TEST(ReloadConfigTest, AnUnchangedClusterKeepsItsFingerprintAndAChangedOneDoesNot) {
  auto a = load(base());
  auto b = load(base("127.0.0.1:9003", "3", "drain_timeout: 5s\n"));
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->clusters[0].fingerprint, b->clusters[0].fingerprint);  // orders moved
  EXPECT_EQ(a->clusters[1].fingerprint, b->clusters[1].fingerprint);  // users did not
  EXPECT_NE(a->clusters[0].fingerprint, a->clusters[1].fingerprint);
}

TEST(ReloadConfigTest, AnUnchangedLimitKeepsItsKeySpaceAndAChangedOneGetsAnother) {
  auto a = load(base());
  auto same = load(base("127.0.0.1:9003", "3", "drain_timeout: 5s\n"));
  auto changed = load(base("127.0.0.1:9001", "4"));
  ASSERT_TRUE(a && same && changed);
  const uint64_t space = a->shield.route_limits[0][0].space;
  EXPECT_NE(space, 0u);
  EXPECT_EQ(same->shield.route_limits[0][0].space, space);
  EXPECT_NE(changed->shield.route_limits[0][0].space, space);
}

TEST(ReloadConfigTest, ReloadWatchIsReadAndCheckedWhereWritten) {
  auto watched = load(base("127.0.0.1:9001", "3", "reload: {watch: true}\n"));
  ASSERT_TRUE(watched);
  EXPECT_TRUE(watched->reload.watch);
  EXPECT_FALSE(load(base())->reload.watch);
  LoadResult bad = loadString(base("127.0.0.1:9001", "3", "reload:\n  watch: often\n  every: 1s\n"),
                              "live.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(all(bad.errors), HasSubstr("live.yaml:24:10: reload.watch"));
  EXPECT_THAT(all(bad.errors), HasSubstr("live.yaml:25:3: unknown key 'every'"));
}

TEST(ReloadConfigTest, FilesTheConfigNamesAreSourcesAndTheirContentCounts) {
  char dir_template[] = "/tmp/reload_config_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string policy_path = dir + "/policies.yaml";
  auto write_policy = [&](const std::string& principal) {
    std::ofstream(policy_path) << "policies:\n  - name: p\n    rules:\n      - {effect: allow, "
                                  "principals: ["
                               << principal << "]}\n";
  };
  const std::string text = base() + "policy_files: [policies.yaml]\n";
  write_policy("alice");
  LoadResult first = loadString(text, dir + "/live.yaml");
  ASSERT_TRUE(first.ok()) << all(first.errors);
  write_policy("bob");
  LoadResult second = loadString(text, dir + "/live.yaml");
  ASSERT_TRUE(second.ok()) << all(second.errors);
  ASSERT_EQ(first.snapshot->sources.size(), 2u);
  EXPECT_EQ(first.snapshot->sources[1].path, policy_path);
  // Same config text, another policy file: not an unchanged reload.
  EXPECT_NE(first.snapshot->content_hash, second.snapshot->content_hash);
  // The token cache's fingerprint follows the files too (conservatively).
  EXPECT_NE(first.snapshot->auth_fingerprint, second.snapshot->auth_fingerprint);
  std::remove(policy_path.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace rampart::config
