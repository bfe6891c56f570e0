#include "proxy/proxy_header.h"

#include "net/proxy_protocol.h"

namespace rampart::proxy {

namespace {

ProxyHeaderVerdict refuse(std::string_view reason) {
  ProxyHeaderVerdict verdict;
  verdict.kind = ProxyHeaderVerdict::Kind::kRefuse;
  verdict.reason = reason;
  return verdict;
}

ProxyHeaderVerdict proceed(size_t consumed) {
  ProxyHeaderVerdict verdict;
  verdict.kind = ProxyHeaderVerdict::Kind::kProceed;
  verdict.consumed = consumed;
  return verdict;
}

}  // namespace

ProxyHeaderRule proxyHeaderRule(bool listener_proxy_protocol, bool peer_trusted) {
  if (!listener_proxy_protocol) return ProxyHeaderRule::kNone;
  return peer_trusted ? ProxyHeaderRule::kRequired : ProxyHeaderRule::kForbidden;
}

ProxyHeaderVerdict readProxyHeader(std::string_view input, ProxyHeaderRule rule) {
  switch (rule) {
    case ProxyHeaderRule::kNone:
      return proceed(0);
    case ProxyHeaderRule::kForbidden:
      // Only a trusted proxy may say who the client is: a header from anyone
      // else is a spoofing attempt, refused rather than parsed as HTTP.
      switch (net::detectProxySignature(input)) {
        case net::ProxySignature::kPartial:
          return ProxyHeaderVerdict{};
        case net::ProxySignature::kV1:
        case net::ProxySignature::kV2:
          return refuse("PROXY header from a peer that is not a trusted proxy");
        case net::ProxySignature::kNone:
          return proceed(0);
      }
      return proceed(0);
    case ProxyHeaderRule::kRequired:
      break;
  }
  // A trusted proxy's connection without a header is refused too (as
  // HAProxy's accept-proxy does): served, it would make the proxy's own
  // address the client of every request it carries.
  net::ProxyHeader header = net::parseProxyHeader(input, kMaxProxyHeaderBytes);
  switch (header.state) {
    case net::ProxyHeader::State::kNeedMore:
      return ProxyHeaderVerdict{};
    case net::ProxyHeader::State::kError:
      return refuse(header.error == net::ProxyHeaderError::kNotProxy
                        ? "no PROXY header from a trusted proxy"
                        : net::describe(header.error));
    case net::ProxyHeader::State::kDone:
      break;
  }
  ProxyHeaderVerdict verdict = proceed(header.consumed);
  if (header.command == net::ProxyHeader::Command::kProxy) {
    verdict.named_client = true;
    verdict.client = header.source;
  }
  return verdict;
}

}  // namespace rampart::proxy
