// The JWT engine and the JWKS parser. Keys are generated at test start with
// OpenSSL, JWKS documents and tokens are built from them here: no external
// tools, no files.
#include "auth/jwt.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <atomic>
#include <map>
#include <thread>

#include "auth/base64url.h"

namespace rampart::auth {
namespace {

using E = JwtError;

constexpr int64_t kNow = 1'700'000'000;
const std::string kIssuer = "https://issuer.example";
const std::string kHmacSecret(64, 'k');  // long enough for HS512

// ---- keys and JWKs -------------------------------------------------------

std::string bnBytes(EVP_PKEY* pkey, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(pkey, name, &bn), 1) << name;
  std::string out(pad > 0 ? pad : BN_num_bytes(bn), '\0');
  BN_bn2binpad(bn, reinterpret_cast<uint8_t*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

struct TestKey {
  std::string kid;
  PkeyPtr pkey;  // private key; null for HMAC
  std::string secret;

  // The public JWK (no "d"); `extra` is spliced in (e.g. ",\"alg\":\"RS256\"").
  std::string jwk(std::string_view extra = "") const {
    std::string out = "{\"kid\":\"" + kid + "\"";
    if (pkey == nullptr) {
      out += ",\"kty\":\"oct\",\"k\":\"" + encodeBase64Url(secret) + "\"";
    } else if (EVP_PKEY_is_a(pkey.get(), "RSA")) {
      out += ",\"kty\":\"RSA\",\"n\":\"" + encodeBase64Url(bnBytes(pkey.get(), "n")) +
             "\",\"e\":\"" + encodeBase64Url(bnBytes(pkey.get(), "e")) + "\"";
    } else if (EVP_PKEY_is_a(pkey.get(), "EC")) {
      const int size = EVP_PKEY_get_bits(pkey.get()) == 256 ? 32 : 48;
      out += std::string(",\"kty\":\"EC\",\"crv\":\"") + (size == 32 ? "P-256" : "P-384") +
             "\",\"x\":\"" + encodeBase64Url(bnBytes(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, size)) +
             "\",\"y\":\"" + encodeBase64Url(bnBytes(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, size)) +
             "\"";
    } else {
      std::string raw(32, '\0');
      size_t length = raw.size();
      EVP_PKEY_get_raw_public_key(pkey.get(), reinterpret_cast<uint8_t*>(raw.data()), &length);
      out += ",\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" + encodeBase64Url(raw) + "\"";
    }
    return out + std::string(extra) + "}";
  }
};

TestKey generate(const std::string& kid, const char* type, const char* param = nullptr) {
  TestKey key;
  key.kid = kid;
  if (std::string_view(type) == "RSA") {
    key.pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  } else if (std::string_view(type) == "EC") {
    key.pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", param));
  } else {
    key.pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, type));
  }
  EXPECT_NE(key.pkey, nullptr) << type;
  return key;
}

// Keys shared by every test (RSA keygen is slow): made once.
struct Keys {
  TestKey hmac{"hmac-1", nullptr, kHmacSecret};
  TestKey rsa = generate("rsa-1", "RSA");
  TestKey p256 = generate("ec-256", "EC", "P-256");
  TestKey p384 = generate("ec-384", "EC", "P-384");
  TestKey ed = generate("ed-1", "ED25519");
};
const Keys& keys() {
  static const Keys* instance = new Keys();
  return *instance;
}

std::string jwksOf(std::initializer_list<std::string> jwks) {
  std::string out = "{\"keys\":[";
  bool first = true;
  for (const std::string& jwk : jwks) {
    if (!first) out += ",";
    first = false;
    out += jwk;
  }
  return out + "]}";
}

std::shared_ptr<const KeySet> parseOrDie(const std::string& jwks) {
  JwksResult result = parseJwks(jwks);
  EXPECT_TRUE(result.ok()) << result.error << "\n" << jwks;
  return result.keys;
}

std::shared_ptr<const KeySet> allKeys() {
  const Keys& k = keys();
  return parseOrDie(jwksOf({k.hmac.jwk(), k.rsa.jwk(), k.p256.jwk(), k.p384.jwk(), k.ed.jwk()}));
}

// ---- signing ---------------------------------------------------------------

const EVP_MD* digestOf(std::string_view alg) {
  if (alg.ends_with("256")) return EVP_sha256();
  if (alg.ends_with("384")) return EVP_sha384();
  if (alg.ends_with("512")) return EVP_sha512();
  return nullptr;
}

// A JWS signature over `input` in JWS form (raw r||s for ECDSA).
std::string sign(std::string_view alg, const TestKey& key, std::string_view input) {
  if (alg.starts_with("HS")) {
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    HMAC(digestOf(alg), key.secret.data(), static_cast<int>(key.secret.size()),
         reinterpret_cast<const uint8_t*>(input.data()), input.size(), mac, &length);
    return std::string(reinterpret_cast<char*>(mac), length);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(EVP_DigestSignInit(ctx, &pctx, digestOf(alg), nullptr, key.pkey.get()), 1);
  if (alg.starts_with("PS")) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  size_t length = 0;
  EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const uint8_t*>(input.data()),
                 input.size());
  std::string sig(length, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<uint8_t*>(sig.data()), &length,
                           reinterpret_cast<const uint8_t*>(input.data()), input.size()),
            1);
  sig.resize(length);
  EVP_MD_CTX_free(ctx);
  if (alg.starts_with("ES")) {
    const size_t half = alg == "ES256" ? 32 : 48;
    const auto* p = reinterpret_cast<const uint8_t*>(sig.data());
    ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(2 * half, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(parsed), reinterpret_cast<uint8_t*>(raw.data()),
                 static_cast<int>(half));
    BN_bn2binpad(ECDSA_SIG_get0_s(parsed), reinterpret_cast<uint8_t*>(raw.data()) + half,
                 static_cast<int>(half));
    ECDSA_SIG_free(parsed);
    return raw;
  }
  return sig;
}

// A token from raw JSON texts, signed as `alg` with `key`.
std::string token(const std::string& header, const std::string& claims, std::string_view alg,
                  const TestKey& key) {
  const std::string input = encodeBase64Url(header) + "." + encodeBase64Url(claims);
  return input + "." + encodeBase64Url(sign(alg, key, input));
}

