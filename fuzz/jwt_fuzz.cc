// Fuzzes the JWT engine end to end: arbitrary bytes go to the authenticator
// (one issuer with a fixed HS256 secret and a fixed P-256 key, set up once),
// to the base64url decoder and to the JWKS parser. Nothing may crash; every
// base64url success must re-encode to its input (one spelling per value), and
// an accepted token must yield an authenticated identity with a principal.
// Seeds in fuzz/corpus/jwt are valid for `kNow` (HS256 kid "hs", ES256 kid "ec").
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/base64url.h"
#include "auth/jwt.h"

namespace {

using rampart::auth::Algorithm;
using rampart::auth::Authenticator;
using rampart::auth::decodeBase64Url;
using rampart::auth::encodeBase64Url;
using rampart::auth::Identity;
using rampart::auth::IssuerSpec;
using rampart::auth::JwksResult;
using rampart::auth::JwtError;
using rampart::auth::kAlgorithmCount;
using rampart::auth::parseJwks;

constexpr int64_t kNow = 1'700'000'000;
constexpr std::string_view kJwks =
    R"({"keys":[{"kty":"oct","kid":"hs","k":"ZnV6ei1zZWNyZXQtZnV6ei1zZWNyZXQtZnV6ei1zZWM"},)"
    R"({"kty":"EC","crv":"P-256","kid":"ec","x":"DaL8Mq6MXo6Gtge2n5GGxsYftxLJIOFhqgtmfyUHT5g",)"
    R"("y":"M86rP6jWVn4M95o-nbdUedpH8-vi33vFkkFgq2tX1kQ","alg":"ES256","use":"sig"}]})";

void require(bool condition) {
  if (!condition) std::abort();
}

const Authenticator& authenticator() {
  static const Authenticator* instance = [] {
    IssuerSpec spec;
    spec.issuer = "https://issuer.example";
    for (size_t i = 0; i < kAlgorithmCount; ++i) spec.algorithms.push_back(Algorithm(i));
    JwksResult keys = parseJwks(kJwks);
    require(keys.ok());
    spec.keys = keys.keys;
    spec.audiences = {"api"};
    spec.claims.account_claim = "tenant";
    spec.claims.roles_claim = "roles";
    spec.claims.extra_claims = {"scope", "roles", "aud", "iat"};
    std::vector<IssuerSpec> specs;
    specs.push_back(std::move(spec));
    std::string error;
    return Authenticator::create(std::move(specs), error).release();
  }();
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  Identity identity;
  if (authenticator().authenticate(input, kNow, identity) == JwtError::kNone) {
    require(identity.authenticated() && !identity.principal.empty());
  }

  std::string decoded;
  if (decodeBase64Url(input, decoded)) require(encodeBase64Url(decoded) == input);

  JwksResult keys = parseJwks(input);
  require(keys.ok() == keys.error.empty());
  return 0;
}
