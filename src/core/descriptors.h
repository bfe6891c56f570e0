// The process's file descriptor table, grown once at start.
//
// The kernel grows a process's descriptor table by doubling as descriptors
// are allocated. In a multi-threaded process each growth waits for an RCU
// grace period (expand_fdtable -> synchronize_rcu) with the allocating
// thread blocked: a worker in accept() slept 10-20 ms per doubling while a
// burst of 5,000 connections arrived (perf sched, the c drill), and the
// legitimate requests behind it waited that long. Grown before the workers
// start, the table never grows on the request path (it never shrinks).
#pragma once

#include <cstddef>

namespace rampart::core {

struct DescriptorReserve {
  size_t limit = 0;     // RLIMIT_NOFILE (soft) after raising it
  size_t reserved = 0;  // descriptors the table holds now (FDSize)
  bool raised = false;  // the soft limit was raised towards the hard one
};

// Raises the soft RLIMIT_NOFILE towards `wanted` (never past the hard
// limit), then grows the descriptor table to hold min(wanted, limit).
DescriptorReserve reserveDescriptors(size_t wanted);

// The table's current size (FDSize in /proc/self/status); 0 if unknown.
size_t descriptorTableSize();

}  // namespace rampart::core
