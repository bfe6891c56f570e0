// `access_log:`: what a good config compiles to, and every mistake refused
// at its file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config_test_support.h"

namespace rampart::config {
namespace {

using ::testing::HasSubstr;

LoadResult load(std::string_view access_log) {
  std::string text = "listeners: [{name: main, address: \"127.0.0.1:8080\"}]\n";
  text += access_log;
  return loadString(text, "log.yaml");
}

using test_support::all;

TEST(AccessLogConfigTest, OffUnlessPresent) {
  LoadResult result = load("");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  EXPECT_FALSE(result.snapshot->access_log.enabled);
}

TEST(AccessLogConfigTest, DefaultsAndEveryKey) {
  LoadResult plain = load("access_log: {path: /var/log/rampart.log}\n");
  ASSERT_TRUE(plain.ok()) << all(plain.errors);
  const observe::AccessLogSettings& defaults = plain.snapshot->access_log;
  EXPECT_TRUE(defaults.enabled);
  EXPECT_EQ(defaults.path, "/var/log/rampart.log");
  EXPECT_EQ(defaults.fields, observe::kAllAccessFields);
  EXPECT_EQ(defaults.sample_success, 1.0);
  EXPECT_EQ(defaults.buffer_lines, 1024u);

  LoadResult result = load(R"(access_log:
  path: "-"
  fields: [status, path, trace_id]
  sample_success: 0.25
  buffer_lines: 64
)");
  ASSERT_TRUE(result.ok()) << all(result.errors);
  const observe::AccessLogSettings& settings = result.snapshot->access_log;
  EXPECT_EQ(settings.path, "-");
  EXPECT_EQ(settings.fields, observe::accessFieldBit(observe::AccessField::kStatus) |
                                 observe::accessFieldBit(observe::AccessField::kPath) |
                                 observe::accessFieldBit(observe::AccessField::kTraceId));
  EXPECT_EQ(settings.sample_success, 0.25);
  EXPECT_EQ(settings.buffer_lines, 64u);
}

TEST(AccessLogConfigTest, MistakesAreRefusedWhereTheyAre) {
  struct Case {
    const char* yaml;
    const char* expected;
  };
  const Case cases[] = {
      {"access_log: {fields: [status]}\n",
       "log.yaml:2:13: missing required key 'path' in access_log"},
      {"access_log: {path: \"\"}\n", "log.yaml:2:20: path: expected a file name"},
      {"access_log: {path: x, fields: [status, colour]}\n",
       "log.yaml:2:40: fields: unknown field 'colour'"},
      {"access_log: {path: x, fields: [status, status]}\n",
       "log.yaml:2:40: fields: 'status' is listed twice"},
      {"access_log: {path: x, fields: []}\n", "log.yaml:2:31: fields: expected at least one field"},
      {"access_log: {path: x, sample_success: 1.5}\n",
       "log.yaml:2:39: sample_success: expected a number from 0.0 to 1.0"},
      {"access_log: {path: x, sample_success: half}\n",
       "log.yaml:2:39: sample_success: expected a number from 0.0 to 1.0"},
      {"access_log: {path: x, buffer_lines: 8}\n", "log.yaml:2:37: buffer_lines"},
      {"access_log: {path: x, colour: blue}\n", "unknown key 'colour'"},
  };
  for (const Case& c : cases) {
    LoadResult result = load(c.yaml);
    EXPECT_FALSE(result.ok()) << c.yaml;
    EXPECT_THAT(all(result.errors), HasSubstr(c.expected)) << c.yaml;
  }
}

}  // namespace
}  // namespace rampart::config
