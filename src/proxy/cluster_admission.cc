#include "proxy/cluster_admission.h"

#include <time.h>

#include <charconv>

#include <fmt/format.h>

namespace rampart::proxy {

namespace {

using shield::ConcurrencyVerdict;
using shield::EnqueueResult;
using shield::Nanos;
using shield::RequestClass;

// Key namespaces of the three kinds of flow, so an account named like an
// address (or a principal like an account) is never the same flow.
constexpr uint64_t kAccountFlows = 0x6163636f756e74;  // "account"
constexpr uint64_t kPrincipalFlows = 0x7072696e63;    // "princ"
constexpr uint64_t kPrefixFlows = 0x707265666978;     // "prefix"

uint64_t handleOf(ClusterHold* hold) {
  return reinterpret_cast<uintptr_t>(hold);
}

ClusterHold* holdOf(uint64_t handle) {
  return reinterpret_cast<ClusterHold*>(static_cast<uintptr_t>(handle));
}

}  // namespace

shield::Nanos preciseNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * shield::kSecond + ts.tv_nsec;
}

ClusterAdmission::ClusterAdmission(const shield::ClusterAdmissionPolicy& policy,
                                   const shield::KeyDeriver* keys, Nanos now)
    : policy_(policy), keys_(keys), limiter_(policy.concurrency, now), queue_(policy.queue) {}

shield::Key ClusterAdmission::flowKey(const FlowInput& who) const {
  const auth::Identity* identity = who.identity;
  if (identity != nullptr && identity->authenticated()) {
    if (!identity->account.empty()) return keys_->string(kAccountFlows, identity->account);
    if (!identity->principal.empty()) return keys_->string(kPrincipalFlows, identity->principal);
  }
  // The anonymous by address prefix (/24, /56): one client cannot claim
  // several turns by spreading over the addresses of its own network.
  if (who.client == nullptr) return keys_->string(kPrefixFlows, {});
  return keys_->prefix(kPrefixFlows, *who.client);
}

// Requests that would be served before one of `request_class`: the
// authenticated count only their own lane, so an anonymous backlog at the
// limiter's bound sheds the anonymous, not the authenticated (whose lane also
// keeps the fair queue's reserved share).
uint32_t ClusterAdmission::waitingAhead(RequestClass request_class) const {
  if (request_class == RequestClass::kAuthenticated) return queue_.size(request_class);
  return queue_.size();
}

AdmitVerdict ClusterAdmission::admit(ClusterHold* hold, const FlowInput& who,
                                     RequestClass request_class, SlotWaiter* waiter, Nanos now) {
  hold->cluster = this;
  hold->waiter = waiter;
  hold->state = ClusterHold::State::kNone;
  hold->sent_at = now;  // forwarded now, unless it waits (then pump() sets it)
  hold->head_at = 0;
  hold->upstream_timed_out = false;
  // Slots may have opened without a release (a probe that timed out ends
  // inside tryAcquire): serve those already waiting before this newcomer.
  if (queue_.size() > 0) pump(now);
  const ConcurrencyVerdict verdict = limiter_.tryAcquire(now, waitingAhead(request_class));
  if (verdict == ConcurrencyVerdict::kAcquired) {
    hold->state = ClusterHold::State::kSlot;
    ++stats_.forwarded;
    return AdmitVerdict::kForward;
  }
  uint64_t* shed = &stats_.shed_limit;
  if (verdict == ConcurrencyVerdict::kQueue) {
    const EnqueueResult queued =
        queue_.enqueue(flowKey(who), request_class, handleOf(hold), now, &hold->ticket);
    if (queued == EnqueueResult::kQueued) {
      hold->state = ClusterHold::State::kQueued;
      hold->queued_at = now;
      if (policy_.count_only) {
        ++stats_.would_queue;
        return AdmitVerdict::kForward;
      }
      ++stats_.queued;
      return AdmitVerdict::kWait;
    }
    shed = queued == EnqueueResult::kFlowFull ? &stats_.shed_flow_full : &stats_.shed_queue_full;
  }
  if (policy_.count_only) {
    ++stats_.would_shed;
    return AdmitVerdict::kForward;  // holds nothing; finish() has nothing to give back
  }
  ++*shed;
  hold->cluster = nullptr;
  return AdmitVerdict::kShed;
}

void ClusterAdmission::pump(Nanos now) {
  if (pumping_) return;  // the outer pump goes on with the next waiting request
  pumping_ = true;
  while (queue_.size() > 0 && limiter_.inFlight() < limiter_.limit()) {
    // Taken before the dequeue so a request never leaves the queue without
    // its slot; with a slot free (checked above) this acquires.
    if (limiter_.tryAcquire(now, 0) != ConcurrencyVerdict::kAcquired) break;
    std::optional<shield::Waiting> next = queue_.dequeue();
    ClusterHold* hold = holdOf(next->handle);
    hold->state = ClusterHold::State::kSlot;
    if (policy_.count_only) {
      // Forwarded long ago; from here on its latency teaches the limit. One
      // that waited past the timeout would have been shed instead.
      if (now - next->enqueued_at > policy_.queue_timeout) {
        ++stats_.would_shed;
        hold->state = ClusterHold::State::kNone;
        limiter_.abandon();
      }
      continue;
    }
    ++stats_.dequeued;
    hold->sent_at = now;
    hold->waiter->onClusterSlot();  // may end requests: their finish() cannot re-enter pump
  }
  pumping_ = false;
}

