// Session-ticket keys that rotate: tickets are sealed with the current key
// and opened with the current or the previous one, so a client resumes across
// one rotation and a stolen key stops opening new sessions within two
// rotation periods (forward secrecy for resumed sessions stays bounded).
//
// TicketKeyRing is pure (time and randomness are the caller's) and
// unit-tested; TicketKeys is the thread-safe holder the OpenSSL callback
// uses. One TicketKeys per TLS listener, shared by every worker (a ticket
// sealed on one worker must open on another: SO_REUSEPORT spreads a client's
// connections), and carried over by a certificate reload.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>

namespace rampart::tls {

struct TicketKey {
  std::array<uint8_t, 16> name{};  // sent in clear in the ticket: which key sealed it
  std::array<uint8_t, 32> aes{};   // AES-256-CBC
  std::array<uint8_t, 32> hmac{};  // HMAC-SHA256
};

class TicketKeyRing {
 public:
  using Random = std::function<void(uint8_t* out, size_t size)>;
  // `rotate_seconds` > 0: how long a key seals new tickets.
  explicit TicketKeyRing(int64_t rotate_seconds) : rotate_seconds_(rotate_seconds) {}

  // Makes the first key, or rotates when the current one's period is over
  // (the current becomes the previous; the old previous is forgotten). A
  // clock that jumped forward by several periods also forgets the previous:
  // it would have expired meanwhile.
  void rotateIfDue(int64_t now_seconds, const Random& random);

  enum class Match : uint8_t {
    kNone,      // unknown or expired key: the client gets a full handshake
    kCurrent,   // opened with the current key
    kPrevious,  // opened with the previous key: the server sends a fresh ticket
  };
  const TicketKey& current() const { return keys_[current_]; }
  Match find(const uint8_t* name, const TicketKey** key) const;

  bool started() const { return started_; }
  int64_t rotations() const { return rotations_; }
  int64_t rotateSeconds() const { return rotate_seconds_; }

 private:
  int64_t rotate_seconds_;
  TicketKey keys_[2];
  int current_ = 0;
  bool has_previous_ = false;
  bool started_ = false;
  int64_t current_since_ = 0;
  int64_t rotations_ = 0;
};

// The ring behind a mutex: taken once per ticket sealed or opened, which is
// a handshake, never a request, and costs next to nothing beside its crypto.
class TicketKeys {
 public:
  explicit TicketKeys(int64_t rotate_seconds) : ring_(rotate_seconds) {}
  // A copy of the key to seal with at `now` (rotating first when due).
  TicketKey sealing(int64_t now_seconds);
  // The key named `name` (16 bytes), copied into `out`.
  TicketKeyRing::Match opening(const uint8_t* name, int64_t now_seconds, TicketKey* out);
  int64_t rotateSeconds() const { return ring_.rotateSeconds(); }

 private:
  std::mutex mutex_;
  TicketKeyRing ring_;
};

}  // namespace rampart::tls
