#include "observe/access_log_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rampart::observe {

namespace {

// Lines are gathered up to this many bytes per write(): few syscalls at
// high rates, a bounded buffer at any rate.
constexpr size_t kWriteChunk = 256 * 1024;
// How often the thread looks at the rings. With the default 1,024 slots a
// worker would have to log over 50,000 lines/s to fill its ring in between.
constexpr std::chrono::milliseconds kDrainPeriod{20};

}  // namespace

AccessLogWriter::AccessLogWriter(const AccessLogSettings& settings, size_t workers)
    : settings_(settings) {
  for (size_t i = 0; i < workers; ++i) {
    rings_.push_back(std::make_unique<AccessRing>(settings_.buffer_lines));
  }
  pending_.reserve(kWriteChunk + kMaxAccessLine);
}

AccessLogWriter::~AccessLogWriter() {
  stop();
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

bool AccessLogWriter::open(std::string* error) {
  if (settings_.path == "-") {
    fd_ = STDERR_FILENO;
    owns_fd_ = false;
    return true;
  }
  int fd = ::open(settings_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    if (error != nullptr) *error = settings_.path + ": " + std::strerror(errno);
    return false;
  }
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
  fd_ = fd;
  owns_fd_ = true;
  return true;
}

bool AccessLogWriter::start(std::string* error) {
  if (!open(error)) return false;
  started_ = true;
  thread_.start(kDrainPeriod, [this] { drainOnce(); });
  return true;
}

void AccessLogWriter::stop() {
  if (!started_) return;
  started_ = false;
  thread_.stop();
  drainOnce();  // what the workers logged since the last tick
}

void AccessLogWriter::drainOnce() {
  if (reopen_.exchange(false, std::memory_order_relaxed)) {
    flush();  // lines taken before the rotation go to the old file
    std::string error;
    // A failed reopen keeps the old descriptor: lines still go somewhere.
    if (!open(&error)) write_errors_.fetch_add(1, std::memory_order_relaxed);
  }
  for (auto& ring : rings_) {
    ring->drain([this](std::string_view line) {
      pending_.append(line);
      if (pending_.size() >= kWriteChunk) flush();
    });
  }
  flush();
}

void AccessLogWriter::flush() {
  size_t done = 0;
  while (done < pending_.size()) {
    ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      break;  // a full or failed disk: these lines are lost, and counted
    }
    done += static_cast<size_t>(n);
  }
  uint64_t lines = 0;
  for (size_t i = 0; i < done; ++i) lines += pending_[i] == '\n' ? 1 : 0;
  lines_written_.fetch_add(lines, std::memory_order_relaxed);
  pending_.clear();
}

}  // namespace rampart::observe
