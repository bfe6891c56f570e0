// Whole-token JWT verification per algorithm (base64url, JSON, signature,
// claims, Identity), with the Identity and the thread's scratch reused as a
// worker reuses them across requests; plus base64url decoding and an HMAC()
// one-shot baseline for the choice of HMAC path.
#include <benchmark/benchmark.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <map>
#include <string>

#include "auth/base64url.h"
#include "auth/jwt.h"

namespace {

using rampart::auth::Algorithm;
using rampart::auth::Authenticator;
using rampart::auth::decodeBase64Url;
using rampart::auth::encodeBase64Url;
using rampart::auth::Identity;
using rampart::auth::IssuerSpec;
using rampart::auth::JwtError;

constexpr int64_t kNow = 1'700'000'000;
const std::string kSecret(64, 's');

std::string bn(EVP_PKEY* pkey, const char* name, int pad = 0) {
  BIGNUM* value = nullptr;
  EVP_PKEY_get_bn_param(pkey, name, &value);
  std::string out(pad > 0 ? pad : BN_num_bytes(value), '\0');
  BN_bn2binpad(value, reinterpret_cast<uint8_t*>(out.data()), static_cast<int>(out.size()));
  BN_free(value);
  return out;
}

std::string jwkOf(EVP_PKEY* pkey, const std::string& kid) {
  std::string out = "{\"kid\":\"" + kid + "\"";
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    out += ",\"kty\":\"RSA\",\"n\":\"" + encodeBase64Url(bn(pkey, "n")) + "\",\"e\":\"" +
           encodeBase64Url(bn(pkey, "e")) + "\"";
  } else if (EVP_PKEY_is_a(pkey, "EC")) {
    const int size = EVP_PKEY_get_bits(pkey) / 8;
    out += std::string(",\"kty\":\"EC\",\"crv\":\"") + (size == 32 ? "P-256" : "P-384") +
           "\",\"x\":\"" + encodeBase64Url(bn(pkey, OSSL_PKEY_PARAM_EC_PUB_X, size)) +
           "\",\"y\":\"" + encodeBase64Url(bn(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, size)) + "\"";
  } else {
    std::string raw(32, '\0');
    size_t length = raw.size();
    EVP_PKEY_get_raw_public_key(pkey, reinterpret_cast<uint8_t*>(raw.data()), &length);
    out += ",\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" + encodeBase64Url(raw) + "\"";
  }
  return out + "}";
}

const EVP_MD* md(std::string_view alg) {
  if (alg.ends_with("256")) return EVP_sha256();
  if (alg.ends_with("384")) return EVP_sha384();
  return alg.ends_with("512") ? EVP_sha512() : nullptr;
}

