#include "store/client.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include "core/event_loop.h"
#include "core/log.h"
#include "store/connection.h"
#include "store/sentinel.h"
#include "store/slot.h"

namespace rampart::store {

// GCRA in Redis, the same arithmetic as grantLease() (lease.cc). The clock is
// Redis's (TIME), so instances' clocks never disagree about a TAT. The key
// lives until its TAT has passed plus a second: an idle key costs no memory.
const char* const kLeaseScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if tat > now + tolerance then tat = now + tolerance end
local free = math.floor((now + tolerance - tat) / interval)
local grant = math.min(want, free)
if grant <= 0 then
  local wait = tat + interval - tolerance - now
  if wait < 1 then wait = 1 end
  return {0, wait}
end
tat = tat + grant * interval
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
return {grant, 0}
)lua";

namespace {

std::string sha1Hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr);
  std::string out;
  char hex[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(hex, sizeof(hex), "%02x", digest[i]);
    out += hex;
  }
  return out;
}

int64_t unixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr core::Millis kTick = 10;
constexpr core::Millis kBackoffMin = 100;
constexpr core::Millis kBackoffMax = 2000;
constexpr core::Millis kSubscriberPing = 1000;
constexpr core::Millis kSlotRefresh = 5000;
constexpr int kMaxRedirects = 3;
// Sentinel mode: the sentinels are asked again this often even when nothing
// failed, in case a +switch-master message was missed.
constexpr core::Millis kSentinelRecheck = 5000;
const char* const kSwitchMasterChannel = "+switch-master";

}  // namespace

bool parseEvent(std::string_view payload, StoreEvent* out) {
  size_t first = payload.find(' ');
  if (first == std::string_view::npos) return false;
  std::string_view kind = payload.substr(0, first);
  std::string_view rest = payload.substr(first + 1);
  size_t second = rest.find(' ');
  if (second == std::string_view::npos || second == 0) return false;
  std::string_view subject = rest.substr(0, second);
  std::string_view until = rest.substr(second + 1);
  if (kind == "block") {
    out->kind = StoreEvent::Kind::kBlock;
  } else if (kind == "revoke") {
    out->kind = StoreEvent::Kind::kRevoke;
  } else {
    return false;
  }
  auto [end, ec] = std::from_chars(until.data(), until.data() + until.size(), out->until_unix_ms);
  if (ec != std::errc() || end != until.data() + until.size()) return false;
  out->subject = std::string(subject);
  return true;
}

std::string formatEvent(const StoreEvent& event) {
  return std::string(event.kind == StoreEvent::Kind::kBlock ? "block " : "revoke ") +
         event.subject + " " + std::to_string(event.until_unix_ms);
}

class StoreClient::Impl {
 public:
  Impl(const StoreSettings& settings, StoreStats& stats, EventSink sink)
      : settings_(settings),
        stats_(stats),
        sink_(std::move(sink)),
        script_sha_(sha1Hex(kLeaseScript)),
        ticker_(this),
        cursor_(settings.addresses.size()) {
    options_.timeout = settings.timeout.count();
    options_.username = settings.username;
    options_.password = settings.password;
    if (settings.tls.enabled) {
      tls_ = makeTlsContext(settings.tls);
      options_.tls = tls_;
      options_.server_name = settings.tls.server_name;
    }
    if (settings.mode == Mode::kCluster) slot_owner_.assign(kClusterSlots, std::string());
    // Sentinels are asked in the clear and without AUTH (docs/store.md); the
    // master they name is reached with the configured AUTH and TLS.
    sentinel_options_.timeout = settings.timeout.count();
  }

  ~Impl() {
    stop();
    if (tls_ != nullptr) SSL_CTX_free(tls_);
  }

  void start() {
    thread_ = std::thread([this] {
      loop_.arm(&ticker_, kTick);
      loop_.post([this] { tick(); });
      loop_.run();
      nodes_.clear();
      subscriber_.reset();
      sentinel_.reset();
      sentinel_subscriber_.reset();
    });
  }

  void stop() {
    if (!thread_.joinable()) return;
    loop_.stop();
    thread_.join();
  }

  core::EventLoop& loop() { return loop_; }

