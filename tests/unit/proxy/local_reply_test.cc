#include "proxy/local_reply.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::proxy {
namespace {

TEST(LocalReplyTest, ProblemJsonWithStatusTitleAndRequestId) {
  core::Buffer out(64);
  appendLocalReply(out, {404, "Not Found", "no route matches this request", false}, "abc123", false,
                   false);
  std::string text(out.readable());
  EXPECT_EQ(text.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_NE(text.find("Content-Type: application/problem+json\r\n"), std::string::npos);
  EXPECT_NE(text.find("x-request-id: abc123\r\n"), std::string::npos);
  EXPECT_EQ(text.find("Connection: close"), std::string::npos);
  size_t body_at = text.find("\r\n\r\n") + 4;
  std::string body = text.substr(body_at);
  EXPECT_NE(body.find(R"("status":404)"), std::string::npos);
  EXPECT_NE(body.find(R"("title":"Not Found")"), std::string::npos);
  EXPECT_NE(body.find(R"("request_id":"abc123")"), std::string::npos);
  EXPECT_NE(text.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
}

TEST(LocalReplyTest, CloseAndHeadOnly) {
  core::Buffer out(64);
  appendLocalReply(out, {400, "Bad Request", "bad \"quote\"", true}, "id", true, true);
  std::string text(out.readable());
  EXPECT_NE(text.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(text.substr(text.size() - 4), "\r\n\r\n");  // no body for HEAD
}

TEST(LocalReplyTest, DetailIsJsonEscaped) {
  core::Buffer out(64);
  appendLocalReply(out, {400, "Bad Request", "a \"b\"\n", true}, "id", true, false);
  std::string text(out.readable());
  EXPECT_NE(text.find(R"("detail":"a \"b\"\n")"), std::string::npos);
}

}  // namespace
}  // namespace rampart::proxy
