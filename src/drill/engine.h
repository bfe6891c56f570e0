// The two sides of a drill, each driven by its own thread's event loop:
// LegitSide (the measured, well-behaved clients) and AttackSide (the flood,
// the slowloris connections and the connection flood). Each is built on the
// main thread before its loop runs, touched only by that loop's thread while
// it runs, and read (finish()) after the thread has joined.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/event_loop.h"
#include "drill/conn.h"
#include "drill/drill.h"
#include "drill/pacer.h"
#include "drill/report.h"

namespace rampart::drill {

// Phase boundaries, CLOCK_MONOTONIC ns.
struct Schedule {
  int64_t warmup_start = 0;
  int64_t baseline_start = 0;
  int64_t attack_start = 0;
  int64_t end = 0;
};

// Source address number `k` counted from `base` (host order); port 0.
net::SocketAddress sourceAddress(uint32_t base, uint64_t k);

// "GET <path> HTTP/1.1" with Host, a User-Agent and `extra` header lines.
std::string buildRequest(const std::string& path, const std::string& host,
                         const std::vector<std::string>& extra);

// A well-formed compact JWS with the given alg/kid/iss/aud and a random
// signature: it parses, and it never verifies.
std::string bogusJwt(const Plan& plan, uint64_t seed);

class LegitSide : public PermitSink {
 public:
  LegitSide(const Plan& plan, const Schedule& schedule, core::EventLoop* loop, Report* report);
  ~LegitSide() override;
  // Arms the schedule (before the loop runs).
  void start();
  // After the loop stopped: counts what was still queued or in flight.
  void finish();
  void onPermit(uint64_t k, int64_t scheduled_ns) override;
  void onDone() override;

  class Client;

 private:
  friend class Client;
  LegitPhase* phaseOf(int64_t scheduled_ns);
  void settled();  // one outstanding request less: stop the loop when all are done

  const Plan& plan_;
  Schedule schedule_;
  core::EventLoop* loop_;
  Report* report_;
  std::vector<std::unique_ptr<Client>> clients_;
  Pacer pacer_;
  uint64_t outstanding_ = 0;
};

class AttackSide {
 public:
  AttackSide(const Plan& plan, core::EventLoop* loop, Report* report);
  ~AttackSide();
  // Opens every attack connection and arms the paced parts (before the loop runs).
  void start(int64_t end_ns);
  void finish();

  class FloodConn;
  class SlowConn;
  class ConnFlood;
  struct Source;

 private:
  friend class FloodConn;
  friend class SlowConn;
  friend class ConnFlood;
  const Plan& plan_;
  core::EventLoop* loop_;
  Report* report_;
  std::vector<std::string> requests_;  // the flood's requests, cycled
  uint64_t next_request_ = 0;
  std::vector<Source> sources_;  // paced floods only
  std::vector<std::unique_ptr<FloodConn>> flood_;
  std::vector<std::unique_ptr<SlowConn>> slow_;
  std::string slow_head_;  // what a slowloris connection sends first
  std::unique_ptr<ConnFlood> conn_flood_;
  std::unique_ptr<Pacer> conn_flood_pacer_;
  std::unique_ptr<PermitSink> flood_sink_;
  std::unique_ptr<Pacer> flood_pacer_;
  uint64_t slow_open_ = 0;
};

}  // namespace rampart::drill
