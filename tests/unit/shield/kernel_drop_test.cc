// The kernel drop filter: the compiled tree against a small interpreter of
// the instructions it uses (every range, every edge, many random sets), the
// size bound, then the real kernel: a listening socket with the filter
// attached never completes a handshake from a dropped address and accepts
// every other one, with the largest program this machine allows.
#include "shield/kernel_drop.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

namespace rampart::shield {
namespace {

// Runs `program` on an IPv4 (or other) packet from `source`: true = kept.
// Only what compileDropFilter emits is understood; anything else fails.
bool keeps(const std::vector<sock_filter>& program, uint32_t source, uint16_t protocol = ETH_P_IP) {
  uint32_t a = 0;
  for (size_t pc = 0; pc < program.size();) {
    const sock_filter& insn = program[pc];
    switch (insn.code) {
      case BPF_LD | BPF_H | BPF_ABS:
        EXPECT_EQ(insn.k, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_PROTOCOL));
        a = protocol;
        ++pc;
        break;
      case BPF_LD | BPF_W | BPF_ABS:
        EXPECT_EQ(insn.k, static_cast<uint32_t>(SKF_NET_OFF + 12));
        a = source;
        ++pc;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += 1 + (a == insn.k ? insn.jt : insn.jf);
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += 1 + (a >= insn.k ? insn.jt : insn.jf);
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
        pc += 1 + (a > insn.k ? insn.jt : insn.jf);
        break;
      case BPF_JMP | BPF_JA:
        pc += 1 + insn.k;
        break;
      case BPF_RET | BPF_K:
        return insn.k != 0;
      default:
        ADD_FAILURE() << "unexpected instruction " << insn.code;
        return true;
    }
  }
  ADD_FAILURE() << "ran off the end of the program";
  return true;
}

// What the filter should do: keep `a` unless a range holds it.
bool keptBy(const std::vector<V4Range>& ranges, uint32_t a) {
  for (const V4Range& r : ranges) {
    if (a >= r.first && a <= r.last) return false;
  }
  return true;
}

uint32_t ip(const char* text) {
  in_addr in{};
  EXPECT_EQ(inet_pton(AF_INET, text, &in), 1);
  return ntohl(in.s_addr);
}

TEST(KernelDropTest, DropsExactlyTheRangesAndKeepsEverythingElse) {
  std::vector<V4Range> ranges = {v4Prefix(ip("10.1.2.0"), 24),
                                 {ip("192.0.2.7"), ip("192.0.2.7")},
                                 v4Prefix(ip("203.0.113.128"), 25)};
  size_t included = 0;
  auto program = compileDropFilter(ranges, 4096, &included);
  EXPECT_EQ(included, 3u);
  for (const char* dropped :
       {"10.1.2.0", "10.1.2.255", "192.0.2.7", "203.0.113.128", "203.0.113.255"}) {
    EXPECT_FALSE(keeps(program, ip(dropped))) << dropped;
  }
  for (const char* kept : {"10.1.1.255", "10.1.3.0", "192.0.2.6", "192.0.2.8", "203.0.113.127",
                           "0.0.0.0", "255.255.255.255"}) {
    EXPECT_TRUE(keeps(program, ip(kept))) << kept;
  }
  // IPv6 packets are never looked at.
  EXPECT_TRUE(keeps(program, ip("192.0.2.7"), ETH_P_IPV6));
}

TEST(KernelDropTest, LargeRandomSetsMatchTheirRangesAtEveryEdge) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::vector<V4Range> ranges;
    size_t n = 1 + rng() % 1200;
    for (size_t i = 0; i < n; ++i) {
      uint32_t a = rng();
      ranges.push_back(rng() % 3 == 0 ? v4Prefix(a, 16 + static_cast<int>(rng() % 17))
                                      : V4Range{a, a});
    }
    size_t included = 0;
    auto program = compileDropFilter(ranges, BPF_MAXINSNS, &included);
    ASSERT_LE(program.size(), static_cast<size_t>(BPF_MAXINSNS));
    ASSERT_GT(included, 0u);
    ranges.resize(included);
    for (const V4Range& r : ranges) {
      for (uint32_t probe : {r.first, r.last, r.first - 1, r.last + 1}) {
        ASSERT_EQ(keeps(program, probe), keptBy(ranges, probe)) << "round " << round;
      }
    }
    for (int i = 0; i < 2000; ++i) {
      uint32_t probe = rng();
      ASSERT_EQ(keeps(program, probe), keptBy(ranges, probe));
    }
  }
}

TEST(KernelDropTest, WhatDoesNotFitIsLeftOutFromTheBack) {
  std::vector<V4Range> ranges;
  for (uint32_t i = 0; i < 5000; ++i) ranges.push_back({i * 4, i * 4});  // never adjacent
  size_t included = 0;
  auto program = compileDropFilter(ranges, 1000, &included);
  EXPECT_LE(program.size(), 1000u);
  EXPECT_GT(included, 300u);  // about 2.3 instructions per exact address
  EXPECT_LT(included, 500u);
  EXPECT_FALSE(keeps(program, 0));                               // the front is in
  EXPECT_TRUE(keeps(program, static_cast<uint32_t>(4999 * 4)));  // the back is not
  EXPECT_TRUE(compileDropFilter({}, 1000, &included).empty());
  EXPECT_EQ(included, 0u);
}