std::string header(std::string_view alg, std::string_view kid, std::string_view extra = "") {
  std::string out = "{\"alg\":\"" + std::string(alg) + "\"";
  if (!kid.empty()) out += ",\"kid\":\"" + std::string(kid) + "\"";
  return out + std::string(extra) + "}";
}

std::string claims(std::string_view extra = "") {
  return "{\"iss\":\"" + kIssuer +
         "\",\"sub\":\"alice\",\"aud\":\"api\",\"exp\":" + std::to_string(kNow + 600) +
         ",\"iat\":" + std::to_string(kNow - 10) + std::string(extra) + "}";
}

const TestKey& keyFor(std::string_view alg) {
  const Keys& k = keys();
  if (alg.starts_with("HS")) return k.hmac;
  if (alg.starts_with("RS") || alg.starts_with("PS")) return k.rsa;
  if (alg == "ES256") return k.p256;
  if (alg == "ES384") return k.p384;
  return k.ed;
}

std::string good(std::string_view alg, std::string_view extra_claims = "") {
  const TestKey& key = keyFor(alg);
  return token(header(alg, key.kid), claims(extra_claims), alg, key);
}

std::vector<Algorithm> everyAlgorithm() {
  std::vector<Algorithm> out;
  for (size_t i = 0; i < kAlgorithmCount; ++i) out.push_back(static_cast<Algorithm>(i));
  return out;
}

IssuerSpec spec(std::shared_ptr<const KeySet> key_set = allKeys()) {
  IssuerSpec out;
  out.issuer = kIssuer;
  out.algorithms = everyAlgorithm();
  out.keys = std::move(key_set);
  out.audiences = {"api"};
  return out;
}

std::unique_ptr<Authenticator> make(std::vector<IssuerSpec> specs) {
  std::string error;
  auto out = Authenticator::create(std::move(specs), error);
  EXPECT_NE(out, nullptr) << error;
  return out;
}

std::unique_ptr<Authenticator> make(IssuerSpec one = spec()) {
  std::vector<IssuerSpec> specs;
  specs.push_back(std::move(one));
  return make(std::move(specs));
}

E check(const Authenticator& auth, std::string_view jwt, int64_t now = kNow) {
  Identity identity;
  return auth.authenticate(jwt, now, identity);
}

E check(std::string_view jwt) {
  return check(*make(), jwt);
}

// A token with the given claims JSON and header, signed with HS256.
std::string hs(const std::string& claims_json, const std::string& header_json = "") {
  return token(header_json.empty() ? header("HS256", "hmac-1") : header_json, claims_json, "HS256",
               keys().hmac);
}

std::string corruptLastChar(std::string jwt) {
  // Flips a high bit of the last full sextet so the base64 stays canonical.
  char& c = jwt[jwt.size() - 2];
  c = c == 'A' ? 'g' : 'A';
  return jwt;
}

// ---- every algorithm -------------------------------------------------------

class EveryAlgorithm : public testing::TestWithParam<Algorithm> {};

TEST_P(EveryAlgorithm, AcceptsGoodAndRefusesTampered) {
  const std::string alg = algorithmName(GetParam());
  auto auth = make();
  const std::string jwt = good(alg);
  Identity identity;
  ASSERT_EQ(auth->authenticate(jwt, kNow, identity), E::kNone) << alg;
  EXPECT_EQ(identity.kind, CredentialKind::kJwt);
  EXPECT_EQ(identity.principal, "alice");

  EXPECT_EQ(check(*auth, corruptLastChar(jwt)), E::kBadSignature) << alg;
  // Same signature, claims changed (sub bob).
  const size_t dot1 = jwt.find('.'), dot2 = jwt.rfind('.');
  const std::string forged =
      jwt.substr(0, dot1 + 1) +
      encodeBase64Url("{\"iss\":\"" + kIssuer + "\",\"sub\":\"bob\",\"aud\":\"api\",\"exp\":" +
                      std::to_string(kNow + 600) + "}") +
      jwt.substr(dot2);
  EXPECT_EQ(check(*auth, forged), E::kBadSignature) << alg;
}

INSTANTIATE_TEST_SUITE_P(Jwt, EveryAlgorithm, testing::ValuesIn(everyAlgorithm()),
                         [](const testing::TestParamInfo<Algorithm>& info) {
                           return std::string(algorithmName(info.param));
                         });

// ---- refusals: alg ---------------------------------------------------------

std::string unsignedToken(std::string_view alg) {
  return encodeBase64Url("{\"alg\":\"" + std::string(alg) + "\"}") + "." +
         encodeBase64Url(claims()) + ".";
}

TEST(JwtRefuses, AlgNoneLowercase) {
  EXPECT_EQ(check(unsignedToken("none")), E::kAlgNone);
}
TEST(JwtRefuses, AlgNoneCapitalized) {
  EXPECT_EQ(check(unsignedToken("None")), E::kAlgNone);
}
TEST(JwtRefuses, AlgNoneUppercase) {
  EXPECT_EQ(check(unsignedToken("NONE")), E::kAlgNone);
}

TEST(JwtRefuses, AlgNoneEvenWithASignatureAndKid) {
  EXPECT_EQ(check(hs(claims(), header("nOnE", "hmac-1"))), E::kAlgNone);
  Algorithm algorithm{};
  EXPECT_EQ(parseAlgorithm("none", algorithm), AlgorithmParse::kNone);
  EXPECT_EQ(parseAlgorithm("NoNe", algorithm), AlgorithmParse::kNone);
}

TEST(JwtRefuses, UnknownAlgorithm) {
  EXPECT_EQ(check(hs(claims(), header("HS1024", "hmac-1"))), E::kUnknownAlgorithm);
  EXPECT_EQ(check(hs(claims(), header("hs256", "hmac-1"))), E::kUnknownAlgorithm);
  EXPECT_EQ(check(hs(claims(), "{\"kid\":\"hmac-1\"}")), E::kUnknownAlgorithm);
  EXPECT_EQ(check(hs(claims(), "{\"alg\":256,\"kid\":\"hmac-1\"}")), E::kUnknownAlgorithm);
}

