#pragma once

// Reads and writes on connected sockets through the socket calls rather than
// read(2)/write(2)/writev(2). Same bytes, same errors, but the kernel goes
// straight to the socket layer: the file layer's steps (fd position lookup,
// rw_verify_area, file permission hook, fsnotify) are skipped on every call,
// and the request path makes two to four of these calls per request. perf
// put those steps at about 3 % of a worker's samples over HTTP/2. Only for
// descriptors that are sockets: anything else gets ENOTSOCK.

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

namespace rampart::core {

inline ssize_t receiveSome(int fd, char* out, size_t size) {
  return ::recv(fd, out, size, 0);
}

// MSG_NOSIGNAL: a peer gone away is EPIPE here, never a SIGPIPE.
inline ssize_t sendSome(int fd, const char* data, size_t size) {
  return ::send(fd, data, size, MSG_NOSIGNAL);
}

inline ssize_t sendVector(int fd, const iovec* iov, int count) {
  if (count == 1) return sendSome(fd, static_cast<const char*>(iov[0].iov_base), iov[0].iov_len);
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(iov);
  message.msg_iovlen = static_cast<size_t>(count);
  return ::sendmsg(fd, &message, MSG_NOSIGNAL);
}

}  // namespace rampart::core
