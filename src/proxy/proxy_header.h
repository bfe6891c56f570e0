// The PROXY protocol on a listener with `proxy_protocol: true`: what the first
// bytes of a connection decide before the HTTP parser sees any. A thin, pure
// adapter over net/proxy_protocol.h for the session (no socket, no state);
// called on the worker thread while a connection's first bytes arrive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/address.h"

namespace rampart::proxy {

// The largest v2 header taken: the session's first input buffer. The
// protocol allows 64 KiB of TLVs, but the senders in use (HAProxy, AWS NLB,
// GCP, Azure) send tens of bytes; a bigger header is refused, not buffered.
constexpr size_t kMaxProxyHeaderBytes = 16 * 1024;

// What a connection owes, decided at accept from its socket peer.
enum class ProxyHeaderRule : uint8_t {
  kNone,       // not a PROXY-protocol listener, or the header was already taken
  kRequired,   // the peer is a trusted proxy: the connection must start with a header
  kForbidden,  // any other peer speaks HTTP itself and may not send a header
};

ProxyHeaderRule proxyHeaderRule(bool listener_proxy_protocol, bool peer_trusted);

struct ProxyHeaderVerdict {
  enum class Kind : uint8_t {
    kNeedMore,  // undecided: read more (the head timeout bounds the wait)
    kProceed,   // drop `consumed` bytes; HTTP follows
    kRefuse,    // close the connection without a response; `reason` says why
  };
  Kind kind = Kind::kNeedMore;
  size_t consumed = 0;
  // kProceed: the header named the client (PROXY over TCP4/TCP6); `client`
  // replaces the socket peer for everything after. False for LOCAL and
  // UNKNOWN, and without a header: the socket peer stays the client.
  bool named_client = false;
  net::SocketAddress client;
  std::string_view reason;
};

// Decides on the start of a connection's input (call again with all of it
// after each read, while the verdict is kNeedMore).
ProxyHeaderVerdict readProxyHeader(std::string_view input, ProxyHeaderRule rule);

}  // namespace rampart::proxy
