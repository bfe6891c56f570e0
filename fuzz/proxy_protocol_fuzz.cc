// libFuzzer target for the PROXY protocol parser (v1 and v2). Besides "never
// crash" it checks what the session relies on: a verdict does not depend on
// how the input was split (every prefix needs more or reaches the same
// verdict), `consumed` stays within the input and the version's bounds, an
// error consumes nothing, and a named client survives being written out
// again and parsed back.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "net/proxy_protocol.h"

namespace {

using rampart::net::ProxyHeader;
using rampart::net::ProxyHeaderError;
using rampart::net::ProxySignature;
using State = ProxyHeader::State;
using Command = ProxyHeader::Command;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool sameVerdict(const ProxyHeader& a, const ProxyHeader& b) {
  return a.state == b.state && a.consumed == b.consumed && a.error == b.error &&
         a.command == b.command && a.source == b.source && a.destination == b.destination;
}

void checkInvariants(std::string_view input, const ProxyHeader& result, size_t max_v2) {
  switch (result.state) {
    case State::kDone:
      check(result.error == ProxyHeaderError::kNone);
      check(result.consumed <= input.size());
      if (result.version == 1) {
        check(result.consumed <= rampart::net::kMaxProxyV1Bytes);
        check(input.substr(result.consumed - 2, 2) == "\r\n");
      } else {
        check(result.version == 2);
        check(result.consumed >= rampart::net::kProxyV2FixedBytes && result.consumed <= max_v2);
      }
      if (result.command == Command::kProxy) {
        check(result.source.family() == AF_INET || result.source.family() == AF_INET6);
        check(result.source.family() == result.destination.family());
      } else {
        check(result.source.length() == 0 && result.destination.length() == 0);
      }
      break;
    case State::kError:
      check(result.error != ProxyHeaderError::kNone && result.consumed == 0);
      check(!rampart::net::describe(result.error).empty());
      check((result.error == ProxyHeaderError::kNotProxy) ==
            (rampart::net::detectProxySignature(input) == ProxySignature::kNone));
      break;
    case State::kNeedMore:
      check(result.error == ProxyHeaderError::kNone && result.consumed == 0);
      check(input.size() < rampart::net::kMaxProxyV1Bytes ||
            rampart::net::detectProxySignature(input) == ProxySignature::kV2);
      break;
  }
}

void checkPrefix(std::string_view input, const ProxyHeader& whole, size_t size, size_t max_v2) {
  ProxyHeader part = rampart::net::parseProxyHeader(input.substr(0, size), max_v2);
  if (part.state == State::kNeedMore) {
    check(whole.state != State::kDone || size < whole.consumed);
    return;
  }
  check(sameVerdict(part, whole));
}

// Writes a named client out again, in the same version, and parses it back.
void checkRoundTrip(const ProxyHeader& result) {
  if (result.state != State::kDone || result.command != Command::kProxy) return;
  const bool six = result.source.family() == AF_INET6;
  std::string again;
  if (result.version == 1) {
    char line[160];
    int n = std::snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n", six ? "TCP6" : "TCP4",
                          result.source.ipString().c_str(), result.destination.ipString().c_str(),
                          result.source.port(), result.destination.port());
    again.assign(line, static_cast<size_t>(n));
  } else {
    again.assign("\r\n\r\n\0\r\nQUIT\n\x21", 13);
    again += static_cast<char>(six ? 0x21 : 0x11);
    again += '\0';
    again += static_cast<char>(six ? 36 : 12);
    const auto* source = result.source.sockaddrPtr();
    const auto* destination = result.destination.sockaddrPtr();
    if (six) {
      const auto* s = reinterpret_cast<const sockaddr_in6*>(source);
      const auto* d = reinterpret_cast<const sockaddr_in6*>(destination);
      again.append(reinterpret_cast<const char*>(&s->sin6_addr), 16);
      again.append(reinterpret_cast<const char*>(&d->sin6_addr), 16);
      again.append(reinterpret_cast<const char*>(&s->sin6_port), 2);
      again.append(reinterpret_cast<const char*>(&d->sin6_port), 2);
    } else {
      const auto* s = reinterpret_cast<const sockaddr_in*>(source);
      const auto* d = reinterpret_cast<const sockaddr_in*>(destination);
      again.append(reinterpret_cast<const char*>(&s->sin_addr), 4);
      again.append(reinterpret_cast<const char*>(&d->sin_addr), 4);
      again.append(reinterpret_cast<const char*>(&s->sin_port), 2);
      again.append(reinterpret_cast<const char*>(&d->sin_port), 2);
    }
  }
  ProxyHeader back = rampart::net::parseProxyHeader(again);
  check(back.state == State::kDone && back.consumed == again.size());
  check(back.source == result.source && back.destination == result.destination);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t cut = size >= 2 ? data[size - 1] * 256u + data[size - 2] : size / 2;

  const ProxyHeader whole = rampart::net::parseProxyHeader(input);
  checkInvariants(input, whole, rampart::net::kMaxProxyV2Bytes);
  checkPrefix(input, whole, cut % (size + 1), rampart::net::kMaxProxyV2Bytes);
  if (size <= 256) {
    for (size_t n = 0; n < size; ++n) checkPrefix(input, whole, n, rampart::net::kMaxProxyV2Bytes);
  }
  checkRoundTrip(whole);

  // A tight v2 limit reaches the too-long path with small inputs.
  const size_t tight = 16 + cut % 64;
  const ProxyHeader limited = rampart::net::parseProxyHeader(input, tight);
  checkInvariants(input, limited, tight);
  checkPrefix(input, limited, cut % (size + 1), tight);
  // v1, and v2 within the limit, do not depend on it.
  if (whole.version == 1 || (whole.state == State::kDone && whole.consumed <= tight)) {
    check(sameVerdict(whole, limited));
  }
  return 0;
}
