#include "core/timer_list.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace rampart::core {
namespace {

class RecordingTimer : public Timer {
 public:
  RecordingTimer(std::vector<int>* log, int id) : log_(log), id_(id) {}
  void onTimeout() override { log_->push_back(id_); }

 private:
  std::vector<int>* log_;
  int id_;
};

TEST(TimersTest, FiresInDeadlineOrderAcrossLists) {
  std::vector<int> fired;
  Timers timers;
  RecordingTimer a(&fired, 1), b(&fired, 2), c(&fired, 3);
  timers.arm(&a, 100, 0);
  timers.arm(&b, 50, 0);
  timers.arm(&c, 100, 10);
  EXPECT_EQ(timers.nextTimeout(0), 50);
  EXPECT_EQ(timers.expire(49), 0);
  EXPECT_EQ(timers.expire(50), 1);
  EXPECT_EQ(fired, std::vector<int>({2}));
  EXPECT_EQ(timers.expire(105), 1);
  EXPECT_EQ(timers.expire(110), 1);
  EXPECT_EQ(fired, std::vector<int>({2, 1, 3}));
  EXPECT_EQ(timers.nextTimeout(110), -1);
}

TEST(TimersTest, RearmMovesToTheBackAndCancelRemoves) {
  std::vector<int> fired;
  Timers timers;
  RecordingTimer a(&fired, 1), b(&fired, 2);
  timers.arm(&a, 100, 0);
  timers.arm(&b, 100, 0);
  timers.arm(&a, 100, 50);  // re-armed: now due at 150
  EXPECT_EQ(timers.expire(100), 1);
  EXPECT_EQ(fired, std::vector<int>({2}));
  timers.cancel(&a);
  EXPECT_FALSE(a.armed());
  EXPECT_EQ(timers.expire(1000), 0);
}

TEST(TimersTest, ZeroDurationCancels) {
  std::vector<int> fired;
  Timers timers;
  RecordingTimer a(&fired, 1);
  timers.arm(&a, 10, 0);
  timers.arm(&a, 0, 0);
  EXPECT_FALSE(a.armed());
  EXPECT_EQ(timers.expire(100), 0);
}

TEST(TimersTest, DestroyedTimerUnlinksItself) {
  std::vector<int> fired;
  Timers timers;
  {
    RecordingTimer a(&fired, 1);
    timers.arm(&a, 10, 0);
  }
  EXPECT_EQ(timers.expire(100), 0);
  EXPECT_TRUE(fired.empty());
}

// Regression (found by `rampart drill --slowloris` against a 500 ms
// head_timeout): a timeout callback that arms a timer with a duration no list
// has yet appends a list while expire() walks them; a range-for over the
// reallocated vector crashed the worker.
class ArmingTimer : public Timer {
 public:
  ArmingTimer(Timers* timers, std::vector<Timer*> others, int* fired)
      : timers_(timers), others_(std::move(others)), fired_(fired) {}
  void onTimeout() override {
    ++*fired_;
    Millis duration = 1000;
    // One new list each, every one already due: expire() must visit them too.
    for (Timer* other : others_) timers_->arm(other, duration++, -5000);
  }

 private:
  Timers* timers_;
  std::vector<Timer*> others_;
  int* fired_;
};

TEST(TimersTest, CallbackMayArmNewDurationsWhileExpiring) {
  std::vector<int> log;
  std::vector<std::unique_ptr<RecordingTimer>> others;
  std::vector<Timer*> pointers;
  for (int i = 0; i < 64; ++i) {
    others.push_back(std::make_unique<RecordingTimer>(&log, i));
    pointers.push_back(others.back().get());
  }
  Timers timers;
  int fired = 0;
  ArmingTimer first(&timers, pointers, &fired);
  timers.arm(&first, 10, 0);
  EXPECT_EQ(timers.expire(10), 65);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(log.size(), 64u);
  EXPECT_EQ(timers.nextTimeout(10), -1);
}

}  // namespace
}  // namespace rampart::core
