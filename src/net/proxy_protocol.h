// The PROXY protocol (HAProxy's specification, versions 1 and 2): the header a
// load balancer sends before its client's bytes, naming the client it
// accepted. A pure parser: bytes in, a verdict out; no allocation, no socket,
// no state between calls (the caller parses again from the start of the
// connection's input after each read). No thread affinity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/address.h"

namespace rampart::net {

// v1: "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n", at most 107 bytes.
constexpr size_t kMaxProxyV1Bytes = 107;
// v2: 12-byte signature, version/command, family/transport, 16-bit length.
constexpr size_t kProxyV2FixedBytes = 16;
constexpr size_t kMaxProxyV2Bytes = kProxyV2FixedBytes + 65535;

enum class ProxyHeaderError : uint8_t {
  kNone,
  kNotProxy,          // the input starts with neither "PROXY " nor the v2 signature
  kV1TooLong,         // no CRLF within 107 bytes
  kV1BadLineEnd,      // a CR not followed by LF, or a bare LF
  kV1BadSyntax,       // not "PROXY" SP proto SP src SP dst SP sport SP dport CRLF
  kV1BadProtocol,     // neither TCP4, TCP6 nor UNKNOWN
  kV1BadAddress,      // not an address of the protocol's family
  kV1BadPort,         // not decimal 0-65535 without a leading zero
  kV2BadVersion,      // the version nibble is not 2
  kV2BadCommand,      // neither LOCAL nor PROXY
  kV2BadFamily,       // PROXY over anything but TCP over IPv4 or IPv6 (or UNSPEC)
  kV2ShortAddresses,  // the length cannot hold the family's addresses
  kV2TooLong,         // longer than the caller's limit
  kV2BadTlv,          // a TLV runs past the end of the header
};

// A short human-readable reason, for logs.
std::string_view describe(ProxyHeaderError error);

struct ProxyHeader {
  enum class State : uint8_t {
    kNeedMore,  // a valid beginning: read more and call again with all of it
    kDone,      // a complete header of `consumed` bytes; the client's bytes follow
    kError,     // malformed: close the connection; nothing after it is meaningful
  };
  enum class Command : uint8_t {
    kProxy,    // `source` and `destination` are the client's connection
    kLocal,    // v2 LOCAL: the sender's own connection (a health check); no addresses
    kUnknown,  // v1 UNKNOWN, or v2 PROXY over AF_UNSPEC: the sender does not know; no addresses
  };
  State state = State::kNeedMore;
  size_t consumed = 0;  // kDone only
  uint8_t version = 0;  // 1 or 2 once the signature is known
  Command command = Command::kUnknown;
  SocketAddress source;       // kDone with kProxy: the client's address and port
  SocketAddress destination;  // kDone with kProxy: the address the client connected to
  ProxyHeaderError error = ProxyHeaderError::kNone;
};

// Parses the header at the start of `input`. Strict: v1 exactly as the
// grammar says (single spaces, dotted-quad IPv4 without leading zeros, ports
// without leading zeros, CRLF within 107 bytes); v2 with the signature,
// version 2, LOCAL or PROXY, and for PROXY TCP over IPv4 or IPv6 (or UNSPEC)
// with a length that holds the addresses. TLVs after the addresses are
// skipped, but each must fit inside the header. A v2 header longer than
// `max_v2_bytes` is an error as soon as its length field arrives.
ProxyHeader parseProxyHeader(std::string_view input, size_t max_v2_bytes = kMaxProxyV2Bytes);

enum class ProxySignature : uint8_t {
  kNone,     // not a PROXY header
  kPartial,  // a proper prefix of one of the signatures (including empty input)
  kV1,       // starts with "PROXY "
  kV2,       // starts with the 12-byte v2 signature
};

// What the start of a connection's input looks like, without parsing further:
// lets a listener refuse a header from a peer that may not send one.
ProxySignature detectProxySignature(std::string_view input);

}  // namespace rampart::net
