#include "auth/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>

namespace rampart::auth {

Sha256Digest sha256(std::string_view data) {
  Sha256Digest out{};
  unsigned int length = 0;
  // EVP_Digest with the implicit default provider: no context to keep, and
  // the key is short enough that the fetch is not what costs.
  EVP_Digest(data.data(), data.size(), out.data(), &length, EVP_sha256(), nullptr);
  return out;
}

bool parseSha256Hex(std::string_view hex, Sha256Digest* out) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

size_t ApiKeyStore::DigestHash::operator()(const Sha256Digest& d) const {
  // The digest is already uniformly distributed: its first bytes are a hash.
  size_t h;
  std::memcpy(&h, d.data(), sizeof(h));
  return h;
}

bool ApiKeyStore::DigestEq::operator()(const Sha256Digest& a, const Sha256Digest& b) const {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

ApiKeyStore::ApiKeyStore(std::vector<ApiKeyEntry> entries) : entries_(std::move(entries)) {
  index_.reserve(entries_.size());
  for (uint32_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].digest, i);
}

const ApiKeyEntry* ApiKeyStore::find(std::string_view presented) const {
  if (presented.empty()) return nullptr;
  auto it = index_.find(sha256(presented));
  return it == index_.end() ? nullptr : &entries_[it->second];
}

}  // namespace rampart::auth
