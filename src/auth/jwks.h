// Verification keys: a JWKS document (RFC 7517) or HMAC secrets given directly,
// compiled into an immutable KeySet. Built by the config/control thread; a
// KeySet is never changed after construction, so any number of worker threads
// may read it at once. It lives as long as the last shared_ptr to it (a token
// being verified holds one, so swapping in a new set never frees keys in use).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/signature.h"

namespace rampart::auth {

class KeySet {
 public:
  explicit KeySet(std::vector<Key> keys) : keys_(std::move(keys)) {}
  KeySet(const KeySet&) = delete;
  KeySet& operator=(const KeySet&) = delete;

  const std::vector<Key>& keys() const { return keys_; }
  size_t size() const { return keys_.size(); }
  // The key whose kid is exactly `kid`, or nullptr. Kids are unique in a set.
  const Key* findKid(std::string_view kid) const;

 private:
  std::vector<Key> keys_;
};

struct JwksResult {
  std::shared_ptr<const KeySet> keys;  // set on success
  std::string error;                   // set on failure: what and where ("keys[1]: RSA n missing")

  bool ok() const { return keys != nullptr; }
};

// Parses a JWKS document {"keys":[...]}. Per key: kty RSA (n, e; modulus at
// least 2048 bits), EC (crv P-256/P-384, x, y of full length, point checked on
// the curve), OKP (crv Ed25519, x), oct (k, HMAC). kid, alg and use are read.
// Skipped, as RFC 7517 5 asks: keys with an unknown kty, an unsupported curve
// or "alg", "use" other than "sig", or "key_ops" without "verify". Refused
// with an error: invalid JSON, duplicate member names, a malformed member of a
// supported key, "alg":"none", an "alg" that does not fit the kty, two keys
// with the same kid. Private members ("d", ...) are ignored. Control thread.
JwksResult parseJwks(std::string_view json);

// An HMAC key given as raw bytes (not base64). `algorithm`, if set, pins the
// key to that HS* algorithm. The secret must be at least as long as the
// digest of the algorithm used, or verification refuses it (kWeakKey).
Key makeHmacKey(std::string kid, std::string secret,
                std::optional<Algorithm> algorithm = std::nullopt);

// Wraps keys (e.g. HMAC secrets) into a shared immutable set. Returns nullptr
// and sets `error` when two keys share a non-empty kid.
std::shared_ptr<const KeySet> makeKeySet(std::vector<Key> keys, std::string* error = nullptr);

}  // namespace rampart::auth
