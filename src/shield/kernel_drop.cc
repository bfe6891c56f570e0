#include "shield/kernel_drop.h"

#include <linux/if_ether.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

namespace rampart::shield {

namespace {

constexpr uint32_t kKeep = 0xFFFFFFFF;  // the whole packet
constexpr uint32_t kDrop = 0;
// A leaf scans up to this many ranges in a row; above it the tree splits.
constexpr size_t kLeafRanges = 8;

sock_filter statement(uint16_t code, uint32_t k) {
  return sock_filter{code, 0, 0, k};
}
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return sock_filter{code, jt, jf, k};
}

size_t rangeCost(const V4Range& r) {
  return r.first == r.last ? 2 : 3;
}

size_t treeSize(const std::vector<V4Range>& ranges, size_t lo, size_t hi) {
  if (hi - lo <= kLeafRanges) {
    size_t size = 1;  // the leaf's final "keep"
    for (size_t i = lo; i < hi; ++i) size += rangeCost(ranges[i]);
    return size;
  }
  size_t mid = lo + (hi - lo) / 2;
  return 2 + treeSize(ranges, lo, mid) + treeSize(ranges, mid, hi);
}

// The source address is in A. A leaf tests its ranges in turn; an inner
// node sends A above its left half's last address to the right half.
void emitTree(const std::vector<V4Range>& ranges, size_t lo, size_t hi,
              std::vector<sock_filter>* out) {
  if (hi - lo <= kLeafRanges) {
    for (size_t i = lo; i < hi; ++i) {
      const V4Range& r = ranges[i];
      if (r.first == r.last) {
        out->push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, r.first, 0, 1));
      } else {
        out->push_back(jump(BPF_JMP | BPF_JGE | BPF_K, r.first, 0, 2));
        out->push_back(jump(BPF_JMP | BPF_JGT | BPF_K, r.last, 1, 0));
      }
      out->push_back(statement(BPF_RET | BPF_K, kDrop));
    }
    out->push_back(statement(BPF_RET | BPF_K, kKeep));
    return;
  }
  size_t mid = lo + (hi - lo) / 2;
  // Conditional jumps reach 255 instructions at most: "above" falls through
  // to an unconditional jump (32-bit offset) over the left half.
  out->push_back(jump(BPF_JMP | BPF_JGT | BPF_K, ranges[mid - 1].last, 0, 1));
  out->push_back(statement(BPF_JMP | BPF_JA, static_cast<uint32_t>(treeSize(ranges, lo, mid))));
  emitTree(ranges, lo, mid, out);
  emitTree(ranges, mid, hi, out);
}

// Sorted by first address, overlapping and adjacent ranges merged.
void sortAndMerge(std::vector<V4Range>* ranges) {
  std::sort(ranges->begin(), ranges->end(),
            [](const V4Range& a, const V4Range& b) { return a.first < b.first; });
  std::vector<V4Range> merged;
  for (const V4Range& r : *ranges) {
    if (!merged.empty() && (r.first <= merged.back().last || merged.back().last + 1 == r.first)) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  *ranges = std::move(merged);
}

constexpr size_t kHeaderInstructions = 4;

}  // namespace

std::optional<uint32_t> ipv4Of(const net::SocketAddress& peer) {
  if (peer.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(peer.sockaddrPtr());
    return ntohl(in->sin_addr.s_addr);
  }
  if (peer.family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(peer.sockaddrPtr());
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      uint32_t word = 0;
      std::memcpy(&word, in6->sin6_addr.s6_addr + 12, 4);
      return ntohl(word);
    }
  }
  return std::nullopt;
}

V4Range v4Prefix(uint32_t address, int prefix_length) {
  prefix_length = std::clamp(prefix_length, 0, 32);
  uint32_t host_bits = prefix_length == 0 ? 0xFFFFFFFFu : (1u << (32 - prefix_length)) - 1;
  if (prefix_length == 32) host_bits = 0;
  return V4Range{address & ~host_bits, address | host_bits};
}

std::vector<sock_filter> compileDropFilter(const std::vector<V4Range>& ranges,
                                           size_t max_instructions, size_t* included) {
  // Keep the longest front of `ranges` that fits (the caller puts first
  // what matters most): shrink until it does.
  size_t count = ranges.size();
  std::vector<V4Range> picked;
  while (count > 0) {
    picked.assign(ranges.begin(), ranges.begin() + static_cast<std::ptrdiff_t>(count));
    sortAndMerge(&picked);
    size_t size = kHeaderInstructions + treeSize(picked, 0, picked.size());
    if (size <= max_instructions) break;
    count = std::min(count - 1, count * max_instructions / size);
  }
  *included = count;
  if (count == 0) return {};
  std::vector<sock_filter> program;
  program.reserve(kHeaderInstructions + treeSize(picked, 0, picked.size()));
  // skb->protocol (host order): only IPv4 packets go on to the tree.
  program.push_back(statement(BPF_LD | BPF_H | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL));
  program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 1, 0));
  program.push_back(statement(BPF_RET | BPF_K, kKeep));
  // The IPv4 source address (loaded in host order).
  program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12));
  emitTree(picked, 0, picked.size(), &program);
  return program;
}

size_t maxFilterInstructions() {
  size_t optmem = 20480;  // the kernel's default before 6.8
  std::ifstream file("/proc/sys/net/core/optmem_max");
  size_t value = 0;
  if (file >> value && value > 0) optmem = value;
  return std::min<size_t>(BPF_MAXINSNS, optmem / 2 / sizeof(sock_filter));
}

bool attachDropFilter(int fd, const std::vector<sock_filter>& program, std::string* error) {
  if (program.empty()) {
    int unused = 0;  // the kernel wants an int-sized option even here
    if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused)) != 0 &&
        errno != ENOENT) {
      *error = std::string("SO_DETACH_FILTER: ") + std::strerror(errno);
      return false;
    }
    return true;
  }
  sock_fprog fprog{static_cast<unsigned short>(program.size()),
                   const_cast<sock_filter*>(program.data())};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) != 0) {
    *error = std::string("SO_ATTACH_FILTER: ") + std::strerror(errno);
    return false;
  }
  return true;
}

void KernelDrops::add(const V4Range& range, Nanos until) {
  for (Entry& entry : entries_) {
    if (entry.range == range) {
      entry.until = std::max(entry.until, until);
      return;
    }
  }
  if (entries_.size() >= capacity_) {
    ++overflowed_;
    return;
  }
  entries_.push_back(Entry{range, until});
  changed_ = true;
}

bool KernelDrops::remove(const V4Range& range) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& entry) { return entry.range == range; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  changed_ = true;
  return true;
}

void KernelDrops::expire(Nanos now) {
  size_t before = entries_.size();
  std::erase_if(entries_, [now](const Entry& entry) { return entry.until <= now; });
  if (entries_.size() != before) changed_ = true;
}

void KernelDrops::clear() {
  if (!entries_.empty()) changed_ = true;
  entries_.clear();
}

std::vector<V4Range> KernelDrops::ranges() const {
  std::vector<V4Range> out;
  out.reserve(entries_.size());
  for (const Entry& entry : entries_) out.push_back(entry.range);
  return out;
}

}  // namespace rampart::shield
