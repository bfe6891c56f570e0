#include "routing/mirror.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::routing {
namespace {

MirrorAnswer answer(uint16_t status, bool has_digest = false, uint64_t digest = 0) {
  return {status, has_digest, digest};
}

TEST(CompareAnswers, StatusFirstThenDigestsWhenBothHaveOne) {
  EXPECT_EQ(compareAnswers(answer(200), answer(200)), MirrorResult::kMatch);
  EXPECT_EQ(compareAnswers(answer(200), answer(500)), MirrorResult::kStatusMismatch);
  EXPECT_EQ(compareAnswers(answer(200, true, 1), answer(500, true, 1)),
            MirrorResult::kStatusMismatch);
  EXPECT_EQ(compareAnswers(answer(200, true, 1), answer(200, true, 2)),
            MirrorResult::kBodyMismatch);
  EXPECT_EQ(compareAnswers(answer(200, true, 7), answer(200, true, 7)), MirrorResult::kMatch);
  // One side without a digest (chunked primary, a body over the limit):
  // only the status is compared.
  EXPECT_EQ(compareAnswers(answer(200, false, 1), answer(200, true, 2)), MirrorResult::kMatch);
  EXPECT_EQ(compareAnswers(answer(200, true, 1), answer(200, false, 2)), MirrorResult::kMatch);
}

TEST(BodyDigest, SameBytesInAnyPiecesSameDigest) {
  BodyDigest whole, pieces, other;
  whole.add("hello, mirror");
  pieces.add("hello");
  pieces.add(", ");
  pieces.add("");
  pieces.add("mirror");
  other.add("hello, Mirror");
  EXPECT_EQ(whole.value(), pieces.value());
  EXPECT_NE(whole.value(), other.value());
  EXPECT_EQ(whole.bytes(), 13u);
  EXPECT_TRUE(whole.valid());
  BodyDigest empty;
  EXPECT_NE(empty.value(), whole.value());
}

TEST(BodyDigest, GivesUpOverItsLimit) {
  BodyDigest digest(8);
  digest.add("12345678");
  EXPECT_TRUE(digest.valid());
  digest.add("9");
  EXPECT_FALSE(digest.valid());
  EXPECT_EQ(digest.bytes(), 9u);
}

TEST(Mirror, SamplesItsShareAndCountsResults) {
  MirrorSpec spec;
  spec.points = 1000;  // 10%
  Mirror mirror(spec);
  EXPECT_TRUE(mirror.sampled(0));
  EXPECT_TRUE(mirror.sampled(999));
  EXPECT_FALSE(mirror.sampled(1000));
  EXPECT_FALSE(mirror.sampled(9999));
  mirror.count(MirrorResult::kMatch);
  mirror.count(MirrorResult::kMatch);
  mirror.count(MirrorResult::kSkipped);
  EXPECT_EQ(mirror.counted(MirrorResult::kMatch), 2u);
  EXPECT_EQ(mirror.counted(MirrorResult::kSkipped), 1u);
  EXPECT_EQ(mirror.counted(MirrorResult::kFailed), 0u);
  spec.points = 10000;
  Mirror all(spec);
  EXPECT_TRUE(all.sampled(9999));
}

TEST(CompareAnswers, HeadersAfterStatusJsonBeforeBytes) {
  MirrorAnswer primary = answer(200, true, 1), shadow = answer(200, true, 2);
  primary.headers = shadow.headers = 5;
  primary.has_json = shadow.has_json = true;
  primary.json = shadow.json = 9;
  // Equal as JSON (ignored members left out): a match whatever the bytes.
  EXPECT_EQ(compareAnswers(primary, shadow), MirrorResult::kMatch);
  shadow.json = 10;
  EXPECT_EQ(compareAnswers(primary, shadow), MirrorResult::kBodyMismatch);
  shadow.headers = 6;
  EXPECT_EQ(compareAnswers(primary, shadow), MirrorResult::kHeaderMismatch);
  shadow.status = 404;
  EXPECT_EQ(compareAnswers(primary, shadow), MirrorResult::kStatusMismatch);
  // One side not JSON: the byte digests decide.
  MirrorAnswer text = answer(200, true, 1);
  text.headers = 5;
  EXPECT_EQ(compareAnswers(primary, text), MirrorResult::kMatch);
}

TEST(HeadersDigest, ValuesOfTheNamedHeadersInAnyCaseAndOrder) {
  std::vector<std::string> names = {"content-type", "etag"};
  std::vector<http::Header> a = {
      {"Content-Type", "application/json"}, {"ETag", "\"1\""}, {"Date", "Mon"}};
  std::vector<http::Header> b = {
      {"date", "Tue"}, {"etag", "\"1\""}, {"content-type", "application/json"}};
  std::vector<http::Header> c = {{"Content-Type", "text/plain"}, {"ETag", "\"1\""}};
  std::vector<http::Header> missing = {{"Content-Type", "application/json"}};
  EXPECT_EQ(headersDigest(a, names), headersDigest(b, names));
  EXPECT_NE(headersDigest(a, names), headersDigest(c, names));
  EXPECT_NE(headersDigest(a, names), headersDigest(missing, names));
  // No compared headers: every answer has the same (empty) digest.
  EXPECT_EQ(headersDigest(a, {}), headersDigest(c, {}));
}

TEST(JsonDigest, LeavesOutIgnoredMembersAtAnyDepthAndIgnoresOrder) {
  std::vector<std::string> ignore = {"ts", "id"};
  uint64_t a = 0, b = 0, c = 0, d = 0;
  ASSERT_TRUE(jsonDigest(R"({"id": 1, "total": 5, "items": [{"sku": "x", "ts": 100}], "ok": true})",
                         ignore, &a));
  ASSERT_TRUE(jsonDigest(R"({ "ok":true, "items":[{"ts":999,"sku":"x"}], "total":5.0, "id":77 })",
                         ignore, &b));
  EXPECT_EQ(a, b);
  ASSERT_TRUE(jsonDigest(R"({"id": 1, "total": 6, "items": [{"sku": "x", "ts": 100}], "ok": true})",
                         ignore, &c));
  EXPECT_NE(a, c);
  // Array order matters; null, strings and numbers are told apart.
  ASSERT_TRUE(jsonDigest(R"([1, 2])", {}, &c));
  ASSERT_TRUE(jsonDigest(R"([2, 1])", {}, &d));
  EXPECT_NE(c, d);
  ASSERT_TRUE(jsonDigest(R"({"a": null})", {}, &c));
  ASSERT_TRUE(jsonDigest(R"({"a": "null"})", {}, &d));
  EXPECT_NE(c, d);
  // Without the ignore list the members count.
  ASSERT_TRUE(jsonDigest(R"({"id": 1, "total": 5})", {}, &c));
  ASSERT_TRUE(jsonDigest(R"({"id": 2, "total": 5})", {}, &d));
  EXPECT_NE(c, d);
  EXPECT_FALSE(jsonDigest("not json", ignore, &c));
  EXPECT_FALSE(jsonDigest(R"({"a": )", ignore, &c));
}

TEST(BodyDigest, KeepsTheBytesWhenAskedUntilTheLimit) {
  BodyDigest kept(8, true);
  kept.add("abcd");
  kept.add("efgh");
  EXPECT_EQ(kept.kept(), "abcdefgh");
  kept.add("i");
  EXPECT_FALSE(kept.valid());
  EXPECT_EQ(kept.kept(), "");
  BodyDigest plain(8);
  plain.add("abcd");
  EXPECT_EQ(plain.kept(), "");
}

TEST(Mirror, ResultNamesAreTheMetricLabels) {
  EXPECT_EQ(mirrorResultName(MirrorResult::kMatch), "match");
  EXPECT_EQ(mirrorResultName(MirrorResult::kStatusMismatch), "status_mismatch");
  EXPECT_EQ(mirrorResultName(MirrorResult::kHeaderMismatch), "header_mismatch");
  EXPECT_EQ(mirrorResultName(MirrorResult::kBodyMismatch), "body_mismatch");
  EXPECT_EQ(mirrorResultName(MirrorResult::kFailed), "failed");
  EXPECT_EQ(mirrorResultName(MirrorResult::kSkipped), "skipped");
  EXPECT_EQ(mirrorResultName(MirrorResult::kUnchecked), "unchecked");
}

}  // namespace
}  // namespace rampart::routing
