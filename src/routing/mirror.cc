#include "routing/mirror.h"

#include <simdjson.h>

#include <algorithm>

#include "http/message.h"

namespace rampart::routing {

std::string_view mirrorResultName(MirrorResult result) {
  switch (result) {
    case MirrorResult::kMatch:
      return "match";
    case MirrorResult::kStatusMismatch:
      return "status_mismatch";
    case MirrorResult::kHeaderMismatch:
      return "header_mismatch";
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

namespace {

constexpr uint64_t kFnvBasis = 14695981039346656037ull;

uint64_t fnv(uint64_t hash, std::string_view bytes) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

// splitmix64's finalizer: spreads a digest before it is summed with others.
uint64_t mix(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

// Type-tagged, members combined by a sum of mixed (key, value) digests so
// their order does not matter; arrays keep their order.
uint64_t digestOf(simdjson::dom::element value, const std::vector<std::string>& ignore) {
  switch (value.type()) {
    case simdjson::dom::element_type::OBJECT: {
      uint64_t sum = 0;
      for (simdjson::dom::key_value_pair member : simdjson::dom::object(value)) {
        if (std::find(ignore.begin(), ignore.end(), member.key) != ignore.end()) continue;
        sum += mix(fnv(fnv(kFnvBasis, member.key), "\x01") ^ digestOf(member.value, ignore));
      }
      return mix(sum ^ 0x6f);
    }
    case simdjson::dom::element_type::ARRAY: {
      uint64_t hash = fnv(kFnvBasis, "[");
      for (simdjson::dom::element item : simdjson::dom::array(value)) {
        hash = mix(hash ^ digestOf(item, ignore));
      }
      return hash;
    }
    case simdjson::dom::element_type::STRING:
      return fnv(fnv(kFnvBasis, "s"), std::string_view(value));
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE: {
      double number = 0;
      if (value.get_double().get(number) != simdjson::SUCCESS) return 0;
      std::string_view bytes(reinterpret_cast<const char*>(&number), sizeof number);
      return fnv(fnv(kFnvBasis, "n"), bytes);
    }
    case simdjson::dom::element_type::BOOL:
      return fnv(kFnvBasis, bool(value) ? "t" : "f");
    case simdjson::dom::element_type::NULL_VALUE:
      return fnv(kFnvBasis, "z");
  }
  return 0;
}

}  // namespace

uint64_t headersDigest(const std::vector<http::Header>& headers,
                       const std::vector<std::string>& names) {
  uint64_t hash = kFnvBasis;
  for (const std::string& name : names) {
    hash = fnv(hash, name);
    for (const http::Header& header : headers) {
      if (!http::equalsIgnoreCase(header.name, name)) continue;
      hash = fnv(fnv(hash, "="), header.value);
    }
    hash = fnv(hash, "\n");
  }
  return hash;
}

bool jsonDigest(std::string_view body, const std::vector<std::string>& ignore, uint64_t* out) {
  // One parser per thread: its buffers are reused by every comparison.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(body.data(), body.size()).get(document) != simdjson::SUCCESS) return false;
  *out = digestOf(document, ignore);
  return true;
}

void BodyDigest::add(std::string_view bytes) {
  bytes_ += bytes.size();
  if (bytes_ > limit_) {  // given up: no point hashing (or keeping) the rest
    if (keep_) std::string().swap(kept_);
    return;
  }
  if (keep_) kept_.append(bytes);
  uint64_t hash = hash_;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  hash_ = hash;
}

MirrorResult compareAnswers(const MirrorAnswer& primary, const MirrorAnswer& shadow) {
  if (primary.status != shadow.status) return MirrorResult::kStatusMismatch;
  if (primary.headers != shadow.headers) return MirrorResult::kHeaderMismatch;
  if (primary.has_json && shadow.has_json)
    return primary.json == shadow.json ? MirrorResult::kMatch : MirrorResult::kBodyMismatch;
  if (primary.has_digest && shadow.has_digest && primary.digest != shadow.digest)
    return MirrorResult::kBodyMismatch;
  return MirrorResult::kMatch;
}

}  // namespace rampart::routing