TEST(JwtRefuses, AlgorithmNotInAllowList) {
  IssuerSpec only_es256 = spec();
  only_es256.algorithms = {Algorithm::kEs256};
  auto auth = make(std::move(only_es256));
  EXPECT_EQ(check(*auth, good("ES256")), E::kNone);
  EXPECT_EQ(check(*auth, good("HS256")), E::kAlgorithmNotAllowed);
  EXPECT_EQ(check(*auth, good("RS256")), E::kAlgorithmNotAllowed);
}

// ---- refusals: key confusion ---------------------------------------------

// The classic attack: HS256 signed with the public key's bytes as the secret,
// naming the public key's kid.
std::string hmacWithPublicKey(const TestKey& public_key) {
  const std::string jwk = public_key.jwk();
  const TestKey fake{public_key.kid, nullptr, jwk};
  return token(header("HS256", public_key.kid), claims(), "HS256", fake);
}

TEST(JwtRefuses, HmacAlgWithRsaKey) {
  EXPECT_EQ(check(hmacWithPublicKey(keys().rsa)), E::kKeyTypeMismatch);
}
TEST(JwtRefuses, HmacAlgWithEcKey) {
  EXPECT_EQ(check(hmacWithPublicKey(keys().p256)), E::kKeyTypeMismatch);
}
TEST(JwtRefuses, HmacAlgWithOkpKey) {
  EXPECT_EQ(check(hmacWithPublicKey(keys().ed)), E::kKeyTypeMismatch);
}

TEST(JwtRefuses, HmacAlgWithoutKidWhenOnlyPublicKeysExist) {
  auto auth = make(spec(parseOrDie(jwksOf({keys().rsa.jwk()}))));
  const TestKey fake{"", nullptr, keys().rsa.jwk()};
  EXPECT_EQ(check(*auth, token(header("HS256", ""), claims(), "HS256", fake)), E::kKeyTypeMismatch);
}

TEST(JwtRefuses, EcAlgWithWrongCurve) {
  // ES384 naming the P-256 key.
  EXPECT_EQ(check(token(header("ES384", "ec-256"), claims(), "ES384", keys().p384)),
            E::kKeyTypeMismatch);
}

TEST(JwtRefuses, AlgOtherThanTheJwkPinsIt) {
  auto auth = make(spec(parseOrDie(jwksOf({keys().rsa.jwk(",\"alg\":\"RS256\"")}))));
  EXPECT_EQ(check(*auth, good("RS256")), E::kNone);
  EXPECT_EQ(check(*auth, good("PS256")), E::kKeyTypeMismatch);
}

TEST(JwtRefuses, UnknownKid) {
  auto auth = make();
  Identity identity;
  const E error = auth->authenticate(hs(claims(), header("HS256", "rotated-away")), kNow, identity);
  EXPECT_EQ(error, E::kUnknownKid);
  EXPECT_TRUE(keyRefreshMayHelp(error));
  EXPECT_EQ(identity.issuer, kIssuer);  // whose JWKS to refresh
  EXPECT_FALSE(identity.authenticated());
  EXPECT_FALSE(keyRefreshMayHelp(E::kBadSignature));
}

TEST(JwtRefuses, EmptyKidMatchesNoKey) {
  EXPECT_EQ(check(hs(claims(), header("HS256", "", ",\"kid\":\"\""))), E::kUnknownKid);
}

TEST(JwtRefuses, KidNotAString) {
  EXPECT_EQ(check(hs(claims(), "{\"alg\":\"HS256\",\"kid\":7}")), E::kBadHeaderMember);
}

TEST(JwtRefuses, NoKidAndSeveralFittingKeys) {
  const TestKey other{"hmac-2", nullptr, std::string(64, 'z')};
  auto auth = make(spec(parseOrDie(jwksOf({keys().hmac.jwk(), other.jwk()}))));
  EXPECT_EQ(check(*auth, hs(claims(), header("HS256", ""))), E::kNoKey);
}

TEST(JwtAccepts, NoKidAndExactlyOneFittingKey) {
  // allKeys() has one oct key among public keys: it is the one.
  EXPECT_EQ(check(hs(claims(), header("HS256", ""))), E::kNone);
  EXPECT_EQ(check(token(header("ES256", ""), claims(), "ES256", keys().p256)), E::kNone);
}

TEST(JwtRefuses, HmacSecretShorterThanDigest) {
  std::vector<Key> list;
  list.push_back(makeHmacKey("short", std::string(31, 's')));
  auto auth = make(spec(makeKeySet(std::move(list))));
  const TestKey key{"short", nullptr, std::string(31, 's')};
  EXPECT_EQ(check(*auth, token(header("HS256", "short"), claims(), "HS256", key)), E::kWeakKey);
}

// ---- refusals: header members ---------------------------------------------

TEST(JwtRefuses, JkuInHeader) {
  EXPECT_EQ(check(hs(claims(), header("HS256", "hmac-1", ",\"jku\":\"https://evil/jwks\""))),
            E::kRemoteKeyReference);
}
TEST(JwtRefuses, X5uInHeader) {
  EXPECT_EQ(check(hs(claims(), header("HS256", "hmac-1", ",\"x5u\":\"https://evil/cert\""))),
            E::kRemoteKeyReference);
}
TEST(JwtRefuses, JwkInHeader) {
  EXPECT_EQ(check(hs(claims(), header("HS256", "hmac-1", ",\"jwk\":" + keys().p256.jwk()))),
            E::kRemoteKeyReference);
}
TEST(JwtRefuses, X5cInHeader) {
  EXPECT_EQ(check(hs(claims(), header("HS256", "hmac-1", ",\"x5c\":[\"MIIB\"]"))),
            E::kRemoteKeyReference);
}
TEST(JwtRefuses, CritInHeader) {
  EXPECT_EQ(check(hs(claims(), header("HS256", "hmac-1", ",\"crit\":[\"exp\"],\"exp\":1"))),
            E::kCriticalHeader);
}

// ---- refusals: framing, base64, JSON ---------------------------------------

TEST(JwtRefuses, NotThreeSegments) {
  const std::string jwt = good("HS256");
  EXPECT_EQ(check(jwt.substr(0, jwt.rfind('.'))), E::kMalformed);
  EXPECT_EQ(check(jwt + ".e30"), E::kMalformed);
  EXPECT_EQ(check(jwt + "."), E::kMalformed);
  EXPECT_EQ(check("abc"), E::kMalformed);
  EXPECT_EQ(check(""), E::kMalformed);
  EXPECT_EQ(check(".."), E::kMalformed);
}

