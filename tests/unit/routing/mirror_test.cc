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

TEST(Mirror, ResultNamesAreTheMetricLabels) {
  EXPECT_EQ(mirrorResultName(MirrorResult::kMatch), "match");
  EXPECT_EQ(mirrorResultName(MirrorResult::kStatusMismatch), "status_mismatch");
  EXPECT_EQ(mirrorResultName(MirrorResult::kBodyMismatch), "body_mismatch");
  EXPECT_EQ(mirrorResultName(MirrorResult::kFailed), "failed");
  EXPECT_EQ(mirrorResultName(MirrorResult::kSkipped), "skipped");
  EXPECT_EQ(mirrorResultName(MirrorResult::kUnchecked), "unchecked");
}

}  // namespace
}  // namespace rampart::routing
