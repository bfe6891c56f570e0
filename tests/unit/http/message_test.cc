#include "http/message.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace rampart::http {
namespace {

// The byte-at-a-time definition the eight-byte version must agree with.
bool referenceEqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

TEST(EqualsIgnoreCaseTest, EveryPairOfBytesAgreesWithTheReference) {
  // In every lane position of a word and in the tail: lanes must not leak.
  // Each length path: bytes one by one (1-3), two overlapping four-byte
  // halves (4-7), words with an overlapping last word (8 and more).
  for (size_t length : {1u, 3u, 4u, 5u, 7u, 8u, 9u, 15u, 16u, 17u}) {
    for (size_t at = 0; at < length; at += (length > 8 ? 5 : 1)) {
      for (int i = 0; i < 256; ++i) {
        for (int j = 0; j < 256; ++j) {
          std::string a(length, 'q'), b(length, 'Q');
          a[at] = static_cast<char>(i);
          b[at] = static_cast<char>(j);
          ASSERT_EQ(equalsIgnoreCase(a, b), referenceEqualsIgnoreCase(a, b))
              << "length " << length << " at " << at << " bytes " << i << " " << j;
        }
      }
    }
  }
}

TEST(LowercaseInPlaceTest, EveryByteAtEveryPositionOfEachLengthPath) {
  // Lengths below eight go byte by byte; eight and more by words, the last
  // 1-7 bytes as an overlapping word. Neighbours must never change.
  for (size_t length : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 17u, 23u}) {
    for (size_t at = 0; at < length; ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string text(length, 'Q');
        text[at] = static_cast<char>(byte);
        std::string want = text;
        for (char& c : want) {
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        }
        std::string guarded = "AB" + text + "CD";  // bytes around it stay as they are
        lowercaseInPlace(guarded.data() + 2, length);
        ASSERT_EQ(guarded, "AB" + want + "CD")
            << "length " << length << " at " << at << " byte " << byte;
      }
    }
  }
}

TEST(EqualsIgnoreCaseTest, HeaderNamesAndNearMisses) {
  EXPECT_TRUE(equalsIgnoreCase("Authorization", "authorization"));
  EXPECT_TRUE(equalsIgnoreCase("X-HTTP-METHOD-OVERRIDE", "x-http-method-override"));
  EXPECT_TRUE(equalsIgnoreCase("", ""));
  EXPECT_FALSE(equalsIgnoreCase("authorization", "authorizatio"));
  EXPECT_FALSE(equalsIgnoreCase("x-auth-subjecT", "x-auth-subjecs"));
  EXPECT_FALSE(equalsIgnoreCase("a^b", "a~b"));  // 0x5E and 0x7E differ by the case bit only
  EXPECT_FALSE(equalsIgnoreCase("a@b", "a`b"));
  EXPECT_FALSE(equalsIgnoreCase("a[b", "a{b"));
  EXPECT_FALSE(equalsIgnoreCase("content-length\xC1", "content-length\xE1"));
}

TEST(EqualsIgnoreCaseTest, RandomStringsAgreeWithTheReference) {
  std::mt19937_64 rng(7);
  const std::string alphabet = "aAbBzZ09-_^~@`[{\x80\xC1\xE1";
  for (int round = 0; round < 200000; ++round) {
    size_t length = rng() % 24;
    std::string a, b;
    for (size_t i = 0; i < length; ++i) {
      char c = alphabet[rng() % alphabet.size()];
      a.push_back(c);
      // Mostly the same letter in another case, sometimes another byte.
      b.push_back(rng() % 4 == 0 ? alphabet[rng() % alphabet.size()]
                                 : static_cast<char>((c >= 'a' && c <= 'z') ? c - 32 : c));
    }
    ASSERT_EQ(equalsIgnoreCase(a, b), referenceEqualsIgnoreCase(a, b)) << a << " / " << b;
  }
}

}  // namespace
}  // namespace rampart::http