TEST(JwtRefuses, Base64Padding) {
  // {"alg":"HS256"} is 15 bytes: 20 chars, no padding; a 16-byte header pads.
  const std::string head = encodeBase64Url("{\"alg\":\"HS256\"} ");
  const std::string jwt = good("HS256");
  EXPECT_EQ(check(head + "==" + jwt.substr(jwt.find('.'))), E::kBadBase64);
  EXPECT_EQ(check(jwt + "="), E::kBadBase64);
}

TEST(JwtRefuses, Base64StandardAlphabet) {
  std::string jwt = good("HS256");
  const size_t dot2 = jwt.rfind('.');
  std::string plus = jwt, slash = jwt;
  plus[dot2 + 1] = '+';
  slash[dot2 + 1] = '/';
  EXPECT_EQ(check(plus), E::kBadBase64);
  EXPECT_EQ(check(slash), E::kBadBase64);
}

TEST(JwtRefuses, Base64BadCharacters) {
  std::string jwt = good("HS256");
  for (char bad : {' ', '*', '\0', '\n', '\xff'}) {
    std::string copy = jwt;
    copy[3] = bad;
    EXPECT_EQ(check(copy), E::kBadBase64) << int(bad);
  }
}

TEST(JwtRefuses, Base64NonCanonicalTrailingBits) {
  // HS256 signature: 32 bytes = 43 chars, the last carries 2 unused bits.
  std::string jwt = good("HS256");
  char& last = jwt.back();
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  last = alphabet[alphabet.find(last) | 1];
  EXPECT_EQ(check(jwt), E::kBadBase64);
}

TEST(JwtRefuses, Base64ImpossibleLength) {
  const std::string jwt = good("HS256");
  std::string bad = "A";  // a 1-character header: 1 mod 4
  bad += jwt.substr(jwt.find('.'));
  EXPECT_EQ(check(bad), E::kBadBase64);
}

TEST(JwtRefuses, BadJson) {
  EXPECT_EQ(check(hs("{\"iss\":", header("HS256", "hmac-1"))), E::kBadJson);
  EXPECT_EQ(check(hs(claims(), "{\"alg\":\"HS256\",}")), E::kBadJson);
  EXPECT_EQ(check(hs("{\"iss\":\"\xff\"}")), E::kBadJson);  // not UTF-8
}

TEST(JwtRefuses, DuplicateHeaderMember) {
  EXPECT_EQ(check(hs(claims(), "{\"alg\":\"HS256\",\"kid\":\"hmac-1\",\"alg\":\"none\"}")),
            E::kDuplicateMember);
  // The same name spelled with an escape is still the same name.
  EXPECT_EQ(check(hs(claims(), "{\"alg\":\"HS256\",\"kid\":\"hmac-1\",\"a\\u006cg\":\"HS256\"}")),
            E::kDuplicateMember);
}

TEST(JwtRefuses, DuplicateClaim) {
  EXPECT_EQ(check(hs(claims(",\"sub\":\"admin\""))), E::kDuplicateMember);
}

TEST(JwtRefuses, HeaderNotObject) {
  EXPECT_EQ(check(hs(claims(), "[\"HS256\"]")), E::kNotObject);
  EXPECT_EQ(check(hs(claims(), "\"HS256\"")), E::kNotObject);
}

TEST(JwtRefuses, ClaimsNotObject) {
  EXPECT_EQ(check(hs("[1,2]")), E::kNotObject);
  EXPECT_EQ(check(hs("42")), E::kNotObject);
}

// ---- refusals: signature length --------------------------------------------

std::string withSignature(const std::string& jwt, const std::string& signature) {
  return jwt.substr(0, jwt.rfind('.') + 1) + encodeBase64Url(signature);
}

std::string signatureOf(const std::string& jwt) {
  std::string out;
  EXPECT_TRUE(decodeBase64Url(jwt.substr(jwt.rfind('.') + 1), out));
  return out;
}

TEST(JwtRefuses, HmacSignatureOfWrongLength) {
  const std::string jwt = good("HS256");
  const std::string sig = signatureOf(jwt);
  EXPECT_EQ(check(withSignature(jwt, sig.substr(0, 31))), E::kBadSignatureLength);
  EXPECT_EQ(check(withSignature(jwt, sig + "x")), E::kBadSignatureLength);
  EXPECT_EQ(check(withSignature(jwt, "")), E::kBadSignatureLength);
}

TEST(JwtRefuses, EcdsaSignatureOfWrongLength) {
  const std::string es256 = good("ES256"), es384 = good("ES384");
  EXPECT_EQ(check(withSignature(es256, signatureOf(es256).substr(0, 63))), E::kBadSignatureLength);
  EXPECT_EQ(check(withSignature(es256, signatureOf(es256) + "\x01")), E::kBadSignatureLength);
  EXPECT_EQ(check(withSignature(es384, signatureOf(es384).substr(0, 64))), E::kBadSignatureLength);
}

TEST(JwtRefuses, Es256SignatureInDer) {
  // A correct ECDSA signature in DER (what OpenSSL emits): JWS wants r||s.
  const std::string jwt = good("ES256");
  const std::string input = jwt.substr(0, jwt.rfind('.'));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, keys().p256.pkey.get()), 1);
  std::string der(80, '\0');
  size_t length = der.size();
  ASSERT_EQ(EVP_DigestSign(ctx, reinterpret_cast<uint8_t*>(der.data()), &length,
                           reinterpret_cast<const uint8_t*>(input.data()), input.size()),
            1);
  EVP_MD_CTX_free(ctx);
  der.resize(length);
  ASSERT_NE(der.size(), 64u);
  EXPECT_EQ(check(withSignature(jwt, der)), E::kBadSignatureLength);
}

TEST(JwtRefuses, Ed25519SignatureOfWrongLength) {
  const std::string jwt = good("EdDSA");
  EXPECT_EQ(check(withSignature(jwt, signatureOf(jwt).substr(0, 63))), E::kBadSignatureLength);
}