  // EVALSHA <sha> or EVAL <script>, then the lease script's key and arguments.
  static std::vector<std::string> leaseCommand(std::string verb, std::string script,
                                               const LeaseRequest& request) {
    return {std::move(verb),
            std::move(script),
            "1",
            request.key,
            std::to_string(request.interval_us),
            std::to_string(request.tolerance_us),
            std::to_string(request.want)};
  }

  void lease(const LeaseRequest& request, const std::function<void(const LeaseAnswer&)>& done) {
    command(request.key, leaseCommand("EVALSHA", script_sha_, request),
            [this, request, done](const Reply* reply) {
              if (reply != nullptr && reply->errorIs("NOSCRIPT")) {
                // A node that restarted or never saw the script: EVAL sends it once
                // and caches it there, so the next EVALSHA finds it.
                command(request.key, leaseCommand("EVAL", kLeaseScript, request),
                        [this, done](const Reply* again) { answerLease(again, done); });
                return;
              }
              answerLease(reply, done);
            });
  }

  void publish(const StoreEvent& event) {
    const std::string key =
        event.kind == StoreEvent::Kind::kBlock ? settings_.blocksKey() : settings_.revokedKey();
    command(key, {"ZADD", key, std::to_string(event.until_unix_ms), event.subject}, nullptr);
    // Ended blocks and revocations are trimmed by whoever publishes next.
    command(key, {"ZREMRANGEBYSCORE", key, "-inf", std::to_string(unixMillis())}, nullptr);
    command(settings_.channel(), {"PUBLISH", settings_.channel(), formatEvent(event)},
            [this](const Reply* reply) {
              if (reply != nullptr && !reply->isError()) {
                stats_.events_published.fetch_add(1, std::memory_order_relaxed);
              }
            });
  }

 private:
  class Ticker : public core::Timer {
   public:
    explicit Ticker(Impl* impl) : impl_(impl) {}

   protected:
    void onTimeout() override { impl_->tick(); }

   private:
    Impl* impl_;
  };

  struct Node {
    std::unique_ptr<Connection> connection;
    core::Millis retry_at = 0;  // while failed: no new connection before this
    core::Millis backoff = kBackoffMin;
  };

  void answerLease(const Reply* reply, const std::function<void(const LeaseAnswer&)>& done) {
    LeaseAnswer answer;
    int64_t granted = 0;
    if (reply != nullptr && reply->type == Reply::Type::kArray && reply->elements.size() == 2 &&
        reply->elements[0].asInteger(&granted) &&
        reply->elements[1].asInteger(&answer.retry_after_us)) {
      answer.ok = true;
      answer.granted = static_cast<uint32_t>(granted < 0 ? 0 : granted);
      stats_.leases.fetch_add(1, std::memory_order_relaxed);
    } else {
      if (reply != nullptr) {
        stats_.errors.fetch_add(1, std::memory_order_relaxed);
        logError("lease script: " + (reply->isError() ? reply->str : std::string("bad reply")));
      }
      stats_.lease_failures.fetch_add(1, std::memory_order_relaxed);
    }
    done(answer);
  }

  // Rate-limited to one line per second: a stuck store must not flood the log.
  void logError(const std::string& what) {
    const core::Millis now = loop_.now();
    if (now - last_error_log_ < 1000) return;
    last_error_log_ = now;
    spdlog::warn("store: {}", what);
  }

  const std::string& seedName() const { return settings_.address_texts.front(); }

  // The connection for `name` ("host:port"), created when missing; null while
  // the node is in its backoff after a failure.
  Connection* node(const std::string& name) {
    Node& n = nodes_[name];
    if (n.connection && !n.connection->failed()) return n.connection.get();
    if (n.connection) return nullptr;  // failed: removed by the next tick
    if (loop_.now() < n.retry_at) return nullptr;
    std::optional<net::SocketAddress> address = addressOf(name);
    if (!address) return nullptr;
    n.connection = std::make_unique<Connection>(loop_, *address, name, options_);
    Connection* c = n.connection.get();
    if (!c->start([this, name](const std::string& why) { connectionFailed(name, why); })) {
      connectionFailed(name, std::string("connect: ") + strerror(errno));
      return nullptr;  // the failed connection goes at the next tick
    }
    return c;
  }

