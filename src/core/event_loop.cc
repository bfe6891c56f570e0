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

EventHandler::~EventHandler() {
  if (waiting_in_ != nullptr) waiting_in_->unlinkWaiting(this);
}

EventLoop::~EventLoop() {
  destroyDeferred();
  while (waiting_head_ != nullptr) unlinkWaiting(waiting_head_);
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

void EventLoop::remove(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

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

void EventLoop::enqueueWaiting(EventHandler* handler, uint32_t events) {
  handler->waiting_events_ |= events;
  if (handler->waiting_in_ != nullptr) return;  // already waiting: one entry, events merged
  handler->waiting_in_ = this;
  handler->waiting_prev_ = waiting_tail_;
  handler->waiting_next_ = nullptr;
  if (waiting_tail_ != nullptr) {
    waiting_tail_->waiting_next_ = handler;
  } else {
    waiting_head_ = handler;
  }
  waiting_tail_ = handler;
  ++waiting_count_;
}

void EventLoop::unlinkWaiting(EventHandler* handler) {
  if (handler->waiting_prev_ != nullptr) {
    handler->waiting_prev_->waiting_next_ = handler->waiting_next_;
  } else {
    waiting_head_ = handler->waiting_next_;
  }
  if (handler->waiting_next_ != nullptr) {
    handler->waiting_next_->waiting_prev_ = handler->waiting_prev_;
  } else {
    waiting_tail_ = handler->waiting_prev_;
  }
  handler->waiting_in_ = nullptr;
  handler->waiting_prev_ = handler->waiting_next_ = nullptr;
  handler->waiting_events_ = 0;
  --waiting_count_;
}

void EventLoop::dispatchWaiting() {
  for (int i = 0; i < kWaitingPerIteration && waiting_head_ != nullptr; ++i) {
    EventHandler* handler = waiting_head_;
    const uint32_t events = handler->waiting_events_;
    unlinkWaiting(handler);
    handler->onEvents(events);
  }
}

void EventLoop::run() {
  epoll_event events[kMaxEventsPerWait];
  while (!stopping_.load(std::memory_order_acquire)) {
    now_ = monotonicMillis();
    // Deferred events waiting: look at the sockets again without blocking.
    int timeout = waiting_head_ != nullptr ? 0 : timers_.nextTimeout(now_);
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
      uint32_t ready = events[i].events;
      if (handler->mayWait()) {
        enqueueWaiting(handler, ready);
        continue;
      }
      if (handler->waiting_in_ != nullptr) {  // queued before it became urgent: now, all of it
        ready |= handler->waiting_events_;
        unlinkWaiting(handler);
      }
      handler->onEvents(ready);
    }
    dispatchWaiting();
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