TEST(KernelDropTest, MappedAndPlainIpv4AreTheSameAddress) {
  auto plain = net::SocketAddress::parseNumeric("192.0.2.9:1");
  auto mapped = net::SocketAddress::parseNumeric("[::ffff:192.0.2.9]:1");
  auto v6 = net::SocketAddress::parseNumeric("[2001:db8::1]:1");
  ASSERT_TRUE(plain && mapped && v6);
  EXPECT_EQ(ipv4Of(*plain), ip("192.0.2.9"));
  EXPECT_EQ(ipv4Of(*mapped), ip("192.0.2.9"));
  EXPECT_FALSE(ipv4Of(*v6).has_value());
  EXPECT_EQ(v4Prefix(ip("192.0.2.9"), 24), (V4Range{ip("192.0.2.0"), ip("192.0.2.255")}));
  EXPECT_EQ(v4Prefix(ip("192.0.2.9"), 32), (V4Range{ip("192.0.2.9"), ip("192.0.2.9")}));
  EXPECT_EQ(v4Prefix(ip("192.0.2.9"), 0), (V4Range{0, 0xFFFFFFFFu}));
}

TEST(KernelDropsTest, AddsExtendsExpiresRemovesAndStaysBounded) {
  KernelDrops drops(2);
  EXPECT_FALSE(drops.takeChanged());
  drops.add({1, 1}, 100);
  EXPECT_TRUE(drops.takeChanged());
  drops.add({1, 1}, 300);  // extended: the program is the same
  EXPECT_FALSE(drops.takeChanged());
  drops.add({2, 2}, 200);
  drops.add({3, 3}, 200);  // no room
  EXPECT_EQ(drops.size(), 2u);
  EXPECT_EQ(drops.overflowed(), 1u);
  EXPECT_TRUE(drops.takeChanged());
  drops.expire(200);
  EXPECT_EQ(drops.ranges(), (std::vector<V4Range>{{1, 1}}));
  EXPECT_TRUE(drops.takeChanged());
  drops.expire(299);
  EXPECT_FALSE(drops.takeChanged());
  EXPECT_TRUE(drops.remove({1, 1}));
  EXPECT_FALSE(drops.remove({1, 1}));
  EXPECT_TRUE(drops.takeChanged());
  EXPECT_EQ(drops.size(), 0u);
}

// --- the real kernel, on loopback

int listenOn(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(ip("127.0.0.1"));
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  EXPECT_EQ(listen(fd, 64), 0);
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

// Whether a connection from `source` completes within `wait_ms`.
bool connects(const char* source, uint16_t port, int wait_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(ip(source));
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)), 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(ip("127.0.0.1"));
  to.sin_port = htons(port);
  connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  pollfd p{fd, POLLOUT, 0};
  bool done = poll(&p, 1, wait_ms) == 1;
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  close(fd);
  return done && err == 0;
}

TEST(KernelDropTest, TheKernelNeverCompletesAHandshakeFromADroppedAddress) {
  uint16_t port = 0;
  int listener = listenOn(&port);
  std::vector<V4Range> ranges = {{ip("127.0.9.2"), ip("127.0.9.2")},
                                 v4Prefix(ip("127.0.10.0"), 24)};
  // Padded to the largest program this machine lets accepted sockets
  // inherit: a filter over optmem_max would make the kernel refuse them all.
  for (uint32_t i = 0; i < 3000; ++i)
    ranges.push_back({ip("10.0.0.0") + i * 2, ip("10.0.0.0") + i * 2});
  size_t included = 0;
  auto program = compileDropFilter(ranges, maxFilterInstructions(), &included);
  ASSERT_GT(included, 100u);
  std::string error;
  ASSERT_TRUE(attachDropFilter(listener, program, &error)) << error;
  EXPECT_FALSE(connects("127.0.9.2", port, 300));
  EXPECT_FALSE(connects("127.0.10.77", port, 300));
  for (const char* ok : {"127.0.9.1", "127.0.9.3", "127.0.11.1"}) {
    EXPECT_TRUE(connects(ok, port, 2000)) << ok;
    int accepted = accept(listener, nullptr, nullptr);
    EXPECT_GE(accepted, 0) << ok;
    if (accepted >= 0) close(accepted);
  }
  // Detached: everyone again.
  ASSERT_TRUE(attachDropFilter(listener, {}, &error)) << error;
  EXPECT_TRUE(connects("127.0.9.2", port, 2000));
  ASSERT_TRUE(attachDropFilter(listener, {}, &error)) << error;  // nothing attached: fine
  close(listener);
}

}  // namespace
}  // namespace rampart::shield
