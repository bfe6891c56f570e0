#include "tls/socket_bio.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace rampart::tls {
namespace {

class SocketBioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
    bio_ = newSocketBio(fds_[0]);
    ASSERT_NE(bio_, nullptr);
  }
  void TearDown() override {
    BIO_free(bio_);
    close(fds_[0]);  // the BIO does not own its descriptor
    close(fds_[1]);
  }
  int fds_[2] = {-1, -1};
  BIO* bio_ = nullptr;
};

TEST_F(SocketBioTest, AShortReadSaysTheSocketIsDrained) {
  ASSERT_EQ(write(fds_[1], "hello", 5), 5);
  char buf[64];
  EXPECT_EQ(BIO_read(bio_, buf, sizeof(buf)), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_TRUE(socketDrained(bio_));
}

TEST_F(SocketBioTest, AFullReadMayHaveLeftMoreAndEagainIsARetry) {
  ASSERT_EQ(write(fds_[1], "0123456789", 10), 10);
  char buf[4];
  EXPECT_EQ(BIO_read(bio_, buf, sizeof(buf)), 4);
  EXPECT_FALSE(socketDrained(bio_));  // it filled the buffer: more may wait
  char rest[16];
  EXPECT_EQ(BIO_read(bio_, rest, sizeof(rest)), 6);
  EXPECT_TRUE(socketDrained(bio_));
  EXPECT_EQ(BIO_read(bio_, rest, sizeof(rest)), -1);  // EAGAIN
  EXPECT_TRUE(BIO_should_retry(bio_) && BIO_should_read(bio_));
  EXPECT_TRUE(socketDrained(bio_));
}

TEST_F(SocketBioTest, WritesGoToTheSocketAndAFinReadsAsZero) {
  EXPECT_EQ(BIO_write(bio_, "ping", 4), 4);
  EXPECT_EQ(BIO_flush(bio_), 1);
  char buf[8];
  ASSERT_EQ(read(fds_[1], buf, sizeof(buf)), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  shutdown(fds_[1], SHUT_WR);
  EXPECT_EQ(BIO_read(bio_, buf, sizeof(buf)), 0);
  EXPECT_FALSE(BIO_should_retry(bio_));
}

TEST_F(SocketBioTest, AFullSocketIsAWriteRetry) {
  std::string chunk(64 * 1024, 'x');
  int n = 0;
  for (int i = 0;
       i < 1000 && (n = BIO_write(bio_, chunk.data(), static_cast<int>(chunk.size()))) > 0; ++i) {
  }
  EXPECT_EQ(n, -1);
  EXPECT_TRUE(BIO_should_retry(bio_) && BIO_should_write(bio_));
}

TEST(SocketBio, OtherBiosAreNeverCalledDrained) {
  BIO* memory = BIO_new(BIO_s_mem());
  EXPECT_FALSE(socketDrained(memory));
  EXPECT_FALSE(socketDrained(nullptr));
  BIO_free(memory);
}

}  // namespace
}  // namespace rampart::tls
