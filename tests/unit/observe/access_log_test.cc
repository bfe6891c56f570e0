#include "observe/access_log.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <cstring>
#include <thread>

#include <string>
#include <vector>

namespace rampart::observe {
namespace {

std::string format(const AccessRecord& record, uint32_t fields = kAllAccessFields) {
  std::string out(kMaxAccessLine, '\0');
  out.resize(formatAccessLine(record, fields, out.data()));
  return out;
}

// A strict parser: throws on invalid JSON or invalid UTF-8.
struct Parsed {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  explicit Parsed(const std::string& line) : root(parser.parse(line)) {}
  std::string str(const char* key) { return std::string(std::string_view(root[key])); }
  uint64_t num(const char* key) { return uint64_t(root[key]); }
  size_t size() { return simdjson::dom::object(root).size(); }
};

AccessRecord sample() {
  AccessRecord r;
  r.unix_millis = 1'796'183'051'123;  // 2026-12-02T03:44:11.123Z
  r.request_id = "abc123";
  r.client = "127.0.0.1";
  r.method = "GET";
  r.path = "/a/b";
  r.route = "api";
  r.status = 200;
  r.bytes_in = 78;
  r.bytes_out = 1234;
  r.rampart_us = 40;
  r.upstream_us = 900;
  r.principal = "alice";
  r.account = "acme";
  r.decision = "allow";
  r.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  return r;
}

TEST(AccessLineTest, EveryFieldInOrderAsValidJson) {
  std::string line = format(sample());
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  Parsed json(line);
  EXPECT_EQ(json.str("time"), "2026-12-02T03:44:11.123Z");
  EXPECT_EQ(json.str("request_id"), "abc123");
  EXPECT_EQ(json.str("client"), "127.0.0.1");
  EXPECT_EQ(json.str("method"), "GET");
  EXPECT_EQ(json.str("path"), "/a/b");
  EXPECT_EQ(json.str("route"), "api");
  EXPECT_EQ(json.num("status"), 200u);
  EXPECT_EQ(json.num("bytes_in"), 78u);
  EXPECT_EQ(json.num("bytes_out"), 1234u);
  EXPECT_EQ(json.num("rampart_us"), 40u);
  EXPECT_EQ(json.num("upstream_us"), 900u);
  EXPECT_EQ(json.str("principal"), "alice");
  EXPECT_EQ(json.str("account"), "acme");
  EXPECT_EQ(json.str("decision"), "allow");
  EXPECT_EQ(json.str("cause"), "");
  EXPECT_EQ(json.str("trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(json.size(), static_cast<size_t>(AccessField::kCount));
  EXPECT_EQ(line.rfind("{\"time\":", 0), 0u);
}

TEST(AccessLineTest, OnlyTheConfiguredFields) {
  uint32_t fields = accessFieldBit(AccessField::kStatus) | accessFieldBit(AccessField::kPath);
  std::string line = format(sample(), fields);
  EXPECT_EQ(line, "{\"path\":\"/a/b\",\"status\":200}\n");
}

TEST(AccessLineTest, HostileValuesStayOneValidJsonLine) {
  AccessRecord r = sample();
  std::string path = "/x\"}\n{\"status\":200,\"a\":\"\\";
  path += std::string("\x00\x01\x1f\x7f\xff\xc3\x28", 7);
  r.path = path;
  r.principal = "evil\r\nX-Injected: 1";
  r.method = "G\"ET";
  r.status = 503;
  std::string line = format(r);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  Parsed json(line);                    // throws on invalid JSON or UTF-8
  EXPECT_EQ(json.num("status"), 503u);  // the forged "status" inside the path stays a string
  EXPECT_EQ(json.str("path").substr(0, 4), "/x\"}");
  EXPECT_EQ(json.str("principal"), "evil\r\nX-Injected: 1");
  EXPECT_EQ(json.str("method"), "G\"ET");
  // Bytes >= 0x80 are written as \u00XX: read back as code points, never raw.
  EXPECT_NE(line.find("\\u00ff\\u00c3("), std::string::npos);
  EXPECT_NE(line.find("\\u0000\\u0001\\u001f\\u007f"), std::string::npos);
}

TEST(AccessLineTest, EveryFieldAtItsWorstStillFits) {
  std::string huge(100'000, '\x01');  // 6 escaped bytes each
  AccessRecord r = sample();
  r.request_id = r.client = r.method = r.path = r.route = huge;
  r.principal = r.account = r.decision = r.cause = r.trace_id = huge;
  r.status = 65535;
  r.bytes_in = r.bytes_out = r.rampart_us = r.upstream_us = UINT64_MAX;
  std::string line = format(r);
  EXPECT_LT(line.size(), kMaxAccessLine);
  EXPECT_EQ(line.back(), '\n');
  Parsed json(line);
  std::string path = json.str("path");
  EXPECT_EQ(path.substr(path.size() - 3), "...");
  EXPECT_EQ(json.num("bytes_out"), UINT64_MAX);
}

TEST(AccessLineTest, FieldNamesRoundTrip) {
  for (size_t i = 0; i < static_cast<size_t>(AccessField::kCount); ++i) {
    auto field = static_cast<AccessField>(i);
    EXPECT_EQ(accessFieldByName(accessFieldName(field)), field);
  }
  EXPECT_FALSE(accessFieldByName("Status").has_value());
  EXPECT_FALSE(accessFieldByName("").has_value());
}

TEST(AccessSamplingTest, RefusalsAndErrorsAreAlwaysKept) {
  AccessRecord r = sample();
  for (uint16_t status : {400, 401, 403, 404, 429, 500, 502, 503}) {
    r.status = status;
    EXPECT_TRUE(shouldLogAccess(r, 0.0, UINT64_MAX)) << status;
  }
  r.status = 0;  // closed without a response
  EXPECT_TRUE(shouldLogAccess(r, 0.0, UINT64_MAX));
  r.status = 200;
  r.cause = "upstream-timeout";  // a refusal whatever the status
  EXPECT_TRUE(shouldLogAccess(r, 0.0, UINT64_MAX));
}

TEST(AccessSamplingTest, SuccessesFollowTheShare) {
  AccessRecord r = sample();
  EXPECT_FALSE(shouldLogAccess(r, 0.0, 0));
  EXPECT_TRUE(shouldLogAccess(r, 1.0, UINT64_MAX));
  EXPECT_TRUE(shouldLogAccess(r, 0.5, (UINT64_MAX / 2) - 1));
  EXPECT_FALSE(shouldLogAccess(r, 0.5, (UINT64_MAX / 2) + 2));
  // Over many draws the kept share is close to the configured one.
  uint64_t x = 88172645463325252ULL;
  int kept = 0;
  for (int i = 0; i < 100'000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    kept += shouldLogAccess(r, 0.1, x) ? 1 : 0;
  }
  EXPECT_NEAR(kept, 10'000, 500);
}

TEST(AccessRingTest, LinesComeOutInOrder) {
  AccessRing ring(4);
  for (int i = 0; i < 3; ++i) {
    char* slot = ring.reserve();
    ASSERT_NE(slot, nullptr);
    std::string text = "line" + std::to_string(i) + "\n";
    text.copy(slot, text.size());
    ring.publish(text.size());
  }
  std::vector<std::string> seen;
  EXPECT_EQ(ring.drain([&](std::string_view line) { seen.emplace_back(line); }), 3u);
  EXPECT_EQ(seen, (std::vector<std::string>{"line0\n", "line1\n", "line2\n"}));
  EXPECT_EQ(ring.drain([&](std::string_view) { FAIL(); }), 0u);
}

TEST(AccessRingTest, FullRingRefusesUntilDrained) {
  AccessRing ring(2);
  ASSERT_NE(ring.reserve(), nullptr);
  ring.publish(1);
  ASSERT_NE(ring.reserve(), nullptr);
  ring.publish(1);
  EXPECT_EQ(ring.reserve(), nullptr);  // the caller counts the drop
  EXPECT_EQ(ring.drain([](std::string_view) {}), 2u);
  EXPECT_NE(ring.reserve(), nullptr);  // room again, wrapping around
}

TEST(AccessRingTest, OneProducerOneConsumerLoseNothing) {
  AccessRing ring(8);
  constexpr int kLines = 200'000;
  std::atomic<bool> done{false};
  int dropped = 0;
  std::thread producer([&] {
    for (int i = 0; i < kLines; ++i) {
      char* slot = ring.reserve();
      if (slot == nullptr) {
        ++dropped;
        continue;
      }
      std::memcpy(slot, &i, sizeof(i));
      ring.publish(sizeof(i));
    }
    done = true;
  });
  int taken = 0;
  int last = -1;
  bool ordered = true;
  auto sink = [&](std::string_view line) {
    int value = 0;
    std::memcpy(&value, line.data(), sizeof(value));
    ordered = ordered && value > last;
    last = value;
    ++taken;
  };
  while (!done.load()) ring.drain(sink);
  producer.join();
  ring.drain(sink);
  EXPECT_TRUE(ordered);
  EXPECT_EQ(taken + dropped, kLines);  // every line taken or counted, none lost
}

}  // namespace
}  // namespace rampart::observe
