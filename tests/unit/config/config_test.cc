#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "config/yaml_reader.h"

namespace rampart::config {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

// Raw strings in this file start with a newline for readability; drop it so
// that line 1 of the YAML is the first line written.
LoadResult load(std::string_view text) {
  if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  return loadString(text, "test.yaml");
}

std::string dump(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) out += "\n  " + format(d);
  return out.empty() ? " (none)" : out;
}

// The warnings other than the ones every route without a policy gets (public,
// or uncovered and denied): those are about authorization, checked in
// policy_config_test.cc.
std::vector<Diagnostic> otherThanCoverage(const std::vector<Diagnostic>& warnings) {
  std::vector<Diagnostic> out;
  for (const Diagnostic& d : warnings) {
    if (d.message.find(" is public: ") == std::string::npos &&
        d.message.find(" has no policy: ") == std::string::npos) {
      out.push_back(d);
    }
  }
  return out;
}

// True when one diagnostic is on `line` (0: any) and contains `part`.
bool has(const std::vector<Diagnostic>& diagnostics, int line, std::string_view part) {
  return std::any_of(diagnostics.begin(), diagnostics.end(), [&](const Diagnostic& d) {
    return (line == 0 || d.line == line) && d.message.find(part) != std::string::npos;
  });
}

#define EXPECT_ERROR(result, line, part)                              \
  do {                                                                \
    EXPECT_FALSE((result).ok());                                      \
    EXPECT_TRUE(has((result).errors, line, part))                     \
        << "no error on line " << (line) << " containing '" << (part) \
        << "'; errors:" << dump((result).errors);                     \
  } while (0)

#define EXPECT_LOADS(result)                                          \
  do {                                                                \
    EXPECT_TRUE((result).ok()) << "errors:" << dump((result).errors); \
  } while (0)

constexpr std::string_view kMinimal = R"(
listeners:
  - address: 127.0.0.1:8080
clusters:
  - name: demo
    endpoints: [127.0.0.1:9000]
virtual_hosts:
  - routes:
      - name: all
        match: {prefix: /}
        cluster: demo
)";

// The minimal config with `extra` appended as more top-level keys.
std::string minimalWith(std::string_view extra) {
  return std::string(kMinimal.substr(1)) + std::string(extra);
}

// --- Scalar grammars -------------------------------------------------------

