#include "shield/worker_overload.h"

#include <cstring>

#include "shield/bytes.h"

namespace rampart::shield {

namespace {

// Namespaces of the overload tables' keys. A baseline's namespace says which
// kind of value named the client, so account "x" and principal "x" are two
// clients, and a change of `key` leaves the old entries to fade.
constexpr uint64_t kRefusedSpace = 0x7375737000000000ULL;  // "susp"
constexpr uint64_t kAccountSpace = 0x626c616300000000ULL;  // "blac"
constexpr uint64_t kPrincipalSpace = 0x626c707200000000ULL;
constexpr uint64_t kPrefixSpace = 0x626c706600000000ULL;

constexpr char kFileMagic[4] = {'R', 'B', 'S', 'F'};
constexpr uint32_t kFileVersion = 1;
constexpr uint32_t kMaxFileWorkers = 4096;

using bytes::put;
using bytes::take;

}  // namespace

const char* baselineKeyName(BaselineKey key) {
  switch (key) {
    case BaselineKey::kAccount:
      return "account";
    case BaselineKey::kPrincipal:
      return "principal";
    case BaselineKey::kPrefix:
      return "prefix";
  }
  return "unknown";
}

WorkerOverload::WorkerOverload(const OverloadSettings& overload, const BaselineSettings& baselines,
                               size_t capacity, Seed seed)
    : capacity_(capacity), keys_(seed) {
  reload(overload, baselines);
}

void WorkerOverload::reload(const OverloadSettings& overload, const BaselineSettings& baselines) {
  overload_ = overload;
  baseline_settings_ = baselines;
  if (overload.enabled) {
    if (shedder_) {
      shedder_->setPolicy(overload.policy);
    } else {
      shedder_ = std::make_unique<OverloadShedder>(overload.policy);
      refused_ = std::make_unique<KeyedTable<Nanos>>(capacity_);
    }
  }
  if (baselines.enabled) {
    if (baselines_) {
      baselines_->setPolicy(baselines.policy);
    } else {
      baselines_ = std::make_unique<Baselines>(baselines.policy, capacity_);
    }
  }
}

RequestClass WorkerOverload::classify(bool authenticated, const net::SocketAddress& client,
                                      Nanos now) {
  bool suspicious = false;
  if (refused_ && refused_->size() != 0) {
    const Nanos* last = refused_->find(keys_.address(kRefusedSpace, client));
    suspicious = last != nullptr && now - *last < overload_.suspicious_for;
  }
  return classifyRequest(authenticated, suspicious);
}

void WorkerOverload::noteRefusal(const net::SocketAddress& client, Nanos now) {
  if (!refused_) return;
  const Nanos forget = overload_.suspicious_for;
  // A refusal older than suspicious_for decides nothing any more: evict it first.
  refused_->findOrInsert(keys_.address(kRefusedSpace, client), [now, forget](const Nanos& last) {
    return now - last >= forget ? Retention::kIdle : Retention::kNormal;
  }) = now;
}

Key WorkerOverload::baselineKey(std::string_view account, std::string_view principal,
                                const net::SocketAddress& client) const {
  const BaselineKey kind = baseline_settings_.key;
  if (kind == BaselineKey::kAccount && !account.empty()) {
    return keys_.string(kAccountSpace, account);
  }
  if (kind != BaselineKey::kPrefix && !principal.empty()) {
    return keys_.string(kPrincipalSpace, principal);
  }
  return keys_.prefix(kPrefixSpace, client, baseline_settings_.prefix);
}

std::string WorkerOverload::exportBaselines() const {
  return baselines_ ? baselines_->exportState() : std::string();
}

bool WorkerOverload::importBaselines(std::string_view bytes) {
  return baselines_ != nullptr && baselines_->importState(bytes);
}

size_t WorkerOverload::memoryBytes() const {
  size_t bytes = 0;
  if (refused_) bytes += refused_->memoryBytes();
  if (baselines_) bytes += baselines_->memoryBytes();
  return bytes;
}

std::string encodeBaselineFile(const BaselineFile& file) {
  std::string out(kFileMagic, sizeof(kFileMagic));
  put<uint32_t>(out, kFileVersion);
  put<uint64_t>(out, file.seed.k0);
  put<uint64_t>(out, file.seed.k1);
  put<uint32_t>(out, static_cast<uint32_t>(file.workers.size()));
  for (const std::string& part : file.workers) {
    put<uint64_t>(out, part.size());
    out += part;
  }
  return out;
}

std::optional<BaselineFile> decodeBaselineFile(std::string_view bytes) {
  if (bytes.size() < sizeof(kFileMagic) ||
      std::memcmp(bytes.data(), kFileMagic, sizeof(kFileMagic)) != 0) {
    return std::nullopt;
  }
  bytes.remove_prefix(sizeof(kFileMagic));
  uint32_t version = 0;
  uint32_t count = 0;
  BaselineFile file;
  if (!take(bytes, &version) || version != kFileVersion || !take(bytes, &file.seed.k0) ||
      !take(bytes, &file.seed.k1) || !take(bytes, &count) || count > kMaxFileWorkers) {
    return std::nullopt;
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t length = 0;
    if (!take(bytes, &length) || length > bytes.size()) return std::nullopt;
    file.workers.emplace_back(bytes.substr(0, length));
    bytes.remove_prefix(length);
  }
  if (!bytes.empty()) return std::nullopt;
  return file;
}

}  // namespace rampart::shield
