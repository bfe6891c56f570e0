// Request mirroring on a route (`mirror:`, docs/cutover.md): which share of
// requests is copied to a shadow cluster, and what comparing the shadow's
// answer with the primary's concluded. Pure: no I/O, no clock; the
// connection side is proxy/mirror.h. A Mirror is built once per config
// snapshot and shared by every worker: its result counts are process-wide
// relaxed atomics, added once per mirrored request.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace rampart::routing {

struct MirrorSpec {
  uint32_t cluster_index = 0;  // into Snapshot::clusters
  std::string cluster_name;
  uint32_t points = 0;  // share of requests mirrored, in 1/100 of a percent (0..10000)
  bool diff = false;    // compare the shadow's answer with the primary's
  uint64_t max_body_bytes =
      64 * 1024;              // request bodies copied, response bodies digested, up to this
  uint32_t max_active = 32;   // mirrors in flight per worker; over it, skipped
  int64_t timeout_ms = 5000;  // the whole mirrored exchange
  // Response headers compared too (lowercase names; a missing header is
  // the empty value). Empty: none.
  std::vector<std::string> compare_headers;
  // Object members left out when both bodies are JSON (at any depth: a
  // timestamp, a generated id). Empty: bodies compare byte for byte.
  std::vector<std::string> ignore_json_fields;
};

enum class MirrorResult : uint8_t {
  kMatch,           // same status (and same body digest where both were taken)
  kStatusMismatch,  // the statuses differ
  kHeaderMismatch,  // same status, a compared header differs
  kBodyMismatch,    // same status and headers, different body digests
  kFailed,          // the shadow gave no complete answer (connect, reset, timeout, bad response)
  kSkipped,         // not mirrored: body not fully buffered or over the limit, max_active, breaker
  kUnchecked,       // the shadow answered; not compared (diff off, or the primary did not complete)
};
inline constexpr size_t kMirrorResultCount = 7;
std::string_view mirrorResultName(MirrorResult result);

// A body digest taken as bytes stream past: FNV-1a 64 over the payload (not
// the framing), given up once more than `limit` bytes came. A difference
// detector, not a cryptographic hash.
class BodyDigest {
 public:
  // `keep`: the bytes are kept too (up to the limit), for a JSON digest.
  explicit BodyDigest(uint64_t limit = 64 * 1024, bool keep = false) : limit_(limit), keep_(keep) {}
  void add(std::string_view bytes);
  uint64_t bytes() const { return bytes_; }
  bool valid() const { return bytes_ <= limit_; }
  uint64_t value() const { return hash_; }
  const std::string& kept() const { return kept_; }

 private:
  uint64_t limit_;
  bool keep_;
  uint64_t bytes_ = 0;
  uint64_t hash_ = 14695981039346656037ull;
  std::string kept_;
};

// The digest of the values of `names` (lowercase) among `headers`, in the
// order of `names`: the same for the same values whatever their case or order.
uint64_t headersDigest(const std::vector<http::Header>& headers,
                       const std::vector<std::string>& names);

// A digest of a JSON document that leaves out the object members named in
// `ignore` (at any depth) and does not depend on member order or
// whitespace; false when `body` is not JSON.
bool jsonDigest(std::string_view body, const std::vector<std::string>& ignore, uint64_t* out);

// One side's answer as far as the comparison goes.
struct MirrorAnswer {
  uint16_t status = 0;
  bool has_digest = false;  // the whole body was digested (under the limit)
  uint64_t digest = 0;
  uint64_t headers = 0;   // headersDigest of the compared headers (0 with none)
  bool has_json = false;  // the body parsed as JSON (only with ignore_json_fields)
  uint64_t json = 0;      // its jsonDigest
};

// Status first; then the compared headers; then the bodies: their JSON
// digests when both are JSON, else their byte digests when both have one.
MirrorResult compareAnswers(const MirrorAnswer& primary, const MirrorAnswer& shadow);

class Mirror {
 public:
  explicit Mirror(MirrorSpec spec) : spec_(std::move(spec)) {}
  const MirrorSpec& spec() const { return spec_; }

  // Whether a request whose random draw is `draw` (uniform in [0, 10000)) is mirrored.
  bool sampled(uint32_t draw) const { return draw < spec_.points; }

  void count(MirrorResult result) const {
    counts_[static_cast<size_t>(result)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t counted(MirrorResult result) const {
    return counts_[static_cast<size_t>(result)].load(std::memory_order_relaxed);
  }

 private:
  MirrorSpec spec_;
  mutable std::array<std::atomic<uint64_t>, kMirrorResultCount> counts_{};
};

}  // namespace rampart::routing
