// runDrill: the schedule, the two threads, the fd limit, the watchdog.
#include "drill/drill.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include "core/descriptors.h"
#include "drill/engine.h"
#include "drill/report.h"

namespace rampart::drill {

namespace {

double threadCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

void sleepUntil(int64_t ns) {
  while (true) {
    int64_t left = ns - nowNs();
    if (left <= 0) return;
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(left, 50000000)));
  }
}

// Raises the soft RLIMIT_NOFILE to cover `needed`; false (with `error`) when
// even the hard limit is too low.
bool raiseNofile(uint64_t needed, uint64_t* limit, std::string* error) {
  // Raised, and the descriptor table grown, before the drill's threads
  // start: a multi-threaded process that grows its table later blocks in an
  // RCU grace period per doubling (core/descriptors.h), which would put
  // milliseconds of the drill's own into the latencies it measures.
  const core::DescriptorReserve reserve = core::reserveDescriptors(needed);
  *limit = reserve.limit;
  if (reserve.limit >= needed) return true;
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  *error = "this run needs " + std::to_string(needed) +
           " file descriptors; the hard RLIMIT_NOFILE is " + std::to_string(rl.rlim_max) +
           " (ulimit -Hn)";
  return false;
}

// The measuring thread at SCHED_FIFO 1: the attack thread shares its CPU (and
// so may the target's upstream), and a niced thread still delays a waking one
// by up to a scheduler slice, milliseconds of p99 that are the drill's own,
// not the target's. A real flood comes from other machines.
void raiseToRealtime(Report* report) {
  sched_param param{};
  param.sched_priority = 1;
  int rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
  if (rc == 0) {
    report->legit_realtime = true;
  } else {
    report->warnings += std::string("--legit-realtime: SCHED_FIFO refused (") + std::strerror(rc) +
                        "; needs root or CAP_SYS_NICE)\n";
  }
}

extern "C" void onWatchdog(int) {
  static const char kMessage[] = "rampart drill: watchdog: the run overran its bound\n";
  [[maybe_unused]] ssize_t n = write(2, kMessage, sizeof(kMessage) - 1);
  _exit(3);
}

}  // namespace

uint64_t Report::attackAttempts() const {
  const ConnCounts& f = flood.conns;
  return flood.sent + f.connect_refused + f.connect_failed + f.connect_timeouts +
         connection_flood.conns.attempted + slowloris.conns.attempted;
}

uint64_t Report::attackRefused() const {
  const ConnCounts& f = flood.conns;
  const ConnCounts& c = connection_flood.conns;
  const ConnCounts& s = slowloris.conns;
  uint64_t flood_refused = flood.status.total() - flood.status.s2xx + f.connect_refused +
                           f.connect_failed + f.connect_timeouts + f.reset +
                           f.closed_without_response + f.timeouts;
  // A connection-flood connection that the target closed or refused before we
  // reset it; a slowloris connection the target closed (any way) or refused.
  uint64_t conn_refused =
      c.connect_refused + c.connect_timeouts + c.reset + c.closed_idle + c.closed_without_response;
  uint64_t slow_refused =
      s.connect_refused + s.connect_timeouts + s.reset + s.closed_idle + s.closed_without_response;
  return flood_refused + conn_refused + slow_refused;
}

Report runDrill(const Plan& plan) {
  Report report;
  report.plan = plan;
  int64_t started = nowNs();
  Schedule schedule;
  schedule.warmup_start = started + 20000000;  // 20 ms to build the clients
  schedule.baseline_start = schedule.warmup_start + plan.warmup_ns;
  schedule.attack_start = schedule.baseline_start + plan.baseline_ns;
  schedule.end = schedule.attack_start + plan.attack_ns;

  core::EventLoop legit_loop;
  LegitSide legit(plan, schedule, &legit_loop, &report);
  legit.start();
  std::atomic<bool> legit_done{false};
  std::thread legit_thread([&] {
    if (plan.legit_realtime) raiseToRealtime(&report);
    legit_loop.run();
    report.legit_thread_cpu_seconds = threadCpuSeconds();
    legit_done.store(true, std::memory_order_release);
  });

  if (plan.attacking() && plan.attack_ns > 0) {
    sleepUntil(schedule.attack_start);
    core::EventLoop attack_loop;
    {
      AttackSide attack(plan, &attack_loop, &report);
      int64_t attack_began = nowNs();
      std::thread attack_thread([&] {
        if (plan.attack_nice > 0) {
          // Only this thread: the measuring clients keep their priority.
          pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
          errno = 0;
          int current = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
          if (errno == 0) {
            setpriority(PRIO_PROCESS, static_cast<id_t>(tid),
                        std::min(current + plan.attack_nice, 19));
          }
        }
        attack.start(schedule.end);
        attack_loop.run();
        report.attack_thread_cpu_seconds = threadCpuSeconds();
      });
      sleepUntil(schedule.end);
      attack_loop.stop();
      attack_thread.join();
      report.attack_seconds = static_cast<double>(nowNs() - attack_began) / 1e9;
      attack.finish();
    }
  }

  // The legitimate side stops itself once every request is settled; answers
  // to requests sent before the end may take up to one timeout.
  int64_t drain_deadline = schedule.end + plan.timeout_ns + 100000000;
  while (!legit_done.load(std::memory_order_acquire) && nowNs() < drain_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  legit_loop.stop();
  legit_thread.join();
  legit.finish();
  report.elapsed_seconds = static_cast<double>(nowNs() - started) / 1e9;
  return report;
}

int DrillCommand::run() const {
  Plan plan;
  std::string error;
  CheckResult checked = checkOptions(options_, &plan, &error);
  if (checked != CheckResult::kOk) {
    std::cerr << "rampart drill: " << error << "\n";
    return 2;
  }
  uint64_t nofile = 0;
  if (!raiseNofile(plan.descriptorsNeeded(), &nofile, &error)) {
    std::cerr << "rampart drill: " << error << "\n";
    return 1;
  }
  // Bounded whatever happens: the schedule plus the drain plus a margin.
  double bound =
      static_cast<double>(plan.warmup_ns + plan.baseline_ns + plan.attack_ns + plan.timeout_ns) /
          1e9 +
      30;
  signal(SIGALRM, onWatchdog);
  alarm(static_cast<unsigned>(bound));
  signal(SIGPIPE, SIG_IGN);
  Report report = runDrill(plan);
  alarm(0);
  report.nofile_limit = nofile;
  std::cout << (plan.json ? formatJson(report) : formatTable(report));
  std::cout.flush();
  return 0;
}

}  // namespace rampart::drill
