// A route's `retry:` and a cluster's `retry_budget:` and `circuit_breakers:`
// (see docs/upstreams.md), compiled into upstream::RetryPolicy and the
// cluster's ClusterSpec with every mistake reported at its file:line:col.
// Loading thread only.
#include <limits>

#include "config/sections.h"

namespace rampart::config::detail {

namespace {

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kMaxAttempts = 10;  // more would only hide an outage for longer
constexpr uint64_t kMaxBufferedBody = 64ull << 20;

void readRetryOn(yaml::Reader& reader, const YAML::Node& node, upstream::RetryPolicy* policy) {
  if (!reader.sequence(node, "on")) return;
  if (node.size() == 0) {
    reader.error(node,
                 "on: list at least one failure to retry (connect-failure, reset, "
                 "timeout or a status)");
    return;
  }
  // Only what is listed is retried: the defaults are replaced, not extended.
  policy->on_connect_failure = policy->on_reset = policy->on_timeout = false;
  policy->on_statuses.clear();
  for (const YAML::Node& item : node) {
    std::optional<std::string> text = reader.string(item, "on");
    if (!text) continue;
    if (*text == "connect-failure") {
      policy->on_connect_failure = true;
    } else if (*text == "reset") {
      policy->on_reset = true;
    } else if (*text == "timeout") {
      policy->on_timeout = true;
    } else if (std::optional<uint64_t> status = yaml::parseUnsigned(*text);
               status && *status >= 200 && *status <= 599) {
      policy->on_statuses.push_back(static_cast<uint16_t>(*status));
    } else {
      reader.error(item,
                   "on: expected connect-failure, reset, timeout or a status from 200 to "
                   "599, got " +
                       yaml::describe(item));
    }
  }
}

void readBackoff(yaml::Reader& reader, const YAML::Node& node, upstream::RetryPolicy* policy) {
  std::optional<yaml::Map> map = reader.map(node, "backoff", {"base", "max"});
  if (!map) return;
  reader.readDuration(*map, "base", &policy->backoff_base);
  reader.readDuration(*map, "max", &policy->backoff_max);
  if (policy->backoff_max < policy->backoff_base) {
    const YAML::Node* at = map->find("max");
    reader.error(at != nullptr ? reader.where(*at) : map->position(),
                 "backoff: max must not be below base");
  }
}

void readRetry(yaml::Reader& reader, const YAML::Node& node, upstream::RetryPolicy* policy) {
  std::optional<yaml::Map> map =
      reader.map(node, "retry",
                 {"attempts", "on", "per_try_timeout", "backoff", "honor_retry_after",
                  "max_retry_after", "idempotent", "max_buffered_body"});
  if (!map) return;
  // Writing `retry:` opts in: retry the usual transient failures unless `on` says otherwise.
  policy->max_attempts = 2;
  policy->on_connect_failure = true;
  policy->on_statuses = {502, 503, 504};
  reader.readInteger(*map, "attempts", 1, kMaxAttempts, &policy->max_attempts);
  if (const YAML::Node* on = map->find("on")) readRetryOn(reader, *on, policy);
  reader.readDuration(*map, "per_try_timeout", &policy->per_try_timeout);
  if (const YAML::Node* backoff = map->find("backoff")) readBackoff(reader, *backoff, policy);
  reader.readBool(*map, "honor_retry_after", &policy->honor_retry_after);
  reader.readDuration(*map, "max_retry_after", &policy->max_retry_after);
  reader.readBool(*map, "idempotent", &policy->idempotent);
  reader.readSize(*map, "max_buffered_body", 0, kMaxBufferedBody, &policy->max_buffered_body);
}

}  // namespace

void readRouteRetries(yaml::Reader& reader, const std::vector<RouteExtras>& routes,
                      std::vector<upstream::RetryPolicy>* out) {
  out->assign(routes.size(), upstream::RetryPolicy{});
  for (size_t i = 0; i < routes.size(); ++i) {
    if (routes[i].retry) readRetry(reader, *routes[i].retry, &(*out)[i]);
  }
}

void readClusterResilience(yaml::Reader& reader, const yaml::Map& map,
                           upstream::ClusterSpec* spec) {
  if (const YAML::Node* node = map.find("retry_budget")) {
    if (auto budget = reader.map(*node, "retry_budget", {"percent", "min_retries"})) {
      reader.readInteger(*budget, "percent", 0, 100, &spec->retry_budget_percent);
      reader.readInteger(*budget, "min_retries", 0, kMaxU32, &spec->retry_budget_min);
    }
  }
  const YAML::Node* node = map.find("circuit_breakers");
  if (node == nullptr) return;
  std::optional<yaml::Map> breakers = reader.map(
      *node, "circuit_breakers", {"max_connections", "max_pending", "max_requests", "max_retries"});
  if (!breakers) return;
  upstream::BreakerLimits& limits = spec->breakers;
  reader.readInteger(*breakers, "max_connections", 0, kMaxU32, &limits.max_connections);
  reader.readInteger(*breakers, "max_pending", 0, kMaxU32, &limits.max_pending);
  reader.readInteger(*breakers, "max_retries", 0, kMaxU32, &limits.max_retries);
  // The cluster's older `max_requests` key is the same breaker: one value.
  if (const YAML::Node* requests = breakers->find("max_requests")) {
    if (map.find("max_requests") != nullptr) {
      reader.error(*requests,
                   "circuit_breakers.max_requests: the cluster sets max_requests already (the "
                   "same limit); keep one");
      return;
    }
    reader.readInteger(*breakers, "max_requests", 0, kMaxU32, &spec->max_requests);
  }
}

}  // namespace rampart::config::detail