TEST(JwtRefuses, RsaSignatureOfWrongLength) {
  const std::string jwt = good("RS256");
  EXPECT_EQ(check(withSignature(jwt, signatureOf(jwt).substr(1))), E::kBadSignatureLength);
  EXPECT_EQ(check(withSignature(jwt, std::string(2000, 'x'))), E::kBadSignatureLength);
  // Around the largest signature buffer (RSA-8192: 1024 bytes).
  for (size_t size : {1023, 1024, 1025, 1026, 1027}) {
    EXPECT_EQ(check(withSignature(jwt, std::string(size, 'x'))), E::kBadSignatureLength) << size;
  }
}

// ---- refusals: size --------------------------------------------------------

TEST(JwtRefuses, TokenOverSizeLimitBeforeDecoding) {
  IssuerSpec small = spec();
  small.max_token_bytes = 300;
  auto auth = make(std::move(small));
  // Not even a token: the size is checked first.
  EXPECT_EQ(check(*auth, std::string(301, '=')), E::kTooLarge);
  EXPECT_EQ(check(*auth, std::string(300, '=')), E::kMalformed);
  EXPECT_EQ(check(*auth, good("HS256", ",\"pad\":\"" + std::string(300, 'p') + "\"")),
            E::kTooLarge);
}

TEST(JwtRefuses, TokenOverItsIssuersLimit) {
  IssuerSpec big = spec(), small = spec();
  small.issuer = "small";
  small.max_token_bytes = 200;
  std::vector<IssuerSpec> specs;
  specs.push_back(std::move(big));
  specs.push_back(std::move(small));
  auto auth = make(std::move(specs));
  const std::string claims_small =
      "{\"iss\":\"small\",\"sub\":\"a\",\"aud\":\"api\",\"exp\":" + std::to_string(kNow + 60) +
      ",\"x\":\"" + std::string(150, 'x') + "\"}";
  EXPECT_EQ(check(*auth, hs(claims_small)), E::kTooLarge);
  EXPECT_EQ(check(*auth, good("HS256", ",\"x\":\"" + std::string(150, 'x') + "\"")), E::kNone);
}

// ---- refusals: time, audience, issuer --------------------------------------

std::string claimsAt(const std::string& times) {
  return "{\"iss\":\"" + kIssuer + "\",\"sub\":\"alice\",\"aud\":\"api\"" + times + "}";
}

TEST(JwtRefuses, Expired) {
  auto auth = make();  // skew 60 s
  const std::string jwt = hs(claimsAt(",\"exp\":" + std::to_string(kNow)));
  EXPECT_EQ(check(*auth, jwt, kNow + 59), E::kNone);
  EXPECT_EQ(check(*auth, jwt, kNow + 60), E::kExpired);
  EXPECT_EQ(check(*auth, jwt, kNow + 100000), E::kExpired);
}

TEST(JwtRefuses, NotYetValid) {
  auto auth = make();
  const std::string jwt = hs(claimsAt(",\"exp\":" + std::to_string(kNow + 1000) +
                                      ",\"nbf\":" + std::to_string(kNow + 100)));
  EXPECT_EQ(check(*auth, jwt, kNow + 40), E::kNone);  // within skew
  EXPECT_EQ(check(*auth, jwt, kNow + 39), E::kNotYetValid);
}

TEST(JwtRefuses, IssuedInTheFutureBeyondSkew) {
  auto auth = make();
  const std::string jwt = hs(claimsAt(",\"exp\":" + std::to_string(kNow + 1000) +
                                      ",\"iat\":" + std::to_string(kNow + 61)));
  EXPECT_EQ(check(*auth, jwt, kNow), E::kIssuedInFuture);
  EXPECT_EQ(check(*auth, jwt, kNow + 1), E::kNone);
}

TEST(JwtRefuses, ExpMissingWhenRequired) {
  const std::string jwt = hs(claimsAt(""));
  EXPECT_EQ(check(jwt), E::kExpMissing);
  IssuerSpec lenient = spec();
  lenient.require_exp = false;
  auto auth = make(std::move(lenient));
  Identity identity;
  EXPECT_EQ(auth->authenticate(jwt, kNow, identity), E::kNone);
  EXPECT_EQ(identity.expires_at, 0);
}

TEST(JwtRefuses, ExpNotANumber) {
  EXPECT_EQ(check(hs(claimsAt(",\"exp\":\"" + std::to_string(kNow + 60) + "\""))),
            E::kBadTimeClaim);
  EXPECT_EQ(check(hs(claimsAt(",\"exp\":true"))), E::kBadTimeClaim);
  EXPECT_EQ(check(hs(claimsAt(",\"exp\":null"))), E::kBadTimeClaim);
}
TEST(JwtRefuses, NbfNotANumber) {
  EXPECT_EQ(check(hs(claimsAt(",\"exp\":" + std::to_string(kNow + 60) + ",\"nbf\":[1]"))),
            E::kBadTimeClaim);
}
TEST(JwtRefuses, IatNotANumber) {
  EXPECT_EQ(check(hs(claimsAt(",\"exp\":" + std::to_string(kNow + 60) + ",\"iat\":{}"))),
            E::kBadTimeClaim);
}

TEST(JwtAccepts, FractionalAndHugeNumericDates) {
  EXPECT_EQ(check(hs(claimsAt(",\"exp\":" + std::to_string(kNow + 60) + ".5"))), E::kNone);
  EXPECT_EQ(check(hs(claimsAt(",\"exp\":18446744073709551615"))), E::kNone);
  EXPECT_EQ(check(hs(claimsAt(",\"exp\":1e300"))), E::kNone);
  EXPECT_EQ(check(hs(claimsAt(",\"exp\":-1e300"))), E::kExpired);
}

TEST(JwtRefuses, WrongAudience) {
  const std::string times = ",\"exp\":" + std::to_string(kNow + 60);
  auto with_aud = [&](const std::string& aud) {
    return hs("{\"iss\":\"" + kIssuer + "\",\"sub\":\"a\"" + aud + times + "}");
  };
  EXPECT_EQ(check(with_aud(",\"aud\":\"other\"")), E::kAudienceMismatch);
  EXPECT_EQ(check(with_aud(",\"aud\":[\"x\",\"y\"]")), E::kAudienceMismatch);
  EXPECT_EQ(check(with_aud("")), E::kAudienceMismatch);
  EXPECT_EQ(check(with_aud(",\"aud\":7")), E::kAudienceMismatch);
  EXPECT_EQ(check(with_aud(",\"aud\":[\"api\",7]")), E::kAudienceMismatch);
  EXPECT_EQ(check(with_aud(",\"aud\":[\"x\",\"api\"]")), E::kNone);
  IssuerSpec any_of = spec();
  any_of.audiences = {"one", "two"};
  auto auth = make(std::move(any_of));
  EXPECT_EQ(check(*auth, with_aud(",\"aud\":\"two\"")), E::kNone);
  EXPECT_EQ(check(*auth, with_aud(",\"aud\":\"api\"")), E::kAudienceMismatch);
}

