// The legitimate clients: each one keep-alive connection from its own source
// address, sending on an open-loop schedule (all clients interleaved on one
// pacer), latency measured from the scheduled send time.
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
      : side_(side),
        request_(std::move(request)),
        source_(source),
        conn_(side->loop_, this, 4096, side->plan_.timeout_ns / 1000000),
        queue_(kMaxQueued) {}

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

  void onResponse(Conn*, uint16_t status) override {
    int64_t scheduled = front();
    int64_t latency = nowNs() - scheduled;
    if (LegitPhase* phase = side_->phaseOf(scheduled)) {
      phase->status.count(status);
      phase->all_latency.record(static_cast<uint64_t>(std::max<int64_t>(latency, 0)));
      if (status >= 200 && status < 300) {
        phase->latency.record(static_cast<uint64_t>(std::max<int64_t>(latency, 0)));
      }
    }
    pop();
    if (conn_.connected()) pump();
  }

  void onClosed(Conn*, CloseReason reason) override {
    bool connect_error = reason == CloseReason::kConnectRefused ||
                         reason == CloseReason::kConnectFailed ||
                         reason == CloseReason::kConnectTimeout;
    if (size_ > 0 && (sent_ || connect_error)) {
      if (LegitPhase* phase = side_->phaseOf(front())) {
        if (connect_error) {
          ++phase->connect_failed;
        } else if (reason == CloseReason::kTimeout) {
          ++phase->timeouts;
        } else {
          ++phase->closed;
        }
      }
      pop();
    }
    sent_ = false;
    // Reconnect at once for what is still queued, but not after a failed
    // connect: the next permit retries, so a dead target costs no busy loop.
    if (!connect_error) pump();
  }

  // Counts every request still queued or in flight as unfinished.
  void finish() {
    while (size_ > 0) {
      if (LegitPhase* phase = side_->phaseOf(front())) ++phase->unfinished;
      pop();
    }
    conn_.close();
  }

 private:
  int64_t front() const { return queue_[head_]; }
  void pop() {
    head_ = (head_ + 1) % kMaxQueued;
    --size_;
    sent_ = false;
    side_->settled();
  }

  void pump() {
    if (size_ == 0 || conn_.inFlight()) return;
    if (!conn_.isOpen()) {
      if (!conn_.open(side_->plan_.target, source_ ? &*source_ : nullptr)) {
        if (LegitPhase* phase = side_->phaseOf(front())) ++phase->connect_failed;
        pop();
      }
      return;  // onConnected pumps
    }
    if (!conn_.connected()) return;
    sent_ = true;
    conn_.send(request_);
  }

  LegitSide* side_;
  std::string request_;
  std::optional<net::SocketAddress> source_;
  Conn conn_;
  std::vector<int64_t> queue_;  // ring of scheduled send times
  size_t head_ = 0;
  size_t size_ = 0;
  bool sent_ = false;  // the front request is on the wire
};

// ------------------------------------------------------------ the side

LegitSide::LegitSide(const Plan& plan, const Schedule& schedule, core::EventLoop* loop,
                     Report* report)
    : plan_(plan),
      schedule_(schedule),
      loop_(loop),
      report_(report),
      pacer_(loop, this, plan.legit_rate * plan.legit, 0) {
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
