#include "proxy/overload_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/log.h"

namespace rampart::proxy {

namespace {

// The state file is at most a few tens of MB (24 bytes per known client per worker).
constexpr std::streamoff kMaxStateBytes = std::streamoff{1} << 32;

bool writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

shield::Seed restoreBaselines(const shield::BaselineSettings& settings,
                              const std::vector<std::unique_ptr<Worker>>& workers) {
  shield::Seed seed = shield::randomSeed();
  std::optional<shield::BaselineFile> file;
  if (settings.enabled && !settings.state_file.empty()) {
    std::ifstream in(settings.state_file, std::ios::binary | std::ios::ate);
    if (in) {
      const std::streamoff size = in.tellg();
      std::string bytes;
      if (size >= 0 && size < kMaxStateBytes) {
        bytes.resize(static_cast<size_t>(size));
        in.seekg(0);
        in.read(bytes.data(), size);
      }
      file = in ? shield::decodeBaselineFile(bytes) : std::nullopt;
      if (!file) {
        spdlog::warn("baselines: {} is not a baseline state file; learning starts over",
                     settings.state_file);
      } else if (file->workers.size() != workers.size()) {
        // Each worker learned its share of the traffic: with another number
        // of workers the shares (and the totals) no longer fit.
        spdlog::warn("baselines: {} was written by {} workers, not {}; learning starts over",
                     settings.state_file, file->workers.size(), workers.size());
        file.reset();
      } else {
        seed = file->seed;
      }
    }
  }
  size_t restored = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    shield::WorkerOverload& overload = workers[i]->overload();
    overload.setSeed(seed);
    if (!file) continue;
    if (overload.importBaselines(file->workers[i])) {
      ++restored;
    } else {
      spdlog::warn("baselines: the state of worker {} in {} is malformed; it starts over", i,
                   settings.state_file);
    }
  }
  if (restored > 0) {
    spdlog::info("baselines: learned state of {} workers restored from {}", restored,
                 settings.state_file);
  }
  return seed;
}

void saveBaselines(const shield::BaselineSettings& settings, shield::Seed seed,
                   const std::vector<std::unique_ptr<Worker>>& workers) {
  if (!settings.enabled || settings.state_file.empty()) return;
  shield::BaselineFile file;
  file.seed = seed;
  for (const auto& worker : workers) file.workers.push_back(worker->overload().exportBaselines());
  const std::string bytes = shield::encodeBaselineFile(file);
  const std::string temporary = settings.state_file + ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && writeAll(fd, bytes) && ::fsync(fd) == 0;
  if (fd >= 0 && ::close(fd) != 0) ok = false;
  if (ok && std::rename(temporary.c_str(), settings.state_file.c_str()) != 0) ok = false;
  if (!ok) {
    spdlog::error("baselines: cannot write {}: {}", settings.state_file, std::strerror(errno));
    ::unlink(temporary.c_str());
    return;
  }
  spdlog::info("baselines: learned state written to {} ({} bytes)", settings.state_file,
               bytes.size());
}

void logOverloadTotals(const std::vector<std::unique_ptr<Worker>>& workers) {
  std::array<uint64_t, shield::kRequestClasses> admitted{}, shed{}, would_shed{};
  shield::Baselines::Stats baselines;
  size_t clients = 0;
  bool shedding = false, learning = false;
  for (const auto& worker : workers) {
    const shield::WorkerOverload& overload = worker->overload();
    if (const shield::OverloadShedder* shedder = overload.shedder()) {
      shedding = true;
      for (size_t c = 0; c < shield::kRequestClasses; ++c) {
        admitted[c] += shedder->stats().admitted[c];
        shed[c] += shedder->stats().shed[c];
        would_shed[c] += shedder->stats().would_shed[c];
      }
    }
    if (const shield::Baselines* learned = overload.baselines()) {
      learning = true;
      baselines.checked += learned->stats().checked;
      baselines.overloaded += learned->stats().overloaded;
      baselines.throttled += learned->stats().throttled;
      baselines.would_throttle += learned->stats().would_throttle;
      clients += learned->size();
    }
  }
  if (shedding) {
    std::string line;
    for (const auto& [name, values] :
         {std::pair{"admitted", &admitted}, {"shed", &shed}, {"would_shed", &would_shed}}) {
      for (size_t c = 0; c < shield::kRequestClasses; ++c) {
        line += fmt::format(" {}_{}={}", name,
                            shield::requestClassName(static_cast<shield::RequestClass>(c)),
                            (*values)[c]);
      }
    }
    spdlog::info("overload:{}", line);
  }
  if (learning) {
    spdlog::info("baselines: checked={} overloaded={} throttled={} would_throttle={} clients={}",
                 baselines.checked, baselines.overloaded, baselines.throttled,
                 baselines.would_throttle, clients);
  }
}

}  // namespace rampart::proxy
