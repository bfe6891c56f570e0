// The access log's thread: drains every worker's ring (observe/access_log.h)
// every few milliseconds and writes the lines with large write() calls, so a
// slow disk holds up this thread alone; the workers only ever see a full
// ring, and count the line as dropped. A pipe or FIFO sink is written
// without blocking: a stalled reader backs the lines up into the rings. Reopens its file on request
// (SIGUSR1, for log rotation) and writes what is left when it stops.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/periodic_thread.h"
#include "observe/access_log.h"

namespace rampart::observe {

class AccessLogWriter {
 public:
  // One ring of settings.buffer_lines slots per worker.
  AccessLogWriter(const AccessLogSettings& settings, size_t workers);
  ~AccessLogWriter();

  // Opens the file ("-": stderr) and starts the thread; false with `error`.
  bool start(std::string* error);
  // Drains what is left, writes it and stops. Call after the workers stopped.
  void stop();
  // Asks the thread to reopen the file before its next write (SIGUSR1).
  void requestReopen() { reopen_.store(true, std::memory_order_relaxed); }

  AccessRing* ring(size_t worker) { return rings_[worker].get(); }
  const AccessLogSettings& settings() const { return settings_; }
  // Lines written, write() failures, and lines lost to a failed write or a
  // sink still stalled at exit (the shutdown line).
  uint64_t linesWritten() const { return lines_written_.load(std::memory_order_relaxed); }
  uint64_t writeErrors() const { return write_errors_.load(std::memory_order_relaxed); }
  uint64_t linesLost() const { return lines_lost_.load(std::memory_order_relaxed); }

 private:
  void drainOnce();
  bool flush();  // false: the sink would block (EAGAIN); the rest stays in pending_
  bool open(std::string* error);

  AccessLogSettings settings_;
  std::vector<std::unique_ptr<AccessRing>> rings_;
  std::string pending_;  // the log thread's write buffer
  int fd_ = -1;
  bool owns_fd_ = false;
  std::atomic<bool> reopen_{false};
  std::atomic<uint64_t> lines_written_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> lines_lost_{0};
  core::PeriodicThread thread_;
  bool started_ = false;
};

}  // namespace rampart::observe
