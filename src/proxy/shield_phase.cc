#include "proxy/shield_phase.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "auth/authenticate.h"
#include "core/clock.h"
#include "proxy/overload_phase.h"
#include "shield/client_address.h"

namespace rampart::proxy {

namespace {

using shield::LimitKey;
using shield::RequestLimit;

void appendNumber(std::string& out, int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, end);
}

void appendRetryAfter(std::string& out, int64_t seconds) {
  out += "Retry-After: ";
  appendNumber(out, seconds < 1 ? 1 : seconds);
  out += "\r\n";
}

// The client the limits judge: the peer, or a trusted proxy's X-Forwarded-For.
void resolveClient(RequestContext& ctx) {
  shield::ClientAddressResolver resolver(*ctx.peer, ctx.snapshot->shield.trusted_proxies);
  if (!resolver.done()) {
    const std::vector<http::Header>& headers = ctx.head->headers;
    for (auto it = headers.rbegin(); it != headers.rend() && !resolver.done(); ++it) {
      if (http::equalsIgnoreCase(it->name, "x-forwarded-for")) resolver.feed(it->value);
    }
  }
  if (resolver.forwarded()) {
    ctx.forwarded_client = resolver.address();
    ctx.client = &ctx.forwarded_client;
  } else {
    ctx.client = ctx.peer;
  }
}

std::string_view headerValue(const http::RequestHead& head, std::string_view name) {
  for (const http::Header& header : head.headers) {
    if (http::equalsIgnoreCase(header.name, name)) return header.value;
  }
  return {};
}

// The API key that authenticated the request, or "" (another kind of credential, or none).
std::string_view apiKeyOf(const RequestContext& ctx) {
  const auth::Identity* identity = ctx.auth.identity.get();
  const auth::Provider* provider = ctx.auth.provider;
  if (identity == nullptr || provider == nullptr ||
      identity->kind != auth::CredentialKind::kApiKey) {
    return {};
  }
  bool ambiguous = false;
  auth::AuthInput input{ctx.head, ctx.target->query(), ctx.now};
  return auth::findCredential(provider->from, input, &ambiguous);
}

// The key of `limit` for this request; empty when the request lacks the value.
shield::Key keyFor(const RequestContext& ctx, const RequestLimit& limit) {
  const shield::WorkerShield& shield = *ctx.shield;
  const auth::Identity* identity = ctx.auth.identity.get();
  std::string_view value;
  switch (limit.key) {
    case LimitKey::kAddress:
    case LimitKey::kPrefix:
      return shield.addressKey(limit, *ctx.client);
    case LimitKey::kApiKey:
      value = apiKeyOf(ctx);
      break;
    case LimitKey::kPrincipal:
      if (identity != nullptr) value = identity->principal;
      break;
    case LimitKey::kAccount:
      if (identity != nullptr) value = identity->account;
      break;
    case LimitKey::kRoute:
      if (ctx.route != nullptr) value = ctx.route->name;
      if (value.empty()) value = "route";
      break;
    case LimitKey::kHeader:
      value = headerValue(*ctx.head, limit.header);
      break;
  }
  if (value.empty()) return shield::Key{};
  return shield.stringKey(limit, value);
}

// A refusal: escalation hears of it; a block it starts is shared with every
// instance through the store (docs/store.md), when there is one.
void noteRefusal(RequestContext& ctx) {
  const uint64_t before = ctx.shield->stats().escalations;
  ctx.shield->noteRefusal(*ctx.client, ctx.mono_nanos);
  if (ctx.store == nullptr || ctx.shield->stats().escalations == before) return;
  if (shield::Nanos until = ctx.shield->blockedUntil(*ctx.client, ctx.mono_nanos)) {
    ctx.store->publishBlock(*ctx.client, core::unixMillis() + (until - ctx.mono_nanos) / 1'000'000);
  }
}

// A refusal by `limit`: escalation hears of it, then 429 or drop.
Verdict refuse(RequestContext& ctx, Phase phase, const RequestLimit& limit,
               const shield::Decision& decision) {
  noteRefusal(ctx);
  noteOverloadRefusal(ctx);
  if (limit.action == shield::LimitAction::kDrop) return Verdict::drop(phase);
  std::string& headers = *ctx.reply_headers;
  headers.clear();
  appendRateLimitHeaders(headers, limit, decision);
  return Verdict::respond(phase, {429, "Too Many Requests", limit.detail, false, headers});
}

// "10.1.2.0/24": the client's prefix as every instance writes it.
std::string prefixText(const net::SocketAddress& client, const shield::PrefixLengths& lengths) {
  unsigned char bytes[16] = {};
  int family = client.family();
  size_t size = 4;
  int bits = lengths.v4;
  if (family == AF_INET) {
    std::memcpy(bytes, &reinterpret_cast<const sockaddr_in*>(client.sockaddrPtr())->sin_addr, 4);
  } else {
    std::memcpy(bytes, &reinterpret_cast<const sockaddr_in6*>(client.sockaddrPtr())->sin6_addr, 16);
    size = 16;
    bits = lengths.v6;
  }
  for (size_t i = 0; i < size; ++i) {
    const int keep = std::clamp(bits - static_cast<int>(i) * 8, 0, 8);
    bytes[i] &= static_cast<unsigned char>(0xff00 >> keep);
  }
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes, text, sizeof(text));
  return std::string(text) + "/" + std::to_string(bits);
}

