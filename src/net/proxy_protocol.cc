#include "net/proxy_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace rampart::net {

namespace {

constexpr std::string_view kV1Signature = "PROXY ";
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};

using State = ProxyHeader::State;
using Command = ProxyHeader::Command;

ProxyHeader fail(ProxyHeader out, ProxyHeaderError error) {
  out.state = State::kError;
  out.consumed = 0;
  out.error = error;
  return out;
}

// True when `input` and `signature` agree on their common length.
bool agrees(std::string_view input, std::string_view signature) {
  size_t n = std::min(input.size(), signature.size());
  return input.substr(0, n) == signature.substr(0, n);
}

// Decimal 0-65535, no sign, no leading zero (a sender never writes one; a
// strict reader leaves no second spelling of the same port).
bool parsePort(std::string_view text, uint16_t* out) {
  if (text.empty() || text.size() > 5) return false;
  if (text.size() > 1 && text.front() == '0') return false;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return false;
  *out = static_cast<uint16_t>(value);
  return true;
}

// inet_pton needs a NUL-terminated copy; addresses are short, so it lives on
// the stack. glibc's AF_INET form is the four-part dotted quad only, without
// leading zeros; AF_INET6 is RFC 4291 text.
bool parseIp(std::string_view text, int family, uint16_t port, SocketAddress* out) {
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof(buf)) return false;
  if (text.find('\0') != std::string_view::npos) return false;  // inet_pton would stop there
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    if (inet_pton(AF_INET, buf, &sin.sin_addr) != 1) return false;
    *out = SocketAddress(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
    return true;
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  if (inet_pton(AF_INET6, buf, &sin6.sin6_addr) != 1) return false;
  *out = SocketAddress(reinterpret_cast<const sockaddr*>(&sin6), sizeof(sin6));
  return true;
}

// The next space-separated field of `line`; false when there is none or it is
// empty (two spaces in a row, a leading or trailing space).
bool nextField(std::string_view* line, std::string_view* field, bool last) {
  size_t space = line->find(' ');
  if (last) {
    if (space != std::string_view::npos || line->empty()) return false;
    *field = *line;
    *line = {};
    return true;
  }
  if (space == std::string_view::npos || space == 0) return false;
  *field = line->substr(0, space);
  line->remove_prefix(space + 1);
  return true;
}

ProxyHeader parseV1(std::string_view input) {
  ProxyHeader out;
  out.version = 1;
  // Find the CRLF within the first 107 bytes; a bare CR or LF is an error at once.
  size_t limit = std::min(input.size(), kMaxProxyV1Bytes);
  size_t end = std::string_view::npos;
  for (size_t i = kV1Signature.size(); i < limit; ++i) {
    char c = input[i];
    if (c == '\n') return fail(out, ProxyHeaderError::kV1BadLineEnd);
    if (c != '\r') continue;
    if (i + 1 >= input.size()) break;  // the LF may be in the next read
    if (i + 1 >= kMaxProxyV1Bytes || input[i + 1] != '\n') {
      return fail(out, i + 1 >= kMaxProxyV1Bytes ? ProxyHeaderError::kV1TooLong
                                                 : ProxyHeaderError::kV1BadLineEnd);
    }
    end = i;
    break;
  }
  if (end == std::string_view::npos) {
    if (input.size() >= kMaxProxyV1Bytes) return fail(out, ProxyHeaderError::kV1TooLong);
    return out;  // kNeedMore
  }
  std::string_view line = input.substr(kV1Signature.size(), end - kV1Signature.size());
  const size_t consumed = end + 2;

  // "UNKNOWN" alone or followed by anything: the sender does not know the
  // client; whatever follows is to be ignored (the specification says so).
  constexpr std::string_view kUnknown = "UNKNOWN";
  if (line == kUnknown ||
      (line.size() > kUnknown.size() && line.substr(0, kUnknown.size()) == kUnknown &&
       line[kUnknown.size()] == ' ')) {
    out.state = State::kDone;
    out.command = Command::kUnknown;
    out.consumed = consumed;
    return out;
  }
  size_t space = line.find(' ');
  std::string_view protocol = line.substr(0, space);
  int family = 0;
  if (protocol == "TCP4") {
    family = AF_INET;
  } else if (protocol == "TCP6") {
    family = AF_INET6;
  } else {
    return fail(
        out, protocol.empty() ? ProxyHeaderError::kV1BadSyntax : ProxyHeaderError::kV1BadProtocol);
  }
  if (space == std::string_view::npos) return fail(out, ProxyHeaderError::kV1BadSyntax);
  line.remove_prefix(space + 1);
  std::string_view source, destination, source_port, destination_port;
  if (!nextField(&line, &source, false) || !nextField(&line, &destination, false) ||
      !nextField(&line, &source_port, false) || !nextField(&line, &destination_port, true)) {
    return fail(out, ProxyHeaderError::kV1BadSyntax);
  }
  uint16_t sport = 0, dport = 0;
  if (!parsePort(source_port, &sport) || !parsePort(destination_port, &dport)) {
    return fail(out, ProxyHeaderError::kV1BadPort);
  }
  if (!parseIp(source, family, sport, &out.source) ||
      !parseIp(destination, family, dport, &out.destination)) {
    return fail(out, ProxyHeaderError::kV1BadAddress);
  }
  out.state = State::kDone;
  out.command = Command::kProxy;
  out.consumed = consumed;
  return out;
}

