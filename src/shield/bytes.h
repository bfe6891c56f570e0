// Fixed-width values in and out of the shield's state files (baselines'
// export, the overload state file): host byte order, no alignment needed.
// The files are read back only by the same build on the same machine.
#pragma once

#include <cstring>
#include <string>
#include <string_view>

namespace rampart::shield::bytes {

template <typename T>
void put(std::string& out, T value) {
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  out.append(raw, sizeof(T));
}

template <typename T>
T get(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

// Reads one value off the front of `in`; false when too short.
template <typename T>
bool take(std::string_view& in, T* value) {
  if (in.size() < sizeof(T)) return false;
  std::memcpy(value, in.data(), sizeof(T));
  in.remove_prefix(sizeof(T));
  return true;
}

}  // namespace rampart::shield::bytes
