#include "tls/ticket_keys.h"

#include <openssl/rand.h>

#include <cstring>

namespace rampart::tls {

namespace {

void fill(TicketKey& key, const TicketKeyRing::Random& random) {
  random(key.name.data(), key.name.size());
  random(key.aes.data(), key.aes.size());
  random(key.hmac.data(), key.hmac.size());
}

void osRandom(uint8_t* out, size_t size) {
  // RAND_bytes fails only when the OS gives no entropy; a zero key would
  // then be worse than none, so abort the handshake's ticket instead.
  if (RAND_bytes(out, static_cast<int>(size)) != 1) std::memset(out, 0, size);
}

}  // namespace

void TicketKeyRing::rotateIfDue(int64_t now, const Random& random) {
  if (!started_) {
    fill(keys_[current_], random);
    started_ = true;
    current_since_ = now;
    return;
  }
  if (now - current_since_ < rotate_seconds_) return;
  const bool skipped_period = now - current_since_ >= 2 * rotate_seconds_;
  current_ ^= 1;
  fill(keys_[current_], random);
  has_previous_ = !skipped_period;
  current_since_ = now;
  ++rotations_;
}

TicketKeyRing::Match TicketKeyRing::find(const uint8_t* name, const TicketKey** key) const {
  if (!started_) return Match::kNone;
  if (std::memcmp(name, keys_[current_].name.data(), 16) == 0) {
    *key = &keys_[current_];
    return Match::kCurrent;
  }
  if (has_previous_ && std::memcmp(name, keys_[current_ ^ 1].name.data(), 16) == 0) {
    *key = &keys_[current_ ^ 1];
    return Match::kPrevious;
  }
  return Match::kNone;
}

TicketKey TicketKeys::sealing(int64_t now) {
  std::lock_guard<std::mutex> lock(mutex_);
  ring_.rotateIfDue(now, osRandom);
  return ring_.current();
}

TicketKeyRing::Match TicketKeys::opening(const uint8_t* name, int64_t now, TicketKey* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  ring_.rotateIfDue(now, osRandom);
  const TicketKey* key = nullptr;
  TicketKeyRing::Match match = ring_.find(name, &key);
  if (match != TicketKeyRing::Match::kNone) *out = *key;
  return match;
}

}  // namespace rampart::tls