uint16_t readU16(const unsigned char* p) {
  return static_cast<uint16_t>(static_cast<uint16_t>(p[0]) << 8 | p[1]);
}

ProxyHeader parseV2(std::string_view input, size_t max_bytes) {
  ProxyHeader out;
  out.version = 2;
  if (input.size() < kProxyV2FixedBytes) return out;  // kNeedMore
  const auto* bytes = reinterpret_cast<const unsigned char*>(input.data());
  const unsigned version = bytes[12] >> 4;
  const unsigned command = bytes[12] & 0x0F;
  const unsigned family = bytes[13];
  const size_t length = readU16(bytes + 14);
  const size_t total = kProxyV2FixedBytes + length;
  if (version != 2) return fail(out, ProxyHeaderError::kV2BadVersion);
  if (command > 1) return fail(out, ProxyHeaderError::kV2BadCommand);
  if (total > max_bytes) return fail(out, ProxyHeaderError::kV2TooLong);

  // Everything the fixed part decides is decided before waiting for the rest.
  size_t address_bytes = 0;
  if (command == 0) {
    out.command = Command::kLocal;  // the family is ignored, the block skipped
  } else if (family == 0x00) {
    out.command = Command::kUnknown;  // AF_UNSPEC: the address block is to be ignored
  } else if (family == 0x11) {
    out.command = Command::kProxy;  // TCP over IPv4
    address_bytes = 12;
  } else if (family == 0x21) {
    out.command = Command::kProxy;  // TCP over IPv6
    address_bytes = 36;
  } else {
    return fail(out, ProxyHeaderError::kV2BadFamily);  // UDP, unix sockets, unknown values
  }
  if (length < address_bytes) return fail(out, ProxyHeaderError::kV2ShortAddresses);
  if (input.size() < total) return out;  // kNeedMore

  if (out.command == Command::kProxy) {
    const unsigned char* block = bytes + kProxyV2FixedBytes;
    if (family == 0x11) {
      sockaddr_in source{}, destination{};
      source.sin_family = destination.sin_family = AF_INET;
      std::memcpy(&source.sin_addr, block, 4);
      std::memcpy(&destination.sin_addr, block + 4, 4);
      std::memcpy(&source.sin_port, block + 8, 2);  // both in network order already
      std::memcpy(&destination.sin_port, block + 10, 2);
      out.source = SocketAddress(reinterpret_cast<const sockaddr*>(&source), sizeof(source));
      out.destination =
          SocketAddress(reinterpret_cast<const sockaddr*>(&destination), sizeof(destination));
    } else {
      sockaddr_in6 source{}, destination{};
      source.sin6_family = destination.sin6_family = AF_INET6;
      std::memcpy(&source.sin6_addr, block, 16);
      std::memcpy(&destination.sin6_addr, block + 16, 16);
      std::memcpy(&source.sin6_port, block + 32, 2);
      std::memcpy(&destination.sin6_port, block + 34, 2);
      out.source = SocketAddress(reinterpret_cast<const sockaddr*>(&source), sizeof(source));
      out.destination =
          SocketAddress(reinterpret_cast<const sockaddr*>(&destination), sizeof(destination));
    }
    // TLVs (type, 16-bit length, value) fill the rest: none is interpreted,
    // but a header whose TLVs do not tile it exactly is malformed.
    size_t at = kProxyV2FixedBytes + address_bytes;
    while (at < total) {
      if (total - at < 3) return fail(out, ProxyHeaderError::kV2BadTlv);
      size_t value = readU16(bytes + at + 1);
      if (total - at - 3 < value) return fail(out, ProxyHeaderError::kV2BadTlv);
      at += 3 + value;
    }
  }
  out.state = State::kDone;
  out.consumed = total;
  return out;
}

}  // namespace

