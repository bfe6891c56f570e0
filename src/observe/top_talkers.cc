#include "observe/top_talkers.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

namespace rampart::observe {

namespace {
constexpr uint64_t kMappedPrefix = 0x0000'0000'0000'0000ULL;
constexpr uint64_t kMappedMarker = 0x0000'ffff'0000'0000ULL;  // lo's upper half for ::ffff:a.b.c.d

uint64_t load64(const uint8_t* bytes) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | bytes[i];
  return v;
}
}  // namespace

TalkerAddress TalkerAddress::from(const sockaddr* address) {
  TalkerAddress out;
  if (address == nullptr) return out;
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    out.hi = kMappedPrefix;
    out.lo = kMappedMarker | ntohl(v4->sin_addr.s_addr);
  } else if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    out.hi = load64(v6->sin6_addr.s6_addr);
    out.lo = load64(v6->sin6_addr.s6_addr + 8);
  }
  return out;
}

std::string TalkerAddress::toString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (hi == kMappedPrefix && (lo >> 32) == (kMappedMarker >> 32)) {
    in_addr v4{htonl(static_cast<uint32_t>(lo))};
    inet_ntop(AF_INET, &v4, text, sizeof(text));
    return text;
  }
  in6_addr v6{};
  for (int i = 0; i < 8; ++i) {
    v6.s6_addr[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    v6.s6_addr[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  inet_ntop(AF_INET6, &v6, text, sizeof(text));
  return text;
}

void TopTalkers::record(const TalkerAddress& address, uint8_t* hint) {
  if (*hint < used_ && entries_[*hint].address == address) {
    ++entries_[*hint].count;
    return;
  }
  size_t smallest = 0;
  for (size_t i = 0; i < used_; ++i) {
    if (entries_[i].address == address) {
      ++entries_[i].count;
      *hint = static_cast<uint8_t>(i);
      return;
    }
    if (entries_[i].count < entries_[smallest].count) smallest = i;
  }
  if (used_ < kCapacity) {
    entries_[used_] = Talker{address, 1, 0};
    *hint = static_cast<uint8_t>(used_++);
    return;
  }
  // Space-saving: the newcomer replaces the smallest and inherits its count,
  // so a heavy hitter is never under-counted and always ends up tracked.
  Talker& victim = entries_[smallest];
  victim = Talker{address, victim.count + 1, victim.count};
  *hint = static_cast<uint8_t>(smallest);
}

std::vector<Talker> TopTalkers::top(size_t most) const {
  std::vector<Talker> out(entries_.begin(), entries_.begin() + static_cast<long>(used_));
  std::sort(out.begin(), out.end(),
            [](const Talker& a, const Talker& b) { return a.count > b.count; });
  if (out.size() > most) out.resize(most);
  return out;
}

std::vector<Talker> mergeTalkers(const std::vector<std::vector<Talker>>& lists, size_t most) {
  std::vector<Talker> merged;
  for (const std::vector<Talker>& list : lists) {
    for (const Talker& talker : list) {
      auto it = std::find_if(merged.begin(), merged.end(),
                             [&](const Talker& t) { return t.address == talker.address; });
      if (it == merged.end()) {
        merged.push_back(talker);
      } else {
        it->count += talker.count;
        it->error += talker.error;
      }
    }
  }
  std::sort(merged.begin(), merged.end(),
            [](const Talker& a, const Talker& b) { return a.count > b.count; });
  if (merged.size() > most) merged.resize(most);
  return merged;
}

}  // namespace rampart::observe
