#include "core/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace rampart::core {

namespace {
// Sentinel handler pointer for the wake-up eventfd.
EventHandler* const kWakeTag = nullptr;
constexpr int kMaxEventsPerWait = 256;
}  // namespace

EventLoop::EventLoop() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) throw std::runtime_error("epoll/eventfd creation failed");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = kWakeTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  now_ = monotonicMillis();
}

EventLoop::~EventLoop() {
  destroyDeferred();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

bool EventLoop::addEdgeTriggered(int fd, EventHandler* handler) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = handler;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::addLevelTriggeredInput(int fd, EventHandler* handler) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = handler;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void EventLoop::remove(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::stop() {
  stopping_.store(true, std::memory_order_release);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void EventLoop::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void EventLoop::drainWakeups() {
  uint64_t value;
  while (read(wake_fd_, &value, sizeof(value)) > 0) {
  }
}

void EventLoop::runPosted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks) task();
}

void EventLoop::destroyDeferred() {
  // Destructors may defer more objects: loop until empty.
  while (!deferred_.empty()) {
    std::vector<Deferred*> batch;
    batch.swap(deferred_);
    for (Deferred* object : batch) delete object;
  }
}

void EventLoop::run() {
  epoll_event events[kMaxEventsPerWait];
  while (!stopping_.load(std::memory_order_acquire)) {
    now_ = monotonicMillis();
    int timeout = timers_.nextTimeout(now_);
    int n = epoll_wait(epoll_fd_, events, kMaxEventsPerWait, timeout);
    if (n < 0 && errno != EINTR) throw std::runtime_error("epoll_wait failed");
    now_ = monotonicMillis();
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      auto* handler = static_cast<EventHandler*>(events[i].data.ptr);
      if (handler == kWakeTag) {
        woken = true;
        continue;
      }
      handler->onEvents(events[i].events);
    }
    destroyDeferred();
    timers_.expire(now_);
    destroyDeferred();
    if (woken) {
      drainWakeups();
      runPosted();
      destroyDeferred();
    }
  }
}

}  // namespace rampart::core
