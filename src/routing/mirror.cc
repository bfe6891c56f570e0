#include "routing/mirror.h"

namespace rampart::routing {

std::string_view mirrorResultName(MirrorResult result) {
  switch (result) {
    case MirrorResult::kMatch:
      return "match";
    case MirrorResult::kStatusMismatch:
      return "status_mismatch";
    case MirrorResult::kBodyMismatch:
      return "body_mismatch";
    case MirrorResult::kFailed:
      return "failed";
    case MirrorResult::kSkipped:
      return "skipped";
    case MirrorResult::kUnchecked:
      return "unchecked";
  }
  return "unchecked";
}

void BodyDigest::add(std::string_view bytes) {
  bytes_ += bytes.size();
  if (bytes_ > limit_) return;  // given up: no point hashing the rest
  uint64_t hash = hash_;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  hash_ = hash;
}

MirrorResult compareAnswers(const MirrorAnswer& primary, const MirrorAnswer& shadow) {
  if (primary.status != shadow.status) return MirrorResult::kStatusMismatch;
  if (primary.has_digest && shadow.has_digest && primary.digest != shadow.digest)
    return MirrorResult::kBodyMismatch;
  return MirrorResult::kMatch;
}

}  // namespace rampart::routing
