// The attack: keep-alive flood connections (flat out, or paced per source
// address), slowloris connections, and a paced open-and-reset connection
// flood, all spread over the attack's source addresses.
#include <algorithm>
#include <cerrno>
#include <optional>

#include "drill/engine.h"

namespace rampart::drill {

namespace {
// A connect that failed at once (no socket, no port) is retried after this.
constexpr core::Millis kRetryMs = 10;
// The header lines a slowloris connection drips, one per interval.
constexpr std::string_view kDrip = "X-Drill: slowloris\r\n";

void countClose(ConnCounts* c, CloseReason reason) {
  switch (reason) {
    case CloseReason::kConnectRefused:
      ++c->connect_refused;
      break;
    case CloseReason::kConnectFailed:
      ++c->connect_failed;
      break;
    case CloseReason::kConnectTimeout:
      ++c->connect_timeouts;
      break;
    case CloseReason::kReset:
      ++c->reset;
      break;
    case CloseReason::kEofInFlight:
      ++c->closed_without_response;
      break;
    case CloseReason::kEofIdle:
      ++c->closed_idle;
      break;
    case CloseReason::kTimeout:
      ++c->timeouts;
      break;
    case CloseReason::kBadResponse:
      ++c->bad_responses;
      break;
  }
}

bool isConnectFailure(CloseReason reason) {
  return reason == CloseReason::kConnectRefused || reason == CloseReason::kConnectFailed ||
         reason == CloseReason::kConnectTimeout;
}
}  // namespace

struct AttackSide::Source {
  uint32_t tokens = 1;
  std::vector<FloodConn*> parked;  // connected, idle, waiting for a permit
};

// ------------------------------------------------------------ flood

class AttackSide::FloodConn : public ConnOwner, private core::Timer {
 public:
  FloodConn(AttackSide* side, size_t index)
      : side_(side),
        index_(index),
        conn_(side->loop_, this, 4096, side->plan_.timeout_ns / 1000000) {
    if (side->plan_.flood_sources > 0) {
      source_ = sourceAddress(side->plan_.attack_source_base,
                              index % static_cast<size_t>(side->plan_.flood_sources));
    }
  }
  ~FloodConn() override { conn_.close(); }

  void open() {
    ConnCounts& c = side_->report_->flood.conns;
    ++c.attempted;
    if (!conn_.open(side_->plan_.target, source_ ? &*source_ : nullptr)) {
      ++c.connect_failed;
      side_->loop_->arm(this, kRetryMs);
    }
  }

  void onConnected(Conn*) override {
    ++side_->report_->flood.conns.opened;
    next();
  }

  void onResponse(Conn*, uint16_t status) override {
    FloodStats& f = side_->report_->flood;
    f.status.count(status);
    f.latency.record(static_cast<uint64_t>(std::max<int64_t>(nowNs() - sent_at_, 0)));
    if (conn_.connected()) next();
  }

  void onClosed(Conn*, CloseReason reason) override {
    countClose(&side_->report_->flood.conns, reason);
    parked_ = false;
    if (isConnectFailure(reason)) {
      side_->loop_->arm(this, kRetryMs);
    } else {
      open();  // an attacker comes straight back
    }
  }

  // Sends now (flat out) or when the source's pacer allows.
  void next() {
    if (side_->sources_.empty()) {
      sendOne();
      return;
    }
    Source& source = side_->sources_[index_ % side_->sources_.size()];
    if (source.tokens > 0) {
      --source.tokens;
      sendOne();
    } else if (!parked_) {
      parked_ = true;
      source.parked.push_back(this);
    }
  }

  // A permit for a parked connection: false if it is no longer waiting.
  bool release() {
    if (!parked_) return false;
    parked_ = false;
    if (!conn_.connected() || conn_.inFlight()) return false;
    sendOne();
    return true;
  }

 private:
  void sendOne() {
    ++side_->report_->flood.sent;
    sent_at_ = nowNs();
    const std::vector<std::string>& requests = side_->requests_;
    conn_.send(requests[side_->next_request_++ % requests.size()]);
  }
  void onTimeout() override { open(); }

