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

class EventLoop;
class EventHandler;

// An intrusive FIFO of handlers with events pending, one entry per handler
// (events that arrive while it is queued are ORed into its entry). A handler
// that dies while queued leaves it in O(1) and is never dispatched.
class HandlerQueue {
 public:
  HandlerQueue() = default;
  HandlerQueue(const HandlerQueue&) = delete;
  HandlerQueue& operator=(const HandlerQueue&) = delete;
  ~HandlerQueue();

  void push(EventHandler* handler, uint32_t events);
  // The oldest handler and its merged events; null when empty.
  EventHandler* pop(uint32_t* events);
  void unlink(EventHandler* handler);
  bool empty() const { return head_ == nullptr; }
  size_t size() const { return count_; }

 private:
  EventHandler* head_ = nullptr;
  EventHandler* tail_ = nullptr;
  size_t count_ = 0;
};

class EventHandler {
 public:
  EventHandler() = default;
  EventHandler(const EventHandler&) = delete;
  EventHandler& operator=(const EventHandler&) = delete;
  // Leaves the loop's queue of waiting events, if it is in it.
  virtual ~EventHandler();
  // `events` is the epoll mask (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
  virtual void onEvents(uint32_t events) = 0;
  // True: this handler's events may wait behind everybody else's (see
  // EventLoop::run); asked once per event, when it arrives. A client
  // connection that has not yet shown it behaves says true, so a flood of
  // connections being refused cannot stand between the ones being served
  // and the loop.
  virtual bool mayWait() const { return false; }

 private:
  friend class EventLoop;
  friend class HandlerQueue;
  HandlerQueue* queued_in_ = nullptr;  // the loop queue it is in, if any
  EventHandler* queued_prev_ = nullptr;
  EventHandler* queued_next_ = nullptr;
  uint32_t queued_events_ = 0;  // every event that arrived while it was queued, ORed
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

  // Runs until stop(). Each iteration: wait, dispatch, expire timers, run
  // posted tasks. Events of mayWait() handlers are queued (FIFO, one entry
  // per handler) and at most kWaitingPerIteration of them dispatched per
  // iteration, after every other event of the batch; while any wait, the
  // next wait does not block. So the time between two looks at the sockets
  // of the connections being served is bounded by that many refusals, not
  // by the number of connections in a flood. The batch also ends once it
  // has taken kWaitingBudgetMicros (one handler may pass it; the next does
  // not start): 32 refusals that each check a signature are 5 ms, and the
  // connections being served would wait all of it.
  static constexpr int kWaitingPerIteration = 32;
  static constexpr uint64_t kWaitingBudgetMicros = 250;
  size_t waitingCount() const { return waiting_.size(); }

  // Readiness raised in user space, for handlers with no socket of their
  // own (an HTTP/2 stream and the Session serving it, proxy/stream_pipe.h):
  // `handler->onEvents(events)` runs later in this iteration, after the
  // current handler returns, never from inside the caller. Costs no system
  // call. A handler destroyed before its turn is skipped.
  void notify(EventHandler* handler, uint32_t events);
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
  void dispatchWaiting();
  // Runs notified handlers (and those they notify in turn), then destroys
  // deferred objects.
  void settle();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  Millis now_ = 0;
  Timers timers_;
  std::vector<Deferred*> deferred_;
  HandlerQueue waiting_;     // deferrable handlers' events, oldest first
  HandlerQueue notified_;    // notify()'s handlers, oldest first
  std::mutex posted_mutex_;  // only taken by post() and once per wakeup, never per request
  std::vector<std::function<void()>> posted_;
};

}  // namespace rampart::core
