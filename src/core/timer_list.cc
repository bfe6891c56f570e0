#include "core/timer_list.h"

#include <algorithm>

namespace rampart::core {

Timer::~Timer() {
  TimerList::unlink(this);
}

void TimerList::append(Timer* timer, Millis now) {
  unlink(timer);
  timer->deadline_ = now + duration_;
  timer->list_ = this;
  timer->prev_ = tail_;
  timer->next_ = nullptr;
  if (tail_ != nullptr) {
    tail_->next_ = timer;
  } else {
    head_ = timer;
  }
  tail_ = timer;
}

void TimerList::unlink(Timer* timer) {
  TimerList* list = timer->list_;
  if (list == nullptr) return;
  if (timer->prev_ != nullptr) {
    timer->prev_->next_ = timer->next_;
  } else {
    list->head_ = timer->next_;
  }
  if (timer->next_ != nullptr) {
    timer->next_->prev_ = timer->prev_;
  } else {
    list->tail_ = timer->prev_;
  }
  timer->prev_ = timer->next_ = nullptr;
  timer->list_ = nullptr;
}

Timers::~Timers() {
  for (TimerList* list : lists_) {
    while (list->head() != nullptr) TimerList::unlink(list->head());
    delete list;
  }
}

TimerList* Timers::listFor(Millis duration) {
  for (TimerList* list : lists_) {
    if (list->duration() == duration) return list;
  }
  lists_.push_back(new TimerList(duration));
  return lists_.back();
}

void Timers::arm(Timer* timer, Millis duration, Millis now) {
  if (duration <= 0) {
    TimerList::unlink(timer);
    return;
  }
  listFor(duration)->append(timer, now);
}

int Timers::expire(Millis now) {
  int fired = 0;
  // By index: a callback that arms a timer with a duration not seen before
  // appends a list, and may reallocate lists_ under a range-for.
  for (size_t i = 0; i < lists_.size(); ++i) {
    TimerList* list = lists_[i];
    // A callback may arm or cancel other timers, including in this list:
    // re-read the head every time.
    while (Timer* head = list->head()) {
      if (head->deadline() > now) break;
      TimerList::unlink(head);
      head->onTimeout();
      ++fired;
    }
  }
  return fired;
}

int Timers::nextTimeout(Millis now) const {
  Millis best = -1;
  for (const TimerList* list : lists_) {
    if (const Timer* head = list->head()) {
      Millis wait = std::max<Millis>(0, head->deadline() - now);
      if (best < 0 || wait < best) best = wait;
    }
  }
  return static_cast<int>(best);
}

}  // namespace rampart::core
