// The BIO under a server-side TLS connection: read(2) and write(2) on the
// non-blocking socket, as OpenSSL's own socket BIO, plus one fact that one
// lacks: whether the last read(2) drained the socket (it returned less than
// asked, or EAGAIN). With read-ahead on, a request's record usually arrives
// whole in one read; knowing the socket is empty, the session stops there
// instead of calling SSL_read once more only to be told so by an EAGAIN:
// one system call per request fewer. Edge-triggered epoll reports anything
// that arrives later. Worker thread only, like the connection.
#pragma once

#include <openssl/bio.h>

namespace rampart::tls {

// A BIO for `fd` (not owned: the session closes it), or null when OpenSSL is
// out of memory. Give it to SSL_set_bio for both directions.
BIO* newSocketBio(int fd);

// True when `bio` is one of newSocketBio's and its last read drained the
// socket; false for any other BIO, or when more may be waiting.
bool socketDrained(const BIO* bio);

}  // namespace rampart::tls
