#include "shield/manual_blocks.h"

#include <algorithm>

namespace rampart::shield {

void ManualBlocks::expire(Nanos now) {
  std::erase_if(entries_, [now](const ManualBlock& block) { return block.until <= now; });
}

BlockChange ManualBlocks::add(const net::Cidr& range, Nanos until, Nanos now) {
  expire(now);
  const std::string text = range.toString();
  for (ManualBlock& block : entries_) {
    if (block.text == text) {
      block.until = until;
      return BlockChange::kExtended;
    }
  }
  if (entries_.size() >= kMaxEntries) return BlockChange::kFull;
  entries_.push_back(ManualBlock{range, text, until});
  return BlockChange::kAdded;
}

bool ManualBlocks::remove(const net::Cidr& range) {
  const std::string text = range.toString();
  return std::erase_if(entries_, [&](const ManualBlock& block) { return block.text == text; }) > 0;
}

Nanos ManualBlocks::blockedUntil(const net::SocketAddress& peer, Nanos now) const {
  Nanos until = 0;
  for (const ManualBlock& block : entries_) {
    if (block.until > now && block.until > until && block.range.contains(peer)) {
      until = block.until;
    }
  }
  return until;
}

std::vector<ManualBlock> ManualBlocks::active(Nanos now) const {
  std::vector<ManualBlock> out;
  for (const ManualBlock& block : entries_) {
    if (block.until > now) out.push_back(block);
  }
  return out;
}

}  // namespace rampart::shield
