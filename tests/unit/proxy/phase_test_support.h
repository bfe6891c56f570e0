// Helpers shared by the phase tests: a scratch directory holding an API-key
// file (keys stored as SHA-256 digests, as auth/api_keys.h reads them).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "auth/api_keys.h"

namespace rampart::proxy::test_support {

struct TestKey {
  std::string key;
  std::string principal;
  std::string account;
};

inline std::string hex(const auth::Sha256Digest& digest) {
  std::string out;
  char byte[3];
  for (uint8_t b : digest) {
    std::snprintf(byte, sizeof(byte), "%02x", b);
    out += byte;
  }
  return out;
}

// A fresh /tmp directory with keys.yaml in it; removed by remove().
inline std::string makeKeyDir(const char* prefix, const std::vector<TestKey>& keys) {
  std::string pattern = std::string("/tmp/") + prefix + "-XXXXXX";
  EXPECT_NE(mkdtemp(pattern.data()), nullptr);
  std::ofstream file(pattern + "/keys.yaml");
  file << "keys:\n";
  for (const TestKey& k : keys) {
    file << "  - sha256: " << hex(auth::sha256(k.key)) << "\n    principal: " << k.principal
         << "\n    account: " << k.account << "\n";
  }
  return pattern;
}

inline void removeKeyDir(const std::string& dir) {
  std::string command = "rm -rf '" + dir + "'";
  EXPECT_EQ(std::system(command.c_str()), 0);
}

}  // namespace rampart::proxy::test_support