TEST(DurationTest, Accepted) {
  EXPECT_EQ(yaml::parseDuration("0"), milliseconds(0));
  EXPECT_EQ(yaml::parseDuration("0s"), milliseconds(0));
  EXPECT_EQ(yaml::parseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(yaml::parseDuration("10s"), milliseconds(10000));
  EXPECT_EQ(yaml::parseDuration("1m"), milliseconds(60000));
  EXPECT_EQ(yaml::parseDuration("2h"), milliseconds(7200000));
  EXPECT_EQ(yaml::parseDuration("576h"), yaml::kMaxDuration);
}

TEST(DurationTest, Refused) {
  for (const char* text :
       {"", "10", "s", "-1s", "+1s", "10 s", " 10s", "10s ", "1.5s", "10S", "10sec", "1d", "10ms5",
        "0x10s", "577h", "99999999999999999999s", "18446744073709551615h"}) {
    EXPECT_FALSE(yaml::parseDuration(text)) << text;
  }
}

TEST(SizeTest, Accepted) {
  EXPECT_EQ(yaml::parseSize("0"), 0u);
  EXPECT_EQ(yaml::parseSize("512"), 512u);
  EXPECT_EQ(yaml::parseSize("512B"), 512u);
  EXPECT_EQ(yaml::parseSize("64KiB"), 65536u);
  EXPECT_EQ(yaml::parseSize("1MiB"), 1048576u);
  EXPECT_EQ(yaml::parseSize("2GiB"), 2147483648u);
}

TEST(SizeTest, Refused) {
  for (const char* text : {"", "KiB", "-1", "1.5MiB", "64 KiB", "64KB", "64k", "64kib", "1TiB",
                           "99999999999GiB", "0x10"}) {
    EXPECT_FALSE(yaml::parseSize(text)) << text;
  }
}

// --- A valid config ----------------------------------------------------------

TEST(ConfigTest, MinimalConfigGetsDefaults) {
  LoadResult result = load(kMinimal);
  ASSERT_TRUE(result.ok()) << dump(result.errors);
  EXPECT_TRUE(result.errors.empty());
  EXPECT_TRUE(otherThanCoverage(result.warnings).empty()) << dump(result.warnings);
  const Snapshot& s = *result.snapshot;
  EXPECT_EQ(s.workers, 0u);
  EXPECT_EQ(s.log_format, LogFormat::kText);
  EXPECT_EQ(s.log_level, "info");
  EXPECT_EQ(s.drain_timeout, milliseconds(30000));
  EXPECT_EQ(s.max_connections, 100000u);
  EXPECT_EQ(s.via, "1.1 rampart");
  EXPECT_TRUE(s.trusted_proxies.empty());
  EXPECT_EQ(s.http.limits.max_head_bytes, 64u * 1024);
  EXPECT_EQ(s.http.limits.max_headers, 100u);
  EXPECT_EQ(s.http.limits.max_target_bytes, 8u * 1024);
  EXPECT_EQ(s.http.head_timeout, milliseconds(10000));
  EXPECT_EQ(s.http.idle_timeout, milliseconds(60000));
  EXPECT_EQ(s.http.min_body_rate, 1024u);
  EXPECT_EQ(s.http.body_rate_window, milliseconds(10000));
  EXPECT_EQ(s.http.max_body_bytes, 0u);
  EXPECT_TRUE(s.canonical.merge_slashes);
  EXPECT_FALSE(s.canonical.allow_encoded_slash);
  EXPECT_FALSE(s.canonical.allow_encoded_backslash);
  EXPECT_FALSE(s.canonical.allow_fragment);

  ASSERT_EQ(s.listeners.size(), 1u);
  EXPECT_EQ(s.listeners[0].name, "listener-1");
  EXPECT_EQ(s.listeners[0].address.toString(), "127.0.0.1:8080");
  EXPECT_EQ(s.listeners[0].address_text, "127.0.0.1:8080");

  ASSERT_EQ(s.clusters.size(), 1u);
  const upstream::ClusterSpec& c = s.clusters[0];
  EXPECT_EQ(c.name, "demo");
  ASSERT_EQ(c.endpoints.size(), 1u);
  EXPECT_EQ(c.endpoints[0].toString(), "127.0.0.1:9000");
  EXPECT_EQ(c.endpoint_names, std::vector<std::string>{"127.0.0.1:9000"});
  EXPECT_EQ(c.balance, upstream::BalancePolicy::kRoundRobin);
  EXPECT_EQ(c.connect_timeout, milliseconds(2000));
  EXPECT_EQ(c.response_timeout, milliseconds(30000));
  EXPECT_EQ(c.max_idle_per_endpoint, 1024u);
  EXPECT_EQ(c.idle_timeout, milliseconds(60000));
  EXPECT_EQ(c.max_requests, 0u);

  EXPECT_EQ(s.routes.routeCount(), 1u);
  EXPECT_EQ(s.route_names, std::vector<std::string>{"all"});
}

constexpr std::string_view kFull = R"(
workers: 4
log_format: json
log_level: debug
drain_timeout: 5s
max_connections: 5000
via: "1.1 edge"
trusted_proxies: [10.0.0.0/8, "2001:db8::/32", 192.168.1.1]
http:
  max_head_bytes: 32KiB
  max_headers: 50
  max_target_bytes: 4KiB
  head_timeout: 5s
  idle_timeout: 1m
  min_body_rate: 2KiB
  body_rate_window: 0
  max_body_bytes: 10MiB
canonical:
  merge_slashes: false
  allow_encoded_slash: true
  allow_encoded_backslash: true
  allow_fragment: true
listeners:
  - name: main
    address: 127.0.0.1:8080
  - address: "[::1]:8443"
clusters:
  - name: api
    endpoints: [127.0.0.1:9000, "[::1]:9001"]
    balance: least_request
    connect_timeout: 250ms
    response_timeout: 2m
    max_idle: 8
    idle_timeout: 1h
    max_requests: 100
  - name: static
    endpoints: [127.0.0.1:9100]
virtual_hosts:
  - name: api
    domains: [api.example.com, "*.API.example.com"]
    routes:
      - name: api-write
        match:
          prefix: /v1
          methods: [POST, PUT]
          headers:
            - name: X-Canary
              value: "1"
            - name: authorization
              present: true
        cluster: api
        max_body_bytes: 1MiB
      - name: api-read
        match: {regex: "/v[0-9]+/.*"}
        cluster: api
  - name: default
    routes:
      - name: health
        match: {exact: /healthz}
        cluster: static
        max_body_bytes: 0
      - name: rest
        match: {prefix: /}
        cluster: static
)";

