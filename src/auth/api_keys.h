// API keys: a set of SHA-256 digests of keys (never the keys themselves),
// each naming a principal, an account and scopes. Built from the key file
// (config/ parses it), then shared read-only by every worker. The file is
// watched (ApiKeyFile, ApiKeyWatcher): editing it replaces the whole set
// within the watch interval, which is how a key is added or revoked.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
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

// A key file and the store last read from it. The control thread's watcher
// re-reads the file when it changes and swaps the store; a file that no
// longer parses is logged and the last good store keeps serving. Workers read
// through an ApiKeyView: one acquire load per request, the shared_ptr copied
// only when the version moved.
struct ApiKeyFile {
  using Loader = std::function<std::shared_ptr<const ApiKeyStore>(std::string* error)>;

  std::string path;
  std::chrono::milliseconds watch_interval{2000};  // 0: read once, at config load
  Loader load;  // re-reads `path`; null store and `error` ("file:line:col: reason") on failure

  std::atomic<std::shared_ptr<const ApiKeyStore>> store;
  std::atomic<uint64_t> version{0};  // bumped (release) after each swap of `store`
  std::atomic<uint64_t> reloads{0};  // successful re-reads, for logs and tests
  std::atomic<uint64_t> failures{0};

  void replace(std::shared_ptr<const ApiKeyStore> next) {
    store.store(std::move(next), std::memory_order_release);
    version.fetch_add(1, std::memory_order_release);
  }
};

// A worker's copy of an ApiKeyFile's current store.
struct ApiKeyView {
  uint64_t version = ~uint64_t{0};
  std::shared_ptr<const ApiKeyStore> store;

  const ApiKeyStore* current(const ApiKeyFile& file) {
    uint64_t now = file.version.load(std::memory_order_acquire);
    if (now != version) {
      store = file.store.load(std::memory_order_acquire);
      version = now;
    }
    return store.get();
  }
};

}  // namespace rampart::auth
