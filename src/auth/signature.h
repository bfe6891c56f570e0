// JWS algorithms (RFC 7518) and the one low-level signature check the JWT
// path uses. A Key is immutable once built and shared read-only by every
// worker thread (OpenSSL 3 EVP_PKEY verification on a const key is
// thread-safe); it lives as long as the KeySet that owns it.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rampart::auth {

// Every algorithm we verify. "none" has no value here on purpose: it can
// never be allowed, whatever the configuration or the token says.
enum class Algorithm : uint8_t {
  kHs256,
  kHs384,
  kHs512,
  kRs256,
  kRs384,
  kRs512,
  kPs256,
  kPs384,
  kPs512,
  kEs256,
  kEs384,
  kEdDsa,  // Ed25519 only (RFC 8037)
};
constexpr size_t kAlgorithmCount = 12;

// The JWS "alg" spelling ("HS256", "EdDSA"...).
const char* algorithmName(Algorithm algorithm);

enum class AlgorithmParse : uint8_t {
  kOk,
  kNone,     // "none" in any letter case: always refused
  kUnknown,  // not one we support (names are case-sensitive, RFC 7515 4.1.1)
};
// Parses a JWS "alg" value (from a token or from config).
AlgorithmParse parseAlgorithm(std::string_view name, Algorithm& out);

// JWK "kty". An algorithm only ever uses keys of its own type: an HMAC
// algorithm only an oct key, so a public key can never be used as a secret.
enum class KeyType : uint8_t { kOct, kRsa, kEc, kOkp };
enum class Curve : uint8_t { kNone, kP256, kP384, kEd25519 };

KeyType keyTypeFor(Algorithm algorithm);

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// One verification key: a JWK, or an HMAC secret given directly.
struct Key {
  std::string kid;  // empty when the JWK had none
  KeyType type = KeyType::kOct;
  Curve curve = Curve::kNone;          // EC and OKP keys
  std::optional<Algorithm> algorithm;  // JWK "alg": if set, the only algorithm it verifies
  std::string secret;                  // oct: the HMAC key bytes
  PkeyPtr pkey;                        // RSA, EC, OKP: the public key
  size_t rsa_bits = 0;                 // RSA modulus size

  // True when this key may verify `algorithm`: right kty, right curve, and
  // the JWK's own "alg" (when present) is the same.
  bool fits(Algorithm algorithm) const;
};

enum class SignatureError : uint8_t {
  kNone,
  kKeyMismatch,   // the key cannot verify this algorithm (see Key::fits)
  kWeakKey,       // HMAC secret shorter than the digest (RFC 7518 3.2)
  kBadLength,     // not the exact length the algorithm produces
  kBadSignature,  // the signature does not verify
  kInternal,      // OpenSSL failed (allocation...): refuse, count, never accept
};

const char* describe(SignatureError error);

// Verifies a JWS signature over `signing_input` ("header.payload" as sent).
// Signatures are in JWS form: HMAC the exact digest (compared in constant
// time), RSA exactly the modulus size, ES256/ES384 raw r||s of 64/96 bytes
// (DER is refused by its length), Ed25519 64 bytes. PS* use MGF1 with the
// same digest and a salt of the digest length. Any thread. Each thread keeps
// its own small OpenSSL contexts to skip per-call provider fetches: one HMAC
// context per digest, and verify contexts for its last 8 (algorithm, key)
// pairs, each holding a reference on its EVP_PKEY (so a key swapped out stays
// alive until that thread evicts it or exits).
SignatureError verifySignature(Algorithm algorithm, const Key& key, std::string_view signing_input,
                               const uint8_t* signature, size_t signature_length);

}  // namespace rampart::auth
