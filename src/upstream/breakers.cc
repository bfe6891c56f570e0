#include "upstream/breakers.h"

namespace rampart::upstream {

std::string_view breakerName(Breaker breaker) {
  switch (breaker) {
    case Breaker::kNone:
      return "none";
    case Breaker::kConnections:
      return "max_connections";
    case Breaker::kPending:
      return "max_pending";
    case Breaker::kRequests:
      return "max_requests";
    case Breaker::kRetries:
      return "max_retries";
  }
  return "none";
}

uint32_t ClusterBreakers::limitOf(Breaker breaker) const {
  switch (breaker) {
    case Breaker::kConnections:
      return limits_.max_connections;
    case Breaker::kPending:
      return limits_.max_pending;
    case Breaker::kRequests:
      return limits_.max_requests;
    case Breaker::kRetries:
      return limits_.max_retries;
    case Breaker::kNone:
      break;
  }
  return 0;
}

bool ClusterBreakers::open(Breaker breaker) const {
  uint32_t limit = limitOf(breaker);
  return limit != 0 && active_[index(breaker)] >= limit;
}

Breaker ClusterBreakers::admit(Breaker breaker, uint32_t limit) {
  uint32_t& count = active_[index(breaker)];
  if (limit != 0 && count >= limit) {
    trips_[index(breaker)].inc();
    return breaker;
  }
  ++count;
  return Breaker::kNone;
}

}  // namespace rampart::upstream
