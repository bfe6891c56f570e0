// API keys: a set of SHA-256 digests of keys (never the keys themselves),
// each naming a principal, an account and scopes. Built once per config load
// from the key file (config/ parses it), then shared read-only by every
// worker; replaced whole on reload, which is how a key is revoked.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "auth/identity.h"

namespace rampart::auth {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest sha256(std::string_view data);
// 64 hex digits (either case) to a digest; false when it is not one.
bool parseSha256Hex(std::string_view hex, Sha256Digest* out);

struct ApiKeyEntry {
  Sha256Digest digest{};
  std::string name;                          // a label for logs ("billing-service"), never the key
  std::shared_ptr<const Identity> identity;  // kind kApiKey, issuer "api-key"
};

class ApiKeyStore {
 public:
  // Duplicate digests are refused by the config loader before this is built.
  explicit ApiKeyStore(std::vector<ApiKeyEntry> entries);

  // The entry whose digest is SHA-256(presented), or nullptr. The digest
  // comparison runs in constant time (CRYPTO_memcmp), so a near miss costs
  // the same as a far one.
  const ApiKeyEntry* find(std::string_view presented) const;
  size_t size() const { return entries_.size(); }

 private:
  struct DigestHash {
    size_t operator()(const Sha256Digest& d) const;
  };
  struct DigestEq {
    bool operator()(const Sha256Digest& a, const Sha256Digest& b) const;
  };
  std::vector<ApiKeyEntry> entries_;
  absl::flat_hash_map<Sha256Digest, uint32_t, DigestHash, DigestEq> index_;
};

}  // namespace rampart::auth
