// One epoll event loop per worker thread. Owned and run by that thread; only
// post() and stop() may be called from other threads.
//
// Sockets are registered once, edge-triggered, for both directions: the owner
// reads until a short read and writes until done, so steady-state proxying
// costs no epoll_ctl calls (see docs/architecture.md for the measurements).
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

#include "core/clock.h"
#include "core/timer_list.h"

namespace rampart::core {

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  // `events` is the epoll mask (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
  virtual void onEvents(uint32_t events) = 0;
};

// Objects destroyed by the loop after the current batch of events, so a
// handler may be torn down while another event of the same batch names it.
class Deferred {
 public:
  virtual ~Deferred() = default;
};

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Registers `fd` edge-triggered for input, output and peer shutdown.
  bool addEdgeTriggered(int fd, EventHandler* handler);
  // Registers `fd` level-triggered for input only (listening sockets).
  bool addLevelTriggeredInput(int fd, EventHandler* handler);
  void remove(int fd);

  // Runs until stop(). Each iteration: wait, dispatch, expire timers, run posted tasks.
  void run();
  // Thread-safe.
  void stop();
  // Thread-safe: runs `task` on the loop thread soon.
  void post(std::function<void()> task);

  // Destroys `object` after the current dispatch batch.
  void deferDelete(Deferred* object) { deferred_.push_back(object); }

  Millis now() const { return now_; }
  Timers& timers() { return timers_; }
  void arm(Timer* timer, Millis duration) { timers_.arm(timer, duration, now_); }

 private:
  void drainWakeups();
  void runPosted();
  void destroyDeferred();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  Millis now_ = 0;
  Timers timers_;
  std::vector<Deferred*> deferred_;
  std::mutex posted_mutex_;  // only taken by post() and once per wakeup, never per request
  std::vector<std::function<void()>> posted_;
};

}  // namespace rampart::core
