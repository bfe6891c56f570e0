#include "shield/priority.h"

#include <algorithm>

namespace rampart::shield {

const char* requestClassName(RequestClass c) {
  switch (c) {
    case RequestClass::kAuthenticated:
      return "authenticated";
    case RequestClass::kAnonymous:
      return "anonymous";
    case RequestClass::kSuspicious:
      return "suspicious";
  }
  return "unknown";
}

OverloadShedder::OverloadShedder(const OverloadPolicy& policy) {
  setPolicy(policy);
}

void OverloadShedder::setPolicy(const OverloadPolicy& policy) {
  policy_ = policy;
  policy_.capacity = std::max<uint32_t>(policy_.capacity, 1);
  auto share = [](double v, double fallback) { return v >= 0 && v <= 1 ? v : fallback; };
  policy_.reserved_authenticated = share(policy_.reserved_authenticated, 0.2);
  policy_.suspicious_share = share(policy_.suspicious_share, 0.5);
  policy_.min_capacity_share = share(policy_.min_capacity_share, 0.1);
  if (policy_.min_capacity_share <= 0) policy_.min_capacity_share = 1e-9;
  policy_.lag_target = std::max<Nanos>(policy_.lag_target, 1);
  policy_.retry_after = std::max<Nanos>(policy_.retry_after, 0);
  observeLag(lag_);
}

void OverloadShedder::observeLag(Nanos lag) {
  lag_ = lag;
  double scale = 1;
  if (lag > policy_.lag_target) {
    scale = std::max(static_cast<double>(policy_.lag_target) / static_cast<double>(lag),
                     policy_.min_capacity_share);
  }
  const double capacity = static_cast<double>(policy_.capacity) * scale;
  const double anonymous = 1 - policy_.reserved_authenticated;
  // Rounded up so a class with a non-zero share is never shut out entirely
  // by rounding; the authenticated class always has at least one slot.
  auto slots = [](double v) { return static_cast<uint32_t>(v + 0.999999); };
  ceiling_[0] = std::max<uint32_t>(slots(capacity), 1);
  ceiling_[1] = std::min(slots(capacity * anonymous), ceiling_[0]);
  ceiling_[2] =
      std::min(slots(capacity * std::min(policy_.suspicious_share, anonymous)), ceiling_[1]);
}

}  // namespace rampart::shield
