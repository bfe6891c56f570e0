// Runs Project Wycheproof vectors (tests/data/wycheproof, see SOURCES.md)
// through verifySignature, the function the JWT path calls. Every "valid"
// vector must verify and every "invalid" one must be refused; a failure names
// the tcId. "acceptable" vectors (legal but dubious encodings) are allowed
// either way: the test prints what we did, so a change of behaviour shows up.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "auth/base64url.h"
#include "auth/jwks.h"
#include "auth/signature.h"

namespace rampart::auth {
namespace {

using simdjson::dom::element;

std::string fromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

element load(simdjson::dom::parser& parser, const std::string& name) {
  const std::string path = std::string(RAMPART_TEST_DATA) + "/wycheproof/" + name;
  element root;
  auto error = parser.load(path).get(root);
  EXPECT_EQ(error, simdjson::SUCCESS) << path;
  return root;
}

// A big-endian hex coordinate as exactly `size` bytes (Wycheproof adds a
// leading 00 when the top bit is set).
std::string coordinate(std::string_view hex, size_t size) {
  std::string bytes = fromHex(hex);
  while (bytes.size() > size && bytes[0] == '\0') bytes.erase(0, 1);
  while (bytes.size() < size) bytes.insert(0, 1, '\0');
  return bytes;
}

// The group's P-256 key as a JWK built from its wx/wy (not every group has a
// publicKeyJwk: keys with x = 0 have none).
std::string ecJwk(element group) {
  element public_key = group["publicKey"];
  return "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" +
         encodeBase64Url(coordinate(public_key["wx"].get_string().value(), 32)) + "\",\"y\":\"" +
         encodeBase64Url(coordinate(public_key["wy"].get_string().value(), 32)) + "\"}";
}

std::shared_ptr<const KeySet> keysFromGroup(element group, const char* jwk_member) {
  element jwk;
  const std::string text =
      group[jwk_member].get(jwk) == simdjson::SUCCESS ? simdjson::minify(jwk) : ecJwk(group);
  JwksResult result = parseJwks("{\"keys\":[" + text + "]}");
  if (!result.ok() || result.keys->size() != 1) return nullptr;
  return result.keys;
}

bool verifies(Algorithm algorithm, const Key& key, const std::string& msg, const std::string& sig,
              SignatureError* error = nullptr) {
  const SignatureError result = verifySignature(
      algorithm, key, msg, reinterpret_cast<const uint8_t*>(sig.data()), sig.size());
  if (error != nullptr) *error = result;
  return result == SignatureError::kNone;
}

struct Tally {
  int valid = 0, invalid = 0, acceptable_accepted = 0, acceptable_refused = 0;
};

// Runs one file where each group carries a JWK (keyJwk / publicKeyJwk).
Tally runJwkFile(const std::string& name, const char* jwk_member, Algorithm algorithm) {
  simdjson::dom::parser parser;
  element root = load(parser, name);
  Tally tally;
  for (element group : root["testGroups"].get_array()) {
    std::shared_ptr<const KeySet> keys = keysFromGroup(group, jwk_member);
    for (element test : group["tests"].get_array()) {
      const int64_t id = test["tcId"].get_int64();
      const std::string_view result = test["result"].get_string();
      const bool accepted = keys != nullptr && verifies(algorithm, keys->keys()[0],
                                                        fromHex(test["msg"].get_string().value()),
                                                        fromHex(test["sig"].get_string().value()));
      if (result == "valid") {
        ++tally.valid;
        EXPECT_TRUE(accepted) << name << " tcId " << id << " is valid but was refused"
                              << (keys == nullptr ? " (its key did not parse)" : "");
      } else if (result == "invalid") {
        ++tally.invalid;
        EXPECT_FALSE(accepted) << name << " tcId " << id << " is invalid but was accepted";
      } else {
        (accepted ? tally.acceptable_accepted : tally.acceptable_refused)++;
        std::cout << name << " tcId " << id << " (acceptable, "
                  << std::string_view(test["comment"].get_string())
                  << "): " << (accepted ? "accepted" : "refused") << "\n";
      }
    }
  }
  return tally;
}

TEST(Wycheproof, Es256RawP1363) {
  const Tally tally =
      runJwkFile("ecdsa_secp256r1_sha256_p1363_test.json", "publicKeyJwk", Algorithm::kEs256);
  EXPECT_EQ(tally.valid + tally.invalid + tally.acceptable_accepted + tally.acceptable_refused,
            262);
  EXPECT_GT(tally.valid, 0);
}

TEST(Wycheproof, Rs256Pkcs1) {
  const Tally tally =
      runJwkFile("rsa_signature_2048_sha256_test.json", "keyJwk", Algorithm::kRs256);
  EXPECT_EQ(tally.valid + tally.invalid + tally.acceptable_accepted + tally.acceptable_refused,
            259);
  EXPECT_GT(tally.valid, 0);
}

// JWS ES256 never takes DER (RFC 7518 3.4): every vector of the DER file,
// valid or not, must be refused by the ES256 path. To show the refusal is
// about the encoding and not a broken key, each valid DER signature is also
// converted to r||s, which must then verify.
TEST(Wycheproof, Es256RefusesEveryDerSignature) {
  simdjson::dom::parser parser;
  element root = load(parser, "ecdsa_secp256r1_sha256_test.json");
  int total = 0, converted = 0;
  for (element group : root["testGroups"].get_array()) {
    JwksResult keys = parseJwks("{\"keys\":[" + ecJwk(group) + "]}");
    for (element test : group["tests"].get_array()) {
      ++total;
      const int64_t id = test["tcId"].get_int64();
      const std::string msg = fromHex(test["msg"].get_string().value());
      const std::string sig = fromHex(test["sig"].get_string().value());
      if (!keys.ok()) continue;  // a key we refuse refuses its every signature
      const Key& key = keys.keys->keys()[0];
      EXPECT_FALSE(verifies(Algorithm::kEs256, key, msg, sig))
          << "DER tcId " << id << " accepted by the JWS ES256 path";
      if (std::string_view(test["result"].get_string()) != "valid") continue;
      SignatureError error{};
      verifies(Algorithm::kEs256, key, msg, sig, &error);
      EXPECT_EQ(error, SignatureError::kBadLength) << "DER tcId " << id;
      const auto* p = reinterpret_cast<const uint8_t*>(sig.data());
      ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
      ASSERT_NE(parsed, nullptr) << "DER tcId " << id;
      std::string raw(64, '\0');
      BN_bn2binpad(ECDSA_SIG_get0_r(parsed), reinterpret_cast<uint8_t*>(raw.data()), 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(parsed), reinterpret_cast<uint8_t*>(raw.data()) + 32, 32);
      ECDSA_SIG_free(parsed);
      EXPECT_TRUE(verifies(Algorithm::kEs256, key, msg, raw))
          << "DER tcId " << id << " as r||s should verify";
      ++converted;
    }
  }
  EXPECT_EQ(total, 484);
  EXPECT_GT(converted, 100);
}

}  // namespace
}  // namespace rampart::auth