  std::optional<net::SocketAddress> addressOf(const std::string& name) const {
    for (size_t i = 0; i < settings_.address_texts.size(); ++i) {
      if (settings_.address_texts[i] == name) return settings_.addresses[i];
    }
    return net::SocketAddress::parseNumeric(name);
  }

  void connectionFailed(const std::string& name, const std::string& why) {
    stats_.errors.fetch_add(1, std::memory_order_relaxed);
    Node& n = nodes_[name];
    n.retry_at = loop_.now() + n.backoff;
    n.backoff = std::min(n.backoff * 2, kBackoffMax);
    if (settings_.mode == Mode::kCluster) slots_stale_ = true;
    if (settings_.mode == Mode::kSentinel) {
      if (name != master_) {
        // A former master, or a candidate that failed its ROLE check: not the store.
        logError(name + ": " + why);
        return;
      }
      loseMaster(name + ": " + why);
      return;
    }
    markDown(name + ": " + why);
  }

  void markDown(const std::string& why) {
    if (!stats_.up.load(std::memory_order_relaxed)) {
      logError("redis still unavailable: " + why);
      return;
    }
    stats_.up.store(false, std::memory_order_relaxed);
    stats_.down_transitions.fetch_add(1, std::memory_order_relaxed);
    down_since_ = loop_.now();
    spdlog::warn(
        "store: redis unavailable ({}); global limits follow their on_store_error, shared blocks "
        "and revocations wait for it",
        why);
  }

  void markUp() {
    if (stats_.up.load(std::memory_order_relaxed)) return;
    stats_.up.store(true, std::memory_order_relaxed);
    if (ever_up_) {
      spdlog::info("store: redis available again after {} ms", loop_.now() - down_since_);
    } else {
      spdlog::info("store: connected to redis ({} mode, {})", modeName(),
                   settings_.mode == Mode::kSentinel
                       ? "master " + settings_.master_name + " at " + master_
                       : seedName());
    }
    ever_up_ = true;
  }

  using Callback = std::function<void(const Reply*)>;

  const char* modeName() const {
    switch (settings_.mode) {
      case Mode::kCluster:
        return "cluster";
      case Mode::kSentinel:
        return "sentinel";
      case Mode::kSingle:
        break;
    }
    return "single";
  }

  Connection* connectionFor(const std::string& key) {
    if (settings_.mode == Mode::kSingle) return node(seedName());
    if (settings_.mode == Mode::kSentinel) {
      // No master known: the command fails at once (the limits' on_store_error).
      return master_.empty() ? nullptr : node(master_);
    }
    const std::string& owner = slot_owner_[keySlot(key)];
    if (!owner.empty()) return node(owner);
    // No map yet (or that slot unknown): any seed, MOVED tells us the owner.
    for (const std::string& seed : settings_.address_texts) {
      if (Connection* c = node(seed)) return c;
    }
    return nullptr;
  }

  // Sends one command to the node owning `key`, following MOVED and ASK.
  void command(const std::string& key, std::vector<std::string> args, Callback done,
               int redirects = 0) {
    Connection* c = connectionFor(key);
    if (c == nullptr) {
      if (done) done(nullptr);
      return;
    }
    sendOn(c, key, std::move(args), std::move(done), redirects);
  }

  void sendOn(Connection* c, const std::string& key, std::vector<std::string> args, Callback done,
              int redirects) {
    std::vector<std::string_view> views(args.begin(), args.end());
    stats_.commands.fetch_add(1, std::memory_order_relaxed);
    c->send(views, [this, key, args = std::move(args), done = std::move(done), redirects,
                    c_name = c->name()](const Reply* reply) mutable {
      if (reply == nullptr) {
        if (done) done(nullptr);
        return;
      }
      markUp();
      Redirect redirect;
      if (settings_.mode == Mode::kCluster && parseRedirect(*reply, &redirect) &&
          redirects < kMaxRedirects) {
        stats_.redirects.fetch_add(1, std::memory_order_relaxed);
        if (!redirect.ask) {
          slot_owner_[redirect.slot] = redirect.address;
          slots_stale_ = true;  // one slot moved: probably more did
          command(key, std::move(args), std::move(done), redirects + 1);
          return;
        }
        Connection* target = node(redirect.address);
        if (target == nullptr) {
          if (done) done(nullptr);
          return;
        }
        stats_.commands.fetch_add(1, std::memory_order_relaxed);
        target->send({"ASKING"}, nullptr);
        sendOn(target, key, std::move(args), std::move(done), redirects + 1);
        return;
      }
      if (settings_.mode == Mode::kSentinel && reply->errorIs("READONLY") && c_name == master_) {
        // Demoted under us (a failover we have not heard of): ask the sentinels.
        loseMaster(c_name + " is read-only now");
      }
      if (reply->isError() && !reply->errorIs("NOSCRIPT")) {  // NOSCRIPT: the caller sends EVAL
        stats_.errors.fetch_add(1, std::memory_order_relaxed);
        logError(args.empty() ? reply->str : args[0] + ": " + reply->str);
      }
      if (done) done(reply);
    });
  }

