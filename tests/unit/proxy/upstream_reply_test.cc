// Upstream failures answer problem+json with a stable type per cause.
#include "proxy/upstream_reply.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "proxy/local_reply.h"

namespace rampart::proxy {
namespace {

using upstream::FailureCause;

TEST(UpstreamReplyTest, EachCauseHasItsStatusAndAStableType) {
  struct Case {
    FailureCause cause;
    uint16_t status;
    const char* type;
  };
  const Case cases[] = {
      {FailureCause::kConnectFailure, 502, "urn:rampart:problem:connect-failure"},
      {FailureCause::kConnectTimeout, 504, "urn:rampart:problem:connect-timeout"},
      {FailureCause::kTimeout, 504, "urn:rampart:problem:timeout"},
      {FailureCause::kReset, 502, "urn:rampart:problem:reset"},
      {FailureCause::kBadResponse, 502, "urn:rampart:problem:bad-response"},
      {FailureCause::kNoHealthyUpstream, 503, "urn:rampart:problem:no-healthy-upstream"},
  };
  std::set<std::string> types;
  for (const Case& c : cases) {
    LocalReply reply = upstreamFailureReply(c.cause, false);
    EXPECT_EQ(reply.status, c.status) << c.type;
    EXPECT_EQ(reply.type, c.type);
    // The type is the prefix and the counter's cause name, nothing else.
    EXPECT_EQ(std::string(reply.type),
              std::string(kProblemTypePrefix) + std::string(upstream::causeType(c.cause)));
    EXPECT_FALSE(reply.detail.empty());
    EXPECT_FALSE(reply.close_connection);
    types.insert(std::string(reply.type));
  }
  EXPECT_EQ(types.size(), upstream::kFailureCauseCount);
  EXPECT_TRUE(upstreamFailureReply(FailureCause::kReset, true).close_connection);
}

TEST(UpstreamReplyTest, TheTypeReachesTheBody) {
  core::Buffer out(64);
  appendLocalReply(out, upstreamFailureReply(FailureCause::kNoHealthyUpstream, false), "id1", false,
                   false);
  std::string text(out.readable());
  EXPECT_EQ(text.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u);
  EXPECT_NE(
      text.find(
          R"({"type":"urn:rampart:problem:no-healthy-upstream","title":"Service Unavailable","status":503)"),
      std::string::npos)
      << text;
}

TEST(UpstreamReplyTest, OtherRepliesStayAboutBlank) {
  core::Buffer out(64);
  appendLocalReply(out, {404, "Not Found", "", false}, "id2", false, false);
  EXPECT_NE(std::string(out.readable()).find(R"({"type":"about:blank")"), std::string::npos);
}

}  // namespace
}  // namespace rampart::proxy
