// The client address a request is judged by: the socket peer, unless the peer
// is a trusted proxy; then the right-most X-Forwarded-For entry that is not
// itself a trusted proxy. Pure: the caller hands in the header values. Used
// on the worker thread per request; holds nothing beyond one call.
#pragma once

#include <string_view>

#include "net/address.h"
#include "shield/address_list.h"

namespace rampart::shield {

// Parses one X-Forwarded-For entry: "192.0.2.1", "2001:db8::1",
// "[2001:db8::1]", "[2001:db8::1]:443" or "192.0.2.1:443" (a port, as some
// proxies add, is ignored), surrounding spaces allowed. False for anything
// else ("unknown", obfuscated identifiers, garbage).
bool parseForwardedAddress(std::string_view text, net::SocketAddress* out);

// Walks X-Forwarded-For from the right. Only the right-most hops can be
// believed: each was appended by the hop after it, and only hops we trust
// tell the truth; anything to the left of the first untrusted hop was written
// by the client itself and may be forged. So:
//  - an untrusted peer: the peer, whatever the headers say;
//  - a trusted peer: the first entry from the right that is not a trusted
//    proxy; if an entry cannot be parsed, the last trusted hop before it
//    (never an address the client could have chosen); if every entry is
//    trusted, the left-most one.
class ClientAddressResolver {
 public:
  ClientAddressResolver(const net::SocketAddress& peer, const AddressList& trusted)
      : trusted_(trusted), address_(peer), done_(!trusted.contains(peer)) {}

  // True once the answer is known (the peer is untrusted, an untrusted or
  // unparseable entry was met): further values are not needed.
  bool done() const { return done_; }
  // Feeds one X-Forwarded-For header value. Call with the LAST header first
  // (several headers form one list, in order).
  void feed(std::string_view value);

  const net::SocketAddress& address() const { return address_; }
  // True when the result came from X-Forwarded-For rather than the socket.
  bool forwarded() const { return forwarded_; }

 private:
  const AddressList& trusted_;
  net::SocketAddress address_;
  bool done_;
  bool forwarded_ = false;
};

}  // namespace rampart::shield
