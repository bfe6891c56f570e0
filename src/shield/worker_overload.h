// One worker's overload state: the shedder (priority classes), the table of
// recently refused clients that makes a request suspicious, and the learned
// baselines, built from the snapshot's OverloadSettings and BaselineSettings.
// Owned by one Worker and used on its thread only (no lock), except that the
// server seeds and imports it before the worker's thread starts and exports
// it after the thread has ended; lives as long as the worker. Knows nothing
// of HTTP: the caller passes the identity's strings and the client address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.h"
#include "shield/baseline.h"
#include "shield/key.h"
#include "shield/keyed_table.h"
#include "shield/overload_settings.h"
#include "shield/priority.h"

namespace rampart::shield {

class WorkerOverload {
 public:
  // `capacity`: keys per table (max_tracked_keys). `seed`: the key seed of
  // the baselines, shared by every worker and kept in the state file so that
  // keys mean the same after a restart (setSeed() before the first request).
  WorkerOverload(const OverloadSettings& overload, const BaselineSettings& baselines,
                 size_t capacity, Seed seed);

  bool shedding() const { return shedder_ != nullptr && overload_.enabled; }
  bool learning() const { return baselines_ != nullptr && baseline_settings_.enabled; }

  // --- Priority and shedding (after authentication, before forwarding) ---
  // The request's class: suspicious when `client` was refused within
  // suspicious_for, else authenticated or anonymous.
  RequestClass classify(bool authenticated, const net::SocketAddress& client, Nanos now);
  // Decides on one request; an admitted one (every one in count mode) must
  // be released once when it ends, with the same class.
  ShedDecision admit(RequestClass c) { return shedder_->admit(c); }
  void release(RequestClass c) {
    if (shedder_) shedder_->release(c);
  }
  // How late the event loop came back to its timers, once per probe tick.
  void observeLag(Nanos lag) {
    if (shedder_) shedder_->observeLag(lag);
  }
  // A refusal of `client` (429 or drop by a limit, a block, the auth-failure
  // budget, a baseline): the client is suspicious for suspicious_for.
  void noteRefusal(const net::SocketAddress& client, Nanos now);

  // --- Learned baselines (phase 7) ---
  // The client key of a request: its account, principal or address prefix
  // (see BaselineKey; empty strings fall back down the list).
  Key baselineKey(std::string_view account, std::string_view principal,
                  const net::SocketAddress& client) const;
  BaselineDecision checkBaseline(const Key& key, Nanos now) { return baselines_->check(key, now); }
  const BaselinePolicy& baselinePolicy() const { return baseline_settings_.policy; }

  // A reloaded config's overload and baseline settings: policies swapped in,
  // in-flight counts, refusals and learned baselines kept. A part enabled
  // only now gets its tables here (on the worker thread, not the request
  // path); a part disabled keeps its tables for a later reload.
  void reload(const OverloadSettings& overload, const BaselineSettings& baselines);

  // --- Keeping the baselines (server thread, while the worker is not running) ---
  void setSeed(Seed seed) { keys_ = KeyDeriver(seed); }
  std::string exportBaselines() const;
  bool importBaselines(std::string_view bytes);

  const OverloadShedder* shedder() const { return shedder_.get(); }
  const Baselines* baselines() const { return baselines_.get(); }
  Baselines* baselines() { return baselines_.get(); }  // known()/baseline() mark recency
  size_t memoryBytes() const;

 private:
  OverloadSettings overload_;
  BaselineSettings baseline_settings_;
  size_t capacity_;
  KeyDeriver keys_;
  std::unique_ptr<OverloadShedder> shedder_;
  std::unique_ptr<KeyedTable<Nanos>> refused_;  // client address -> last refusal
  std::unique_ptr<Baselines> baselines_;
};

// The baseline state file: every worker's exportBaselines() and the key seed.
// Layout (native byte order): "RBSF", u32 version (1), u64 seed k0, u64 seed
// k1, u32 worker count, then per worker a u64 length and that many bytes.
struct BaselineFile {
  Seed seed;
  std::vector<std::string> workers;
};
std::string encodeBaselineFile(const BaselineFile& file);
// Nullopt when `bytes` is not a well-formed file (each worker's part is
// checked by importBaselines()).
std::optional<BaselineFile> decodeBaselineFile(std::string_view bytes);

}  // namespace rampart::shield