TEST(JwtRefuses, UnknownIssuer) {
  EXPECT_EQ(check(hs("{\"iss\":\"https://evil.example\",\"sub\":\"a\",\"aud\":\"api\"}")),
            E::kUnknownIssuer);
  // Exact match only: no trailing-slash or case folding.
  EXPECT_EQ(check(hs("{\"iss\":\"" + kIssuer + "/\",\"sub\":\"a\"}")), E::kUnknownIssuer);
}

TEST(JwtRefuses, MissingIssuer) {
  EXPECT_EQ(check(hs("{\"sub\":\"a\",\"aud\":\"api\"}")), E::kIssuerMissing);
  EXPECT_EQ(check(hs("{\"iss\":7,\"sub\":\"a\"}")), E::kIssuerMissing);
}

// ---- claim mapping ---------------------------------------------------------

TEST(JwtClaims, MapsEveryField) {
  IssuerSpec mapped = spec();
  mapped.claims.principal_claim = "email";
  mapped.claims.account_claim = "tenant";
  mapped.claims.roles_claim = "roles";
  mapped.claims.extra_claims = {"plan", "level", "groups", "admin", "meta", "absent"};
  auto auth = make(std::move(mapped));
  const std::string jwt =
      good("ES256",
           ",\"email\":\"a@example.com\",\"tenant\":\"acme\",\"roles\":[\"reader\",\"writer\"],"
           "\"scope\":\"read:a  write:b\",\"plan\":\"gold\",\"level\":3,\"groups\":[\"g1\",\"g2\"],"
           "\"admin\":false,\"meta\":{\"k\": \"v\"}");
  Identity identity;
  ASSERT_EQ(auth->authenticate(jwt, kNow, identity), E::kNone);
  EXPECT_EQ(identity.kind, CredentialKind::kJwt);
  EXPECT_EQ(identity.issuer, kIssuer);
  EXPECT_EQ(identity.principal, "a@example.com");
  EXPECT_EQ(identity.account, "acme");
  EXPECT_EQ(identity.roles, (std::vector<std::string>{"reader", "writer"}));
  EXPECT_EQ(identity.scopes, (std::vector<std::string>{"read:a", "write:b"}));
  EXPECT_EQ(identity.expires_at, kNow + 600);
  const std::vector<std::pair<std::string, std::string>> expected = {{"plan", "gold"},
                                                                     {"level", "3"},
                                                                     {"groups", "g1,g2"},
                                                                     {"admin", "false"},
                                                                     {"meta", "{\"k\":\"v\"}"}};
  EXPECT_EQ(identity.claims, expected);
}

TEST(JwtClaims, RolesAsSpaceSeparatedString) {
  IssuerSpec mapped = spec();
  mapped.claims.roles_claim = "roles";
  auto auth = make(std::move(mapped));
  Identity identity;
  ASSERT_EQ(auth->authenticate(good("HS256", ",\"roles\":\"a b\""), kNow, identity), E::kNone);
  EXPECT_EQ(identity.roles, (std::vector<std::string>{"a", "b"}));
}

TEST(JwtClaims, ScpArrayWhenNoScope) {
  Identity identity;
  ASSERT_EQ(make()->authenticate(good("HS256", ",\"scp\":[\"x\",\"y\"]"), kNow, identity),
            E::kNone);
  EXPECT_EQ(identity.scopes, (std::vector<std::string>{"x", "y"}));
}

TEST(JwtClaims, ConfiguredScopesClaim) {
  IssuerSpec mapped = spec();
  mapped.claims.scopes_claim = "permissions";
  auto auth = make(std::move(mapped));
  Identity identity;
  ASSERT_EQ(auth->authenticate(good("HS256", ",\"scope\":\"ignored\",\"permissions\":[\"p\"]"),
                               kNow, identity),
            E::kNone);
  EXPECT_EQ(identity.scopes, (std::vector<std::string>{"p"}));
}

TEST(JwtClaims, RefusesRolesOfWrongType) {
  IssuerSpec mapped = spec();
  mapped.claims.roles_claim = "roles";
  auto auth = make(std::move(mapped));
  EXPECT_EQ(check(*auth, good("HS256", ",\"roles\":[\"a\",1]")), E::kBadClaimType);
  EXPECT_EQ(check(*auth, good("HS256", ",\"roles\":{}")), E::kBadClaimType);
}

TEST(JwtClaims, RefusesScopeOfWrongType) {
  EXPECT_EQ(check(good("HS256", ",\"scope\":5")), E::kBadClaimType);
}

TEST(JwtClaims, RefusesAccountOfWrongType) {
  IssuerSpec mapped = spec();
  mapped.claims.account_claim = "tenant";
  auto auth = make(std::move(mapped));
  EXPECT_EQ(check(*auth, good("HS256", ",\"tenant\":5")), E::kBadClaimType);
  Identity identity;
  ASSERT_EQ(auth->authenticate(good("HS256"), kNow, identity), E::kNone);  // absent: fine
  EXPECT_EQ(identity.account, "");
}

TEST(JwtClaims, RefusesMissingPrincipal) {
  EXPECT_EQ(check(hs("{\"iss\":\"" + kIssuer +
                     "\",\"aud\":\"api\",\"exp\":" + std::to_string(kNow + 60) + "}")),
            E::kPrincipalMissing);
  EXPECT_EQ(check(hs("{\"iss\":\"" + kIssuer +
                     "\",\"sub\":1,\"aud\":\"api\",\"exp\":" + std::to_string(kNow + 60) + "}")),
            E::kPrincipalMissing);
}

// ---- several issuers, rotation -------------------------------------------

