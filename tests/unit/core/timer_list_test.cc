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

// Regression (found by the shield's slowloris test): a callback arming a
// timer with a duration never used before adds a list while expire() walks
// the lists; that must not invalidate the walk (it crashed with SIGBUS).
class ArmingTimer : public Timer {
 public:
  ArmingTimer(Timers* timers, std::vector<std::unique_ptr<RecordingTimer>>* targets, Millis now)
      : timers_(timers), targets_(targets), now_(now) {}
  void onTimeout() override {
    for (size_t i = 0; i < targets_->size(); ++i) {
      timers_->arm((*targets_)[i].get(), static_cast<Millis>(1000 + i), now_);
    }
  }

 private:
  Timers* timers_;
  std::vector<std::unique_ptr<RecordingTimer>>* targets_;
  Millis now_;
};

TEST(TimersTest, ACallbackMayArmTimersWithNewDurations) {
  Timers timers;
  std::vector<int> fired;
  std::vector<std::unique_ptr<RecordingTimer>> targets;
  for (int i = 0; i < 64; ++i) targets.push_back(std::make_unique<RecordingTimer>(&fired, i));
  ArmingTimer first(&timers, &targets, 10);
  RecordingTimer same_list(&fired, 100);
  RecordingTimer next_list(&fired, 200);  // a second list, walked after the callback
  timers.arm(&first, 10, 0);
  timers.arm(&same_list, 10, 0);
  timers.arm(&next_list, 5, 5);
  EXPECT_EQ(timers.expire(10), 3);  // 64 new lists appended mid-walk
  EXPECT_EQ(fired, (std::vector<int>{100, 200}));
  EXPECT_EQ(timers.expire(10 + 1000 + 63), 64);
  EXPECT_EQ(fired.size(), 66u);
}

}  // namespace
}  // namespace rampart::core
