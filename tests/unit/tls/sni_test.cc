#include "tls/sni.h"

#include <gtest/gtest.h>

namespace rampart::tls {
namespace {

using Problem = SniTable::NameProblem;

SniTable table() {
  SniTable sni;
  EXPECT_EQ(sni.add("default.test", 0), Problem::kNone);
  EXPECT_EQ(sni.add("api.example.com", 1), Problem::kNone);
  EXPECT_EQ(sni.add("*.example.com", 2), Problem::kNone);
  EXPECT_EQ(sni.add("Exact.Other.ORG.", 3), Problem::kNone);
  return sni;
}

TEST(SniTest, ExactNameBeatsTheWildcard) {
  SniTable sni = table();
  EXPECT_EQ(sni.match("api.example.com"), 1u);
  EXPECT_EQ(sni.match("www.example.com"), 2u);
}

TEST(SniTest, WildcardCoversExactlyOneLabel) {
  SniTable sni = table();
  EXPECT_EQ(sni.match("a.example.com"), 2u);
  EXPECT_EQ(sni.match("example.com"), SniTable::kDefault);      // the bare domain: not covered
  EXPECT_EQ(sni.match("a.b.example.com"), SniTable::kDefault);  // two labels: not covered
  EXPECT_EQ(sni.match(".example.com"), SniTable::kDefault);     // an empty label
  EXPECT_EQ(sni.match("aexample.com"), SniTable::kDefault);
}

TEST(SniTest, CaseAndTrailingDotDoNotMatter) {
  SniTable sni = table();
  EXPECT_EQ(sni.match("API.Example.Com"), 1u);
  EXPECT_EQ(sni.match("api.example.com."), 1u);
  EXPECT_EQ(sni.match("WWW.EXAMPLE.COM"), 2u);
  EXPECT_EQ(sni.match("exact.other.org"), 3u);
}

TEST(SniTest, NoNameOrAnUnknownOneGetsTheDefault) {
  SniTable sni = table();
  EXPECT_EQ(sni.match(""), SniTable::kDefault);
  EXPECT_EQ(sni.match("unknown.test"), SniTable::kDefault);
  EXPECT_EQ(sni.match("default.test"), 0u);
}

TEST(SniTest, BadNamesAreRefused) {
  SniTable sni;
  EXPECT_EQ(sni.add("", 0), Problem::kEmpty);
  EXPECT_EQ(sni.add(".", 0), Problem::kEmpty);
  EXPECT_EQ(sni.add("*.com", 0), Problem::kBadWildcard);
  EXPECT_EQ(sni.add("a.*.example.com", 0), Problem::kBadWildcard);
  EXPECT_EQ(sni.add("w*.example.com", 0), Problem::kBadWildcard);
  EXPECT_EQ(sni.add("*", 0), Problem::kBadWildcard);
  EXPECT_EQ(sni.add("a b.example.com", 0), Problem::kBadCharacter);
  EXPECT_EQ(sni.add("a..example.com", 0), Problem::kBadCharacter);
  EXPECT_EQ(sni.size(), 0u);
}

TEST(SniTest, ANameBelongsToOneCertificate) {
  SniTable sni;
  EXPECT_EQ(sni.add("a.example.com", 0), Problem::kNone);
  EXPECT_EQ(sni.add("A.EXAMPLE.COM", 1), Problem::kDuplicate);
  EXPECT_EQ(sni.add("*.example.com", 1), Problem::kNone);
  EXPECT_EQ(sni.add("*.Example.com", 2), Problem::kDuplicate);
  EXPECT_EQ(sni.match("a.example.com"), 0u);
}

}  // namespace
}  // namespace rampart::tls