TEST(JwtIssuers, PicksTheIssuerByIss) {
  const TestKey b_key{"shared-kid", nullptr, std::string(32, 'b')};
  const TestKey a_key{"shared-kid", nullptr, std::string(32, 'a')};
  IssuerSpec a = spec(parseOrDie(jwksOf({a_key.jwk()})));
  a.issuer = "a";
  IssuerSpec b = spec(parseOrDie(jwksOf({b_key.jwk()})));
  b.issuer = "b";
  b.audiences = {"b-api"};
  std::vector<IssuerSpec> specs;
  specs.push_back(std::move(a));
  specs.push_back(std::move(b));
  auto auth = make(std::move(specs));
  const std::string exp = ",\"exp\":" + std::to_string(kNow + 60);
  const std::string for_a = "{\"iss\":\"a\",\"sub\":\"x\",\"aud\":\"api\"" + exp + "}";
  const std::string for_b = "{\"iss\":\"b\",\"sub\":\"y\",\"aud\":\"b-api\"" + exp + "}";
  Identity identity;
  EXPECT_EQ(auth->authenticate(token(header("HS256", "shared-kid"), for_a, "HS256", a_key), kNow,
                               identity),
            E::kNone);
  EXPECT_EQ(identity.issuer, "a");
  EXPECT_EQ(auth->authenticate(token(header("HS256", "shared-kid"), for_b, "HS256", b_key), kNow,
                               identity),
            E::kNone);
  EXPECT_EQ(identity.issuer, "b");
  EXPECT_EQ(identity.principal, "y");
  // Claiming b while signed with a's key: b's key is used, so it fails.
  EXPECT_EQ(check(*auth, token(header("HS256", "shared-kid"), for_b, "HS256", a_key)),
            E::kBadSignature);
  // b's audience rule applies to b only.
  EXPECT_EQ(check(*auth, token(header("HS256", "shared-kid"), for_a, "HS256", a_key)), E::kNone);
}

TEST(JwtIssuers, KeyRotation) {
  const Keys& k = keys();
  auto auth = make(spec(parseOrDie(jwksOf({k.p256.jwk()}))));
  const std::string old_token = good("ES256");
  EXPECT_EQ(check(*auth, old_token), E::kNone);

  TestKey next = generate("ec-256-next", "EC", "P-256");
  ASSERT_TRUE(auth->replaceKeys(kIssuer, parseOrDie(jwksOf({next.jwk()}))));
  EXPECT_EQ(check(*auth, old_token), E::kUnknownKid);
  EXPECT_EQ(check(*auth, token(header("ES256", "ec-256-next"), claims(), "ES256", next)), E::kNone);
  EXPECT_EQ(auth->keys(kIssuer)->size(), 1u);
  EXPECT_FALSE(auth->replaceKeys("nobody", parseOrDie(jwksOf({next.jwk()}))));
  EXPECT_FALSE(auth->replaceKeys(kIssuer, nullptr));
}

TEST(JwtIssuers, SwapWhileOtherThreadsVerify) {
  const TestKey one{"one", nullptr, std::string(32, '1')};
  const TestKey two{"two", nullptr, std::string(32, '2')};
  // Each set is parsed on its own, so each swap brings new EVP_PKEY objects
  // too (exercising the per-thread verify-context cache).
  auto set_one = parseOrDie(jwksOf({one.jwk(), two.jwk(), keys().p256.jwk()}));
  auto set_two = parseOrDie(jwksOf({two.jwk(), keys().p256.jwk(), one.jwk()}));
  auto auth = make(spec(set_one));
  const std::string hs256 = token(header("HS256", "two"), claims(), "HS256", two);
  const std::string es256 = good("ES256");
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i) {
    workers.emplace_back([&] {
      while (!stop.load()) {
        if (check(*auth, hs256) != E::kNone) failures++;
        if (check(*auth, es256) != E::kNone) failures++;
      }
    });
  }
  for (int i = 0; i < 2000; ++i) {
    auth->replaceKeys(kIssuer, i % 2 ? set_one : set_two);
    if (i % 100 == 0) {  // fresh sets now and then: old ones are freed while in use elsewhere
      set_one = parseOrDie(jwksOf({one.jwk(), two.jwk(), keys().p256.jwk()}));
    }
  }
  stop = true;
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(JwtIssuers, CreateRefusesBadSpecs) {
  std::string error;
  auto refuse = [&](IssuerSpec bad) {
    std::vector<IssuerSpec> specs;
    specs.push_back(std::move(bad));
    error.clear();
    EXPECT_EQ(Authenticator::create(std::move(specs), error), nullptr);
    EXPECT_FALSE(error.empty());
  };
  IssuerSpec no_algs = spec();
  no_algs.algorithms.clear();
  refuse(std::move(no_algs));
  IssuerSpec no_keys = spec();
  no_keys.keys = nullptr;
  refuse(std::move(no_keys));
  IssuerSpec no_name = spec();
  no_name.issuer.clear();
  refuse(std::move(no_name));
  IssuerSpec skew = spec();
  skew.clock_skew_seconds = -1;
  refuse(std::move(skew));
  EXPECT_EQ(Authenticator::create({}, error), nullptr);
  std::vector<IssuerSpec> twice;
  twice.push_back(spec());
  twice.push_back(spec());
  EXPECT_EQ(Authenticator::create(std::move(twice), error), nullptr);
}

// ---- JWKS ------------------------------------------------------------------

std::string jwksError(const std::string& jwks) {
  JwksResult result = parseJwks(jwks);
  EXPECT_FALSE(result.ok()) << jwks;
  return result.error;
}

TEST(Jwks, ParsesEveryKeyType) {
  auto set = allKeys();
  ASSERT_NE(set, nullptr);
  ASSERT_EQ(set->size(), 5u);
  EXPECT_EQ(set->findKid("hmac-1")->type, KeyType::kOct);
  EXPECT_EQ(set->findKid("rsa-1")->type, KeyType::kRsa);
  EXPECT_EQ(set->findKid("rsa-1")->rsa_bits, 2048u);
  EXPECT_EQ(set->findKid("ec-256")->curve, Curve::kP256);
  EXPECT_EQ(set->findKid("ec-384")->curve, Curve::kP384);
  EXPECT_EQ(set->findKid("ed-1")->curve, Curve::kEd25519);
  EXPECT_EQ(set->findKid("nope"), nullptr);
}

