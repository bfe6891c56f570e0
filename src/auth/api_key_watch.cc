#include "auth/api_key_watch.h"

#include <sys/stat.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "auth/authenticate.h"

namespace rampart::auth {

namespace {

// The thread's wake-up period; each file is only looked at when its own
// interval has passed.
constexpr std::chrono::milliseconds kTick{200};

int64_t nanos(const timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

}  // namespace

ApiKeyWatcher::ApiKeyWatcher(const std::vector<Provider>& providers) {
  for (const Provider& provider : providers) {
    ApiKeyFile* file = provider.api_keys.get();
    if (provider.kind != Provider::Kind::kApiKey || file == nullptr) continue;
    if (file->watch_interval.count() <= 0 || !file->load) continue;
    Watched watched;
    watched.file = file;
    // The config loader has just read the file: its current stamp is the
    // baseline (an edit racing the load is caught by the next change).
    watched.exists = stampOf(file->path, &watched.stamp);
    watched.next_due = Clock::now() + file->watch_interval;
    files_.push_back(watched);
  }
}

ApiKeyWatcher::~ApiKeyWatcher() {
  stop();
}

void ApiKeyWatcher::start() {
  if (files_.empty()) return;
  thread_.start(kTick, [this] { pollOnce(Clock::now()); });
}

void ApiKeyWatcher::stop() {
  thread_.stop();
}

void ApiKeyWatcher::pollOnce(Clock::time_point now) {
  for (Watched& watched : files_) {
    if (now < watched.next_due) continue;
    watched.next_due = now + watched.file->watch_interval;
    check(watched);
  }
}

bool ApiKeyWatcher::stampOf(const std::string& path, Stamp* out) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return false;
  out->inode = info.st_ino;
  out->size = info.st_size;
  out->modified_ns = nanos(info.st_mtim);
  out->changed_ns = nanos(info.st_ctim);
  return true;
}

void ApiKeyWatcher::check(Watched& watched) {
  ApiKeyFile& file = *watched.file;
  Stamp stamp;
  if (!stampOf(file.path, &stamp)) {
    if (watched.exists) {
      file.failures.fetch_add(1, std::memory_order_relaxed);
      std::shared_ptr<const ApiKeyStore> last = file.store.load();
      spdlog::error("api keys {}: the file is gone; keeping the {} keys last read from it",
                    file.path, last ? last->size() : 0);
    }
    watched.exists = false;
    return;
  }
  if (watched.exists && stamp == watched.stamp) return;
  watched.exists = true;
  watched.stamp = stamp;  // a bad file is reported once, not on every tick
  std::string error;
  std::shared_ptr<const ApiKeyStore> next;
  try {
    next = file.load(&error);
  } catch (const std::exception& e) {  // nothing may end the control thread
    error = std::string("internal error while reading: ") + e.what();
  }
  if (next == nullptr) {
    file.failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("api keys {}: not reloaded, keeping the last good keys: {}", file.path, error);
    return;
  }
  size_t count = next->size();
  file.replace(std::move(next));
  file.reloads.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("api keys {}: reloaded, {} keys", file.path, count);
}

}  // namespace rampart::auth
