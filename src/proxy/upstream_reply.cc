#include "proxy/upstream_reply.h"

namespace rampart::proxy {

LocalReply upstreamFailureReply(upstream::FailureCause cause, bool close) {
  using upstream::FailureCause;
  // Literals: a LocalReply holds views, so each type lives as long as the program.
  LocalReply reply;
  switch (cause) {
    case FailureCause::kConnectFailure:
      reply = {502, "Bad Gateway", "the upstream refused the connection", close};
      reply.type = "urn:rampart:problem:connect-failure";
      break;
    case FailureCause::kConnectTimeout:
      reply = {504, "Gateway Timeout", "the upstream did not accept the connection in time", close};
      reply.type = "urn:rampart:problem:connect-timeout";
      break;
    case FailureCause::kTimeout:
      reply = {504, "Gateway Timeout", "the upstream did not answer in time", close};
      reply.type = "urn:rampart:problem:timeout";
      break;
    case FailureCause::kReset:
      reply = {502, "Bad Gateway", "the upstream closed the connection before answering", close};
      reply.type = "urn:rampart:problem:reset";
      break;
    case FailureCause::kBadResponse:
      reply = {502, "Bad Gateway", "the upstream's response was not valid HTTP", close};
      reply.type = "urn:rampart:problem:bad-response";
      break;
    case FailureCause::kNoHealthyUpstream:
      reply = {503, "Service Unavailable", "no healthy upstream endpoint is available", close};
      reply.type = "urn:rampart:problem:no-healthy-upstream";
      break;
  }
  return reply;
}

}  // namespace rampart::proxy
