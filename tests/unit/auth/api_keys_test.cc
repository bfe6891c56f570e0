#include "auth/api_keys.h"

#include <gtest/gtest.h>

namespace rampart::auth {
namespace {

std::string hex(const Sha256Digest& d) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

ApiKeyEntry entry(std::string_view key, std::string principal, std::string account) {
  ApiKeyEntry e;
  e.digest = sha256(key);
  e.name = principal + "-key";
  auto identity = std::make_shared<Identity>();
  identity->kind = CredentialKind::kApiKey;
  identity->issuer = "api-key";
  identity->principal = std::move(principal);
  identity->account = std::move(account);
  identity->scopes = {"orders:read"};
  e.identity = identity;
  return e;
}

TEST(Sha256Test, KnownVector) {
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, ParsesHexInEitherCaseAndRefusesOtherText) {
  Sha256Digest d{};
  ASSERT_TRUE(
      parseSha256Hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", &d));
  EXPECT_EQ(d, sha256("abc"));
  EXPECT_FALSE(parseSha256Hex("ba7816bf", &d));  // too short
  EXPECT_FALSE(parseSha256Hex(std::string(64, 'g'), &d));
  EXPECT_FALSE(parseSha256Hex(std::string(65, 'a'), &d));
}

TEST(ApiKeyStoreTest, FindsByDigestOfThePresentedKey) {
  ApiKeyStore store(
      {entry("k-billing-123", "billing", "acme"), entry("k-search-456", "search", "globex")});
  ASSERT_EQ(store.size(), 2u);
  const ApiKeyEntry* found = store.find("k-search-456");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->identity->principal, "search");
  EXPECT_EQ(found->identity->account, "globex");
  EXPECT_EQ(found->identity->kind, CredentialKind::kApiKey);
}

TEST(ApiKeyStoreTest, UnknownNearMissAndEmptyKeysAreNotFound) {
  ApiKeyStore store({entry("k-billing-123", "billing", "acme")});
  EXPECT_EQ(store.find("k-billing-124"), nullptr);
  EXPECT_EQ(store.find("k-billing-12"), nullptr);
  EXPECT_EQ(store.find(""), nullptr);
  // The digest itself is not a key: knowing the file's contents is not enough.
  EXPECT_EQ(store.find(hex(sha256("k-billing-123"))), nullptr);
}

TEST(ApiKeyStoreTest, ARebuiltStoreWithoutTheKeyRevokesIt) {
  ApiKeyStore before({entry("k-1", "a", "x"), entry("k-2", "b", "y")});
  ApiKeyStore after({entry("k-2", "b", "y")});
  EXPECT_NE(before.find("k-1"), nullptr);
  EXPECT_EQ(after.find("k-1"), nullptr);
  EXPECT_NE(after.find("k-2"), nullptr);
}

}  // namespace
}  // namespace rampart::auth
