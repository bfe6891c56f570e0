#include "auth/jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include <utility>

#include "auth/base64url.h"
#include "auth/json_util.h"

namespace rampart::auth {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct BldDeleter {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;
using BldPtr = std::unique_ptr<OSSL_PARAM_BLD, BldDeleter>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;

constexpr size_t kMinRsaBits = 2048;
constexpr size_t kMaxRsaBits = 8192;

enum class Fetch : uint8_t { kOk, kMissing, kWrongType };

// Reads an optional string member.
Fetch getString(object jwk, std::string_view name, std::string_view& out) {
  element value;
  if (jwk[name].get(value) != simdjson::SUCCESS) return Fetch::kMissing;
  if (value.get_string().get(out) != simdjson::SUCCESS) return Fetch::kWrongType;
  return Fetch::kOk;
}

// Reads a required base64url member into bytes; on failure sets `error`.
bool getBytes(object jwk, std::string_view name, std::string& out, std::string& error) {
  std::string_view text;
  switch (getString(jwk, name, text)) {
    case Fetch::kMissing:
      error = "member \"" + std::string(name) + "\" missing";
      return false;
    case Fetch::kWrongType:
      error = "member \"" + std::string(name) + "\" is not a string";
      return false;
    case Fetch::kOk:
      break;
  }
  if (!decodeBase64Url(text, out)) {
    error = "member \"" + std::string(name) + "\" is not canonical base64url";
    return false;
  }
  return true;
}

PkeyPtr fromData(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return PkeyPtr(pkey);
}

bool buildRsa(object jwk, Key& key, std::string& error) {
  std::string n, e;
  if (!getBytes(jwk, "n", n, error) || !getBytes(jwk, "e", e, error)) return false;
  BnPtr bn_n(
      BN_bin2bn(reinterpret_cast<const uint8_t*>(n.data()), static_cast<int>(n.size()), nullptr));
  BnPtr bn_e(
      BN_bin2bn(reinterpret_cast<const uint8_t*>(e.data()), static_cast<int>(e.size()), nullptr));
  if (bn_n == nullptr || bn_e == nullptr) {
    error = "out of memory";
    return false;
  }
  const size_t bits = static_cast<size_t>(BN_num_bits(bn_n.get()));
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    error = "RSA modulus of " + std::to_string(bits) + " bits (must be 2048..8192)";
    return false;
  }
  if (!BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get()) || BN_num_bits(bn_e.get()) > 64) {
    error = "RSA exponent e is not a valid public exponent";
    return false;
  }
  BldPtr bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    error = "out of memory";
    return false;
  }
  key.pkey = fromData("RSA", bld.get());
  if (key.pkey == nullptr) {
    error = "OpenSSL refused the RSA key";
    return false;
  }
  key.type = KeyType::kRsa;
  key.rsa_bits = bits;
  return true;
}

// Returns false with an empty error for an unsupported curve (key skipped).
bool buildEc(object jwk, Key& key, std::string& error) {
  std::string_view crv;
  if (getString(jwk, "crv", crv) != Fetch::kOk) {
    error = "member \"crv\" missing or not a string";
    return false;
  }
  const char* group = nullptr;
  size_t size = 0;
  if (crv == "P-256") {
    group = "prime256v1";
    size = 32;
    key.curve = Curve::kP256;
  } else if (crv == "P-384") {
    group = "secp384r1";
    size = 48;
    key.curve = Curve::kP384;
  } else {
    return false;
  }
  std::string x, y;
  if (!getBytes(jwk, "x", x, error) || !getBytes(jwk, "y", y, error)) return false;
  if (x.size() != size || y.size() != size) {
    error = "EC x and y must be " + std::to_string(size) + " bytes each for " + std::string(crv);
    return false;
  }
  std::string point = "\x04" + x + y;
  BldPtr bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    error = "out of memory";
    return false;
  }
  key.pkey = fromData("EC", bld.get());
  bool valid = key.pkey != nullptr;
  if (valid) {
    PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
    valid = check != nullptr && EVP_PKEY_public_check(check.get()) == 1;
    ERR_clear_error();
  }
  if (!valid) {
    key.pkey.reset();
    error = "EC point is not on the curve " + std::string(crv);
    return false;
  }
  key.type = KeyType::kEc;
  return true;
}

bool buildOkp(object jwk, Key& key, std::string& error) {
  std::string_view crv;
  if (getString(jwk, "crv", crv) != Fetch::kOk) {
    error = "member \"crv\" missing or not a string";
    return false;
  }
  if (crv != "Ed25519") return false;  // X25519, Ed448: not supported, skipped
  std::string x;
  if (!getBytes(jwk, "x", x, error)) return false;
  if (x.size() != 32) {
    error = "Ed25519 x must be 32 bytes";
    return false;
  }
  key.pkey.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                             reinterpret_cast<const uint8_t*>(x.data()), x.size()));
  if (key.pkey == nullptr) {
    ERR_clear_error();
    error = "OpenSSL refused the Ed25519 key";
    return false;
  }
  key.type = KeyType::kOkp;
  key.curve = Curve::kEd25519;
  return true;
}

