// Request mirroring, the connection side (docs/cutover.md "Mirroring"): a
// copy of a sampled request goes to the route's shadow cluster through the
// worker's pool for that cluster, fire-and-forget. Nothing here can delay
// or change the client's response: the session hands over a copy of the
// request and, with `diff`, feeds the primary's status and body bytes to a
// MirrorCompare as they pass; the shadow's answer is read, digested and
// dropped on its own connection. Worker thread only; MirrorCalls is owned by
// the worker and destroys the calls still in flight when the worker ends.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_loop.h"
#include "http/message.h"
#include "routing/mirror.h"
#include "routing/router.h"
#include "upstream/pool.h"

namespace rampart::proxy {

struct Generation;

class MirrorCall;
class Worker;

// The two answers of one mirrored request, compared once both are in (or
// counted as failed/unchecked when one side never completes). Shared by the
// session (primary side) and the call (shadow side); one thread.
class MirrorCompare {
 public:
  MirrorCompare(std::shared_ptr<const routing::Mirror> mirror, std::string route,
                std::string request_id, Worker* worker);
  ~MirrorCompare();
  MirrorCompare(const MirrorCompare&) = delete;
  MirrorCompare& operator=(const MirrorCompare&) = delete;

  // Primary side (the session). The status the client got; a body is
  // digested only when it is Content-Length framed and under the limit.
  void primaryStatus(uint16_t status) { primary_.status = status; }
  // The compared headers of an upstream's response (a local reply has none).
  void primaryHeaders(const std::vector<http::Header>& headers);
  void primaryExpectsBody(uint64_t content_length);
  void primaryBody(std::string_view bytes) {
    if (primary_body_expected_) primary_digest_.add(bytes);
  }
  // The primary exchange ended: `complete` when the whole response went out.
  void primaryEnded(bool complete);

  // Shadow side (the call).
  void shadowAnswered(const routing::MirrorAnswer& answer);
  void shadowFailed();

 private:
  void settle();

  // Shared, not borrowed: a call in flight outlives a swapped snapshot.
  std::shared_ptr<const routing::Mirror> mirror_;
  std::string route_;
  std::string request_id_;
  Worker* worker_;
  routing::MirrorAnswer primary_;
  routing::MirrorAnswer shadow_;
  routing::BodyDigest primary_digest_;
  bool primary_body_expected_ = false;
  uint64_t primary_expected_bytes_ = 0;
  bool primary_done_ = false;
  bool primary_complete_ = false;
  bool shadow_done_ = false;
  bool shadow_failed_ = false;
  bool settled_ = false;
};

// The mirrors in flight on one worker.
class MirrorCalls {
 public:
  explicit MirrorCalls(Worker* worker);
  ~MirrorCalls();
  MirrorCalls(const MirrorCalls&) = delete;
  MirrorCalls& operator=(const MirrorCalls&) = delete;

  // Mirrors the request when its route samples it: `head` is the request
  // head exactly as sent to the primary, `buffered` the body bytes read so
  // far (the body goes along only when all of it is there and under the
  // limit; otherwise the mirror is skipped and counted). Returns the
  // comparison the session feeds with the primary's answer, or null (not
  // sampled, skipped, or `diff` off). `gen` is the request's generation,
  // whose snapshot the route belongs to.
  std::shared_ptr<MirrorCompare> start(Generation& gen, const routing::Route& route,
                                       std::string_view head, const http::RequestHead& request,
                                       std::string_view buffered, std::string_view request_id);

  // A call ended: it is unlinked and deleted after the current dispatch.
  void finished(MirrorCall* call, uint32_t route);

  // Log lines for mismatches: at most kLogPerSecond per worker per second.
  bool takeLogToken();
  static constexpr uint32_t kLogPerSecond = 5;

 private:
  Worker* worker_;
  std::vector<MirrorCall*> calls_;
  std::vector<uint32_t> active_by_route_;  // by routing::Route::index
  int64_t log_second_ = 0;
  uint32_t logs_this_second_ = 0;
};

}  // namespace rampart::proxy
