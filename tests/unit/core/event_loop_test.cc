#include "core/event_loop.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace rampart::core {
namespace {

class CountingHandler : public EventHandler {
 public:
  explicit CountingHandler(EventLoop* loop) : loop_(loop) {}
  void onEvents(uint32_t events) override {
    if (events & EPOLLIN) {
      ++reads;
      loop_->stop();
    }
  }
  int reads = 0;

 private:
  EventLoop* loop_;
};

class StopTimer : public Timer {
 public:
  explicit StopTimer(EventLoop* loop) : loop_(loop) {}
  void onTimeout() override {
    fired = true;
    loop_->stop();
  }
  bool fired = false;

 private:
  EventLoop* loop_;
};

TEST(EventLoopTest, DispatchesReadableSocket) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  EventLoop loop;
  CountingHandler handler(&loop);
  ASSERT_TRUE(loop.addEdgeTriggered(fds[0], &handler));
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  loop.run();
  EXPECT_EQ(handler.reads, 1);
  close(fds[0]);
  close(fds[1]);
}

TEST(EventLoopTest, FiresTimers) {
  EventLoop loop;
  StopTimer timer(&loop);
  loop.arm(&timer, 5);
  loop.run();
  EXPECT_TRUE(timer.fired);
}

TEST(EventLoopTest, PostRunsOnTheLoopThread) {
  EventLoop loop;
  std::thread::id ran_on;
  std::thread loop_thread([&] { loop.run(); });
  loop.post([&] {
    ran_on = std::this_thread::get_id();
    loop.stop();
  });
  std::thread::id loop_id = loop_thread.get_id();
  loop_thread.join();
  EXPECT_EQ(ran_on, loop_id);
}

}  // namespace
}  // namespace rampart::core
