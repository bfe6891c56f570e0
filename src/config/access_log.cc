// `access_log:` — one JSON line per request (observe/access_log.h), written
// by a background thread. Read at start: the fields a line carries, the
// share of successes kept (refusals and errors are always logged) and the
// size of each worker's ring.
#include <charconv>
#include <cmath>

#include "config/sections.h"

namespace rampart::config::detail {

namespace {

// A worker's ring is buffer_lines slots of 4 KB: 16 to 65,536 (256 MiB).
constexpr uint64_t kMinBufferLines = 16;
constexpr uint64_t kMaxBufferLines = 65536;

void readFields(yaml::Reader& reader, const YAML::Node& node, uint32_t* out) {
  if (!reader.sequence(node, "fields")) return;
  if (node.size() == 0) {
    reader.error(node, "fields: expected at least one field (omit the key for all of them)");
    return;
  }
  uint32_t fields = 0;
  for (const YAML::Node& item : node) {
    std::optional<std::string> name = reader.string(item, "fields");
    if (!name) continue;
    std::optional<observe::AccessField> field = observe::accessFieldByName(*name);
    if (!field) {
      std::string known;
      for (size_t i = 0; i < static_cast<size_t>(observe::AccessField::kCount); ++i) {
        if (!known.empty()) known += ", ";
        known += observe::accessFieldName(static_cast<observe::AccessField>(i));
      }
      reader.error(item, "fields: unknown field '" + *name + "' (known: " + known + ")");
      continue;
    }
    if ((fields & observe::accessFieldBit(*field)) != 0) {
      reader.error(item, "fields: '" + *name + "' is listed twice");
    }
    fields |= observe::accessFieldBit(*field);
  }
  *out = fields;
}

void readSample(yaml::Reader& reader, const YAML::Node& node, double* out) {
  std::optional<std::string> text = reader.string(node, "sample_success");
  if (!text) return;
  double value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value) || value < 0 || value > 1) {
    reader.error(node,
                 "sample_success: expected a number from 0.0 to 1.0, got " + yaml::describe(node));
    return;
  }
  *out = value;
}

}  // namespace

void readAccessLog(yaml::Reader& reader, const yaml::Map& top, Snapshot* snapshot) {
  const YAML::Node* node = top.find("access_log");
  if (node == nullptr) return;
  std::optional<yaml::Map> map =
      reader.map(*node, "access_log", {"path", "fields", "sample_success", "buffer_lines"});
  if (!map) return;
  observe::AccessLogSettings& out = snapshot->access_log;
  const YAML::Node* path = reader.require(*map, "path", "access_log");
  if (path != nullptr) {
    if (std::optional<std::string> text = reader.string(*path, "path")) {
      if (text->empty()) {
        reader.error(*path, "path: expected a file name, or \"-\" for stderr");
      }
      out.path = *text;
    }
  }
  if (const YAML::Node* fields = map->find("fields")) readFields(reader, *fields, &out.fields);
  if (const YAML::Node* sample = map->find("sample_success")) {
    readSample(reader, *sample, &out.sample_success);
  }
  reader.readInteger(*map, "buffer_lines", kMinBufferLines, kMaxBufferLines, &out.buffer_lines);
  out.enabled = !reader.hasErrors();
}

}  // namespace rampart::config::detail