  AttackSide* side_;
  size_t index_;
  std::optional<net::SocketAddress> source_;
  Conn conn_;
  int64_t sent_at_ = 0;
  bool parked_ = false;
};

// The flood's pacer hands permits to the sources in turn.
class FloodPermits : public PermitSink {
 public:
  explicit FloodPermits(std::vector<AttackSide::Source>* sources) : sources_(sources) {}
  void onPermit(uint64_t k, int64_t) override;

 private:
  std::vector<AttackSide::Source>* sources_;
};

void FloodPermits::onPermit(uint64_t k, int64_t) {
  AttackSide::Source& source = (*sources_)[k % sources_->size()];
  while (!source.parked.empty()) {
    AttackSide::FloodConn* conn = source.parked.back();
    source.parked.pop_back();
    if (conn->release()) return;
  }
  source.tokens = 1;  // at most one banked: a source never bursts above its rate
}

// ------------------------------------------------------------ slowloris

class AttackSide::SlowConn : public ConnOwner, private core::Timer {
 public:
  SlowConn(AttackSide* side, size_t index)
      : side_(side), conn_(side->loop_, this, 1024, side->plan_.timeout_ns / 1000000) {
    if (side->plan_.flood_sources > 0) {
      source_ = sourceAddress(side->plan_.attack_source_base,
                              index % static_cast<size_t>(side->plan_.flood_sources));
    }
  }
  ~SlowConn() override { conn_.close(); }

  void open() {
    SlowlorisStats& s = side_->report_->slowloris;
    ++s.conns.attempted;
    if (!conn_.open(side_->plan_.target, source_ ? &*source_ : nullptr)) {
      ++s.conns.connect_failed;
      arm();
    }
  }

  void onConnected(Conn*) override {
    SlowlorisStats& s = side_->report_->slowloris;
    ++s.conns.opened;
    connected_at_ = nowNs();
    s.max_open = std::max(s.max_open, ++side_->slow_open_);
    counted_open_ = true;
    const std::string& head = side_->slow_head_;
    s.bytes_sent += head.size();
    conn_.sendPartial(head);
    arm();
  }

  void onResponse(Conn*, uint16_t status) override {
    side_->report_->slowloris.status.count(status);
  }

  void onClosed(Conn*, CloseReason reason) override {
    SlowlorisStats& s = side_->report_->slowloris;
    countClose(&s.conns, reason);
    if (counted_open_) {
      counted_open_ = false;
      --side_->slow_open_;
      s.held.record(static_cast<uint64_t>(nowNs() - connected_at_));
    }
    arm();  // reopened one interval later: a slowloris, not a connection flood
  }

 private:
  void arm() { side_->loop_->arm(this, side_->plan_.slowloris_interval_ns / 1000000); }

  void onTimeout() override {
    if (!conn_.isOpen()) {
      open();
      return;
    }
    if (conn_.connected() && !conn_.writeBlocked()) {
      side_->report_->slowloris.bytes_sent += kDrip.size();
      conn_.sendPartial(kDrip);
    }
    if (conn_.isOpen()) arm();
  }

  AttackSide* side_;
  std::optional<net::SocketAddress> source_;
  Conn conn_;
  int64_t connected_at_ = 0;
  bool counted_open_ = false;
};

// ------------------------------------------------------------ connection flood

class AttackSide::ConnFlood : public PermitSink {
 public:
  class Probe : public ConnOwner {
   public:
    Probe(ConnFlood* flood, core::EventLoop* loop, core::Millis timeout_ms)
        : flood_(flood), conn_(loop, this, 256, timeout_ms) {}
    void onConnected(Conn*) override {
      ++flood_->stats().opened;
      conn_.close();  // SO_LINGER 0: a reset
      flood_->free_.push_back(this);
    }
    void onResponse(Conn*, uint16_t) override {}
    void onClosed(Conn*, CloseReason reason) override {
      countClose(&flood_->stats(), reason);
      flood_->free_.push_back(this);
    }
    Conn& conn() { return conn_; }

   private:
    ConnFlood* flood_;
    Conn conn_;
  };

