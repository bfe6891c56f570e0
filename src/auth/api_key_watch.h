// The API-key files kept current in the background: the control thread looks
// at each file's stamp (inode, size, modification and change times) every
// watch interval and, when it moved, re-reads the file and swaps the
// provider's key store. A key removed from the file stops working within the
// interval, without a reload. A file that no longer parses (or has gone) is
// logged with its file:line:col and reason, and the last good keys keep
// serving: a bad edit loses nothing. Workers never block on this (see
// ApiKeyView in api_keys.h).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "auth/api_keys.h"
#include "core/periodic_thread.h"

namespace rampart::auth {

struct Provider;

class ApiKeyWatcher {
 public:
  using Clock = std::chrono::steady_clock;

  // `providers` must outlive the watcher (they live in the same snapshot).
  // Files whose watch_interval is 0 are not watched.
  explicit ApiKeyWatcher(const std::vector<Provider>& providers);
  ~ApiKeyWatcher();
  ApiKeyWatcher(const ApiKeyWatcher&) = delete;
  ApiKeyWatcher& operator=(const ApiKeyWatcher&) = delete;

  bool empty() const { return files_.empty(); }
  // Starts the background thread (nothing to watch: no thread).
  void start();
  // Stops and joins the thread (also done by the destructor).
  void stop();
  // One pass: re-reads every due file whose stamp moved. For tests; the
  // thread calls it.
  void pollOnce(Clock::time_point now);

 private:
  struct Stamp {
    ino_t inode = 0;
    off_t size = -1;
    int64_t modified_ns = 0;
    int64_t changed_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  struct Watched {
    ApiKeyFile* file = nullptr;
    Stamp stamp;  // as last read (or last failed to read)
    bool exists = true;
    Clock::time_point next_due{};
  };

  static bool stampOf(const std::string& path, Stamp* out);
  void check(Watched& watched);

  std::vector<Watched> files_;
  core::PeriodicThread thread_;
};

}  // namespace rampart::auth