TEST(ConfigTest, FullConfigSetsEveryKey) {
  LoadResult result = load(kFull);
  ASSERT_TRUE(result.ok()) << dump(result.errors);
  EXPECT_TRUE(otherThanCoverage(result.warnings).empty()) << dump(result.warnings);
  const Snapshot& s = *result.snapshot;
  EXPECT_EQ(s.workers, 4u);
  EXPECT_EQ(s.log_format, LogFormat::kJson);
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_EQ(s.drain_timeout, milliseconds(5000));
  EXPECT_EQ(s.max_connections, 5000u);
  EXPECT_EQ(s.via, "1.1 edge");
  ASSERT_EQ(s.trusted_proxies.size(), 3u);
  EXPECT_EQ(s.trusted_proxies[0].toString(), "10.0.0.0/8");
  EXPECT_EQ(s.trusted_proxies[1].toString(), "2001:db8::/32");
  EXPECT_EQ(s.trusted_proxies[2].toString(), "192.168.1.1/32");
  EXPECT_EQ(s.http.limits.max_head_bytes, 32u * 1024);
  EXPECT_EQ(s.http.limits.max_headers, 50u);
  EXPECT_EQ(s.http.limits.max_target_bytes, 4u * 1024);
  EXPECT_EQ(s.http.head_timeout, milliseconds(5000));
  EXPECT_EQ(s.http.idle_timeout, milliseconds(60000));
  EXPECT_EQ(s.http.min_body_rate, 2048u);
  EXPECT_EQ(s.http.body_rate_window, milliseconds(0));
  EXPECT_EQ(s.http.max_body_bytes, 10u << 20);
  EXPECT_FALSE(s.canonical.merge_slashes);
  EXPECT_TRUE(s.canonical.allow_encoded_slash);
  EXPECT_TRUE(s.canonical.allow_encoded_backslash);
  EXPECT_TRUE(s.canonical.allow_fragment);

  ASSERT_EQ(s.listeners.size(), 2u);
  EXPECT_EQ(s.listeners[0].name, "main");
  EXPECT_EQ(s.listeners[1].name, "listener-2");
  EXPECT_EQ(s.listeners[1].address.toString(), "[::1]:8443");

  ASSERT_EQ(s.clusters.size(), 2u);
  const upstream::ClusterSpec& api = s.clusters[0];
  EXPECT_EQ(api.endpoints.size(), 2u);
  EXPECT_EQ(api.balance, upstream::BalancePolicy::kLeastRequest);
  EXPECT_EQ(api.connect_timeout, milliseconds(250));
  EXPECT_EQ(api.response_timeout, milliseconds(120000));
  EXPECT_EQ(api.max_idle_per_endpoint, 8u);
  EXPECT_EQ(api.idle_timeout, milliseconds(3600000));
  EXPECT_EQ(api.max_requests, 100u);

  EXPECT_EQ(s.routes.routeCount(), 4u);
  EXPECT_EQ(s.route_names, (std::vector<std::string>{"api-write", "api-read", "health", "rest"}));
}

TEST(ConfigTest, RoutesPointAtTheirClustersByIndex) {
  LoadResult result = load(kFull);
  ASSERT_TRUE(result.ok()) << dump(result.errors);
  const routing::RouteTable& routes = result.snapshot->routes;
  auto route = [&](std::string_view host, std::string_view path, std::string_view method) {
    routing::MatchInput input;
    input.host = host;
    input.path = path;
    input.method = method;
    std::vector<http::Header> headers = {{"x-canary", "1"}, {"Authorization", "Bearer x"}};
    input.headers = &headers;
    return routes.match(input);
  };
  const routing::Route* write = route("api.example.com", "/v1/items", "POST");
  ASSERT_NE(write, nullptr);
  EXPECT_EQ(write->name, "api-write");
  EXPECT_EQ(write->cluster_index, 0u);
  EXPECT_EQ(write->max_body_bytes, 1u << 20);
  EXPECT_EQ(result.snapshot->route_names[write->index], "api-write");

  const routing::Route* read = route("x.api.example.com", "/v2/items", "GET");
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->name, "api-read");
  EXPECT_EQ(read->max_body_bytes, 10u << 20);  // http.max_body_bytes
  EXPECT_EQ(result.snapshot->route_names[read->index], "api-read");

  const routing::Route* health = route("other.example", "/healthz", "GET");
  ASSERT_NE(health, nullptr);
  EXPECT_EQ(health->name, "health");
  EXPECT_EQ(health->cluster_index, 1u);
  EXPECT_EQ(health->max_body_bytes, 0u);
  EXPECT_EQ(result.snapshot->route_names[health->index], "health");

  const routing::Route* rest = route("other.example", "/x", "GET");
  ASSERT_NE(rest, nullptr);
  EXPECT_EQ(result.snapshot->route_names[rest->index], "rest");
}

TEST(ConfigTest, WorkersAcceptsAutoAndOneTo256) {
  for (const char* value : {"auto", "1", "256"}) {
    LoadResult result = load(minimalWith(std::string("workers: ") + value + "\n"));
    EXPECT_LOADS(result);
  }
  for (const char* value : {"0", "257", "-1", "many", "1.5", "[1]", "AUTO"}) {
    LoadResult result = load(minimalWith(std::string("workers: ") + value + "\n"));
    EXPECT_ERROR(result, 11, "workers: expected \"auto\" or an integer from 1 to 256");
  }
}

TEST(ConfigTest, EndpointHostNamesAreResolvedAndDeduplicated) {
  LoadResult result = load(R"(
listeners: [{address: 127.0.0.1:8080}]
clusters:
  - name: demo
    endpoints: [127.0.0.1:9000, localhost:9000, 127.0.0.1:9001]
)");
  ASSERT_TRUE(result.ok()) << dump(result.errors);
  const upstream::ClusterSpec& c = result.snapshot->clusters[0];
  ASSERT_EQ(c.endpoints.size(), c.endpoint_names.size());
  ASSERT_GE(c.endpoints.size(), 2u);
  EXPECT_EQ(c.endpoints[0].toString(), "127.0.0.1:9000");
  EXPECT_EQ(c.endpoint_names[0], "127.0.0.1:9000");
  // localhost's 127.0.0.1 is already listed; only its other addresses (::1) add up.
  int count_9000 = 0;
  for (const auto& endpoint : c.endpoints) count_9000 += endpoint.toString() == "127.0.0.1:9000";
  EXPECT_EQ(count_9000, 1);
  EXPECT_EQ(c.endpoints.back().toString(), "127.0.0.1:9001");
  for (size_t i = 1; i + 1 < c.endpoints.size(); ++i)
    EXPECT_EQ(c.endpoint_names[i], "localhost:9000");
}

