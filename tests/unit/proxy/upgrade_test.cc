// The binary upgrade's hand-over, the failures the old process must survive
// (the new binary exits, or cannot be started) and the new process's side
// when it was not started by an upgrade. The hand-over itself, between two
// real rampart processes, is tests/integration/test_reload.py's.
#include "proxy/upgrade.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

namespace rampart::proxy::upgrade {
namespace {

using ::testing::HasSubstr;

std::vector<Socket> oneSocket() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  return {Socket{"127.0.0.1:1", fd}};
}

TEST(UpgradeTest, ANewBinaryThatExitsFailsTheUpgradeAndKeepsTheSockets) {
  std::vector<Socket> sockets = oneSocket();
  pid_t pid = 0;
  std::string error;
  EXPECT_FALSE(
      handOver("/bin/false", {"/bin/false"}, sockets, std::chrono::seconds(5), &pid, &error));
  EXPECT_THAT(error, HasSubstr("exited with 1"));
  // Still ours, still open.
  int type = 0;
  socklen_t length = sizeof(type);
  EXPECT_EQ(getsockopt(sockets[0].fd, SOL_SOCKET, SO_TYPE, &type, &length), 0);
  close(sockets[0].fd);
}

TEST(UpgradeTest, ABinaryThatCannotBeStartedFailsTheUpgrade) {
  std::vector<Socket> sockets = oneSocket();
  pid_t pid = 0;
  std::string error;
  EXPECT_FALSE(handOver("/nonexistent/rampart", {"rampart"}, sockets, std::chrono::seconds(5), &pid,
                        &error));
  EXPECT_THAT(error, HasSubstr("exited with 127"));
  close(sockets[0].fd);
}

TEST(UpgradeTest, ANewBinaryThatNeverSaysItServesIsKilledAtTheDeadline) {
  std::vector<Socket> sockets = oneSocket();
  pid_t pid = 0;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(handOver("/bin/sleep", {"/bin/sleep", "30"}, sockets, std::chrono::milliseconds(300),
                        &pid, &error));
  EXPECT_THAT(error, HasSubstr("in time"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  close(sockets[0].fd);
}

TEST(UpgradeTest, WithoutTheChannelThisIsNotAnUpgrade) {
  unsetenv(kChannelEnv);
  std::string error;
  EXPECT_FALSE(receive(&error).has_value());
  EXPECT_TRUE(error.empty());
}

}  // namespace
}  // namespace rampart::proxy::upgrade
