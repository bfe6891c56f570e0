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
  if (queued_in_ != nullptr) queued_in_->unlink(this);
}

HandlerQueue::~HandlerQueue() {
  while (head_ != nullptr) unlink(head_);
}

void HandlerQueue::push(EventHandler* handler, uint32_t events) {
  handler->queued_events_ |= events;
  if (handler->queued_in_ != nullptr) return;  // already queued: one entry, events merged
  handler->queued_in_ = this;
  handler->queued_prev_ = tail_;
  handler->queued_next_ = nullptr;
  if (tail_ != nullptr) {
    tail_->queued_next_ = handler;
  } else {
    head_ = handler;
  }
  tail_ = handler;
  ++count_;
}

EventHandler* HandlerQueue::pop(uint32_t* events) {
  EventHandler* handler = head_;
  if (handler == nullptr) return nullptr;
  *events = handler->queued_events_;
  unlink(handler);
  return handler;
}

void HandlerQueue::unlink(EventHandler* handler) {
  if (handler->queued_prev_ != nullptr) {
    handler->queued_prev_->queued_next_ = handler->queued_next_;
  } else {
    head_ = handler->queued_next_;
  }
  if (handler->queued_next_ != nullptr) {
    handler->queued_next_->queued_prev_ = handler->queued_prev_;
  } else {
    tail_ = handler->queued_prev_;
  }
  handler->queued_in_ = nullptr;
  handler->queued_prev_ = handler->queued_next_ = nullptr;
  handler->queued_events_ = 0;
  --count_;
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

void EventLoop::dispatchWaiting() {
  if (waiting_.empty()) return;
  uint32_t events = 0;
  const uint64_t deadline = monotonicMicros() + kWaitingBudgetMicros;
  for (int i = 0; i < kWaitingPerIteration; ++i) {
    EventHandler* handler = waiting_.pop(&events);
    if (handler == nullptr) return;
    handler->onEvents(events);
    if (monotonicMicros() >= deadline) return;
  }
}

void EventLoop::notify(EventHandler* handler, uint32_t events) {
  // One waiting for its turn behind the proven connections keeps waiting.
  if (handler->queued_in_ == &waiting_) {
    waiting_.push(handler, events);
    return;
  }
  notified_.push(handler, events);
}

void EventLoop::settle() {
  uint32_t events = 0;
  while (EventHandler* handler = notified_.pop(&events)) handler->onEvents(events);
  destroyDeferred();
}

void EventLoop::run() {
  epoll_event events[kMaxEventsPerWait];
  while (!stopping_.load(std::memory_order_acquire)) {
    now_ = monotonicMillis();
    // Deferred events waiting: look at the sockets again without blocking.
    int timeout = !waiting_.empty() || !notified_.empty() ? 0 : timers_.nextTimeout(now_);
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
        waiting_.push(handler, ready);
        continue;
      }
      if (handler->queued_in_ != nullptr) {  // queued before it became urgent: now, all of it
        HandlerQueue* queue = handler->queued_in_;
        ready |= handler->queued_events_;
        queue->unlink(handler);
      }
      handler->onEvents(ready);
    }
    settle();
    dispatchWaiting();
    settle();
    timers_.expire(now_);
    settle();
    if (woken) {
      drainWakeups();
      runPosted();
      settle();
    }
  }
}

}  // namespace rampart::core
