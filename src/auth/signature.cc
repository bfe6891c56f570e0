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

bool isPss(Algorithm algorithm) {
  return algorithm == Algorithm::kPs256 || algorithm == Algorithm::kPs384 ||
         algorithm == Algorithm::kPs512;
}

// A verify-initialised EVP_PKEY_CTX for (algorithm, key), with padding and
// digest set. Building one costs a few microseconds in OpenSSL 3 (provider
// fetches), so each thread keeps the last few. An entry holds a reference on
// its EVP_PKEY, so a key swapped out of every KeySet stays alive until the
// thread evicts it (at most kSlots keys per thread); and while an entry lives
// no other key can have its address, so matching on the pointer is exact.
class ThreadVerifiers {
 public:
  ~ThreadVerifiers() {
    for (Entry& entry : entries_) EVP_PKEY_CTX_free(entry.ctx);
    EVP_MD_CTX_free(md_ctx_);
  }

  EVP_PKEY_CTX* get(Algorithm algorithm, EVP_PKEY* pkey) {
    for (Entry& entry : entries_) {
      if (entry.ctx != nullptr && entry.pkey == pkey && entry.algorithm == algorithm) {
        return entry.ctx;
      }
    }
    EVP_PKEY_CTX* ctx = make(algorithm, pkey);
    if (ctx == nullptr) return nullptr;
    Entry& slot = entries_[next_];
    next_ = (next_ + 1) % kSlots;
    EVP_PKEY_CTX_free(slot.ctx);
    slot = Entry{algorithm, pkey, ctx};
    return ctx;
  }

  // Hashes `input` with the algorithm's digest into `out` (EVP_MAX_MD_SIZE).
  bool digest(Algorithm algorithm, std::string_view input, uint8_t* out, unsigned* length) {
    if (md_ctx_ == nullptr) md_ctx_ = EVP_MD_CTX_new();
    const EVP_MD* md = digests().md(algorithm);
    return md_ctx_ != nullptr && md != nullptr && EVP_DigestInit_ex2(md_ctx_, md, nullptr) == 1 &&
           EVP_DigestUpdate(md_ctx_, input.data(), input.size()) == 1 &&
           EVP_DigestFinal_ex(md_ctx_, out, length) == 1;
  }

 private:
  static constexpr size_t kSlots = 8;
  struct Entry {
    Algorithm algorithm = Algorithm::kHs256;
    EVP_PKEY* pkey = nullptr;
    EVP_PKEY_CTX* ctx = nullptr;
  };

  static EVP_PKEY_CTX* make(Algorithm algorithm, EVP_PKEY* pkey) {
    const EVP_MD* md = digests().md(algorithm);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr);
    bool ok = md != nullptr && ctx != nullptr && EVP_PKEY_verify_init(ctx) == 1;
    if (ok && keyTypeFor(algorithm) == KeyType::kRsa) {
      ok = EVP_PKEY_CTX_set_rsa_padding(
               ctx, isPss(algorithm) ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) == 1;
      if (ok && isPss(algorithm)) {
        ok = EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1;
      }
    }
    ok = ok && EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;
    if (!ok) {
      EVP_PKEY_CTX_free(ctx);
      ERR_clear_error();
      return nullptr;
    }
    return ctx;
  }

  std::array<Entry, kSlots> entries_{};
  size_t next_ = 0;
  EVP_MD_CTX* md_ctx_ = nullptr;
};

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Ed25519 is pure EdDSA (no pre-hash): one EVP_DigestVerify per call.
SignatureError verifyEd25519(const Key& key, std::string_view input, const uint8_t* signature,
                             size_t length) {
  if (length != 64) return SignatureError::kBadLength;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.pkey.get()) != 1) {
    ERR_clear_error();
    return SignatureError::kInternal;
  }
  if (EVP_DigestVerify(ctx.get(), signature, length, reinterpret_cast<const uint8_t*>(input.data()),
                       input.size()) == 1) {
    return SignatureError::kNone;
  }
  ERR_clear_error();
  return SignatureError::kBadSignature;
}

SignatureError verifyAsymmetric(Algorithm algorithm, const Key& key, std::string_view input,
                                const uint8_t* signature, size_t length) {
  if (key.pkey == nullptr) return SignatureError::kKeyMismatch;
  if (algorithm == Algorithm::kEdDsa) return verifyEd25519(key, input, signature, length);
  uint8_t der[2 + 2 * (3 + 48)];
  const uint8_t* to_verify = signature;
  size_t to_verify_length = length;
  if (algorithm == Algorithm::kEs256 || algorithm == Algorithm::kEs384) {
    // JWS carries raw r||s (RFC 7518 3.4); OpenSSL wants DER, so re-encode.
    const size_t half = algorithm == Algorithm::kEs256 ? 32 : 48;
    if (length != 2 * half) return SignatureError::kBadLength;
    size_t body_length = writeDerInteger(signature, half, der + 2);
    body_length += writeDerInteger(signature + half, half, der + 2 + body_length);
    der[0] = 0x30;
    der[1] = static_cast<uint8_t>(body_length);
    to_verify = der;
    to_verify_length = body_length + 2;
  } else if (length != static_cast<size_t>(EVP_PKEY_get_size(key.pkey.get()))) {
    return SignatureError::kBadLength;
  }

  thread_local ThreadVerifiers verifiers;
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned digest_length = 0;
  EVP_PKEY_CTX* ctx = verifiers.get(algorithm, key.pkey.get());
  if (ctx == nullptr || !verifiers.digest(algorithm, input, digest, &digest_length)) {
    ERR_clear_error();
    return SignatureError::kInternal;
  }
  if (EVP_PKEY_verify(ctx, to_verify, to_verify_length, digest, digest_length) == 1) {
    return SignatureError::kNone;
  }
  ERR_clear_error();
  return SignatureError::kBadSignature;
}

}  // namespace

const char* algorithmName(Algorithm algorithm) {
  return info(algorithm).name;
}

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

KeyType keyTypeFor(Algorithm algorithm) {
  return info(algorithm).key_type;
}

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
