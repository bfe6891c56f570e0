#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "drill/drill.h"

namespace rampart::drill {
namespace {

// Parses `args` as `rampart drill ...` would; returns CLI11's verdict.
struct Parsed {
  CLI::App app{"rampart"};
  DrillCommand command{&app};
  std::string cli_error;

  explicit Parsed(std::vector<std::string> args) {
    args.insert(args.begin(), "drill");
    std::reverse(args.begin(), args.end());  // CLI11 wants them reversed
    try {
      app.parse(args);
    } catch (const CLI::ParseError& e) {
      cli_error = e.what();
    }
  }
  CheckResult check(Plan* plan, std::string* error) {
    return checkOptions(command.options(), plan, error);
  }
};

CheckResult checkArgs(std::vector<std::string> args, Plan* plan, std::string* error) {
  Parsed parsed(std::move(args));
  EXPECT_EQ(parsed.cli_error, "");
  return parsed.check(plan, error);
}

TEST(DrillOptionsTest, DefaultsMakeAPlan) {
  Plan plan;
  std::string error;
  ASSERT_EQ(checkArgs({"--target", "127.0.0.1:8080"}, &plan, &error), CheckResult::kOk) << error;
  EXPECT_EQ(plan.host_header, "127.0.0.1");
  EXPECT_EQ(plan.path, "/");
  EXPECT_EQ(plan.attack_path, "/");
  EXPECT_EQ(plan.warmup_ns, 1000000000);
  EXPECT_EQ(plan.baseline_ns, 5000000000);
  EXPECT_EQ(plan.attack_ns, 10000000000);
  EXPECT_EQ(plan.legit, 10);
  EXPECT_DOUBLE_EQ(plan.legit_rate, 10);
  EXPECT_EQ(plan.legit_sources, 10);  // one address per client
  EXPECT_EQ(plan.legit_connections, 4);
  EXPECT_FALSE(plan.attacking());
  EXPECT_FALSE(plan.legit_realtime);
  EXPECT_FALSE(plan.json);
  EXPECT_FALSE(plan.remote);
}

TEST(DrillOptionsTest, EveryFlagLandsInThePlan) {
  Plan plan;
  std::string error;
  ASSERT_EQ(checkArgs({"--target",
                       "127.0.0.1:8080",
                       "--host-header",
                       "api.test",
                       "--path",
                       "/orders",
                       "--attack-path",
                       "/login",
                       "--warmup",
                       "500ms",
                       "--baseline",
                       "2s",
                       "--duration",
                       "1m",
                       "--timeout",
                       "250ms",
                       "--format",
                       "json",
                       "--legit",
                       "50",
                       "--legit-rate",
                       "1200/m",
                       "--legit-connections",
                       "2",
                       "--legit-header",
                       "X-Tenant: acme",
                       "--legit-sources",
                       "5",
                       "--flood-connections",
                       "1000",
                       "--flood-sources",
                       "1000",
                       "--flood-rate",
                       "17/s",
                       "--bogus-tokens",
                       "--bogus-kid",
                       "k1",
                       "--slowloris",
                       "5000",
                       "--slowloris-interval",
                       "2s",
                       "--connection-flood",
                       "300",
                       "--attack-nice",
                       "5",
                       "--legit-realtime"},
                      &plan, &error),
            CheckResult::kOk)
      << error;
  EXPECT_EQ(plan.host_header, "api.test");
  EXPECT_EQ(plan.path, "/orders");
  EXPECT_EQ(plan.attack_path, "/login");
  EXPECT_EQ(plan.warmup_ns, 500000000);
  EXPECT_EQ(plan.attack_ns, 60000000000);
  EXPECT_EQ(plan.timeout_ns, 250000000);
  EXPECT_TRUE(plan.json);
  EXPECT_EQ(plan.legit, 50);
  EXPECT_DOUBLE_EQ(plan.legit_rate, 20);
  EXPECT_EQ(plan.legit_connections, 2);
  ASSERT_EQ(plan.legit_headers.size(), 1u);
  EXPECT_EQ(plan.legit_headers[0], "X-Tenant: acme");
  EXPECT_EQ(plan.legit_sources, 5);
  EXPECT_EQ(plan.flood_connections, 1000);
  EXPECT_EQ(plan.flood_sources, 1000);
  EXPECT_DOUBLE_EQ(plan.flood_rate, 17);
  EXPECT_TRUE(plan.bogus_tokens);
  EXPECT_EQ(plan.bogus_kid, "k1");
  EXPECT_EQ(plan.slowloris, 5000);
  EXPECT_EQ(plan.slowloris_interval_ns, 2000000000);
  EXPECT_DOUBLE_EQ(plan.connection_flood, 300);
  EXPECT_EQ(plan.attack_nice, 5);
  EXPECT_TRUE(plan.legit_realtime);
  EXPECT_TRUE(plan.attacking());
  EXPECT_GE(plan.descriptorsNeeded(), 50u * 2 + 1000 + 5000);
}

TEST(DrillOptionsTest, TargetIsRequiredByTheParser) {
  Parsed parsed({"--legit", "3"});
  EXPECT_NE(parsed.cli_error.find("--target"), std::string::npos) << parsed.cli_error;
}

TEST(DrillOptionsTest, BadValuesAreRefusedNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  const std::vector<Case> cases = {
      {{"--duration", "ten"}, "--duration"},
      {{"--baseline", "-1s"}, "--baseline"},
      {{"--duration", "299s", "--baseline", "2s"}, "capped at 300"},
      {{"--timeout", "0"}, "--timeout"},
      {{"--legit-rate", "fast"}, "--legit-rate"},
      {{"--legit-rate", "5/d"}, "--legit-rate"},
      {{"--legit", "-1"}, "--legit"},
      {{"--legit-connections", "0"}, "--legit-connections"},
      {{"--flood-rate", "-3"}, "--flood-rate"},
      {{"--flood-connections", "-5"}, "--flood-connections"},
      {{"--legit-header", "NoColon"}, "--legit-header"},
      {{"--legit-header", "Bad Name: x"}, "--legit-header"},
      {{"--path", "orders"}, "--path"},
      {{"--format", "xml"}, "--format"},
      {{"--bogus-tokens"}, "--bogus-tokens needs --flood-connections"},
      {{"--flood-connections", "10", "--flood-sources", "300", "--attack-source-base",
        "127.255.255.1"},
       "leave 127.0.0.0/8"},
      {{"--attack-source-base", "10.0.0.1", "--flood-connections", "1"}, "--attack-source-base"},
      {{"--legit-source-base", "not-an-ip"}, "--legit-source-base"},
      {{"--slowloris-interval", "1ms", "--slowloris", "1"}, "--slowloris-interval"},
      {{"--legit", "0"}, "nothing to do"},
      {{"--legit-tokens", "/nonexistent/tokens.txt"}, "--legit-tokens"},
      {{"--attack-nice", "40"}, "--attack-nice"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--target", "127.0.0.1:8080"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    Plan plan;
    std::string error;
    EXPECT_EQ(checkArgs(args, &plan, &error), CheckResult::kBadFlags) << c.flag;
    EXPECT_NE(error.find(c.flag), std::string::npos) << "want '" << c.flag << "' in: " << error;
  }
}

TEST(DrillOptionsTest, NonLoopbackTargetIsRefusedUnlessAllowed) {
  Plan plan;
  std::string error;
  EXPECT_EQ(checkArgs({"--target", "192.0.2.10:80"}, &plan, &error), CheckResult::kRemoteRefused);
  EXPECT_NE(error.find("outside loopback"), std::string::npos) << error;
  EXPECT_NE(error.find("--allow-remote"), std::string::npos) << error;
  EXPECT_EQ(checkArgs({"--target", "[2001:db8::1]:80"}, &plan, &error),
            CheckResult::kRemoteRefused);

  error.clear();
  ASSERT_EQ(
      checkArgs({"--target", "192.0.2.10:80", "--allow-remote", "--legit", "3"}, &plan, &error),
      CheckResult::kOk)
      << error;
  EXPECT_TRUE(plan.remote);
  EXPECT_EQ(plan.legit_sources, 0);  // 127.x sources cannot reach a remote target
  // ...so asking for several is an error, not a silent change.
  EXPECT_EQ(checkArgs({"--target", "192.0.2.10:80", "--allow-remote", "--flood-connections", "5",
                       "--flood-sources", "10"},
                      &plan, &error),
            CheckResult::kBadFlags);
}

TEST(DrillOptionsTest, LoopbackNamesAndAddressesAreAccepted) {
  Plan plan;
  std::string error;
  EXPECT_EQ(checkArgs({"--target", "localhost:8080", "--legit-sources", "0"}, &plan, &error),
            CheckResult::kOk)
      << error;
  EXPECT_EQ(checkArgs({"--target", "127.45.6.7:8080"}, &plan, &error), CheckResult::kOk) << error;
  EXPECT_EQ(checkArgs({"--target", "[::1]:8080", "--legit-sources", "0"}, &plan, &error),
            CheckResult::kOk)
      << error;
  EXPECT_FALSE(plan.remote);
}

TEST(DrillOptionsTest, IsLoopback) {
  auto at = [](const char* text) { return *net::SocketAddress::parseNumeric(text); };
  EXPECT_TRUE(isLoopback(at("127.0.0.1:1")));
  EXPECT_TRUE(isLoopback(at("127.255.255.254:1")));
  EXPECT_TRUE(isLoopback(at("[::1]:1")));
  EXPECT_TRUE(isLoopback(at("[::ffff:127.0.0.1]:1")));
  EXPECT_FALSE(isLoopback(at("128.0.0.1:1")));
  EXPECT_FALSE(isLoopback(at("10.0.0.1:1")));
  EXPECT_FALSE(isLoopback(at("0.0.0.0:1")));
  EXPECT_FALSE(isLoopback(at("[::]:1")));
  EXPECT_FALSE(isLoopback(at("[::2]:1")));
  EXPECT_FALSE(isLoopback(at("[::ffff:10.0.0.1]:1")));
}

TEST(DrillOptionsTest, DurationsAndRates) {
  int64_t ns = 0;
  EXPECT_TRUE(parseDuration("10s", &ns));
  EXPECT_EQ(ns, 10000000000);
  EXPECT_TRUE(parseDuration("250ms", &ns));
  EXPECT_EQ(ns, 250000000);
  EXPECT_TRUE(parseDuration("2m", &ns));
  EXPECT_EQ(ns, 120000000000);
  EXPECT_TRUE(parseDuration("1.5", &ns));
  EXPECT_EQ(ns, 1500000000);
  EXPECT_FALSE(parseDuration("", &ns));
  EXPECT_FALSE(parseDuration("s", &ns));
  EXPECT_FALSE(parseDuration("10 s", &ns));
  EXPECT_FALSE(parseDuration("-1s", &ns));
  EXPECT_FALSE(parseDuration("1d", &ns));

  double rate = 0;
  EXPECT_TRUE(parseRate("20", &rate));
  EXPECT_DOUBLE_EQ(rate, 20);
  EXPECT_TRUE(parseRate("20/s", &rate));
  EXPECT_DOUBLE_EQ(rate, 20);
  EXPECT_TRUE(parseRate("600/m", &rate));
  EXPECT_DOUBLE_EQ(rate, 10);
  EXPECT_TRUE(parseRate("3600/h", &rate));
  EXPECT_DOUBLE_EQ(rate, 1);
  EXPECT_TRUE(parseRate("0", &rate));
  EXPECT_DOUBLE_EQ(rate, 0);
  EXPECT_FALSE(parseRate("20/d", &rate));
  EXPECT_FALSE(parseRate("/s", &rate));
  EXPECT_FALSE(parseRate("-1", &rate));
  EXPECT_FALSE(parseRate("nan", &rate));
}

TEST(DrillOptionsTest, TokensFileGivesOneCredentialPerClient) {
  std::string path = ::testing::TempDir() + "drill_tokens.txt";
  {
    std::ofstream out(path);
    out << "tok-a\r\n\ntok-b\ntok-c\n";
  }
  Plan plan;
  std::string error;
  ASSERT_EQ(checkArgs({"--target", "127.0.0.1:8080", "--legit-tokens", path}, &plan, &error),
            CheckResult::kOk)
      << error;
  EXPECT_EQ(plan.legit_tokens, (std::vector<std::string>{"tok-a", "tok-b", "tok-c"}));
  {
    std::ofstream out(path);
    out << "\n\n";
  }
  EXPECT_EQ(checkArgs({"--target", "127.0.0.1:8080", "--legit-tokens", path}, &plan, &error),
            CheckResult::kBadFlags);
  EXPECT_NE(error.find("empty"), std::string::npos) << error;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace rampart::drill
