#include "auth/signature.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <array>
#include <cstring>

namespace rampart::auth {
namespace {

struct AlgorithmInfo {
  Algorithm algorithm;
  const char* name;
  KeyType key_type;
  const char* digest;  // OpenSSL digest name; nullptr for EdDSA
  size_t digest_size;
};

constexpr std::array<AlgorithmInfo, kAlgorithmCount> kAlgorithms = {{
    {Algorithm::kHs256, "HS256", KeyType::kOct, "SHA256", 32},
    {Algorithm::kHs384, "HS384", KeyType::kOct, "SHA384", 48},
    {Algorithm::kHs512, "HS512", KeyType::kOct, "SHA512", 64},
    {Algorithm::kRs256, "RS256", KeyType::kRsa, "SHA256", 32},
    {Algorithm::kRs384, "RS384", KeyType::kRsa, "SHA384", 48},
    {Algorithm::kRs512, "RS512", KeyType::kRsa, "SHA512", 64},
    {Algorithm::kPs256, "PS256", KeyType::kRsa, "SHA256", 32},
    {Algorithm::kPs384, "PS384", KeyType::kRsa, "SHA384", 48},
    {Algorithm::kPs512, "PS512", KeyType::kRsa, "SHA512", 64},
    {Algorithm::kEs256, "ES256", KeyType::kEc, "SHA256", 32},
    {Algorithm::kEs384, "ES384", KeyType::kEc, "SHA384", 48},
    {Algorithm::kEdDsa, "EdDSA", KeyType::kOkp, nullptr, 0},
}};

const AlgorithmInfo& info(Algorithm algorithm) {
  return kAlgorithms[static_cast<size_t>(algorithm)];
}

// Digests fetched once per process: an implicit fetch (EVP_sha256()) per call
// takes a lock and a property query in OpenSSL 3.
class Digests {
 public:
  Digests() {
    for (size_t i = 0; i < kAlgorithmCount; ++i) {
      if (kAlgorithms[i].digest != nullptr) {
        mds_[i] = EVP_MD_fetch(nullptr, kAlgorithms[i].digest, nullptr);
      }
    }
    mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  }
  // Process lifetime: never freed, so late threads can still use them.
  const EVP_MD* md(Algorithm algorithm) const { return mds_[static_cast<size_t>(algorithm)]; }
  EVP_MAC* mac() const { return mac_; }

 private:
  std::array<EVP_MD*, kAlgorithmCount> mds_{};
  EVP_MAC* mac_ = nullptr;
};

const Digests& digests() {
  static const Digests* instance = new Digests();
  return *instance;
}

// One HMAC context per digest per thread, digest set once: each call only
// re-keys it (EVP_MAC_init), so there is no fetch and no allocation per call.
class ThreadMacs {
 public:
  ~ThreadMacs() {
    for (EVP_MAC_CTX* ctx : ctx_) EVP_MAC_CTX_free(ctx);
  }
  EVP_MAC_CTX* get(Algorithm algorithm) {
    const size_t slot = static_cast<size_t>(algorithm);
    if (ctx_[slot] == nullptr) {
      EVP_MAC* mac = digests().mac();
      if (mac == nullptr) return nullptr;
      EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
      if (ctx == nullptr) return nullptr;
      OSSL_PARAM params[] = {
          OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                           const_cast<char*>(info(algorithm).digest), 0),
          OSSL_PARAM_construct_end()};
      if (EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return nullptr;
      }
      ctx_[slot] = ctx;
    }
    return ctx_[slot];
  }

