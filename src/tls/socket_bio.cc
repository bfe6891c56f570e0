#include "tls/socket_bio.h"

#include <cerrno>
#include <new>

#include "core/socket_io.h"

namespace rampart::tls {

namespace {

struct SocketState {
  int fd = -1;
  bool drained = false;
};

int socketRead(BIO* bio, char* out, int size) {
  auto* state = static_cast<SocketState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (size <= 0) return 0;
  ssize_t n = core::receiveSome(state->fd, out, static_cast<size_t>(size));
  if (n > 0) {
    state->drained = n < size;
    return static_cast<int>(n);
  }
  if (n == 0) {  // the peer's FIN: OpenSSL reports it (unexpected EOF, or after close_notify)
    state->drained = true;
    return 0;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    state->drained = errno != EINTR;
    BIO_set_retry_read(bio);
  }
  return -1;
}

int socketWrite(BIO* bio, const char* data, int size) {
  auto* state = static_cast<SocketState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (size <= 0) return 0;
  ssize_t n = core::sendSome(state->fd, data, static_cast<size_t>(size));
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(bio);
  return -1;
}

long socketCtrl(BIO*, int command, long, void*) {
  // Writes go straight to the socket: nothing to flush. Every other control
  // (pending bytes, push, pop) has the socket BIO's answer: none.
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int socketCreate(BIO* bio) {
  auto* state = new (std::nothrow) SocketState;
  BIO_set_data(bio, state);
  BIO_set_init(bio, state != nullptr ? 1 : 0);
  return state != nullptr ? 1 : 0;
}

int socketDestroy(BIO* bio) {
  delete static_cast<SocketState*>(BIO_get_data(bio));
  BIO_set_data(bio, nullptr);
  return 1;
}

struct Method {
  int type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
  BIO_METHOD* method = nullptr;
  Method() {
    method = BIO_meth_new(type, "rampart socket");
    if (method == nullptr) return;
    BIO_meth_set_read(method, socketRead);
    BIO_meth_set_write(method, socketWrite);
    BIO_meth_set_ctrl(method, socketCtrl);
    BIO_meth_set_create(method, socketCreate);
    BIO_meth_set_destroy(method, socketDestroy);
  }
};

const Method& method() {
  static const Method instance;  // thread-safe initialisation; never freed
  return instance;
}

}  // namespace

BIO* newSocketBio(int fd) {
  if (method().method == nullptr) return nullptr;
  BIO* bio = BIO_new(method().method);
  if (bio == nullptr) return nullptr;
  static_cast<SocketState*>(BIO_get_data(bio))->fd = fd;
  return bio;
}

bool socketDrained(const BIO* bio) {
  if (bio == nullptr || BIO_method_type(bio) != method().type) return false;
  return static_cast<const SocketState*>(BIO_get_data(const_cast<BIO*>(bio)))->drained;
}

}  // namespace rampart::tls
