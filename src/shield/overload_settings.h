// The overload part of the `shield:` section, compiled: priority classes and
// the shedder (`shield.overload`), and learned baselines
// (`shield.baselines`). Built by config/ while loading (config/overload.cc),
// owned by the Snapshot, immutable; a reload hands workers a copy. Plain
// data: no sockets, no HTTP.
#pragma once

#include <cstdint>
#include <string>

#include "shield/baseline.h"
#include "shield/key.h"
#include "shield/priority.h"

namespace rampart::shield {

// `shield.overload`: absent, every request is admitted and nothing is counted.
struct OverloadSettings {
  bool enabled = false;
  OverloadPolicy policy;
  // A client refused (a 429 of a limit, of the auth-failure budget, of a
  // block or of a baseline; a limit's drop) within this long is suspicious.
  Nanos suspicious_for = 60 * kSecond;
};

// What a client is for learned baselines: its account, its principal, or its
// address prefix. A request without the named value (anonymous, no account)
// falls back to the next one down: account -> principal -> prefix.
enum class BaselineKey : uint8_t {
  kAccount,
  kPrincipal,
  kPrefix,
};

const char* baselineKeyName(BaselineKey key);

// `shield.baselines`: absent, nothing is learned or throttled.
struct BaselineSettings {
  bool enabled = false;
  BaselinePolicy policy;
  BaselineKey key = BaselineKey::kAccount;
  PrefixLengths prefix;    // for kPrefix, and the fallback of anonymous requests
  std::string state_file;  // learned state kept across restarts; empty: not kept
};

}  // namespace rampart::shield
