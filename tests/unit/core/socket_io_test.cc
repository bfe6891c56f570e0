#include "core/socket_io.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>

namespace rampart::core {
namespace {

struct SocketPair {
  int fds[2] = {-1, -1};
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0); }
  ~SocketPair() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
};

std::string receiveAll(int fd, size_t want) {
  std::string out(want, '\0');
  size_t have = 0;
  while (have < want) {
    ssize_t n = receiveSome(fd, out.data() + have, want - have);
    if (n <= 0) break;
    have += static_cast<size_t>(n);
  }
  out.resize(have);
  return out;
}

TEST(SocketIo, SendSomeAndReceiveSomeMoveTheBytes) {
  SocketPair pair;
  ASSERT_EQ(sendSome(pair.fds[0], "hello", 5), 5);
  EXPECT_EQ(receiveAll(pair.fds[1], 5), "hello");
}

TEST(SocketIo, SendVectorSendsEveryPieceInOrder) {
  SocketPair pair;
  char head[] = "GET / HTTP/1.1\r\n\r\n";
  char body[] = "body";
  iovec one[1] = {{head, sizeof(head) - 1}};
  ASSERT_EQ(sendVector(pair.fds[0], one, 1), static_cast<ssize_t>(sizeof(head) - 1));
  iovec two[2] = {{head, sizeof(head) - 1}, {body, sizeof(body) - 1}};
  ASSERT_EQ(sendVector(pair.fds[0], two, 2), static_cast<ssize_t>(sizeof(head) + sizeof(body) - 2));
  EXPECT_EQ(receiveAll(pair.fds[1], 2 * (sizeof(head) - 1) + sizeof(body) - 1),
            std::string(head) + head + body);
}

TEST(SocketIo, ReceiveSomeSeesTheOrderlyClose) {
  SocketPair pair;
  ::close(pair.fds[0]);
  pair.fds[0] = -1;
  char byte = 0;
  EXPECT_EQ(receiveSome(pair.fds[1], &byte, 1), 0);
}

// A peer gone away is an error to handle, not a signal that ends the process.
TEST(SocketIo, WritingToAClosedPeerIsEpipeNotSigpipe) {
  struct sigaction previous {};
  struct sigaction fatal {};
  fatal.sa_handler = SIG_DFL;
  ASSERT_EQ(::sigaction(SIGPIPE, &fatal, &previous), 0);
  SocketPair pair;
  ::close(pair.fds[1]);
  pair.fds[1] = -1;
  errno = 0;
  EXPECT_EQ(sendSome(pair.fds[0], "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  iovec two[2] = {{const_cast<char*>("a"), 1}, {const_cast<char*>("b"), 1}};
  errno = 0;
  EXPECT_EQ(sendVector(pair.fds[0], two, 2), -1);
  EXPECT_EQ(errno, EPIPE);
  ::sigaction(SIGPIPE, &previous, nullptr);
}

TEST(SocketIo, OnlyForSockets) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  char byte = 0;
  errno = 0;
  EXPECT_EQ(receiveSome(pipe_fds[0], &byte, 1), -1);
  EXPECT_EQ(errno, ENOTSOCK);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

}  // namespace
}  // namespace rampart::core