// The value a global limit's Redis key is made of (only when a lease is
// asked for: an address is formatted, nothing else is copied).
std::string storeValueFor(const RequestContext& ctx, const RequestLimit& limit) {
  const auth::Identity* identity = ctx.auth.identity.get();
  switch (limit.key) {
    case LimitKey::kAddress:
      return ctx.client->ipString();
    case LimitKey::kPrefix:
      return prefixText(*ctx.client, limit.prefix);
    case LimitKey::kApiKey:
      return std::string(apiKeyOf(ctx));
    case LimitKey::kPrincipal:
      return identity != nullptr ? identity->principal : std::string();
    case LimitKey::kAccount:
      return identity != nullptr ? identity->account : std::string();
    case LimitKey::kRoute:
      return ctx.route != nullptr && !ctx.route->name.empty() ? ctx.route->name : "route";
    case LimitKey::kHeader:
      return std::string(headerValue(*ctx.head, limit.header));
  }
  return {};
}

// Global limits (scope: global), after the local ones passed: a leased
// token, the local share, or the store's failure mode. Never waits.
Verdict checkGlobalLimits(RequestContext& ctx, Phase phase, const RequestLimit* limits,
                          const shield::Key* keys, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (keys[i].empty()) continue;
    const RequestLimit& limit = limits[i];
    if (ctx.store == nullptr) continue;  // not reached: the config requires a store
    store::GlobalDecision decision =
        ctx.store->check(limit, keys[i], ctx.mono_nanos, [&ctx, &limit, store = ctx.store] {
          return store::globalLimitKey(store->client().settings().prefix, limit.store_id,
                                       storeValueFor(ctx, limit));
        });
    switch (decision.kind) {
      case store::GlobalDecision::Kind::kAllow:
        continue;
      case store::GlobalDecision::Kind::kDeny:
        return refuse(ctx, phase, limit, decision.decision);
      case store::GlobalDecision::Kind::kUnavailable: {
        std::string& headers = *ctx.reply_headers;
        headers.clear();
        appendRetryAfter(headers, 1);
        return Verdict::respond(
            phase, {503, "Service Unavailable", "rate limit store unavailable; retry later", false,
                    headers});
      }
    }
  }
  return Verdict::proceed();
}

Verdict checkLimits(RequestContext& ctx, Phase phase, const std::vector<RequestLimit>& limits) {
  if (limits.empty()) return Verdict::proceed();
  shield::Key keys[shield::kMaxLimitsPerScope];
  shield::Key global_keys[shield::kMaxLimitsPerScope];
  bool any_global = false;
  const size_t count = std::min(limits.size(), shield::kMaxLimitsPerScope);
  for (size_t i = 0; i < count; ++i) {
    keys[i] = keyFor(ctx, limits[i]);
    if (limits[i].global) {
      // Decided through the store below, not by the worker's table.
      global_keys[i] = keys[i];
      keys[i] = shield::Key{};
      any_global = true;
    }
  }
  shield::LimitOutcome outcome = ctx.shield->check(limits.data(), keys, count, ctx.mono_nanos);
  if (outcome.denied != nullptr) return refuse(ctx, phase, *outcome.denied, outcome.decision);
  if (!any_global) return Verdict::proceed();
  return checkGlobalLimits(ctx, phase, limits.data(), global_keys, count);
}

}  // namespace