std::string sign(std::string_view alg, EVP_PKEY* pkey, const std::string& input) {
  const auto* data = reinterpret_cast<const uint8_t*>(input.data());
  if (alg.starts_with("HS")) {
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    HMAC(md(alg), kSecret.data(), static_cast<int>(kSecret.size()), data, input.size(), mac,
         &length);
    return std::string(reinterpret_cast<char*>(mac), length);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestSignInit(ctx, &pctx, md(alg), nullptr, pkey);
  if (alg.starts_with("PS")) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  size_t length = 0;
  EVP_DigestSign(ctx, nullptr, &length, data, input.size());
  std::string sig(length, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<uint8_t*>(sig.data()), &length, data, input.size());
  sig.resize(length);
  EVP_MD_CTX_free(ctx);
  if (!alg.starts_with("ES")) return sig;
  const int half = alg == "ES256" ? 32 : 48;
  const auto* p = reinterpret_cast<const uint8_t*>(sig.data());
  ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  std::string raw(2 * half, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(parsed), reinterpret_cast<uint8_t*>(raw.data()), half);
  BN_bn2binpad(ECDSA_SIG_get0_s(parsed), reinterpret_cast<uint8_t*>(raw.data()) + half, half);
  ECDSA_SIG_free(parsed);
  return raw;
}

const std::string kClaims =
    "{\"iss\":\"https://issuer.example\",\"sub\":\"user-1234567890\",\"aud\":\"api\","
    "\"exp\":1700000600,\"iat\":1699999990,\"scope\":\"read:orders write:orders\","
    "\"tenant\":\"acme\",\"roles\":[\"reader\",\"writer\"]}";

// One authenticator with every key type, and one token per algorithm.
struct Fixture {
  std::unique_ptr<Authenticator> auth;
  std::map<std::string, std::string> tokens;

  Fixture() {
    EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
    EVP_PKEY* p256 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    EVP_PKEY* p384 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
    EVP_PKEY* ed = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    const std::string jwks = "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"hs\",\"k\":\"" +
                             encodeBase64Url(kSecret) + "\"}," + jwkOf(rsa, "rsa") + "," +
                             jwkOf(p256, "p256") + "," + jwkOf(p384, "p384") + "," +
                             jwkOf(ed, "ed") + "]}";
    IssuerSpec spec;
    spec.issuer = "https://issuer.example";
    for (size_t i = 0; i < rampart::auth::kAlgorithmCount; ++i) {
      spec.algorithms.push_back(static_cast<Algorithm>(i));
    }
    spec.keys = rampart::auth::parseJwks(jwks).keys;
    spec.audiences = {"api"};
    spec.claims.account_claim = "tenant";
    spec.claims.roles_claim = "roles";
    std::vector<IssuerSpec> specs;
    specs.push_back(std::move(spec));
    std::string error;
    auth = Authenticator::create(std::move(specs), error);
    const std::map<std::string, std::pair<std::string, EVP_PKEY*>> algs = {
        {"HS256", {"hs", nullptr}}, {"HS512", {"hs", nullptr}}, {"RS256", {"rsa", rsa}},
        {"PS256", {"rsa", rsa}},    {"ES256", {"p256", p256}},  {"ES384", {"p384", p384}},
        {"EdDSA", {"ed", ed}}};
    for (const auto& [alg, key] : algs) {
      const std::string input =
          encodeBase64Url("{\"alg\":\"" + alg + "\",\"typ\":\"JWT\",\"kid\":\"" + key.first +
                          "\"}") +
          "." + encodeBase64Url(kClaims);
      tokens[alg] = input + "." + encodeBase64Url(sign(alg, key.second, input));
    }
  }
};

const Fixture& fixture() {
  static const Fixture* instance = new Fixture();
  return *instance;
}

void verify(benchmark::State& state, const char* alg) {
  const Fixture& f = fixture();
  const std::string& jwt = f.tokens.at(alg);
  Identity identity;
  if (f.auth->authenticate(jwt, kNow, identity) != JwtError::kNone) {
    state.SkipWithError("token refused");
    return;
  }
  for (auto _ : state) {
    JwtError error = f.auth->authenticate(jwt, kNow, identity);
    benchmark::DoNotOptimize(error);
    if (error != JwtError::kNone) {
      state.SkipWithError("token refused in the loop");
      break;
    }
  }
  state.SetLabel(std::to_string(jwt.size()) + " B token");
}

void BM_VerifyHS256(benchmark::State& state) {
  verify(state, "HS256");
}
void BM_VerifyHS512(benchmark::State& state) {
  verify(state, "HS512");
}
void BM_VerifyRS256(benchmark::State& state) {
  verify(state, "RS256");
}
void BM_VerifyPS256(benchmark::State& state) {
  verify(state, "PS256");
}
void BM_VerifyES256(benchmark::State& state) {
  verify(state, "ES256");
}
void BM_VerifyES384(benchmark::State& state) {
  verify(state, "ES384");
}
void BM_VerifyEdDSA(benchmark::State& state) {
  verify(state, "EdDSA");
}
BENCHMARK(BM_VerifyHS256);
BENCHMARK(BM_VerifyHS512);
BENCHMARK(BM_VerifyRS256);
BENCHMARK(BM_VerifyPS256);
BENCHMARK(BM_VerifyES256);
BENCHMARK(BM_VerifyES384);
BENCHMARK(BM_VerifyEdDSA);

// A refusal that never reaches the crypto: the floor cost of base64 + JSON.
void BM_RefuseUnknownKid(benchmark::State& state) {
  const Fixture& f = fixture();
  const std::string jwt = encodeBase64Url("{\"alg\":\"HS256\",\"kid\":\"gone\"}") + "." +
                          encodeBase64Url(kClaims) + "." + encodeBase64Url(std::string(32, 'x'));
  Identity identity;
  for (auto _ : state) {
    JwtError error = f.auth->authenticate(jwt, kNow, identity);
    benchmark::DoNotOptimize(error);
  }
}
BENCHMARK(BM_RefuseUnknownKid);

void BM_Base64UrlDecode(benchmark::State& state) {
  const std::string encoded = encodeBase64Url(kClaims);
  uint8_t out[1024];
  for (auto _ : state) {
    size_t length = 0;
    bool ok = decodeBase64Url(encoded, out, &length);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * encoded.size()));
}
BENCHMARK(BM_Base64UrlDecode);

// Baseline: OpenSSL's HMAC() one-shot (fetches the MAC and digest per call in
// OpenSSL 3) over the same signing input, to compare with our EVP_MAC path.
void BM_HmacOneShotBaseline(benchmark::State& state) {
  const std::string& jwt = fixture().tokens.at("HS256");
  const std::string input = jwt.substr(0, jwt.rfind('.'));
  uint8_t mac[EVP_MAX_MD_SIZE];
  for (auto _ : state) {
    unsigned length = 0;
    HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
         reinterpret_cast<const uint8_t*>(input.data()), input.size(), mac, &length);
    benchmark::DoNotOptimize(mac);
  }
}
BENCHMARK(BM_HmacOneShotBaseline);

}  // namespace
