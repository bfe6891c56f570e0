// The access log's pure parts (phase 10): which fields a line carries, how
// one request becomes one JSON line, which successes are sampled, and the
// per-worker ring the line travels in to the log thread
// (observe/access_log_writer.h). A worker formats into a slot of its own
// ring: no lock, no allocation, no syscall on the request path.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rampart::observe {

// Every field a line may carry, in the order they are written.
enum class AccessField : uint8_t {
  kTime,        // "time": RFC 3339 UTC with milliseconds
  kRequestId,   // "request_id"
  kClient,      // "client": the client address the shield judged
  kMethod,      // "method"
  kPath,        // "path": the canonical path (phase 2), never the raw target, no query
  kRoute,       // "route": the route's name; "" before routing
  kStatus,      // "status": 0 when no response was sent
  kBytesIn,     // "bytes_in": head and body bytes of the request
  kBytesOut,    // "bytes_out": bytes written to the client for this response
  kRampartUs,   // "rampart_us": total latency less upstream_us
  kUpstreamUs,  // "upstream_us": request sent upstream -> response head (or failure)
  kPrincipal,   // "principal": phase 5's verified identity; "" when anonymous
  kAccount,     // "account"
  kDecision,    // "decision": allow, deny, error, abort
  kCause,       // "cause": why a request was refused or failed; "" otherwise
  kTraceId,     // "trace_id": the W3C trace id sent upstream
  kCount,
};

// The JSON key of a field ("request_id"); nullopt for an unknown name.
std::string_view accessFieldName(AccessField field);
std::optional<AccessField> accessFieldByName(std::string_view name);

inline constexpr uint32_t kAllAccessFields = (1u << static_cast<uint32_t>(AccessField::kCount)) - 1;
inline constexpr uint32_t accessFieldBit(AccessField field) {
  return 1u << static_cast<uint32_t>(field);
}

// `access_log:` (config/access_log.cc). Read at start; a change needs a restart.
struct AccessLogSettings {
  bool enabled = false;
  std::string path;                    // a file (appended to), or "-" for stderr
  uint32_t fields = kAllAccessFields;  // bits of accessFieldBit
  double sample_success = 1.0;         // share of non-refused 1xx-3xx lines kept
  uint32_t buffer_lines = 1024;        // slots of each worker's ring (4 KB each)
};

// One request, as the session saw it at its end. Views live until the
// line is formatted (the same call).
struct AccessRecord {
  int64_t unix_millis = 0;
  std::string_view request_id;
  std::string_view client;
  std::string_view method;
  std::string_view path;
  std::string_view route;
  uint16_t status = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t rampart_us = 0;
  uint64_t upstream_us = 0;
  std::string_view principal;
  std::string_view account;
  std::string_view decision;
  std::string_view cause;  // empty: not refused, not failed
  std::string_view trace_id;
};

// The longest line formatAccessLine() writes, newline included: each string
// field is cut to a fixed budget of escaped bytes (a cut value ends in
// "..."), so a hostile path or principal can never overflow a ring slot.
inline constexpr size_t kMaxAccessLine = 4000;

// Writes one JSON object and a newline into `out` (at least kMaxAccessLine
// bytes); returns its length. Strings are escaped so that any input gives
// valid JSON: quote, backslash, control bytes, DEL and every byte >= 0x80
// as \u00XX (bytes are not assumed to be UTF-8).
size_t formatAccessLine(const AccessRecord& record, uint32_t fields, char* out);

// Refusals and errors are always logged: status >= 400, no status at all
// (dropped or aborted), or any cause. Others are kept when `random` (uniform
// over 64 bits) falls under the sampling share.
bool shouldLogAccess(const AccessRecord& record, double sample_success, uint64_t random);

// A single-producer, single-consumer ring of fixed slots: the worker
// formats straight into a free slot and publishes it; the log thread takes
// published slots in order. A full ring refuses the line (the caller counts
// the drop): a slow disk backs up into drops, never into a blocked worker.
class AccessRing {
 public:
  static constexpr size_t kSlotBytes = kMaxAccessLine;

  explicit AccessRing(size_t slots);
  AccessRing(const AccessRing&) = delete;
  AccessRing& operator=(const AccessRing&) = delete;

  // Producer. A slot to format into, or nullptr when the ring is full; then
  // publish(length) makes it visible to the consumer.
  char* reserve();
  void publish(size_t length);

  // Consumer. Calls sink(std::string_view line) for every published line,
  // oldest first, then frees their slots; returns how many it took.
  template <typename Sink>
  size_t drain(Sink&& sink) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    const uint64_t head = head_.load(std::memory_order_acquire);
    for (uint64_t i = tail; i != head; ++i) {
      const Slot& slot = slots_[i % capacity_];
      sink(std::string_view(slot.bytes, slot.length));
    }
    tail_.store(head, std::memory_order_release);
    return static_cast<size_t>(head - tail);
  }

  size_t capacity() const { return capacity_; }

 private:
  struct Slot {
    uint32_t length = 0;
    char bytes[kSlotBytes];
  };
  size_t capacity_;
  std::unique_ptr<Slot[]> slots_;
  // Each on its own cache line: the producer writes head_, the consumer tail_.
  alignas(64) std::atomic<uint64_t> head_{0};  // next slot the producer fills
  alignas(64) std::atomic<uint64_t> tail_{0};  // next slot the consumer reads
};

}  // namespace rampart::observe
