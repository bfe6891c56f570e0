#include "auth/json_util.h"

#include <algorithm>
#include <vector>

namespace rampart::auth::json {

bool hasDuplicateKey(simdjson::dom::object object) {
  // Small objects (every real header and claim set): quadratic on the stack.
  constexpr size_t kSmall = 32;
  std::string_view small[kSmall];
  size_t count = 0;
  for (auto field : object) {
    if (count == kSmall) break;
    for (size_t i = 0; i < count; ++i) {
      if (small[i] == field.key) return true;
    }
    small[count++] = field.key;
  }
  if (count < kSmall || object.size() <= kSmall) return false;
  // Large objects: sort the names once.
  std::vector<std::string_view> names;
  names.reserve(object.size());
  for (auto field : object) names.push_back(field.key);
  std::sort(names.begin(), names.end());
  return std::adjacent_find(names.begin(), names.end()) != names.end();
}

}  // namespace rampart::auth::json
