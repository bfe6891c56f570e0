#include "observe/stats.h"

#include <fmt/format.h>

namespace rampart::observe {

void WorkerStats::countStatus(uint16_t status) {
  switch (status / 100) {
    case 1:
      responses_1xx.inc();
      break;
    case 2:
      responses_2xx.inc();
      break;
    case 3:
      responses_3xx.inc();
      break;
    case 4:
      responses_4xx.inc();
      break;
    default:
      responses_5xx.inc();
      break;
  }
}

const std::vector<CounterField>& counterFields() {
  static const std::vector<CounterField> kFields = {
      {"connections_accepted", &WorkerStats::connections_accepted},
      {"connections_refused", &WorkerStats::connections_refused},
      {"requests", &WorkerStats::requests},
      {"responses_1xx", &WorkerStats::responses_1xx},
      {"responses_2xx", &WorkerStats::responses_2xx},
      {"responses_3xx", &WorkerStats::responses_3xx},
      {"responses_4xx", &WorkerStats::responses_4xx},
      {"responses_5xx", &WorkerStats::responses_5xx},
      {"local_replies", &WorkerStats::local_replies},
      {"bad_requests", &WorkerStats::bad_requests},
      {"upstream_connects", &WorkerStats::upstream_connects},
      {"upstream_reuses", &WorkerStats::upstream_reuses},
      {"upstream_connect_failures", &WorkerStats::upstream_connect_failures},
      {"upstream_timeouts", &WorkerStats::upstream_timeouts},
      {"upstream_resets", &WorkerStats::upstream_resets},
      {"upstream_bad_responses", &WorkerStats::upstream_bad_responses},
      {"upstream_overloaded", &WorkerStats::upstream_overloaded},
      {"auth_refused", &WorkerStats::auth_refused},
      {"policy_denied", &WorkerStats::policy_denied},
      {"shadow_would_allow", &WorkerStats::shadow_would_allow},
      {"shadow_would_deny", &WorkerStats::shadow_would_deny},
      {"shadow_logs_dropped", &WorkerStats::shadow_logs_dropped},
      {"shield_refused_at_accept", &WorkerStats::shield_refused_at_accept},
      {"shield_limited", &WorkerStats::shield_limited},
      {"shield_dropped", &WorkerStats::shield_dropped},
      {"signature_budget_refused", &WorkerStats::signature_budget_refused},
      {"kernel_drop_updates", &WorkerStats::kernel_drop_updates},
      {"kernel_drop_full", &WorkerStats::kernel_drop_full},
      {"proxy_headers", &WorkerStats::proxy_headers},
      {"proxy_header_refused", &WorkerStats::proxy_header_refused},
      {"access_log_dropped", &WorkerStats::access_log_dropped},
      {"bytes_received", &WorkerStats::bytes_in},
      {"bytes_sent", &WorkerStats::bytes_out},
      {"cutover_step_backs", &WorkerStats::cutover_step_backs},
      {"request_trailers_dropped", &WorkerStats::request_trailers_dropped},
      {"tls_handshakes", &WorkerStats::tls_handshakes},
      {"tls_resumptions", &WorkerStats::tls_resumptions},
      {"tls_handshake_failures", &WorkerStats::tls_handshake_failures},
      {"tls_handshakes_limited", &WorkerStats::tls_handshakes_limited},
      {"tls_client_certificates", &WorkerStats::tls_client_certificates},
      {"websocket_upgrades", &WorkerStats::websocket_upgrades},
      {"websocket_idle_closes", &WorkerStats::websocket_idle_closes},
      {"websocket_lifetime_closes", &WorkerStats::websocket_lifetime_closes},
      {"h2_connections", &WorkerStats::h2_connections},
      {"h2_streams", &WorkerStats::h2_streams},
      {"h2_stream_sessions", &WorkerStats::h2_stream_sessions},
      {"h2_refused_streams", &WorkerStats::h2_refused_streams},
      {"h2_rapid_resets", &WorkerStats::h2_rapid_resets},
      {"h2_header_overflows", &WorkerStats::h2_header_overflows},
      {"h2_continuation_floods", &WorkerStats::h2_continuation_floods},
      {"h2_control_floods", &WorkerStats::h2_control_floods},
      {"h2_protocol_errors", &WorkerStats::h2_protocol_errors},
  };
  return kFields;
}

uint64_t sumOf(const std::vector<const WorkerStats*>& shards, Counter WorkerStats::*member) {
  uint64_t sum = 0;
  for (const WorkerStats* shard : shards) sum += (shard->*member).get();
  return sum;
}

std::string summarize(const std::vector<const WorkerStats*>& shards) {
  std::string out;
  for (const CounterField& field : counterFields()) {
    out += fmt::format("{}={} ", field.name, sumOf(shards, field.member));
  }
  if (!out.empty()) out.pop_back();
  return out;
}

}  // namespace rampart::observe
