#include "shield/keyed_table.h"

#include <sys/mman.h>

namespace rampart::shield {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kCacheLine = 64;

size_t alignmentFor(size_t bytes) {
  return bytes >= 4 * kHugePage ? kHugePage : kCacheLine;
}

}  // namespace

void* allocateSlots(size_t bytes) {
  const size_t align = alignmentFor(bytes);
  void* slots = ::operator new (bytes, std::align_val_t{align});
#ifdef MADV_HUGEPAGE
  // Only a hint: where THP is off or "never" this fails harmlessly. Done
  // before the constructor first touches the pages, so they fault in huge.
  if (align == kHugePage) madvise(slots, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
  return slots;
}

void freeSlots(void* slots, size_t bytes) {
  ::operator delete (slots, std::align_val_t{alignmentFor(bytes)});
}

}  // namespace rampart::shield
