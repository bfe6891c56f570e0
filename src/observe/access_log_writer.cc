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

uint64_t countLines(std::string_view text) {
  uint64_t lines = 0;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  return lines;
}

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
  // O_NONBLOCK: a pipe or FIFO whose reader stalls makes write() say
  // EAGAIN instead of holding this thread (and shutdown) hostage; the lines
  // wait in pending_ and the rings back up into counted drops.
  int fd =
      ::open(settings_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0640);
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
  flush();      // one more try for lines a stalled sink held back
  // A sink still stalled: what is left is lost, and said so at exit.
  lines_lost_.fetch_add(countLines(pending_), std::memory_order_relaxed);
  for (auto& ring : rings_) {
    ring->drain([this](std::string_view) { lines_lost_.fetch_add(1, std::memory_order_relaxed); });
  }
  pending_.clear();
}

void AccessLogWriter::drainOnce() {
  if (reopen_.exchange(false, std::memory_order_relaxed)) {
    flush();  // lines taken before the rotation go to the old file
    std::string error;
    // A failed reopen keeps the old descriptor: lines still go somewhere.
    if (!open(&error)) write_errors_.fetch_add(1, std::memory_order_relaxed);
  }
  // A sink that took nothing last time: the rings are left to fill, so the
  // workers count their drops, and this buffer stays bounded.
  if (!flush()) return;
  for (auto& ring : rings_) {
    ring->drain([this](std::string_view line) {
      pending_.append(line);
      if (pending_.size() >= kWriteChunk) flush();
    });
  }
  flush();
}

bool AccessLogWriter::flush() {
  size_t written = 0;
  size_t lost_from = std::string::npos;  // where the bytes a failed write lost begin
  bool stalled = false;
  while (written < pending_.size()) {
    ssize_t n = ::write(fd_, pending_.data() + written, pending_.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      stalled = true;  // the rest waits for the next tick
      break;
    }
    if (n <= 0) {
      lost_from = written;  // a full or failed disk: these lines are lost, and counted
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    written += static_cast<size_t>(n);
  }
  std::string_view all(pending_);
  // A line cut by a short write is counted when its newline goes out.
  lines_written_.fetch_add(countLines(all.substr(0, written)), std::memory_order_relaxed);
  if (lost_from != std::string::npos) {
    lines_lost_.fetch_add(countLines(all.substr(lost_from)), std::memory_order_relaxed);
    pending_.clear();
  } else {
    pending_.erase(0, written);
  }
  return !stalled;
}

}  // namespace rampart::observe