void appendRateLimitHeaders(std::string& out, const shield::RequestLimit& limit,
                            const shield::Decision& decision) {
  const int64_t wait = decision.retryAfterSeconds();
  appendRetryAfter(out, wait);
  out += "RateLimit-Policy: ";
  out += limit.policy_item;
  out += "\r\nRateLimit: ";
  out += limit.quoted_name;  // the same name as the policy's item
  out += ";r=";
  appendNumber(out, decision.remaining);
  out += ";t=";
  appendNumber(out, wait < 1 ? 1 : wait);
  out += "\r\n";
}

Verdict shieldRequest(RequestContext& ctx) {
  if (ctx.shield == nullptr) {
    ctx.client = ctx.peer;
    return Verdict::proceed();
  }
  resolveClient(ctx);
  shield::WorkerShield& shield = *ctx.shield;
  if (shield.gateEnabled()) {
    if (ctx.client != ctx.peer && shield.denyListed(*ctx.client)) {
      return Verdict::respond(
          Phase::kShield, {403, "Forbidden", "requests from this address are not accepted", true});
    }
    // Blocked after the connection was accepted, or behind a trusted proxy.
    if (shield::Nanos until = shield.blockedUntil(*ctx.client, ctx.mono_nanos)) {
      ++shield.stats().blocked;
      noteOverloadRefusal(ctx);
      std::string& headers = *ctx.reply_headers;
      headers.clear();
      appendRetryAfter(headers, shield::Decision::ceilSeconds(until - ctx.mono_nanos));
      return Verdict::respond(
          Phase::kShield,
          {429, "Too Many Requests", "this client is temporarily blocked", true, headers});
    }
  }
  const auto& by_listener = ctx.snapshot->shield.listener_limits;
  if (ctx.listener >= by_listener.size()) return Verdict::proceed();
  return checkLimits(ctx, Phase::kShield, by_listener[ctx.listener]);
}

Verdict limitRequest(RequestContext& ctx) {
  if (ctx.shield == nullptr || ctx.route == nullptr) return Verdict::proceed();
  const auto& by_route = ctx.snapshot->shield.route_limits;
  if (ctx.route->index >= by_route.size()) return Verdict::proceed();
  return checkLimits(ctx, Phase::kLimit, by_route[ctx.route->index]);
}

bool authBudgetExhausted(RequestContext& ctx, Verdict* out) {
  if (ctx.shield == nullptr || ctx.client == nullptr) return false;
  shield::Decision decision;
  if (!ctx.shield->authBudgetExhausted(*ctx.client, ctx.mono_nanos, &decision)) return false;
  noteRefusal(ctx);
  noteOverloadRefusal(ctx);
  std::string& headers = *ctx.reply_headers;
  headers.clear();
  appendRetryAfter(headers, decision.retryAfterSeconds());
  *out = Verdict::respond(
      Phase::kAuthenticate,
      {429, "Too Many Requests", "too many failed credentials from this address", false, headers});
  return true;
}

Verdict signatureBudgetSpent(RequestContext& ctx, const shield::Decision& decision) {
  if (ctx.client != nullptr) noteRefusal(ctx);
  std::string& headers = *ctx.reply_headers;
  headers.clear();
  appendRetryAfter(headers, decision.retryAfterSeconds());
  return Verdict::respond(Phase::kAuthenticate, {503, "Service Unavailable",
                                                 "too many new credentials to verify right now; "
                                                 "retry later",
                                                 false, headers});
}

void noteAuthFailure(RequestContext& ctx) {
  if (ctx.shield == nullptr || ctx.client == nullptr) return;
  ctx.shield->noteAuthFailure(*ctx.client, ctx.mono_nanos);
}

}  // namespace rampart::proxy
