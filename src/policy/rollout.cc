// inRollout: a fixed hash (FNV-1a 64 plus the murmur3 64-bit finaliser), so
// a rollout percentage selects the same accounts on every build and host.
#include "policy/policy.h"

namespace rampart::policy {

namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

uint64_t fnv1a(uint64_t hash, uint8_t byte) {
  return (hash ^ byte) * kFnvPrime;
}

// FNV-1a's low bits are weak for short keys; the finaliser spreads them.
uint64_t avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

bool inRollout(std::string_view account, uint32_t percent, uint64_t seed) {
  if (percent == 0) return false;
  if (percent >= 100) return true;
  uint64_t hash = kFnvOffset;
  for (int i = 0; i < 8; ++i) hash = fnv1a(hash, static_cast<uint8_t>(seed >> (8 * i)));
  for (char c : account) hash = fnv1a(hash, static_cast<uint8_t>(c));
  hash = avalanche(hash);
  // Map to [0, 100) by multiply-high: uniform without modulo bias.
  auto bucket = static_cast<uint32_t>((static_cast<unsigned __int128>(hash) * 100) >> 64);
  return bucket < percent;
}

}  // namespace rampart::policy
