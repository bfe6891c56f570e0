#include "auth/base64url.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::auth {
namespace {

bool decodes(std::string_view in, std::string* out = nullptr) {
  std::string bytes;
  const bool ok = decodeBase64Url(in, bytes);
  if (out != nullptr) *out = bytes;
  return ok;
}

TEST(Base64Url, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    const std::string encoded = encodeBase64Url(bytes);
    std::string decoded;
    ASSERT_TRUE(decodes(encoded, &decoded)) << encoded;
    EXPECT_EQ(decoded, bytes);
    bytes.push_back(static_cast<char>(i * 37 + 11));
  }
}

TEST(Base64Url, KnownVectors) {
  // RFC 4648 section 10, with the url-safe alphabet and no padding.
  EXPECT_EQ(encodeBase64Url(""), "");
  EXPECT_EQ(encodeBase64Url("f"), "Zg");
  EXPECT_EQ(encodeBase64Url("fo"), "Zm8");
  EXPECT_EQ(encodeBase64Url("foo"), "Zm9v");
  EXPECT_EQ(encodeBase64Url("foobar"), "Zm9vYmFy");
  EXPECT_EQ(encodeBase64Url("\xfb\xff"), "-_8");
  std::string out;
  ASSERT_TRUE(decodes("-_8", &out));
  EXPECT_EQ(out, "\xfb\xff");
}

TEST(Base64Url, RefusesPadding) {
  EXPECT_FALSE(decodes("Zg=="));
  EXPECT_FALSE(decodes("Zm8="));
  EXPECT_FALSE(decodes("===="));
}

TEST(Base64Url, RefusesStandardAlphabet) {
  EXPECT_FALSE(decodes("+/8"));
  EXPECT_FALSE(decodes("ab+d"));
  EXPECT_FALSE(decodes("ab/d"));
}

TEST(Base64Url, RefusesBadCharacters) {
  for (std::string_view bad : {"ab d", "ab\nd", "ab.d", "ab*d", "ab\0d", "\xc3\xa9xx"}) {
    EXPECT_FALSE(decodes(bad)) << bad;
  }
  EXPECT_FALSE(decodes(std::string_view("ab\0d", 4)));
}

TEST(Base64Url, RefusesImpossibleLength) {
  EXPECT_FALSE(decodes("A"));
  EXPECT_FALSE(decodes("AAAAA"));
}

TEST(Base64Url, RefusesNonCanonicalTrailingBits) {
  EXPECT_TRUE(decodes("Zg"));
  EXPECT_FALSE(decodes("Zh"));  // same byte "f", low bits set
  EXPECT_TRUE(decodes("Zm8"));
  EXPECT_FALSE(decodes("Zm9"));  // same "fo", low bits set
}

TEST(Base64Url, EmptyIsEmpty) {
  std::string out = "junk";
  ASSERT_TRUE(decodes("", &out));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace rampart::auth