TEST(ConfigTest, YamlAnchorsAndAliasesWork) {
  LoadResult result = load(R"(
listeners: [{address: 127.0.0.1:8080}]
clusters:
  - name: a
    endpoints: &pool [127.0.0.1:9000, 127.0.0.1:9001]
  - name: b
    endpoints: *pool
)");
  ASSERT_TRUE(result.ok()) << dump(result.errors);
  EXPECT_EQ(result.snapshot->clusters[1].endpoints.size(), 2u);
}

// --- Errors, one test each -----------------------------------------------------

TEST(ConfigErrorTest, FormatIsFileLineColumnMessage) {
  EXPECT_EQ(format(Diagnostic{"a.yaml", 3, 7, "bad"}), "a.yaml:3:7: bad");
  EXPECT_EQ(format(Diagnostic{"a.yaml", 0, 0, "cannot open"}), "a.yaml: cannot open");
}

TEST(ConfigErrorTest, YamlSyntaxErrorHasItsPosition) {
  LoadResult result = load(R"(
listeners:
  - address: 127.0.0.1:8080
clusters: [a, b
)");
  ASSERT_EQ(result.errors.size(), 1u) << dump(result.errors);
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(result.errors[0].message, HasSubstr("YAML syntax error"));
  EXPECT_EQ(result.errors[0].file, "test.yaml");
  EXPECT_GE(result.errors[0].line, 3);
  EXPECT_GE(result.errors[0].column, 1);
}

TEST(ConfigErrorTest, TabIndentationIsASyntaxError) {
  LoadResult result = load("listeners:\n\t- address: 127.0.0.1:8080\n");
  EXPECT_ERROR(result, 0, "YAML syntax error");
}

TEST(ConfigErrorTest, EmptyFileAndSeveralDocuments) {
  EXPECT_ERROR(load(""), 1, "empty config");
  EXPECT_ERROR(load("# only a comment\n"), 1, "empty config");
  EXPECT_ERROR(load(minimalWith("---\nworkers: 2\n")), 12, "expected one YAML document");
}

TEST(ConfigErrorTest, TopLevelMustBeAMapping) {
  EXPECT_ERROR(load("[1, 2]\n"), 1, "the top level: expected a mapping, got a sequence");
  EXPECT_ERROR(load("hello\n"), 1, "expected a mapping, got 'hello'");
}

TEST(ConfigErrorTest, UnknownKeyIsNamedWithTheAllowedKeys) {
  LoadResult result = load(minimalWith("worker: 4\n"));
  EXPECT_ERROR(result, 11, "unknown key 'worker' in the top level; allowed keys: workers,");
  result = load(R"(
listeners:
  - name: main
    adress: 127.0.0.1:8080
)");
  EXPECT_ERROR(result, 3, "unknown key 'adress' in listener 'main'; allowed keys: name, address");
  EXPECT_EQ(result.errors[0].column, 5);
  result = load(minimalWith("http:\n  max_header: 10\n"));
  EXPECT_ERROR(result, 12, "unknown key 'max_header' in http; allowed keys: max_head_bytes,");
  result = load(R"(
listeners: [{address: 127.0.0.1:8080}]
clusters:
  - name: demo
    endpoints: [127.0.0.1:9000]
    timeout: 1s
virtual_hosts:
  - routes:
      - name: r
        match: {prefix: /, method: GET}
        cluster: demo
        retries: 3
)");
  EXPECT_ERROR(result, 5, "unknown key 'timeout' in cluster 'demo'");
  EXPECT_ERROR(result, 9,
               "unknown key 'method' in match; allowed keys: prefix, exact, regex, "
               "methods, headers");
  EXPECT_ERROR(result, 11, "unknown key 'retries' in route 'r'");
}

TEST(ConfigErrorTest, DuplicateKeyIsRefused) {
  LoadResult result = load(R"(
workers: 2
listeners: [{address: 127.0.0.1:8080}]
workers: 3
)");
  EXPECT_ERROR(result, 3, "duplicate key 'workers' in the top level (first at line 1)");
}

TEST(ConfigErrorTest, WrongTypes) {
  LoadResult result = load(R"(
workers: auto
http: [1]
trusted_proxies: 10.0.0.0/8
via: {a: b}
max_connections: lots
canonical:
  merge_slashes: yes
listeners: [{address: 127.0.0.1:8080}]
)");
  EXPECT_ERROR(result, 2, "http: expected a mapping, got a sequence");
  EXPECT_ERROR(result, 3, "trusted_proxies: expected a sequence, got '10.0.0.0/8'");
  EXPECT_ERROR(result, 4, "via: expected a string, got a mapping");
  EXPECT_ERROR(result, 5, "max_connections: expected an integer, got 'lots'");
  EXPECT_ERROR(result, 7, "merge_slashes: expected a boolean (true or false), got 'yes'");
  EXPECT_EQ(result.errors.size(), 5u) << dump(result.errors);
}

TEST(ConfigErrorTest, NullValueIsAWrongType) {
  LoadResult result = load(R"(
listeners:
  - name:
    address: 127.0.0.1:8080
)");
  EXPECT_ERROR(result, 2, "name: expected a string, got nothing");
}

TEST(ConfigErrorTest, EnumsListTheirChoices) {
  LoadResult result = load(minimalWith("log_format: xml\nlog_level: verbose\n"));
  EXPECT_ERROR(result, 11, "log_format: expected one of text, json, got 'xml'");
  EXPECT_ERROR(result, 12, "log_level: expected one of trace, debug, info, warn, error");
}

TEST(ConfigErrorTest, BadDuration) {
  for (const char* value : {"10", "-1s", "\"10 s\"", "1.5s", "10d", "9999999999999h"}) {
    LoadResult result = load(minimalWith(std::string("drain_timeout: ") + value + "\n"));
    EXPECT_ERROR(result, 11, "drain_timeout: expected a duration like 250ms, 10s, 5m");
  }
  LoadResult result = load(minimalWith("http:\n  head_timeout: 10sec\n"));
  EXPECT_ERROR(result, 12, "head_timeout: expected a duration like 250ms, 10s, 5m");
}

TEST(ConfigErrorTest, BadSize) {
  LoadResult result = load(minimalWith("http:\n  max_head_bytes: 64KB\n  max_body_bytes: -1\n"));
  EXPECT_ERROR(result, 12, "max_head_bytes: expected a size like 512, 64KiB, 1MiB");
  EXPECT_ERROR(result, 13, "max_body_bytes: expected a size like");
  result = load(minimalWith("http:\n  max_head_bytes: 8GiB\n"));
  EXPECT_ERROR(result, 12, "max_head_bytes: expected a size from 1KiB to 4294967295B, got 8GiB");
}

TEST(ConfigTest, Http2LimitsHaveDefaultsAndCanBeSet) {
  LoadResult defaults = load(minimalWith(""));
  ASSERT_TRUE(defaults.ok()) << dump(defaults.errors);
  const Http2Settings& d = defaults.snapshot->http.http2;
  EXPECT_EQ(d.max_concurrent_streams, 100u);
  EXPECT_EQ(d.max_resets_per_second, 100u);
  EXPECT_EQ(d.max_continuations, 8u);
  EXPECT_EQ(d.initial_window_bytes, 65535u);
  LoadResult set = load(minimalWith(
      "http:\n  http2:\n    max_concurrent_streams: 250\n    max_resets_per_second: 20\n"
      "    max_settings_per_second: 5\n    max_pings_per_second: 7\n"
      "    max_empty_data_per_second: 9\n    max_continuations: 2\n"
      "    initial_window_bytes: 1MiB\n"));
  ASSERT_TRUE(set.ok()) << dump(set.errors);
  const Http2Settings& h = set.snapshot->http.http2;
  EXPECT_EQ(h.max_concurrent_streams, 250u);
  EXPECT_EQ(h.max_resets_per_second, 20u);
  EXPECT_EQ(h.max_settings_per_second, 5u);
  EXPECT_EQ(h.max_pings_per_second, 7u);
  EXPECT_EQ(h.max_empty_data_per_second, 9u);
  EXPECT_EQ(h.max_continuations, 2u);
  EXPECT_EQ(h.initial_window_bytes, 1024u * 1024);
}

TEST(ConfigErrorTest, Http2LimitsOutOfRangeNameTheLine) {
  EXPECT_ERROR(load(minimalWith("http:\n  http2:\n    max_concurrent_streams: 0\n")), 13,
               "max_concurrent_streams: expected an integer from 1 to 10000");
  EXPECT_ERROR(load(minimalWith("http:\n  http2:\n    initial_window_bytes: 4GiB\n")), 13,
               "initial_window_bytes: expected a size from 1KiB to 2147483647B");
  EXPECT_ERROR(load(minimalWith("http:\n  http2:\n    max_streams: 5\n")), 13,
               "unknown key 'max_streams' in http2");
}

TEST(ConfigErrorTest, MaxHeadersAbove1000) {
  EXPECT_LOADS(load(minimalWith("http:\n  max_headers: 1000\n")));
  EXPECT_ERROR(load(minimalWith("http:\n  max_headers: 1001\n")), 12,
               "max_headers: expected an integer from 1 to 1000, got 1001");
  EXPECT_ERROR(load(minimalWith("http:\n  max_headers: 0\n")), 12, "max_headers");
}

TEST(ConfigErrorTest, BadListenerAddress) {
  LoadResult result = load(R"(
listeners:
  - address: localhost:8080
  - address: 127.0.0.1
  - address: 127.0.0.1:70000
  - address: "::1:80"
  - address: [1, 2]
)");
  for (int line = 2; line <= 6; ++line) {
    EXPECT_ERROR(result, line, "address: expected a numeric address like 127.0.0.1:8080");
  }
  EXPECT_EQ(result.errors.size(), 5u) << dump(result.errors);
}

TEST(ConfigErrorTest, BadCidr) {
  LoadResult result =
      load(minimalWith("trusted_proxies: [10.0.0.0/8, 10.0.0.0/33, example.com, \"::/129\"]\n"));
  EXPECT_ERROR(result, 11, "trusted_proxies: expected a CIDR like 10.0.0.0/8");
  EXPECT_EQ(result.errors.size(), 3u) << dump(result.errors);
  EXPECT_EQ(result.errors[0].column, 31);
}

TEST(ConfigErrorTest, ViaMustBeACleanHeaderValue) {
  EXPECT_ERROR(load(minimalWith("via: \"1.1 a\\r\\nX-Injected: 1\"\n")), 11, "via: expected a");
  EXPECT_ERROR(load(minimalWith("via: \"\"\n")), 11, "via: expected a non-empty header value");
}

TEST(ConfigErrorTest, DuplicateListeners) {
  LoadResult result = load(R"(
listeners:
  - name: a
    address: 127.0.0.1:8080
  - name: a
    address: 127.0.0.1:8081
  - name: b
    address: 127.0.0.1:8080
  - address: "[::1]:80"
  - name: listener-4
    address: "[0:0::1]:80"
)");
  EXPECT_ERROR(result, 4, "duplicate listener name 'a' (first at line 2)");
  EXPECT_ERROR(result, 7, "duplicate listener address 127.0.0.1:8080 (first at line 3)");
  EXPECT_ERROR(result, 9, "duplicate listener name 'listener-4'");
  EXPECT_ERROR(result, 10, "duplicate listener address [::1]:80 (first at line 8)");
}

TEST(ConfigErrorTest, NoListeners) {
  EXPECT_ERROR(load("clusters: []\n"), 1, "missing required key 'listeners'");
  EXPECT_ERROR(load("listeners: []\n"), 1, "listeners: at least one listener is needed");
}

TEST(ConfigTest, ProxyProtocolIsOffByDefaultAndTakenFromEitherTrustedList) {
  LoadResult plain = load(kMinimal);
  ASSERT_TRUE(plain.ok()) << dump(plain.errors);
  EXPECT_FALSE(plain.snapshot->listeners[0].proxy_protocol);
  for (std::string_view trusted :
       {"trusted_proxies: [10.0.0.0/8]\n", "shield:\n  trusted_proxies: [10.0.0.0/8]\n"}) {
    LoadResult result = load(std::string(trusted) + R"(
listeners:
  - {name: lb, address: 127.0.0.1:8080, proxy_protocol: true}
  - {name: direct, address: 127.0.0.1:8081, proxy_protocol: false}
)");
    ASSERT_TRUE(result.ok()) << trusted << dump(result.errors);
    EXPECT_TRUE(result.snapshot->listeners[0].proxy_protocol);
    EXPECT_FALSE(result.snapshot->listeners[1].proxy_protocol);
  }
}

TEST(ConfigErrorTest, ProxyProtocolNeedsTrustedProxiesAndABoolean) {
  LoadResult result = load(R"(
listeners:
  - address: 127.0.0.1:8080
    proxy_protocol: true
  - address: 127.0.0.1:8081
    proxy_protocol: maybe
)");
  EXPECT_ERROR(result, 3, "proxy_protocol: true needs trusted_proxies");
  EXPECT_EQ(result.errors[0].column, 21);
  EXPECT_ERROR(result, 5, "proxy_protocol");
  EXPECT_EQ(result.errors.size(), 2u) << dump(result.errors);
}

TEST(ConfigErrorTest, DuplicateClusterNames) {
  LoadResult result = load(R"(
listeners: [{address: 127.0.0.1:8080}]
clusters:
  - name: demo
    endpoints: [127.0.0.1:9000]
  - name: demo
    endpoints: [127.0.0.1:9001]
)");
  EXPECT_ERROR(result, 5, "duplicate cluster name 'demo' (first at line 3)");
}

TEST(ConfigErrorTest, ClusterWithoutEndpoints) {
  LoadResult result = load(R"(
listeners: [{address: 127.0.0.1:8080}]
clusters:
  - name: empty
    endpoints: []
  - name: none
)");
  EXPECT_ERROR(result, 4, "endpoints: a cluster needs at least one endpoint");
  EXPECT_ERROR(result, 5, "missing required key 'endpoints' in cluster 'none'");
}

TEST(ConfigErrorTest, EndpointThatDoesNotResolve) {
  LoadResult result = load(R"(
listeners: [{address: 127.0.0.1:8080}]
clusters:
  - name: demo
    endpoints: [127.0.0.1:9000, no-such-host.invalid:80, 127.0.0.1, "[::1]:99999"]
)");
  EXPECT_ERROR(result, 4, "endpoints: bad endpoint 'no-such-host.invalid:80': cannot resolve");
  EXPECT_ERROR(result, 4, "endpoints: bad endpoint '127.0.0.1': expected host:port");
  EXPECT_ERROR(result, 4, "endpoints: bad endpoint '[::1]:99999': bad port");
  EXPECT_EQ(result.errors.size(), 3u) << dump(result.errors);
}

TEST(ConfigErrorTest, MissingRequiredKeys) {
  LoadResult result = load(R"(
listeners:
  - name: main
clusters:
  - endpoints: [127.0.0.1:9000]
virtual_hosts:
  - routes:
      - cluster: x
        match: {prefix: /}
      - name: b
        match: {prefix: /}
      - name: c
        cluster: x
)");
  EXPECT_ERROR(result, 2, "missing required key 'address' in listener 'main'");
  EXPECT_ERROR(result, 4, "missing required key 'name' in cluster");
  EXPECT_ERROR(result, 7, "missing required key 'name' in route");
  EXPECT_ERROR(result, 9, "missing required key 'cluster' in route 'b'");
  EXPECT_ERROR(result, 11, "missing required key 'match' in route 'c'");
}

TEST(ConfigErrorTest, DuplicateRouteNamesAcrossTheFile) {
  LoadResult result = load(minimalWith(R"(  - domains: [example.com]
    routes:
      - name: all
        match: {prefix: /}
        cluster: demo
)"));
  EXPECT_ERROR(result, 13, "duplicate route name 'all' (first at line 8)");
}

TEST(ConfigErrorTest, RouteToUndefinedCluster) {
  LoadResult result = load(R"(
listeners: [{address: 127.0.0.1:8080}]
clusters:
  - name: demo
    endpoints: [127.0.0.1:9000]
virtual_hosts:
  - routes:
      - name: r
        match: {prefix: /}
        cluster: dmeo
)");
  EXPECT_ERROR(result, 9, "cluster: undefined cluster 'dmeo' (defined clusters: demo)");
  EXPECT_EQ(result.errors[0].column, 18);
}

TEST(ConfigErrorTest, MatchNeedsExactlyOnePathKind) {
  LoadResult result = load(minimalWith(R"(  - domains: [a.example]
    routes:
      - name: none
        match: {methods: [GET]}
        cluster: demo
      - name: two
        match:
          prefix: /a
          exact: /a
          regex: /a.*
        cluster: demo
)"));
  EXPECT_ERROR(result, 14, "match: needs one of prefix, exact, regex");
  EXPECT_ERROR(result, 19, "match: prefix and exact both given");
  EXPECT_ERROR(result, 20, "match: prefix and regex both given");
}

TEST(ConfigErrorTest, PathMustStartWithSlash) {
  LoadResult result = load(minimalWith(R"(  - domains: [a.example]
    routes:
      - name: p
        match: {prefix: api}
        cluster: demo
      - name: e
        match: {exact: ""}
        cluster: demo
)"));
  EXPECT_ERROR(result, 14, "prefix: a path must start with '/', got 'api'");
  EXPECT_ERROR(result, 17, "exact: a path must start with '/'");
}

TEST(ConfigErrorTest, BadRegexIsReportedAtTheRegex) {
  LoadResult result = load(minimalWith(R"(  - domains: [a.example]
    routes:
      - name: r
        match: {regex: "/a(b"}
        cluster: demo
)"));
  EXPECT_ERROR(result, 14, "regex: bad regular expression");
  EXPECT_EQ(result.errors.size(), 1u) << dump(result.errors);
}

TEST(ConfigErrorTest, HeaderMatches) {
  LoadResult result = load(minimalWith(R"(  - domains: [a.example]
    routes:
      - name: r
        match:
          prefix: /
          methods: ["GE T"]
          headers:
            - {name: x-a, value: "1", present: true}
            - {name: x-b}
            - {name: x-c, present: false}
            - {value: "1"}
            - {name: "bad name", value: "1"}
        cluster: demo
)"));
  EXPECT_ERROR(result, 16, "methods: expected an HTTP method like GET");
  EXPECT_ERROR(result, 18, "header match: needs exactly one of value, present");
  EXPECT_ERROR(result, 19, "header match: needs exactly one of value, present");
  EXPECT_ERROR(result, 20, "present: only `present: true` is supported");
  EXPECT_ERROR(result, 21, "missing required key 'name' in header match");
  EXPECT_ERROR(result, 22, "name: expected a header name");
}

TEST(ConfigErrorTest, Domains) {
  LoadResult result = load(R"(
listeners: [{address: 127.0.0.1:8080}]
clusters: [{name: c, endpoints: [127.0.0.1:9000]}]
virtual_hosts:
  - name: one
    domains: [a.example, "*"]
    routes: [{name: r1, match: {prefix: /}, cluster: c}]
  - name: two
    domains: [A.example, "a*.example", "*.*.example", ""]
    routes: [{name: r2, match: {prefix: /}, cluster: c}]
  - name: three
    routes: [{name: r3, match: {prefix: /}, cluster: c}]
)");
  EXPECT_ERROR(result, 8, "domains: 'a.example' is already served by virtual host 'one'");
  EXPECT_ERROR(result, 8, "domains: expected a host name, \"*.suffix\" or \"*\", got 'a*.example'");
  EXPECT_ERROR(result, 8, "got '*.*.example'");
  EXPECT_ERROR(result, 8, "got ''");
  // No domains means "*", which `one` already serves.
  EXPECT_ERROR(result, 10, "domains: '*' is already served by virtual host 'one'");
}

TEST(ConfigErrorTest, RouteTableRefusalIsReportedAtVirtualHosts) {
  // The loader's own domain check is loose; the route table is the judge of
  // domain syntax, and its error has no finer position than virtual_hosts.
  LoadResult result = load(minimalWith(R"(  - domains: ["bad!domain.example"]
    routes:
      - name: r
        match: {prefix: /}
        cluster: demo
)"));
  EXPECT_ERROR(result, 6, "virtual_hosts: ");
  EXPECT_ERROR(result, 6, "bad!domain.example");
  EXPECT_EQ(result.errors.size(), 1u) << dump(result.errors);
  EXPECT_EQ(result.errors[0].column, 1);
}

TEST(ConfigErrorTest, ErrorsAreInFileOrder) {
  // workers is checked before unknown keys are; the output follows the file.
  LoadResult result = load(minimalWith("workers: 0\nbogus: 1\n"));
  ASSERT_EQ(result.errors.size(), 2u) << dump(result.errors);
  EXPECT_EQ(result.errors[0].line, 11);
  EXPECT_EQ(result.errors[1].line, 12);
  EXPECT_THAT(result.errors[1].message, HasSubstr("unknown key 'bogus'"));
}

TEST(ConfigErrorTest, EveryErrorIsReported) {
  LoadResult result = load(R"(
workers: 0
drain_timeout: soon
http:
  max_headers: 5000
listeners:
  - address: nowhere
clusters:
  - name: demo
    endpoints: []
virtual_hosts:
  - routes:
      - name: r
        match: {prefix: x}
        cluster: missing
)");
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.snapshot, nullptr);
  ASSERT_EQ(result.errors.size(), 7u) << dump(result.errors);
  std::vector<int> lines;
  for (const Diagnostic& d : result.errors) lines.push_back(d.line);
  EXPECT_EQ(lines, (std::vector<int>{1, 2, 4, 6, 9, 13, 14}));
  EXPECT_EQ(format(result.errors[0]),
            "test.yaml:1:10: workers: expected \"auto\" or an integer from 1 to 256, got '0'");
}

// --- Warnings -------------------------------------------------------------------

TEST(ConfigWarningTest, VirtualHostWithoutRoutes) {
  LoadResult result = load(minimalWith("  - name: empty\n    domains: [empty.example]\n"));
  ASSERT_TRUE(result.ok()) << dump(result.errors);
  EXPECT_TRUE(has(result.warnings, 11, "virtual host 'empty' has no routes"))
      << dump(result.warnings);
}

TEST(ConfigWarningTest, NoVirtualHosts) {
  LoadResult result = load("listeners: [{address: 127.0.0.1:8080}]\n");
  ASSERT_TRUE(result.ok()) << dump(result.errors);
  EXPECT_TRUE(has(result.warnings, 0, "no virtual_hosts")) << dump(result.warnings);
  EXPECT_EQ(result.snapshot->routes.routeCount(), 0u);
}

TEST(ConfigWarningTest, PathsThatCanNeverMatchAndLowercaseMethods) {
  LoadResult result = load(minimalWith(R"(  - domains: [a.example]
    routes:
      - name: r1
        match: {prefix: "/a//b"}
        cluster: demo
      - name: r2
        match: {exact: /a/../b, methods: [get]}
        cluster: demo
)"));
  ASSERT_TRUE(result.ok()) << dump(result.errors);
  EXPECT_TRUE(has(result.warnings, 14, "can never match: request paths have repeated slashes"))
      << dump(result.warnings);
  EXPECT_TRUE(has(result.warnings, 17, "dot-segments")) << dump(result.warnings);
  EXPECT_TRUE(has(result.warnings, 17, "'get' is lowercase")) << dump(result.warnings);
}

// --- Robustness and files --------------------------------------------------------

TEST(ConfigRobustnessTest, GarbageNeverThrows) {
  for (std::string_view text :
       {std::string_view("\0\xff\xfe", 3), std::string_view("{{{{{{{{{{"), std::string_view("*x"),
        std::string_view("&a [*a]"), std::string_view("listeners: &l [*l]"),
        std::string_view("? [a]\n: b\n"), std::string_view("listeners:\n  - !!binary AAAA\n")}) {
    LoadResult result = loadString(text, "garbage.yaml");
    EXPECT_FALSE(result.ok());
    EXPECT_FALSE(result.errors.empty());
  }
  std::string deep(100000, '[');
  EXPECT_FALSE(loadString(deep, "deep.yaml").ok());
}

TEST(ConfigFileTest, MissingFile) {
  LoadResult result = loadFile("/nonexistent/rampart.yaml");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(format(result.errors[0]),
            "/nonexistent/rampart.yaml: cannot open: No such file or directory");
}

TEST(ConfigFileTest, DiagnosticsNameTheFile) {
  char path[] = "/tmp/rampart_config_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "listeners:\n  - address: bad\n";
  }
  LoadResult result = loadFile(path);
  unlink(path);
  ASSERT_EQ(result.errors.size(), 1u) << dump(result.errors);
  EXPECT_THAT(format(result.errors[0]), HasSubstr(std::string(path) + ":2:14: address:"));
}

TEST(ConfigFileTest, ExamplesLoadCleanly) {
  for (const char* name : {"quickstart.yaml", "api-gateway.yaml", "jwt-api.yaml"}) {
    std::string path = std::string(RAMPART_SOURCE_DIR) + "/examples/" + name;
    LoadResult result = loadFile(path);
    EXPECT_TRUE(result.ok()) << path << dump(result.errors);
    EXPECT_TRUE(otherThanCoverage(result.warnings).empty()) << path << dump(result.warnings);
  }
}

}  // namespace
}  // namespace rampart::config
