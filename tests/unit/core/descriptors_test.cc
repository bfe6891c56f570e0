// The descriptor table is grown once and the soft limit raised, never past
// the hard one; a later burst of descriptors finds the table already sized.
#include "core/descriptors.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <thread>

namespace rampart::core {
namespace {

TEST(DescriptorsTest, TheTableIsGrownToTheWantedSizeWithinTheLimit) {
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  const size_t hard = rl.rlim_max == RLIM_INFINITY ? 1u << 20 : rl.rlim_max;
  const size_t wanted = std::min<size_t>(hard, 4096);
  const size_t before = descriptorTableSize();
  ASSERT_GT(before, 0u);  // FDSize is in /proc/self/status
  // A thread shares the table, as the workers do.
  std::thread other([] {});
  DescriptorReserve reserve = reserveDescriptors(wanted);
  other.join();
  EXPECT_GE(reserve.limit, wanted);
  EXPECT_GE(reserve.reserved, wanted);
  EXPECT_EQ(reserve.reserved, descriptorTableSize());
  // More than the hard limit is never asked of the kernel.
  DescriptorReserve capped = reserveDescriptors(hard * 2);
  EXPECT_LE(capped.limit, hard);
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  EXPECT_LE(rl.rlim_cur, rl.rlim_max);
}

}  // namespace
}  // namespace rampart::core
