#include "proxy/h2_guard.h"

namespace rampart::proxy {

H2FloodGuard::Verdict H2FloodGuard::note(Frame frame, int64_t now_ms) {
  // A fixed window, not a sliding one: one compare per frame, and a client
  // sending at twice the cap is caught within two windows either way.
  if (!started_ || now_ms - window_start_ >= limits_.window_ms) {
    started_ = true;
    window_start_ = now_ms;
    resets_ = settings_ = pings_ = empty_data_ = 0;
  }
  switch (frame) {
    case Frame::kReset:
      return ++resets_ > limits_.max_resets ? Verdict::kRapidReset : Verdict::kAllow;
    case Frame::kSettings:
      return ++settings_ > limits_.max_settings ? Verdict::kControlFlood : Verdict::kAllow;
    case Frame::kPing:
      return ++pings_ > limits_.max_pings ? Verdict::kControlFlood : Verdict::kAllow;
    case Frame::kEmptyData:
      return ++empty_data_ > limits_.max_empty_data ? Verdict::kControlFlood : Verdict::kAllow;
  }
  return Verdict::kAllow;
}

}  // namespace rampart::proxy
