#include "auth/api_key_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "auth/authenticate.h"

namespace rampart::auth {
namespace {

// A key file in the test's own format: one key per line; a line "bad" makes
// the loader fail, as a file that no longer parses would.
class WatchedKeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "rampart-keys-" + std::to_string(getpid()) + ".txt";
    write("alpha\n");
    file_ = std::make_shared<ApiKeyFile>();
    file_->path = path_;
    file_->watch_interval = std::chrono::milliseconds(100);
    file_->load = [this](std::string* error) -> std::shared_ptr<const ApiKeyStore> {
      ++loads_;
      std::ifstream in(path_);
      std::vector<ApiKeyEntry> entries;
      for (std::string line; std::getline(in, line);) {
        if (line == "bad") {
          *error = path_ + ":1:1: bad key";
          return nullptr;
        }
        ApiKeyEntry entry;
        entry.digest = sha256(line);
        entry.name = line;
        entries.push_back(std::move(entry));
      }
      return std::make_shared<const ApiKeyStore>(std::move(entries));
    };
    std::string ignored;
    file_->store.store(file_->load(&ignored));
    loads_ = 0;
    provider_.kind = Provider::Kind::kApiKey;
    provider_.api_keys = file_;
  }
  void TearDown() override { std::remove(path_.c_str()); }

  void write(const std::string& text) {
    std::ofstream out(path_, std::ios::trunc);
    out << text;
  }
  bool knows(const std::string& key) { return file_->store.load()->find(key) != nullptr; }

  std::string path_;
  std::shared_ptr<ApiKeyFile> file_;
  Provider provider_;
  int loads_ = 0;
};

using Clock = ApiKeyWatcher::Clock;
Clock::time_point later(int seconds) {
  return Clock::now() + std::chrono::seconds(seconds);
}

TEST_F(WatchedKeyFile, AnUnchangedFileIsNotReRead) {
  std::vector<Provider> providers{provider_};
  ApiKeyWatcher watcher(providers);
  watcher.pollOnce(later(1));
  watcher.pollOnce(later(2));
  EXPECT_EQ(loads_, 0);
  EXPECT_EQ(file_->version.load(), 0u);
}

TEST_F(WatchedKeyFile, AnEditReplacesTheKeysAndBumpsTheVersion) {
  std::vector<Provider> providers{provider_};
  ApiKeyWatcher watcher(providers);
  ApiKeyView view;
  ASSERT_NE(view.current(*file_)->find("alpha"), nullptr);
  write("beta\ngamma\n");
  watcher.pollOnce(later(1));
  EXPECT_EQ(loads_, 1);
  EXPECT_FALSE(knows("alpha"));  // revoked
  EXPECT_TRUE(knows("gamma"));
  EXPECT_EQ(file_->reloads.load(), 1u);
  // A worker's view follows the version.
  EXPECT_EQ(view.current(*file_)->find("alpha"), nullptr);
  EXPECT_NE(view.current(*file_)->find("beta"), nullptr);
}

TEST_F(WatchedKeyFile, NotBeforeItsInterval) {
  std::vector<Provider> providers{provider_};
  ApiKeyWatcher watcher(providers);
  write("beta\n");
  watcher.pollOnce(Clock::now());  // the interval (100 ms) has not passed
  EXPECT_EQ(loads_, 0);
  EXPECT_TRUE(knows("alpha"));
}

TEST_F(WatchedKeyFile, ABrokenEditKeepsTheLastGoodKeysAndIsReportedOnce) {
  std::vector<Provider> providers{provider_};
  ApiKeyWatcher watcher(providers);
  write("bad\n");
  watcher.pollOnce(later(1));
  watcher.pollOnce(later(2));  // same stamp: not read again
  EXPECT_EQ(loads_, 1);
  EXPECT_EQ(file_->failures.load(), 1u);
  EXPECT_TRUE(knows("alpha"));
  EXPECT_EQ(file_->version.load(), 0u);
  write("delta\n");  // fixed
  watcher.pollOnce(later(3));
  EXPECT_TRUE(knows("delta"));
  EXPECT_FALSE(knows("alpha"));
}

TEST_F(WatchedKeyFile, ARemovedFileKeepsTheKeysUntilItComesBack) {
  std::vector<Provider> providers{provider_};
  ApiKeyWatcher watcher(providers);
  std::remove(path_.c_str());
  watcher.pollOnce(later(1));
  watcher.pollOnce(later(2));
  EXPECT_EQ(loads_, 0);
  EXPECT_EQ(file_->failures.load(), 1u);  // once, not per pass
  EXPECT_TRUE(knows("alpha"));
  write("alpha\nomega\n");
  watcher.pollOnce(later(3));
  EXPECT_TRUE(knows("omega"));
}

TEST_F(WatchedKeyFile, ZeroIntervalIsNotWatched) {
  file_->watch_interval = std::chrono::milliseconds(0);
  std::vector<Provider> providers{provider_};
  ApiKeyWatcher watcher(providers);
  EXPECT_TRUE(watcher.empty());
  write("beta\n");
  watcher.pollOnce(later(1));
  EXPECT_TRUE(knows("alpha"));
}

TEST_F(WatchedKeyFile, TheThreadPicksUpAnEdit) {
  std::vector<Provider> providers{provider_};
  ApiKeyWatcher watcher(providers);
  watcher.start();
  write("epsilon\n");
  for (int i = 0; i < 100 && !knows("epsilon"); ++i) usleep(20'000);  // at most 2 s
  watcher.stop();
  EXPECT_TRUE(knows("epsilon"));
}

}  // namespace
}  // namespace rampart::auth
