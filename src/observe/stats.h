// Per-worker counters. Each worker writes only its own shard (plain relaxed
// stores, no atomic read-modify-write, no lock); readers on other threads sum
// the shards when asked (merge on read).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace rampart::observe {

// A counter written by one thread and read by any.
class Counter {
 public:
  void inc(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Every counter of one worker, declared in one place.
struct WorkerStats {
  Counter connections_accepted;
  Counter connections_refused;  // over max_connections, closed before reading
  Counter requests;
  Counter responses_1xx, responses_2xx, responses_3xx, responses_4xx, responses_5xx;
  Counter local_replies;  // responses Rampart made itself
  Counter bad_requests;   // refused by the strict parser or canonicalization
  Counter upstream_connects;
  Counter upstream_reuses;  // requests sent on a pooled connection
  Counter upstream_connect_failures;
  Counter upstream_timeouts;
  Counter upstream_resets;  // closed or reset before the response completed
  Counter upstream_bad_responses;
  Counter upstream_overloaded;  // over a cluster's max_requests
  Counter auth_refused;         // 401 and 403 from phase 5
  Counter policy_denied;        // 403 from phase 6
  Counter shadow_would_allow;   // the shadow policy allows what the enforced one denied
  Counter shadow_would_deny;    // the shadow policy denies what the enforced one allowed
  Counter shadow_logs_dropped;  // disagreements over the log rate, counted but not logged
  Counter bytes_in;             // from clients
  Counter bytes_out;            // to clients

  // The shield (docs/shield.md).
  Counter shield_refused_at_accept;  // deny-listed, blocked or over a per-address cap
  Counter shield_limited;            // 429 from the shield (limits, blocks, auth failures)
  Counter shield_dropped;            // closed without a response by a limit's `action: drop`
  Counter signature_budget_refused;  // 503: a new token over the worker's signature budget
  Counter kernel_drop_updates;       // drop filters compiled and attached (shield/kernel_drop.h)
  Counter kernel_drop_full;          // compiles that left ranges out (refused at accept only)

  // The PROXY protocol (listeners with proxy_protocol: true).
  Counter proxy_headers;         // headers taken from trusted proxies
  Counter proxy_header_refused;  // closed: malformed, late, missing, or from an untrusted peer
  Counter cutover_step_backs;    // weighted routes stepped back from a failing cluster (cutover)
  Counter request_trailers_dropped;  // chunked requests whose trailer fields were not forwarded

  // TLS listeners (docs/tls.md).
  Counter tls_handshakes;           // completed, full or resumed
  Counter tls_resumptions;          // completed by a session ticket (no key exchange signature)
  Counter tls_handshake_failures;   // refused or abandoned mid-handshake
  Counter tls_handshakes_limited;   // refused at accept: the address's handshake rate
  Counter tls_client_certificates;  // handshakes with a verified client certificate

  // WebSocket tunnels (docs/websocket.md).
  Counter websocket_upgrades;         // 101s relayed: tunnels opened
  Counter websocket_idle_closes;      // closed after idle_timeout without a byte
  Counter websocket_lifetime_closes;  // closed at max_lifetime

  // HTTP/2 (docs/http2.md).
  Counter h2_connections;          // connections served as HTTP/2 (ALPN h2 or prior knowledge)
  Counter h2_streams;              // streams that became requests
  Counter h2_stream_sessions;      // Sessions started for them (the others reused a parked one)
  Counter h2_refused_streams;      // RST_STREAM(REFUSED_STREAM): over max_concurrent_streams
  Counter h2_rapid_resets;         // connections cut off for cancelling streams too fast
  Counter h2_header_overflows;     // streams refused: decoded header block over the head limit
  Counter h2_continuation_floods;  // connections cut off for too many CONTINUATION frames
  Counter h2_control_floods;       // connections cut off for SETTINGS/PING/empty DATA floods
  Counter h2_protocol_errors;      // connections ended by another HTTP/2 protocol error

  // The access log (observe/access_log.h): lines refused by a full ring.
  Counter access_log_dropped;

  void countStatus(uint16_t status);
};

// Every counter of WorkerStats with its name: the one list that the
// shutdown line, /stats and /metrics all read (a counter missing here is
// reported nowhere).
struct CounterField {
  const char* name;
  Counter WorkerStats::*member;
};
const std::vector<CounterField>& counterFields();

// One counter summed over the shards.
uint64_t sumOf(const std::vector<const WorkerStats*>& shards, Counter WorkerStats::*member);

// Sums the shards into "name value" lines (used at shutdown and by tests).
std::string summarize(const std::vector<const WorkerStats*>& shards);

}  // namespace rampart::observe
