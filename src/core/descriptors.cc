#include "core/descriptors.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace rampart::core {

DescriptorReserve reserveDescriptors(size_t wanted) {
  DescriptorReserve out;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return out;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < wanted &&
      (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > rl.rlim_cur)) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(rl.rlim_max, wanted);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      rl = raised;
      out.raised = true;
    }
  }
  out.limit = rl.rlim_cur == RLIM_INFINITY ? wanted : static_cast<size_t>(rl.rlim_cur);
  const size_t target = std::min(wanted, out.limit);
  // Allocating descriptor target-1 makes the kernel size the table for it.
  int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (probe >= 0 && target > 1) {
    int high = fcntl(probe, F_DUPFD_CLOEXEC, static_cast<int>(target - 1));
    if (high >= 0) close(high);
  }
  if (probe >= 0) close(probe);
  out.reserved = descriptorTableSize();
  return out;
}

size_t descriptorTableSize() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "FDSize:") {
      size_t size = 0;
      status >> size;
      return size;
    }
    status.ignore(4096, '\n');
  }
  return 0;
}

}  // namespace rampart::core