  explicit ConnFlood(AttackSide* side) : side_(side) {
    double in_flight = side->plan_.connection_flood * (side->plan_.timeout_ns / 1e9);
    size_t pool = static_cast<size_t>(std::clamp(in_flight, 16.0, 20000.0));
    for (size_t i = 0; i < pool; ++i) {
      probes_.push_back(
          std::make_unique<Probe>(this, side->loop_, side->plan_.timeout_ns / 1000000));
      free_.push_back(probes_.back().get());
    }
  }

  void onPermit(uint64_t k, int64_t) override {
    if (free_.empty()) {
      ++side_->report_->connection_flood.skipped;
      return;
    }
    Probe* probe = free_.back();
    free_.pop_back();
    ++stats().attempted;
    std::optional<net::SocketAddress> source;
    if (side_->plan_.flood_sources > 0) {
      source = sourceAddress(side_->plan_.attack_source_base,
                             k % static_cast<uint64_t>(side_->plan_.flood_sources));
    }
    if (!probe->conn().open(side_->plan_.target, source ? &*source : nullptr, true)) {
      if (errno == ECONNREFUSED) {
        ++stats().connect_refused;
      } else {
        ++stats().connect_failed;
      }
      free_.push_back(probe);
    }
  }

  ConnCounts& stats() { return side_->report_->connection_flood.conns; }

 private:
  AttackSide* side_;
  std::vector<std::unique_ptr<Probe>> probes_;
  std::vector<Probe*> free_;
};

// ------------------------------------------------------------ the side

AttackSide::AttackSide(const Plan& plan, core::EventLoop* loop, Report* report)
    : plan_(plan), loop_(loop), report_(report) {
  std::vector<std::string> extra;
  if (plan.bogus_tokens) {
    // Distinct tokens, so no cache in front of the verifier can absorb them.
    constexpr int kPool = 4096;
    for (int i = 0; i < kPool; ++i) {
      requests_.push_back(buildRequest(
          plan.attack_path, plan.host_header,
          {"Authorization: Bearer " + bogusJwt(plan, 0x5eed0000ULL + static_cast<uint64_t>(i))}));
    }
  } else {
    requests_.push_back(buildRequest(plan.attack_path, plan.host_header, extra));
  }
  slow_head_ = std::string("GET ") + plan.attack_path + " HTTP/1.1\r\nHost: " + plan.host_header +
               "\r\nUser-Agent: rampart-drill\r\n";
  if (plan.flood_connections > 0 && plan.flood_rate > 0) {
    sources_.resize(static_cast<size_t>(std::max(plan.flood_sources, 1)));
    flood_sink_ = std::make_unique<FloodPermits>(&sources_);
    flood_pacer_ = std::make_unique<Pacer>(
        loop, flood_sink_.get(), plan.flood_rate * static_cast<double>(sources_.size()), 1000000);
  }
  for (int i = 0; i < plan.flood_connections; ++i) {
    flood_.push_back(std::make_unique<FloodConn>(this, static_cast<size_t>(i)));
  }
  for (int i = 0; i < plan.slowloris; ++i) {
    slow_.push_back(std::make_unique<SlowConn>(this, static_cast<size_t>(i)));
  }
  if (plan.connection_flood > 0) {
    conn_flood_ = std::make_unique<ConnFlood>(this);
    conn_flood_pacer_ =
        std::make_unique<Pacer>(loop, conn_flood_.get(), plan.connection_flood, 1000000);
  }
}

AttackSide::~AttackSide() {
  // Connections first: their destructors close sockets registered with the loop.
  flood_.clear();
  slow_.clear();
  conn_flood_pacer_.reset();
  conn_flood_.reset();
  flood_pacer_.reset();
}

void AttackSide::start(int64_t end_ns) {
  int64_t now = nowNs();
  for (auto& conn : flood_) conn->open();
  for (auto& conn : slow_) conn->open();
  if (flood_pacer_) flood_pacer_->start(now, end_ns);
  if (conn_flood_pacer_) conn_flood_pacer_->start(now, end_ns);
}

void AttackSide::finish() {
  report_->slowloris.open_at_end = slow_open_;
}

}  // namespace rampart::drill