  // CLUSTER SLOTS: [[start, end, [ip, port, id], replicas...], ...]
  void refreshSlots() {
    slots_stale_ = false;
    last_slot_refresh_ = loop_.now();
    Connection* c = nullptr;
    for (const std::string& seed : settings_.address_texts) {
      if ((c = node(seed)) != nullptr) break;
    }
    if (c == nullptr) {
      for (auto& [name, n] : nodes_) {
        if (n.connection && !n.connection->failed()) {
          c = n.connection.get();
          break;
        }
      }
    }
    if (c == nullptr) {
      slots_stale_ = true;
      return;
    }
    stats_.commands.fetch_add(1, std::memory_order_relaxed);
    c->send({"CLUSTER", "SLOTS"}, [this](const Reply* reply) {
      if (reply == nullptr || reply->type != Reply::Type::kArray) {
        slots_stale_ = true;
        return;
      }
      markUp();
      for (const Reply& range : reply->elements) {
        int64_t first = 0, last = 0, port = 0;
        if (range.elements.size() < 3 || !range.elements[0].asInteger(&first) ||
            !range.elements[1].asInteger(&last) || range.elements[2].elements.size() < 2 ||
            !range.elements[2].elements[1].asInteger(&port)) {
          continue;
        }
        std::string owner = range.elements[2].elements[0].str + ":" + std::to_string(port);
        for (int64_t slot = std::max<int64_t>(first, 0);
             slot <= std::min<int64_t>(last, kClusterSlots - 1); ++slot) {
          slot_owner_[slot] = owner;
        }
        // Connect now, not when the first lease for that master is due: a
        // key's first lease then costs one round trip, not a connect too.
        node(owner);
      }
    });
  }

  void subscribe() {
    if (loop_.now() < subscriber_retry_at_) return;
    // Any node will do (in a cluster PUBLISH reaches every node's
    // subscribers); after a failure the next seed is tried.
    // Sentinel mode: the master, where every instance publishes.
    if (settings_.mode == Mode::kSentinel && master_.empty()) return;
    const std::string name =
        settings_.mode == Mode::kSentinel
            ? master_
            : settings_.address_texts[subscriber_seed_ % settings_.address_texts.size()];
    std::optional<net::SocketAddress> address = addressOf(name);
    if (!address) return;
    subscriber_ = std::make_unique<Connection>(loop_, *address, name, options_);
    subscriber_->setPushHandler([this](const Reply& message) {
      if (message.elements.size() < 3) return;
      StoreEvent event;
      if (!parseEvent(message.elements[2].str, &event)) return;
      stats_.events_received.fetch_add(1, std::memory_order_relaxed);
      sink_(event);
    });
    auto failed = [this, name](const std::string& why) {
      subscriber_retry_at_ = loop_.now() + subscriber_backoff_;
      subscriber_backoff_ = std::min(subscriber_backoff_ * 2, kBackoffMax);
      ++subscriber_seed_;
      // One server: its subscriber failing is the server failing. In a
      // cluster, one node's trouble is not the store's: limits go on.
      if (settings_.mode == Mode::kSingle ||
          (settings_.mode == Mode::kSentinel && name == master_)) {
        markDown("subscriber: " + why);
      } else {
        logError("subscriber: " + why);
      }
    };
    if (!subscriber_->start(failed)) {
      failed(std::string("connect: ") + strerror(errno));
      return;  // the failed connection goes at the next tick
    }
    stats_.commands.fetch_add(1, std::memory_order_relaxed);
    subscriber_->send({"SUBSCRIBE", settings_.channel()}, [this](const Reply* reply) {
      if (reply == nullptr) return;
      subscriber_backoff_ = kBackoffMin;
      // Subscribed: from now on nothing is missed; what was published while
      // we were away is in the sorted sets.
      resync(settings_.blocksKey(), StoreEvent::Kind::kBlock);
      resync(settings_.revokedKey(), StoreEvent::Kind::kRevoke);
    });
    last_subscriber_ping_ = loop_.now();
  }