std::string_view describe(ProxyHeaderError error) {
  switch (error) {
    case ProxyHeaderError::kNone:
      return "no error";
    case ProxyHeaderError::kNotProxy:
      return "not a PROXY protocol header";
    case ProxyHeaderError::kV1TooLong:
      return "PROXY v1 header without CRLF within 107 bytes";
    case ProxyHeaderError::kV1BadLineEnd:
      return "PROXY v1 header with a bare CR or LF";
    case ProxyHeaderError::kV1BadSyntax:
      return "malformed PROXY v1 header";
    case ProxyHeaderError::kV1BadProtocol:
      return "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN";
    case ProxyHeaderError::kV1BadAddress:
      return "PROXY v1 address is not of the protocol's family";
    case ProxyHeaderError::kV1BadPort:
      return "PROXY v1 port is not a decimal 0-65535";
    case ProxyHeaderError::kV2BadVersion:
      return "PROXY v2 header with a version other than 2";
    case ProxyHeaderError::kV2BadCommand:
      return "PROXY v2 command is not LOCAL or PROXY";
    case ProxyHeaderError::kV2BadFamily:
      return "PROXY v2 family is not TCP over IPv4 or IPv6";
    case ProxyHeaderError::kV2ShortAddresses:
      return "PROXY v2 length too short for its addresses";
    case ProxyHeaderError::kV2TooLong:
      return "PROXY v2 header too long";
    case ProxyHeaderError::kV2BadTlv:
      return "PROXY v2 TLV runs past the header";
  }
  return "unknown PROXY header error";
}

ProxySignature detectProxySignature(std::string_view input) {
  if (agrees(input, kV1Signature)) {
    return input.size() >= kV1Signature.size() ? ProxySignature::kV1 : ProxySignature::kPartial;
  }
  if (agrees(input, kV2Signature)) {
    return input.size() >= kV2Signature.size() ? ProxySignature::kV2 : ProxySignature::kPartial;
  }
  return ProxySignature::kNone;
}

ProxyHeader parseProxyHeader(std::string_view input, size_t max_v2_bytes) {
  switch (detectProxySignature(input)) {
    case ProxySignature::kV1:
      return parseV1(input);
    case ProxySignature::kV2:
      return parseV2(input, max_v2_bytes);
    case ProxySignature::kPartial:
      return ProxyHeader{};
    case ProxySignature::kNone:
      break;
  }
  return fail(ProxyHeader{}, ProxyHeaderError::kNotProxy);
}

}  // namespace rampart::net
