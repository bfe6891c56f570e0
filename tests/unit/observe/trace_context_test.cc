#include "observe/trace_context.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::observe {
namespace {

constexpr const char* kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TraceParse parse(std::string_view value) {
  TraceParent out;
  return parseTraceParent(value, &out);
}

TEST(TraceParentTest, ValidVersion00) {
  TraceParent out;
  ASSERT_EQ(parseTraceParent(kValid, &out), TraceParse::kValid);
  EXPECT_EQ(std::string(out.trace_id, 32), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(std::string(out.parent_id, 16), "00f067aa0ba902b7");
  EXPECT_EQ(out.flags, 1);
}

TEST(TraceParentTest, WrongLength) {
  std::string valid = kValid;
  EXPECT_EQ(parse(""), TraceParse::kWrongLength);
  EXPECT_EQ(parse(valid.substr(0, 54)), TraceParse::kWrongLength);
  EXPECT_EQ(parse(valid + "0"), TraceParse::kWrongLength);
  // Extra fields are not allowed in version 00.
  EXPECT_EQ(parse(valid + "-extra"), TraceParse::kWrongLength);
}

TEST(TraceParentTest, UppercaseAndNonHex) {
  EXPECT_EQ(parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), TraceParse::kBadHex);
  EXPECT_EQ(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"), TraceParse::kBadHex);
  EXPECT_EQ(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A"), TraceParse::kBadHex);
  EXPECT_EQ(parse("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), TraceParse::kBadHex);
  EXPECT_EQ(parse("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"), TraceParse::kBadHex);
}

TEST(TraceParentTest, VersionFfIsForbidden) {
  EXPECT_EQ(parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            TraceParse::kBadVersion);
}

TEST(TraceParentTest, AllZeroIds) {
  EXPECT_EQ(parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            TraceParse::kZeroTraceId);
  EXPECT_EQ(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            TraceParse::kZeroParentId);
}

TEST(TraceParentTest, Separators) {
  EXPECT_EQ(parse("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            TraceParse::kBadSeparator);
  EXPECT_EQ(parse("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"),
            TraceParse::kBadSeparator);
  EXPECT_EQ(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01"),
            TraceParse::kBadSeparator);
}

TEST(TraceParentTest, LaterVersionsReadTheKnownFields) {
  std::string later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  EXPECT_EQ(parse(later), TraceParse::kValid);
  EXPECT_EQ(parse(later + "-what-comes-next"), TraceParse::kValid);
  EXPECT_EQ(parse(later + "x"), TraceParse::kBadSeparator);
}

TEST(TraceParentTest, FormatKeepsTraceAndReplacesParent) {
  TraceParent in;
  ASSERT_EQ(parseTraceParent(kValid, &in), TraceParse::kValid);
  char span[16];
  randomSpanId(0x1234, span);
  char out[kTraceParentLength];
  formatTraceParent(in.trace_id, span, in.flags, out);
  std::string text(out, kTraceParentLength);
  EXPECT_EQ(text, "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000001234-01");
  TraceParent again;
  EXPECT_EQ(parseTraceParent(text, &again), TraceParse::kValid);
}

TEST(TraceParentTest, RandomIdsAreNeverAllZero) {
  char trace[32];
  randomTraceId(0, 0, trace);
  char span[16];
  randomSpanId(0, span);
  char out[kTraceParentLength];
  formatTraceParent(trace, span, 0, out);
  EXPECT_EQ(parse(std::string_view(out, kTraceParentLength)), TraceParse::kValid);
}

}  // namespace
}  // namespace rampart::observe
