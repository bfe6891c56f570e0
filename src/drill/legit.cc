// The legitimate clients: each a few keep-alive connections (as a browser
// keeps several) from its own source address, sending on an open-loop
// schedule (all clients interleaved on one pacer), latency measured from the
// scheduled send time.
#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <random>

#include "auth/base64url.h"
#include "core/log.h"
#include "drill/engine.h"

namespace rampart::drill {

net::SocketAddress sourceAddress(uint32_t base, uint64_t k) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(static_cast<uint32_t>(base + k));
  return net::SocketAddress(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
}

std::string buildRequest(const std::string& path, const std::string& host,
                         const std::vector<std::string>& extra) {
  std::string out = std::string("GET ") + path + " HTTP/1.1\r\nHost: " + host +
                    "\r\nUser-Agent: rampart-drill\r\n";
  for (const std::string& line : extra) out += line + "\r\n";
  out += "\r\n";
  return out;
}

std::string bogusJwt(const Plan& plan, uint64_t seed) {
  std::mt19937_64 random(seed);
  auto hex = [&random](int bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < bytes; ++i) {
      unsigned v = static_cast<unsigned>(random() & 0xff);
      s += kDigits[v >> 4];
      s += kDigits[v & 15];
    }
    return s;
  };
  std::string kid = plan.bogus_kid.empty() ? "drill-" + hex(4) : plan.bogus_kid;
  std::string header =
      std::string(R"({"alg":")") + plan.bogus_alg + R"(","typ":"JWT","kid":")" + kid + R"("})";
  int64_t now = core::unixSeconds();
  std::string claims = std::string(R"({"iss":")") + plan.bogus_issuer + R"(","aud":")" +
                       plan.bogus_audience + R"(","sub":"drill-)" + hex(8) + R"(","iat":)" +
                       std::to_string(now) + R"(,"exp":)" + std::to_string(now + 3600) + "}";
  std::string signature(plan.bogus_alg.rfind("ES384", 0) == 0 ? 96
                        : plan.bogus_alg.rfind("RS", 0) == 0 || plan.bogus_alg.rfind("PS", 0) == 0
                            ? 256
                            : 64,
                        '\0');
  for (char& c : signature) c = static_cast<char>(random() & 0xff);
  return auth::encodeBase64Url(header) + "." + auth::encodeBase64Url(claims) + "." +
         auth::encodeBase64Url(signature);
}

// ------------------------------------------------------------ one client

class LegitSide::Client : public ConnOwner {
 public:
  static constexpr size_t kMaxQueued = 4096;

  Client(LegitSide* side, std::string request, std::optional<net::SocketAddress> source)
      : side_(side), request_(std::move(request)), source_(source), queue_(kMaxQueued) {
    for (int i = 0; i < side->plan_.legit_connections; ++i) {
      slots_.push_back(
          {std::make_unique<Conn>(side->loop_, this, 4096, side->plan_.timeout_ns / 1000000), 0,
           false});
    }
  }

  void permit(int64_t scheduled_ns) {
    LegitPhase* phase = side_->phaseOf(scheduled_ns);
    if (phase != nullptr) ++phase->scheduled;
    if (size_ == kMaxQueued) {
      // The target is so far behind that this send could only be late: a failure.
      if (phase != nullptr) ++phase->unfinished;
      return;
    }
    queue_[(head_ + size_) % kMaxQueued] = scheduled_ns;
    ++size_;
    ++side_->outstanding_;
    pump();
  }

  void onConnected(Conn*) override { pump(); }

  void onResponse(Conn* conn, uint16_t status) override {
    Slot& slot = slotOf(conn);
    if (!slot.busy) return;
    slot.busy = false;
    int64_t latency = std::max<int64_t>(nowNs() - slot.scheduled, 0);
    if (LegitPhase* phase = side_->phaseOf(slot.scheduled)) {
      phase->status.count(status);
      phase->all_latency.record(static_cast<uint64_t>(latency));
      if (status >= 200 && status < 300) {
        phase->latency.record(static_cast<uint64_t>(latency));
        side_->report_->timeline.record(slot.scheduled - side_->schedule_.baseline_start,
                                        static_cast<uint64_t>(latency));
      }
    }
    side_->settled();
    pump();
  }

  void onClosed(Conn* conn, CloseReason reason) override {
    Slot& slot = slotOf(conn);
    bool connect_error = reason == CloseReason::kConnectRefused ||
                         reason == CloseReason::kConnectFailed ||
                         reason == CloseReason::kConnectTimeout;
    if (slot.busy) {
      slot.busy = false;
      if (LegitPhase* phase = side_->phaseOf(slot.scheduled)) {
        if (reason == CloseReason::kTimeout) {
          ++phase->timeouts;
        } else {
          ++phase->closed;
        }
      }
      side_->settled();
    } else if (connect_error && size_ > 0) {
      // The next queued send fails with the connect; the next permit retries,
      // so a dead target costs no busy loop.
      if (LegitPhase* phase = side_->phaseOf(front())) ++phase->connect_failed;
      pop();
      return;
    }
    if (!connect_error) pump();
  }