bool buildOct(object jwk, Key& key, std::string& error) {
  if (!getBytes(jwk, "k", key.secret, error)) return false;
  if (key.secret.empty()) {
    error = "oct key \"k\" is empty";
    return false;
  }
  key.type = KeyType::kOct;
  return true;
}

// Parses one JWK. Returns false with an empty error when the key is skipped.
bool parseJwk(element value, Key& key, std::string& error) {
  object jwk;
  if (value.get_object().get(jwk) != simdjson::SUCCESS) {
    error = "not an object";
    return false;
  }
  if (json::hasDuplicateKey(jwk)) {
    error = "duplicate member name";
    return false;
  }
  std::string_view kty, text;
  if (getString(jwk, "kty", kty) != Fetch::kOk) {
    error = "member \"kty\" missing or not a string";
    return false;
  }
  switch (getString(jwk, "use", text)) {
    case Fetch::kWrongType:
      error = "member \"use\" is not a string";
      return false;
    case Fetch::kOk:
      if (text != "sig") return false;
      break;
    case Fetch::kMissing:
      break;
  }
  element ops;
  if (jwk["key_ops"].get(ops) == simdjson::SUCCESS) {
    simdjson::dom::array list;
    if (ops.get_array().get(list) != simdjson::SUCCESS) {
      error = "member \"key_ops\" is not an array";
      return false;
    }
    bool verify = false;
    for (element op : list) {
      std::string_view name;
      if (op.get_string().get(name) == simdjson::SUCCESS && name == "verify") verify = true;
    }
    if (!verify) return false;
  }
  switch (getString(jwk, "kid", text)) {
    case Fetch::kWrongType:
      error = "member \"kid\" is not a string";
      return false;
    case Fetch::kOk:
      key.kid = std::string(text);
      break;
    case Fetch::kMissing:
      break;
  }
  switch (getString(jwk, "alg", text)) {
    case Fetch::kWrongType:
      error = "member \"alg\" is not a string";
      return false;
    case Fetch::kOk: {
      Algorithm algorithm{};
      const AlgorithmParse parsed = parseAlgorithm(text, algorithm);
      if (parsed == AlgorithmParse::kNone) {
        error = "\"alg\":\"none\" is never allowed";
        return false;
      }
      if (parsed == AlgorithmParse::kUnknown) return false;  // e.g. RSA-OAEP: not for us
      key.algorithm = algorithm;
      break;
    }
    case Fetch::kMissing:
      break;
  }
  bool built = false;
  if (kty == "RSA") {
    built = buildRsa(jwk, key, error);
  } else if (kty == "EC") {
    built = buildEc(jwk, key, error);
  } else if (kty == "OKP") {
    built = buildOkp(jwk, key, error);
  } else if (kty == "oct") {
    built = buildOct(jwk, key, error);
  } else {
    return false;  // unknown kty: skipped
  }
  if (!built) return false;
  if (key.algorithm.has_value() && !key.fits(*key.algorithm)) {
    error = std::string("\"alg\":\"") + algorithmName(*key.algorithm) + "\" does not fit kty " +
            std::string(kty);
    return false;
  }
  return true;
}

}  // namespace

const Key* KeySet::findKid(std::string_view kid) const {
  if (kid.empty()) return nullptr;  // "kid":"" never matches a key without kid
  for (const Key& key : keys_) {
    if (key.kid == kid) return &key;
  }
  return nullptr;
}

JwksResult parseJwks(std::string_view json) {
  JwksResult result;
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    result.error = "JWKS is not valid JSON";
    return result;
  }
  object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) {
    result.error = "JWKS is not a JSON object";
    return result;
  }
  if (json::hasDuplicateKey(top)) {
    result.error = "JWKS has a duplicate member name";
    return result;
  }
  simdjson::dom::array list;
  if (top["keys"].get_array().get(list) != simdjson::SUCCESS) {
    result.error = "JWKS has no \"keys\" array";
    return result;
  }
  std::vector<Key> keys;
  size_t index = 0;
  for (element value : list) {
    Key key;
    std::string error;
    if (parseJwk(value, key, error)) {
      keys.push_back(std::move(key));
    } else if (!error.empty()) {
      result.error = "keys[" + std::to_string(index) + "]: " + error;
      return result;
    }
    ++index;
  }
  result.keys = makeKeySet(std::move(keys), &result.error);
  return result;
}

Key makeHmacKey(std::string kid, std::string secret, std::optional<Algorithm> algorithm) {
  Key key;
  key.kid = std::move(kid);
  key.type = KeyType::kOct;
  key.secret = std::move(secret);
  key.algorithm = algorithm;
  return key;
}

std::shared_ptr<const KeySet> makeKeySet(std::vector<Key> keys, std::string* error) {
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t j = i + 1; j < keys.size(); ++j) {
      if (!keys[i].kid.empty() && keys[i].kid == keys[j].kid) {
        if (error != nullptr) *error = "two keys with kid \"" + keys[i].kid + "\"";
        return nullptr;
      }
    }
  }
  return std::make_shared<const KeySet>(std::move(keys));
}

}  // namespace rampart::auth