void ClusterAdmission::finish(ClusterHold* hold, Nanos now) {
  switch (hold->state) {
    case ClusterHold::State::kSlot:
      hold->state = ClusterHold::State::kNone;
      if (hold->head_at != 0) {
        limiter_.release(hold->head_at - hold->sent_at, now);
      } else if (hold->upstream_timed_out) {
        limiter_.release(now - hold->sent_at, now);
      } else {
        limiter_.abandon();
      }
      pump(now);
      break;
    case ClusterHold::State::kQueued:
      hold->state = ClusterHold::State::kNone;
      queue_.cancel(hold->ticket);
      if (!policy_.count_only) {
        ++stats_.cancelled;
      } else if (now - hold->queued_at > policy_.queue_timeout) {
        ++stats_.would_shed;  // done before its turn came, but enforced it would have timed out
      }
      break;
    case ClusterHold::State::kNone:
      break;
  }
  hold->cluster = nullptr;
}

void ClusterAdmission::timeOut(ClusterHold* hold) {
  if (hold->state == ClusterHold::State::kQueued) {
    queue_.cancel(hold->ticket);
    ++stats_.timeouts;
  }
  hold->state = ClusterHold::State::kNone;
  hold->cluster = nullptr;
}

void ClusterAdmission::forget(ClusterHold* hold) {
  if (hold->state == ClusterHold::State::kQueued) queue_.cancel(hold->ticket);
  if (hold->state == ClusterHold::State::kSlot) limiter_.abandon();
  hold->state = ClusterHold::State::kNone;
  hold->cluster = nullptr;
}

ClusterAdmissions::ClusterAdmissions(const std::vector<upstream::ClusterSpec>& clusters,
                                     shield::Seed seed)
    : keys_(std::make_unique<shield::KeyDeriver>(seed)) {
  const Nanos now = preciseNanos();
  for (const upstream::ClusterSpec& cluster : clusters) {
    by_cluster_.push_back(
        cluster.admission ? std::make_unique<ClusterAdmission>(*cluster.admission, keys_.get(), now)
                          : nullptr);
  }
}

RequestClass admissionClassOf(const RequestContext& ctx) {
  // Phase 7b classified it (suspicious included) when the shedder is on.
  if (ctx.overload_admitted) return ctx.request_class;
  const auth::Identity* identity = ctx.auth.identity.get();
  return shield::classifyRequest(identity != nullptr && identity->authenticated(), false);
}

void appendShedHeaders(std::string& out, const shield::ClusterAdmissionPolicy& policy) {
  out.clear();
  const int64_t seconds = std::max<int64_t>(shield::Decision::ceilSeconds(policy.retry_after), 1);
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), seconds);
  out += "Retry-After: ";
  out.append(digits, end);
  out += "\r\nx-rampart-shed: adaptive-concurrency\r\n";
}

std::vector<std::string> summarizeClusterAdmission(
    const std::vector<upstream::ClusterSpec>& clusters,
    const std::vector<const ClusterAdmissions*>& workers) {
  std::vector<std::string> lines;
  for (uint32_t i = 0; i < clusters.size(); ++i) {
    if (!clusters[i].admission) continue;
    ClusterAdmission::Stats sum;
    shield::AdaptiveConcurrency::Stats engine;
    std::string limits;
    for (const ClusterAdmissions* worker : workers) {
      const ClusterAdmission* admission = worker->find(i);
      if (admission == nullptr) continue;
      const ClusterAdmission::Stats& s = admission->stats();
      sum.forwarded += s.forwarded;
      sum.queued += s.queued;
      sum.dequeued += s.dequeued;
      sum.shed_limit += s.shed_limit;
      sum.shed_flow_full += s.shed_flow_full;
      sum.shed_queue_full += s.shed_queue_full;
      sum.timeouts += s.timeouts;
      sum.cancelled += s.cancelled;
      sum.would_queue += s.would_queue;
      sum.would_shed += s.would_shed;
      engine.windows += admission->limiter().stats().windows;
      engine.probes += admission->limiter().stats().probes;
      limits += limits.empty() ? "" : ",";
      limits += std::to_string(admission->limiter().limit());
    }
    lines.push_back(
        fmt::format("cluster '{}' admission: mode={} limit={} forwarded={} queued={} dequeued={} "
                    "shed_limit={} shed_flow_full={} shed_queue_full={} timeouts={} cancelled={} "
                    "would_queue={} would_shed={} windows={} probes={}",
                    clusters[i].name, clusters[i].admission->count_only ? "count" : "enforce",
                    limits, sum.forwarded, sum.queued, sum.dequeued, sum.shed_limit,
                    sum.shed_flow_full, sum.shed_queue_full, sum.timeouts, sum.cancelled,
                    sum.would_queue, sum.would_shed, engine.windows, engine.probes));
  }
  return lines;
}

}  // namespace rampart::proxy