  // Counts every request still queued or in flight as unfinished.
  void finish() {
    for (Slot& slot : slots_) {
      if (slot.busy) {
        if (LegitPhase* phase = side_->phaseOf(slot.scheduled)) ++phase->unfinished;
        slot.busy = false;
      }
      slot.conn->close();
    }
    while (size_ > 0) {
      if (LegitPhase* phase = side_->phaseOf(front())) ++phase->unfinished;
      pop();
    }
  }

 private:
  struct Slot {
    std::unique_ptr<Conn> conn;
    int64_t scheduled;  // of the request in flight
    bool busy;
  };

  Slot& slotOf(Conn* conn) {
    for (Slot& slot : slots_) {
      if (slot.conn.get() == conn) return slot;
    }
    return slots_.front();  // unreachable: every Conn belongs to a slot
  }
  int64_t front() const { return queue_[head_]; }
  void pop() {
    head_ = (head_ + 1) % kMaxQueued;
    --size_;
    side_->settled();
  }

  // Sends the oldest queued request on an idle connection; opens another
  // connection (up to --legit-connections) only when every open one is busy.
  void pump() {
    while (size_ > 0) {
      Slot* idle = nullptr;
      Slot* closed = nullptr;
      bool connecting = false;
      for (Slot& slot : slots_) {
        if (slot.busy) continue;
        if (slot.conn->connected()) {
          idle = &slot;
          break;
        }
        if (slot.conn->isOpen()) {
          connecting = true;
        } else if (closed == nullptr) {
          closed = &slot;
        }
      }
      if (idle != nullptr) {
        idle->busy = true;
        idle->scheduled = front();
        head_ = (head_ + 1) % kMaxQueued;  // moved to the slot: still outstanding
        --size_;
        idle->conn->send(request_);
        continue;
      }
      if (connecting || closed == nullptr) return;  // onConnected / onResponse pump again
      if (!closed->conn->open(side_->plan_.target, source_ ? &*source_ : nullptr)) {
        if (LegitPhase* phase = side_->phaseOf(front())) ++phase->connect_failed;
        pop();
      }
      return;
    }
  }

  LegitSide* side_;
  std::string request_;
  std::optional<net::SocketAddress> source_;
  std::vector<Slot> slots_;
  std::vector<int64_t> queue_;  // ring of scheduled send times not yet sent
  size_t head_ = 0;
  size_t size_ = 0;
};

// ------------------------------------------------------------ the side

LegitSide::LegitSide(const Plan& plan, const Schedule& schedule, core::EventLoop* loop,
                     Report* report)
    : plan_(plan),
      schedule_(schedule),
      loop_(loop),
      report_(report),
      pacer_(loop, this, plan.legit_rate * plan.legit, 0) {
  const size_t slots =
      static_cast<size_t>((schedule.end - schedule.baseline_start) / Timeline::kSlotNs + 1);
  report->timeline.start_ns = schedule.baseline_start;
  report->timeline.count.assign(slots, 0);
  report->timeline.max_ns.assign(slots, 0);
  for (int i = 0; i < plan.legit; ++i) {
    std::vector<std::string> headers = plan.legit_headers;
    if (!plan.legit_tokens.empty()) {
      headers.push_back("Authorization: Bearer " +
                        plan.legit_tokens[static_cast<size_t>(i) % plan.legit_tokens.size()]);
    }
    std::optional<net::SocketAddress> source;
    if (plan.legit_sources > 0) {
      source = sourceAddress(plan.legit_source_base, static_cast<uint64_t>(i % plan.legit_sources));
    }
    clients_.push_back(
        std::make_unique<Client>(this, buildRequest(plan.path, plan.host_header, headers), source));
  }
}

LegitSide::~LegitSide() = default;

void LegitSide::start() {
  if (clients_.empty()) {
    loop_->stop();
    return;
  }
  pacer_.start(schedule_.warmup_start, schedule_.end);
}

void LegitSide::onPermit(uint64_t k, int64_t scheduled_ns) {
  clients_[k % clients_.size()]->permit(scheduled_ns);
}

void LegitSide::onDone() {
  if (outstanding_ == 0) loop_->stop();
}

LegitPhase* LegitSide::phaseOf(int64_t scheduled_ns) {
  if (scheduled_ns < schedule_.baseline_start) return nullptr;  // warm-up: not counted
  if (scheduled_ns < schedule_.attack_start) return &report_->baseline;
  return &report_->attack;
}

void LegitSide::settled() {
  --outstanding_;
  if (outstanding_ == 0 && pacer_.done()) loop_->stop();
}

void LegitSide::finish() {
  for (auto& client : clients_) client->finish();
}

}  // namespace rampart::drill
