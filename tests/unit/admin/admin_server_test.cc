#include "admin/admin_server.h"

#include <gtest/gtest.h>

#include "observe/export.h"

namespace rampart::admin {
namespace {

observe::MetricsSources noWorkers(bool draining) {
  observe::MetricsSources sources;
  sources.draining = draining;
  return sources;
}

std::string ask(std::string_view method, std::string_view target, std::string_view auth = {},
                const std::string& token = {}, bool draining = false) {
  AdminServer::Sources sources = [draining] { return noWorkers(draining); };
  return answerAdminRequest(method, target, auth, token, sources);
}

TEST(AdminServerTest, EndpointsAndStatuses) {
  EXPECT_EQ(ask("GET", "/live").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(ask("GET", "/ready").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(ask("GET", "/ready", {}, {}, true).rfind("HTTP/1.1 503 ", 0), 0u);
  EXPECT_EQ(ask("GET", "/metrics?x=1").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(ask("GET", "/stats").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(ask("GET", "/other").rfind("HTTP/1.1 404 ", 0), 0u);
  std::string post = ask("POST", "/metrics");
  EXPECT_EQ(post.rfind("HTTP/1.1 405 ", 0), 0u);
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos);
}

TEST(AdminServerTest, HeadHasTheHeadersAndNoBody) {
  std::string head = ask("HEAD", "/live");
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
  EXPECT_NE(head.find("Content-Length: 5\r\n"), std::string::npos);
}

TEST(AdminServerTest, TheTokenIsCheckedExactly) {
  const std::string token = "0123456789abcdef";
  EXPECT_EQ(ask("GET", "/stats", {}, token).rfind("HTTP/1.1 401 ", 0), 0u);
  EXPECT_EQ(ask("GET", "/live", "Bearer 0123456789abcdeX", token).rfind("HTTP/1.1 401 ", 0), 0u);
  EXPECT_EQ(ask("GET", "/live", "Bearer 0123456789abcdef0", token).rfind("HTTP/1.1 401 ", 0), 0u);
  EXPECT_EQ(ask("GET", "/live", "Basic 0123456789abcdef", token).rfind("HTTP/1.1 401 ", 0), 0u);
  EXPECT_EQ(ask("GET", "/live", "Bearer 0123456789abcdef", token).rfind("HTTP/1.1 200 ", 0), 0u);
  EXPECT_EQ(ask("GET", "/live", "bearer 0123456789abcdef", token).rfind("HTTP/1.1 200 ", 0), 0u);
}

TEST(ExportTest, EscapesLabelValuesAndJson) {
  EXPECT_EQ(observe::escapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(observe::escapeJson("a\"b\\c\x01"), "a\\\"b\\\\c\\u0001");
}

}  // namespace
}  // namespace rampart::admin