  void resync(const std::string& key, StoreEvent::Kind kind) {
    command(key, {"ZRANGEBYSCORE", key, std::to_string(unixMillis()), "+inf", "WITHSCORES"},
            [this, kind](const Reply* reply) {
              if (reply == nullptr || reply->type != Reply::Type::kArray) return;
              for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
                StoreEvent event;
                event.kind = kind;
                event.subject = reply->elements[i].str;
                double score = 0;
                const std::string& text = reply->elements[i + 1].str;
                auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), score);
                if (ec != std::errc()) continue;
                event.until_unix_ms = static_cast<int64_t>(score);
                sink_(event);
              }
            });
  }

  void tick() {
    const core::Millis now = loop_.now();
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      Node& n = it->second;
      if (n.connection) n.connection->expire(now);
      if (n.connection && n.connection->failed()) n.connection.reset();
      ++it;
    }
    if (subscriber_) {
      subscriber_->expire(now);
      if (subscriber_->failed()) {
        subscriber_.reset();
      } else if (subscriber_->connected() && now - last_subscriber_ping_ >= kSubscriberPing) {
        // A server that stopped answering is noticed within a second even
        // when nothing is published (the PING has the store timeout).
        last_subscriber_ping_ = now;
        stats_.commands.fetch_add(1, std::memory_order_relaxed);
        subscriber_->send({"PING"}, nullptr);
      }
    }
    if (settings_.mode == Mode::kSentinel) tickSentinel(now);
    if (!subscriber_) subscribe();
    if (settings_.mode == Mode::kCluster &&
        (slots_stale_ || now - last_slot_refresh_ >= kSlotRefresh) &&
        now - last_slot_refresh_ >= 100) {
      refreshSlots();
    }
    if (!stats_.up.load(std::memory_order_relaxed) && now - last_probe_ >= kBackoffMin) {
      // Down: a PING is the probe that brings the store back without a restart.
      last_probe_ = now;
      command(settings_.channel(), {"PING"}, nullptr);
    }
    for (auto& [name, n] : nodes_) {
      if (n.connection && n.connection->connected()) n.backoff = kBackoffMin;
    }
    loop_.arm(&ticker_, kTick);
  }

  // ---- Sentinel mode (docs/store.md, "Sentinel") ----
  // The sentinels are asked, one at a time in order, for the master's
  // address; the server they name must say it is a master (ROLE) before any
  // command goes to it. A lost connection, a READONLY reply or a
  // +switch-master message sends us back to the sentinels. Nothing here
  // blocks a request: while there is no master, commands fail at once.

  void tickSentinel(core::Millis now) {
    if (sentinel_) {
      sentinel_->expire(now);
      if (sentinel_->failed()) sentinel_.reset();
    }
    if (sentinel_subscriber_) {
      sentinel_subscriber_->expire(now);
      if (sentinel_subscriber_->failed()) sentinel_subscriber_.reset();
    }
    if (!sentinel_subscriber_ && now >= sentinel_subscriber_retry_at_) subscribeSentinel();
    if (discovering_) return;
    const bool due = master_.empty() || discover_now_ || now - last_discovery_ >= kSentinelRecheck;
    if (due && (discover_now_ || now >= discover_at_)) discover(now);
  }

  const std::string& sentinelName(size_t index) const {
    return settings_.address_texts[index % settings_.address_texts.size()];
  }

  void discover(core::Millis now) {
    discovering_ = true;
    discover_now_ = false;
    last_discovery_ = now;
    const size_t index = cursor_.current();
    if (sentinel_ && sentinel_index_ != index) sentinel_.reset();
    if (!sentinel_) {
      sentinel_index_ = index;
      sentinel_ = std::make_unique<Connection>(loop_, settings_.addresses[index],
                                               sentinelName(index), sentinel_options_);
      // A failure reaches the pending query's callback (null): that is where it is handled.
      if (!sentinel_->start([](const std::string&) {})) {
        discoveryFailed(std::string("connect: ") + strerror(errno));
        return;
      }
    }
    stats_.commands.fetch_add(1, std::memory_order_relaxed);
    sentinel_->send(
        {"SENTINEL", "get-master-addr-by-name", settings_.master_name}, [this](const Reply* reply) {
          std::string candidate;
          if (reply == nullptr) {
            discoveryFailed("no answer");
          } else if (!parseMasterAddress(*reply, &candidate)) {
            discoveryFailed(reply->isError() ? reply->str
                                             : "does not know master " + settings_.master_name);
          } else {
            checkRole(candidate);
          }
        });
  }

  void checkRole(const std::string& candidate) {
    Connection* c = node(candidate);
    if (c == nullptr) {
      discoveryFailed("names " + candidate + ", which is not reachable");
      return;
    }
    stats_.commands.fetch_add(1, std::memory_order_relaxed);
    c->send({"ROLE"}, [this, candidate](const Reply* reply) {
      if (reply != nullptr && parseRole(*reply) == Role::kMaster) {
        adoptMaster(candidate);
      } else {
        discoveryFailed("names " + candidate + ", which " +
                        (reply == nullptr ? "did not answer ROLE" : "is not a master"));
      }
    });
  }

  void discoveryFailed(const std::string& why) {
    discovering_ = false;
    stats_.errors.fetch_add(1, std::memory_order_relaxed);
    const std::string what = "sentinel " + sentinelName(cursor_.current()) + ": " + why;
    if (cursor_.failed()) {
      // A whole round without a master: back off before the next.
      discover_at_ = loop_.now() + discover_backoff_;
      discover_backoff_ = std::min(discover_backoff_ * 2, kBackoffMax);
    } else {
      discover_at_ = loop_.now();  // the next sentinel, at the next tick
    }
    if (master_.empty()) {
      markDown(what);
    } else {
      logError(what);  // the master we have still serves
    }
  }

  void adoptMaster(const std::string& address) {
    discovering_ = false;
    cursor_.succeeded();
    discover_backoff_ = kBackoffMin;
    if (address != master_) {
      spdlog::info("store: sentinel: master {} at {}{}", settings_.master_name, address,
                   master_.empty() ? "" : " (was " + master_ + ")");
      master_ = address;
      // The subscriber follows the master (instances publish there).
      subscriber_.reset();
      subscriber_retry_at_ = 0;
    }
    markUp();
  }

  // The master failed or was demoted: no commands until the sentinels name one.
  void loseMaster(const std::string& why) {
    markDown(why);
    master_.clear();
    discover_now_ = true;
  }

  // +switch-master on a sentinel: a failover ended; ask at once rather than
  // waiting for the old master's connection to fail.
  void subscribeSentinel() {
    const size_t index = sentinel_subscriber_index_ % settings_.addresses.size();
    sentinel_subscriber_ = std::make_unique<Connection>(loop_, settings_.addresses[index],
                                                        sentinelName(index), sentinel_options_);
    sentinel_subscriber_->setPushHandler([this](const Reply& message) {
      std::string address;
      if (message.elements.size() < 3 ||
          !parseSwitchMaster(message.elements[2].str, settings_.master_name, &address)) {
        return;
      }
      spdlog::info("store: sentinel: +switch-master {} to {}", settings_.master_name, address);
      if (address != master_) discover_now_ = true;
    });
    auto failed = [this](const std::string& why) {
      sentinel_subscriber_retry_at_ = loop_.now() + sentinel_subscriber_backoff_;
      sentinel_subscriber_backoff_ = std::min(sentinel_subscriber_backoff_ * 2, kBackoffMax);
      logError("sentinel subscriber " + sentinel_subscriber_->name() + ": " + why);
      ++sentinel_subscriber_index_;
    };
    if (!sentinel_subscriber_->start(failed)) {
      failed(std::string("connect: ") + strerror(errno));
      return;
    }
    stats_.commands.fetch_add(1, std::memory_order_relaxed);
    sentinel_subscriber_->send({"SUBSCRIBE", kSwitchMasterChannel}, [this](const Reply* reply) {
      if (reply != nullptr && !reply->isError()) sentinel_subscriber_backoff_ = kBackoffMin;
    });
  }

  // TLS to Redis: verify the server against the CA (or the system's), TLS 1.2
  // at least; a client certificate when configured. Errors are logged and
  // leave a context that fails every handshake (Redis stays down, visibly).
  static SSL_CTX* makeTlsContext(const StoreTls& tls) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) return nullptr;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    // Our write buffer may grow (and move) between a partial write and its retry.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    const bool ca_ok = tls.ca_file.empty()
                           ? SSL_CTX_set_default_verify_paths(ctx) == 1
                           : SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr) == 1;
    if (!ca_ok) spdlog::error("store: tls: cannot load CA {}", tls.ca_file);
    if (!tls.cert_file.empty() &&
        (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
      spdlog::error("store: tls: cannot load the client certificate {} and key {}", tls.cert_file,
                    tls.key_file);
    }
    return ctx;
  }

  const StoreSettings& settings_;
  StoreStats& stats_;
  SSL_CTX* tls_ = nullptr;
  EventSink sink_;
  std::string script_sha_;
  ConnectionOptions options_;
  core::EventLoop loop_;
  Ticker ticker_;
  std::thread thread_;
  std::map<std::string, Node> nodes_;
  std::unique_ptr<Connection> subscriber_;
  core::Millis subscriber_retry_at_ = 0;
  core::Millis subscriber_backoff_ = kBackoffMin;
  size_t subscriber_seed_ = 0;  // which seed the subscriber uses
  core::Millis last_subscriber_ping_ = 0;
  std::vector<std::string> slot_owner_;  // cluster: "host:port" by slot
  bool slots_stale_ = true;
  core::Millis last_slot_refresh_ = -kSlotRefresh;
  core::Millis last_probe_ = -kBackoffMin;
  core::Millis down_since_ = 0;
  core::Millis last_error_log_ = -1000;
  bool ever_up_ = false;
  // Sentinel mode.
  ConnectionOptions sentinel_options_;
  SentinelCursor cursor_;
  std::string master_;  // "ip:port" of the master that passed ROLE; empty: none
  bool discovering_ = false;
  bool discover_now_ = false;  // lost master or +switch-master: skip the backoff
  core::Millis discover_at_ = 0;
  core::Millis discover_backoff_ = kBackoffMin;
  core::Millis last_discovery_ = -kSentinelRecheck;
  std::unique_ptr<Connection> sentinel_;  // queries, to the sentinel at sentinel_index_
  size_t sentinel_index_ = 0;
  std::unique_ptr<Connection> sentinel_subscriber_;
  size_t sentinel_subscriber_index_ = 0;
  core::Millis sentinel_subscriber_retry_at_ = 0;
  core::Millis sentinel_subscriber_backoff_ = kBackoffMin;
};

StoreClient::StoreClient(const StoreSettings& settings, EventSink sink)
    : settings_(settings), impl_(std::make_unique<Impl>(settings_, stats_, std::move(sink))) {}

StoreClient::~StoreClient() {
  stop();
}

void StoreClient::start() {
  impl_->start();
}

void StoreClient::stop() {
  if (impl_) impl_->stop();
}

void StoreClient::lease(LeaseRequest request, std::function<void(const LeaseAnswer&)> done) {
  if (!up()) {
    // Known down: answer at once instead of queueing behind a dead socket.
    // The probe in the store thread's tick brings it back.
    stats_.lease_failures.fetch_add(1, std::memory_order_relaxed);
    done(LeaseAnswer{});
    return;
  }
  impl_->loop().post([impl = impl_.get(), request = std::move(request), done = std::move(done)] {
    impl->lease(request, done);
  });
}

void StoreClient::publish(StoreEvent event) {
  impl_->loop().post([impl = impl_.get(), event = std::move(event)] { impl->publish(event); });
}

}  // namespace rampart::store
