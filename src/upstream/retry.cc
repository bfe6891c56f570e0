#include "upstream/retry.h"

#include <algorithm>
#include <cstring>
#include <ctime>

namespace rampart::upstream {

bool retriableOutcome(const RetryPolicy& policy, AttemptOutcome outcome, uint16_t status) {
  switch (outcome) {
    case AttemptOutcome::kConnectFailure:
      return policy.on_connect_failure;
    case AttemptOutcome::kReset:
      return policy.on_reset;
    case AttemptOutcome::kTimeout:
      return policy.on_timeout;
    case AttemptOutcome::kResponse:
      return std::find(policy.on_statuses.begin(), policy.on_statuses.end(), status) !=
             policy.on_statuses.end();
  }
  return false;
}

bool idempotentMethod(std::string_view method) {
  // Methods are case-sensitive (RFC 9110 9.1): "get" is not GET.
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

std::chrono::milliseconds backoffDelay(const RetryPolicy& policy, uint32_t retry, uint64_t random) {
  const uint64_t base = static_cast<uint64_t>(std::max<int64_t>(policy.backoff_base.count(), 0));
  const uint64_t cap = static_cast<uint64_t>(std::max<int64_t>(policy.backoff_max.count(), 0));
  uint64_t ceiling = base;
  // Doubling stops at the cap: no overflow however many retries.
  for (uint32_t i = 1; i < retry && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  if (ceiling == 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(random % (ceiling + 1));
}

namespace {

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"), the form RFC 9110
// requires senders to use; the obsolete forms are read as absent.
int64_t parseImfFixdate(std::string_view s) {
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s.substr(25) != " GMT") return -1;
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto number = [&](size_t at, size_t n) -> int {
    std::string_view part = s.substr(at, n);
    if (!allDigits(part)) return -1;
    int value = 0;
    for (char c : part) value = value * 10 + (c - '0');
    return value;
  };
  int day = number(5, 2), year = number(12, 4), hour = number(17, 2), minute = number(20, 2),
      second = number(23, 2);
  if (s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':') return -1;
  int month = -1;
  for (int m = 0; m < 12; ++m) {
    if (s.substr(8, 3) == kMonths[m]) month = m;
  }
  if (day < 1 || day > 31 || year < 1970 || month < 0 || hour > 23 || minute > 59 || second > 60) {
    return -1;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

int64_t parseRetryAfterMs(std::string_view value, int64_t now_unix) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (allDigits(value)) {
    if (value.size() > 9) return -1;  // over ~30 years: not a real hint
    int64_t seconds = 0;
    for (char c : value) seconds = seconds * 10 + (c - '0');
    return seconds * 1000;
  }
  int64_t at = parseImfFixdate(value);
  if (at < 0) return -1;
  return std::max<int64_t>(at - now_unix, 0) * 1000;
}

bool RetryBudget::tryStartRetry(uint32_t active_requests) {
  // Relative to the requests on their first attempt: retry attempts then
  // run at most at budget x the rate of new requests, so the upstream sees
  // at most (1 + budget) x the client rate, however many attempts a policy allows.
  uint32_t first_attempts =
      active_requests > active_retries_ ? active_requests - active_retries_ : 0;
  double share = budget_percent_ / 100.0 * static_cast<double>(first_attempts);
  uint32_t allowed = std::max(min_retries_, static_cast<uint32_t>(share));
  if (active_retries_ >= allowed) {
    ++refused_;
    return false;
  }
  ++active_retries_;
  return true;
}

}  // namespace rampart::upstream
