// Socket helpers: listening sockets (one per worker with SO_REUSEPORT) and
// non-blocking upstream connects. Called on the thread that owns the socket.
#pragma once

#include <string>

#include "net/address.h"

namespace rampart::net {

// Creates a non-blocking listening socket bound to `address` with
// SO_REUSEADDR and SO_REUSEPORT, so every worker can bind its own.
// Returns the fd, or -1 with `error` set.
int listenReusePort(const SocketAddress& address, int backlog, std::string* error);

// Starts a non-blocking connect. Returns the fd (connect in progress or done),
// or -1 with errno set when the socket could not even be created/connected.
int connectNonBlocking(const SocketAddress& address);

// Result of a pending connect: 0 when connected, else the errno value.
int pendingConnectError(int fd);

void setNoDelay(int fd);

// The port a socket is bound to (for listeners on port 0).
int boundPort(int fd);

}  // namespace rampart::net
