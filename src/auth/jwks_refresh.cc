#include "auth/jwks_refresh.h"

#include <spdlog/spdlog.h>

#include "auth/authenticate.h"
#include "auth/jwks.h"

namespace rampart::auth {

namespace {

// How often the thread looks at the early-refresh flags: bounds the delay
// between a rotated key's first token and the fetch that learns it.
constexpr std::chrono::milliseconds kTick{200};

std::string kidList(const KeySet& keys) {
  std::string out;
  for (const Key& key : keys.keys()) {
    if (!out.empty()) out += ",";
    out += key.kid.empty() ? "(no kid)" : key.kid;
  }
  return out;
}

}  // namespace

JwksRefresher::JwksRefresher(const std::vector<Provider>& providers) {
  for (const Provider& provider : providers) {
    for (const std::shared_ptr<JwksSource>& source : provider.jwks_sources) {
      Tracked tracked;
      tracked.provider = &provider;
      tracked.source = source.get();
      sources_.push_back(tracked);
    }
  }
}

JwksRefresher::~JwksRefresher() {
  stop();
}

void JwksRefresher::start() {
  if (sources_.empty()) return;
  Clock::time_point now = Clock::now();
  for (Tracked& tracked : sources_) refresh(tracked, now);
  thread_.start(kTick, [this] { pollOnce(Clock::now()); });
}

void JwksRefresher::stop() {
  thread_.stop();
}

void JwksRefresher::pollOnce(Clock::time_point now) {
  for (Tracked& tracked : sources_) {
    JwksSource& source = *tracked.source;
    bool due = now >= tracked.next_due;
    bool early = !due && source.refresh_wanted.load(std::memory_order_relaxed) &&
                 now - tracked.last_attempt >= source.min_refresh_interval;
    if (!due && !early) continue;
    if (early) source.early_refreshes.fetch_add(1, std::memory_order_relaxed);
    refresh(tracked, now);
  }
}

void JwksRefresher::refresh(Tracked& tracked, Clock::time_point now) {
  JwksSource& source = *tracked.source;
  source.refresh_wanted.store(false, std::memory_order_relaxed);
  tracked.last_attempt = now;
  source.fetches.fetch_add(1, std::memory_order_relaxed);
  http::FetchResult response = http::fetch(source.url, source.fetch_timeout, source.max_bytes);
  if (!response.ok) return onFailure(tracked, now, response.error);
  if (response.status != 200) {
    return onFailure(tracked, now, "status " + std::to_string(response.status));
  }
  JwksResult keys = parseJwks(response.body);
  if (!keys.ok()) return onFailure(tracked, now, "bad JWKS: " + keys.error);
  std::string kids = kidList(*keys.keys);
  tracked.provider->jwt->replaceKeys(source.issuer, keys.keys);
  tracked.provider->key_epoch->fetch_add(1, std::memory_order_release);
  if (!tracked.have_keys || kids != tracked.kids) {
    spdlog::info("jwks {}: issuer {} now has keys [{}]", source.url_text, source.issuer, kids);
  }
  tracked.have_keys = true;
  tracked.kids = std::move(kids);
  tracked.last_success = now;
  tracked.retry_delay = std::chrono::milliseconds(1000);
  tracked.next_due = now + source.refresh_interval;
}

void JwksRefresher::onFailure(Tracked& tracked, Clock::time_point now, const std::string& why) {
  JwksSource& source = *tracked.source;
  source.failures.fetch_add(1, std::memory_order_relaxed);
  // Retry sooner than the schedule, backing off, never faster than the
  // early-refresh bound.
  tracked.next_due = now + std::max(tracked.retry_delay, source.min_refresh_interval);
  tracked.retry_delay = std::min(tracked.retry_delay * 2, source.refresh_interval);
  if (tracked.have_keys && now - tracked.last_success >= source.stale_after) {
    tracked.provider->jwt->replaceKeys(source.issuer, makeKeySet({}));
    tracked.provider->key_epoch->fetch_add(1, std::memory_order_release);
    tracked.have_keys = false;
    tracked.kids.clear();
    spdlog::error(
        "jwks {}: {}; the keys of issuer {} are older than stale_after ({} s) and were dropped: "
        "its tokens are refused until the URL answers",
        source.url_text, why, source.issuer, source.stale_after.count() / 1000);
    return;
  }
  spdlog::warn("jwks {}: {}; {}", source.url_text, why,
               tracked.have_keys ? "keeping the last keys" : "issuer has no keys yet");
}

}  // namespace rampart::auth
