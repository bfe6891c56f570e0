#include "tls/ticket_keys.h"

#include <gtest/gtest.h>

namespace rampart::tls {
namespace {

using Match = TicketKeyRing::Match;

// Deterministic "randomness": each call fills with the next counter value.
struct Counter {
  uint8_t next = 1;
  void operator()(uint8_t* out, size_t size) {
    for (size_t i = 0; i < size; ++i) out[i] = next;
    ++next;
  }
};

TEST(TicketKeyRingTest, FirstUseMakesAKeyThatOpensItsOwnTickets) {
  TicketKeyRing ring(3600);
  EXPECT_FALSE(ring.started());
  Counter random;
  ring.rotateIfDue(1000, std::ref(random));
  ASSERT_TRUE(ring.started());
  const TicketKey* key = nullptr;
  EXPECT_EQ(ring.find(ring.current().name.data(), &key), Match::kCurrent);
  EXPECT_EQ(key, &ring.current());
  uint8_t stranger[16] = {0xEE};
  EXPECT_EQ(ring.find(stranger, &key), Match::kNone);
}

TEST(TicketKeyRingTest, RotationKeepsThePreviousKeyForOpeningOnly) {
  TicketKeyRing ring(3600);
  Counter random;
  ring.rotateIfDue(1000, std::ref(random));
  const TicketKey first = ring.current();
  ring.rotateIfDue(1000 + 3599, std::ref(random));  // not yet due
  EXPECT_EQ(ring.current().name, first.name);
  ring.rotateIfDue(1000 + 3600, std::ref(random));  // due: rotates
  EXPECT_NE(ring.current().name, first.name);
  EXPECT_EQ(ring.rotations(), 1);
  const TicketKey* key = nullptr;
  EXPECT_EQ(ring.find(first.name.data(), &key), Match::kPrevious);
  EXPECT_EQ(key->aes, first.aes);
  EXPECT_EQ(key->hmac, first.hmac);
  const TicketKey second = ring.current();
  ring.rotateIfDue(1000 + 7200, std::ref(random));  // the first key is now forgotten
  EXPECT_EQ(ring.find(first.name.data(), &key), Match::kNone);
  EXPECT_EQ(ring.find(second.name.data(), &key), Match::kPrevious);
}

TEST(TicketKeyRingTest, AClockJumpOverTwoPeriodsForgetsThePreviousKey) {
  TicketKeyRing ring(60);
  Counter random;
  ring.rotateIfDue(0, std::ref(random));
  const TicketKey first = ring.current();
  ring.rotateIfDue(121, std::ref(random));
  const TicketKey* key = nullptr;
  EXPECT_EQ(ring.find(first.name.data(), &key), Match::kNone);
  EXPECT_EQ(ring.find(ring.current().name.data(), &key), Match::kCurrent);
}

TEST(TicketKeysTest, SealingAndOpeningShareTheRing) {
  TicketKeys keys(3600);
  TicketKey sealed = keys.sealing(100);
  TicketKey opened;
  EXPECT_EQ(keys.opening(sealed.name.data(), 200, &opened), Match::kCurrent);
  EXPECT_EQ(opened.aes, sealed.aes);
  EXPECT_EQ(keys.opening(sealed.name.data(), 100 + 3600, &opened), Match::kPrevious);
  EXPECT_EQ(keys.opening(sealed.name.data(), 100 + 7200, &opened), Match::kNone);
}

}  // namespace
}  // namespace rampart::tls
