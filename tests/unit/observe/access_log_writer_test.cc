#include "observe/access_log_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace rampart::observe {
namespace {

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void put(AccessRing& ring, const std::string& line) {
  char* slot = ring.reserve();
  ASSERT_NE(slot, nullptr);
  line.copy(slot, line.size());
  ring.publish(line.size());
}

TEST(AccessLogWriterTest, EveryRingIsWrittenAndStopDrainsTheRest) {
  std::string path = ::testing::TempDir() + "/access_writer_test.log";
  std::remove(path.c_str());
  AccessLogSettings settings;
  settings.path = path;
  settings.buffer_lines = 16;
  AccessLogWriter writer(settings, 2);
  std::string error;
  ASSERT_TRUE(writer.start(&error)) << error;
  put(*writer.ring(0), "a\n");
  put(*writer.ring(1), "b\n");
  writer.stop();  // drains what the thread has not taken yet
  std::string text = readAll(path);
  EXPECT_TRUE(text == "a\nb\n" || text == "b\na\n") << text;
  EXPECT_EQ(writer.linesWritten(), 2u);
  EXPECT_EQ(writer.linesLost(), 0u);
}

TEST(AccessLogWriterTest, ReopenFollowsARotatedFile) {
  std::string path = ::testing::TempDir() + "/access_writer_rotate.log";
  std::string rotated = path + ".1";
  std::remove(path.c_str());
  std::remove(rotated.c_str());
  AccessLogSettings settings;
  settings.path = path;
  settings.buffer_lines = 16;
  AccessLogWriter writer(settings, 1);
  std::string error;
  ASSERT_TRUE(writer.start(&error)) << error;
  put(*writer.ring(0), "old\n");
  for (int i = 0; i < 200 && readAll(path).empty(); ++i) usleep(10'000);
  ASSERT_EQ(std::rename(path.c_str(), rotated.c_str()), 0);
  writer.requestReopen();
  put(*writer.ring(0), "new\n");
  writer.stop();
  EXPECT_EQ(readAll(rotated), "old\n");
  EXPECT_EQ(readAll(path), "new\n");
}

TEST(AccessLogWriterTest, AnUnopenableFileIsRefusedAtStart) {
  AccessLogSettings settings;
  settings.path = "/nonexistent-dir/access.log";
  AccessLogWriter writer(settings, 1);
  std::string error;
  EXPECT_FALSE(writer.start(&error));
  EXPECT_NE(error.find("/nonexistent-dir/access.log"), std::string::npos) << error;
}

}  // namespace
}  // namespace rampart::observe