TEST(Jwks, SkipsWhatIsNotForUs) {
  auto set = parseOrDie(jwksOf({
      "{\"kty\":\"XYZ\",\"kid\":\"future\"}",
      keys().rsa.jwk(",\"use\":\"enc\""),
      keys().rsa.jwk(",\"alg\":\"RSA-OAEP\""),
      keys().p256.jwk(",\"key_ops\":[\"sign\"]"),
      "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\"}",
      keys().ed.jwk(",\"use\":\"sig\",\"key_ops\":[\"verify\"]"),
  }));
  ASSERT_EQ(set->size(), 1u);
  EXPECT_EQ(set->keys()[0].kid, "ed-1");
}

TEST(Jwks, RefusesBadDocuments) {
  EXPECT_EQ(jwksError("{"), "JWKS is not valid JSON");
  EXPECT_EQ(jwksError("[]"), "JWKS is not a JSON object");
  EXPECT_EQ(jwksError("{\"keys\":{}}"), "JWKS has no \"keys\" array");
  EXPECT_EQ(jwksError("{\"keys\":[],\"keys\":[]}"), "JWKS has a duplicate member name");
  EXPECT_EQ(jwksError("{\"keys\":[1]}"), "keys[0]: not an object");
}

TEST(Jwks, RefusesMalformedKeys) {
  EXPECT_EQ(jwksError(jwksOf({"{\"kty\":\"RSA\",\"e\":\"AQAB\"}"})),
            "keys[0]: member \"n\" missing");
  EXPECT_EQ(jwksError(jwksOf({"{\"kty\":\"oct\",\"k\":\"a+b/\"}"})),
            "keys[0]: member \"k\" is not canonical base64url");
  EXPECT_NE(jwksError(jwksOf({"{\"kty\":\"RSA\",\"n\":\"" +
                              encodeBase64Url(std::string(128, '\xff')) + "\",\"e\":\"AQAB\"}"}))
                .find("1024 bits"),
            std::string::npos);
  const std::string x = encodeBase64Url(std::string(32, '\x01'));
  EXPECT_EQ(jwksError(jwksOf(
                {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" + x + "\",\"y\":\"" + x + "\"}"})),
            "keys[0]: EC point is not on the curve P-256");
  EXPECT_EQ(jwksError(jwksOf({"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}"})),
            "keys[0]: EC x and y must be 32 bytes each for P-256");
  EXPECT_EQ(jwksError(jwksOf({keys().ed.jwk(), keys().ed.jwk()})), "two keys with kid \"ed-1\"");
  EXPECT_EQ(jwksError(jwksOf({keys().rsa.jwk(",\"alg\":\"none\"")})),
            "keys[0]: \"alg\":\"none\" is never allowed");
  EXPECT_EQ(jwksError(jwksOf({keys().rsa.jwk(",\"alg\":\"ES256\"")})),
            "keys[0]: \"alg\":\"ES256\" does not fit kty RSA");
  EXPECT_EQ(jwksError(jwksOf({keys().rsa.jwk(",\"kid\":\"again\"")})),
            "keys[0]: duplicate member name");
}

TEST(Jwks, HmacSecretsGivenDirectly) {
  std::vector<Key> list;
  list.push_back(makeHmacKey("direct", kHmacSecret, Algorithm::kHs512));
  std::string error;
  auto set = makeKeySet(std::move(list), &error);
  ASSERT_NE(set, nullptr) << error;
  auto auth = make(spec(set));
  const TestKey key{"direct", nullptr, kHmacSecret};
  EXPECT_EQ(check(*auth, token(header("HS512", "direct"), claims(), "HS512", key)), E::kNone);
  EXPECT_EQ(check(*auth, token(header("HS256", "direct"), claims(), "HS256", key)),
            E::kKeyTypeMismatch);  // pinned to HS512
}

TEST(JwtErrors, EveryErrorIsDescribed) {
  for (int i = 0; i <= static_cast<int>(E::kBusy); ++i) {
    EXPECT_STRNE(describe(static_cast<E>(i)), "unknown") << i;
  }
}

// ---- the signature gate --------------------------------------------------

// Counts the calls and answers as told.
class CountingGate final : public SignatureGate {
 public:
  explicit CountingGate(bool allow) : allow_(allow) {}
  bool admit() override {
    ++asked;
    return allow_;
  }
  int asked = 0;

 private:
  bool allow_;
};

TEST(JwtSignatureGate, AskedOnceRightBeforeTheSignature) {
  auto auth = make();
  VerifyScratch scratch;
  Identity identity;
  CountingGate open(true);
  EXPECT_EQ(auth->authenticate(good("ES256"), kNow, scratch, identity, &open), E::kNone);
  EXPECT_EQ(open.asked, 1);
  // A bad signature is judged as usual once the gate lets it through.
  EXPECT_EQ(auth->authenticate(corruptLastChar(good("ES256")), kNow, scratch, identity, &open),
            E::kBadSignature);
  EXPECT_EQ(open.asked, 2);
}

TEST(JwtSignatureGate, RefusalIsBusyAndNotAVerdictOnTheToken) {
  auto auth = make();
  VerifyScratch scratch;
  Identity identity;
  CountingGate shut(false);
  EXPECT_EQ(auth->authenticate(good("ES256"), kNow, scratch, identity, &shut), E::kBusy);
  EXPECT_EQ(auth->authenticate(corruptLastChar(good("ES256")), kNow, scratch, identity, &shut),
            E::kBusy);
  EXPECT_EQ(shut.asked, 2);
  EXPECT_FALSE(identity.authenticated());
}

TEST(JwtSignatureGate, NotAskedForWhatCheapChecksRefuse) {
  auto auth = make();
  VerifyScratch scratch;
  Identity identity;
  CountingGate shut(false);
  EXPECT_EQ(auth->authenticate("no-dots-at-all", kNow, scratch, identity, &shut), E::kMalformed);
  EXPECT_EQ(auth->authenticate(unsignedToken("none"), kNow, scratch, identity, &shut), E::kAlgNone);
  EXPECT_EQ(auth->authenticate(hs(claims(), header("HS256", "rotated-away")), kNow, scratch,
                               identity, &shut),
            E::kUnknownKid);
  EXPECT_EQ(shut.asked, 0);
}

}  // namespace
}  // namespace rampart::auth