 private:
  std::array<EVP_MAC_CTX*, 3> ctx_{};  // HS256, HS384, HS512 (their enum values are 0..2)
};

SignatureError verifyHmac(Algorithm algorithm, const Key& key, std::string_view input,
                          const uint8_t* signature, size_t length) {
  const size_t digest_size = info(algorithm).digest_size;
  if (key.secret.size() < digest_size) return SignatureError::kWeakKey;
  if (length != digest_size) return SignatureError::kBadLength;
  thread_local ThreadMacs macs;
  EVP_MAC_CTX* ctx = macs.get(algorithm);
  uint8_t mac[EVP_MAX_MD_SIZE];
  size_t mac_length = 0;
  if (ctx == nullptr ||
      EVP_MAC_init(ctx, reinterpret_cast<const uint8_t*>(key.secret.data()), key.secret.size(),
                   nullptr) != 1 ||
      EVP_MAC_update(ctx, reinterpret_cast<const uint8_t*>(input.data()), input.size()) != 1 ||
      EVP_MAC_final(ctx, mac, &mac_length, sizeof(mac)) != 1 || mac_length != digest_size) {
    ERR_clear_error();
    return SignatureError::kInternal;
  }
  return CRYPTO_memcmp(mac, signature, digest_size) == 0 ? SignatureError::kNone
                                                         : SignatureError::kBadSignature;
}

// Writes one DER INTEGER from a big-endian unsigned value; returns its size.
size_t writeDerInteger(const uint8_t* value, size_t length, uint8_t* out) {
  while (length > 1 && value[0] == 0) {
    ++value;
    --length;
  }
  const bool pad = (value[0] & 0x80) != 0;
  size_t o = 0;
  out[o++] = 0x02;
  out[o++] = static_cast<uint8_t>(length + (pad ? 1 : 0));
  if (pad) out[o++] = 0x00;
  std::memcpy(out + o, value, length);
  return o + length;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

SignatureError verifyAsymmetric(Algorithm algorithm, const Key& key, std::string_view input,
                                const uint8_t* signature, size_t length) {
  if (key.pkey == nullptr) return SignatureError::kKeyMismatch;
  uint8_t der[2 + 2 * (3 + 66)];
  const uint8_t* to_verify = signature;
  size_t to_verify_length = length;
  if (algorithm == Algorithm::kEs256 || algorithm == Algorithm::kEs384) {
    // JWS carries raw r||s (RFC 7518 3.4); OpenSSL wants DER, so re-encode.
    const size_t half = algorithm == Algorithm::kEs256 ? 32 : 48;
    if (length != 2 * half) return SignatureError::kBadLength;
    uint8_t body[2 * (3 + 66)];
    size_t body_length = writeDerInteger(signature, half, body);
    body_length += writeDerInteger(signature + half, half, body + body_length);
    der[0] = 0x30;
    der[1] = static_cast<uint8_t>(body_length);
    std::memcpy(der + 2, body, body_length);
    to_verify = der;
    to_verify_length = body_length + 2;
  } else if (algorithm == Algorithm::kEdDsa) {
    if (length != 64) return SignatureError::kBadLength;
  } else {
    if (length != static_cast<size_t>(EVP_PKEY_get_size(key.pkey.get()))) {
      return SignatureError::kBadLength;
    }
  }

  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return SignatureError::kInternal;
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = algorithm == Algorithm::kEdDsa ? nullptr : digests().md(algorithm);
  if ((algorithm != Algorithm::kEdDsa && md == nullptr) ||
      EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.pkey.get()) != 1) {
    ERR_clear_error();
    return SignatureError::kInternal;
  }
  if (algorithm == Algorithm::kPs256 || algorithm == Algorithm::kPs384 ||
      algorithm == Algorithm::kPs512) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1) {
      ERR_clear_error();
      return SignatureError::kInternal;
    }
  } else if (key.type == KeyType::kRsa) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
      ERR_clear_error();
      return SignatureError::kInternal;
    }
  }
  const int verdict =
      EVP_DigestVerify(ctx.get(), to_verify, to_verify_length,
                       reinterpret_cast<const uint8_t*>(input.data()), input.size());
  if (verdict == 1) return SignatureError::kNone;
  ERR_clear_error();
  return SignatureError::kBadSignature;
}

}  // namespace

const char* algorithmName(Algorithm algorithm) { return info(algorithm).name; }

AlgorithmParse parseAlgorithm(std::string_view name, Algorithm& out) {
  if (name.size() == 4) {
    static constexpr char kNoneName[] = "none";
    bool none = true;
    for (size_t i = 0; i < 4; ++i) {
      const char c = name[i] >= 'A' && name[i] <= 'Z' ? static_cast<char>(name[i] + 32) : name[i];
      if (c != kNoneName[i]) none = false;
    }
    if (none) return AlgorithmParse::kNone;
  }
  for (const AlgorithmInfo& entry : kAlgorithms) {
    if (name == entry.name) {
      out = entry.algorithm;
      return AlgorithmParse::kOk;
    }
  }
  return AlgorithmParse::kUnknown;
}

KeyType keyTypeFor(Algorithm algorithm) { return info(algorithm).key_type; }

bool Key::fits(Algorithm wanted) const {
  if (type != keyTypeFor(wanted)) return false;
  if (this->algorithm.has_value() && *this->algorithm != wanted) return false;
  switch (wanted) {
    case Algorithm::kEs256:
      return curve == Curve::kP256;
    case Algorithm::kEs384:
      return curve == Curve::kP384;
    case Algorithm::kEdDsa:
      return curve == Curve::kEd25519;
    default:
      return true;
  }
}

const char* describe(SignatureError error) {
  switch (error) {
    case SignatureError::kNone:
      return "ok";
    case SignatureError::kKeyMismatch:
      return "key does not fit the algorithm";
    case SignatureError::kWeakKey:
      return "HMAC secret shorter than the digest";
    case SignatureError::kBadLength:
      return "signature has the wrong length";
    case SignatureError::kBadSignature:
      return "signature does not verify";
    case SignatureError::kInternal:
      return "internal crypto error";
  }
  return "unknown";
}

SignatureError verifySignature(Algorithm algorithm, const Key& key, std::string_view signing_input,
                               const uint8_t* signature, size_t signature_length) {
  if (!key.fits(algorithm)) return SignatureError::kKeyMismatch;
  if (key.type == KeyType::kOct) {
    return verifyHmac(algorithm, key, signing_input, signature, signature_length);
  }
  return verifyAsymmetric(algorithm, key, signing_input, signature, signature_length);
}

}  // namespace rampart::auth
