#include "shield/handshake_limiter.h"

namespace rampart::shield {

void HandshakeLimiter::setLimits(const std::vector<std::optional<Limit>>& limits) {
  limits_.clear();
  for (const std::optional<Limit>& limit : limits) {
    if (limit) {
      limits_.emplace_back(Gcra(*limit));
      if (table_ == nullptr) table_ = std::make_unique<KeyedTable<int64_t>>(capacity_);
    } else {
      limits_.emplace_back(std::nullopt);
    }
  }
}

bool HandshakeLimiter::admit(uint32_t listener, const net::SocketAddress& peer, Nanos now) {
  if (!limited(listener)) return true;
  // The namespace keeps two TLS listeners' budgets apart.
  const Key key = keys_.address(0x746c7300u + listener, peer);
  int64_t& tat = table_->findOrInsert(
      key, [now](const int64_t& t) { return t <= now ? Retention::kIdle : Retention::kNormal; });
  return limits_[listener]->check(tat, now).allowed();
}

}  // namespace rampart::shield
