// The health checker's rounds against a real loopback listener: the check
// request it sends, and the verdicts it publishes for workers to read.
#include "upstream/health_checker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace rampart::upstream {
namespace {

// Answers each connection with `status` and remembers the last request head.
class TinyServer {
 public:
  TinyServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t length = sizeof(address);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TinyServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  void setStatus(int status) { status_ = status; }
  std::string lastRequest() {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_request_;
  }

 private:
  void serve() {
    while (!stopping_) {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      std::string head;
      char buffer[1024];
      while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        head.append(buffer, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        last_request_ = head;
      }
      std::string response = "HTTP/1.1 " + std::to_string(status_.load()) +
                             " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      ::send(client, response.data(), response.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> status_{200};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::string last_request_;
  std::thread thread_;
};

ClusterSpec checkedCluster(uint16_t live_port, uint16_t dead_port) {
  ClusterSpec spec;
  spec.name = "app";
  for (uint16_t port : {live_port, dead_port}) {
    std::string address = std::string("127.0.0.1:") + std::to_string(port);
    spec.endpoints.push_back(net::SocketAddress::parseNumeric(address).value());
    spec.endpoint_names.push_back(address);
  }
  HealthCheckSpec check;
  check.path = "/hc?x=1";
  check.host = "health.example";
  check.expected = {{200, 299}};
  check.timeout = std::chrono::milliseconds(2000);
  check.healthy_threshold = 1;
  check.unhealthy_threshold = 2;
  spec.health_check = check;
  spec.health = std::make_shared<ClusterHealth>(2);
  return spec;
}

uint16_t deadPort() {
  // Bind, read the port, close: nothing listens there afterwards.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

TEST(HealthCheckerTest, RoundsPublishVerdictsAfterTheirThresholds) {
  TinyServer server;
  std::vector<ClusterSpec> clusters{checkedCluster(server.port(), deadPort())};
  const ClusterHealth& health = *clusters[0].health;
  HealthChecker checker(clusters);

  checker.runRound(0);
  EXPECT_EQ(server.lastRequest().rfind("GET /hc?x=1 HTTP/1.1\r\nHost: health.example\r\n", 0), 0u)
      << server.lastRequest();
  EXPECT_EQ(health.unhealthyCount(), 0u);  // one failure of the dead one: not yet
  EXPECT_EQ(health.checks.load(), 2u);
  EXPECT_EQ(health.failed_checks.load(), 1u);

  checker.runRound(0);
  EXPECT_EQ(health.unhealthyCount(), 1u);  // two in a row: the dead endpoint is out
  EXPECT_TRUE(health.healthy(0));
  EXPECT_FALSE(health.healthy(1));

  server.setStatus(503);
  checker.runRound(0);
  checker.runRound(0);
  EXPECT_FALSE(health.healthy(0));
  EXPECT_EQ(health.unhealthyCount(), 2u);
  EXPECT_EQ(health.marked_unhealthy.load(), 2u);

  server.setStatus(204);
  checker.runRound(0);  // healthy_threshold 1: back at once
  EXPECT_TRUE(health.healthy(0));
  EXPECT_EQ(health.unhealthyCount(), 1u);
  EXPECT_EQ(health.marked_healthy.load(), 1u);
}

TEST(HealthCheckerTest, ClustersWithoutAHealthCheckAreLeftAlone) {
  std::vector<ClusterSpec> clusters(1);
  clusters[0].name = "plain";
  HealthChecker checker(clusters);
  checker.start();  // nothing to run: no thread, nothing published
  checker.stop();
  EXPECT_EQ(clusters[0].health, nullptr);
}

TEST(HealthCheckerTest, StartedRoundsRunOnTheirOwnAndStopPromptly) {
  TinyServer server;
  server.setStatus(500);
  std::vector<ClusterSpec> clusters{checkedCluster(server.port(), server.port())};
  clusters[0].health_check->interval = std::chrono::milliseconds(20);
  const ClusterHealth& health = *clusters[0].health;
  HealthChecker checker(clusters);
  checker.start();
  for (int i = 0; i < 200 && health.unhealthyCount() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  checker.stop();
  EXPECT_EQ(health.unhealthyCount(), 2u);
  uint64_t checks = health.checks.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(health.checks.load(), checks);  // stopped: no more rounds
}

}  // namespace
}  // namespace rampart::upstream
