#include "tls/transport.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>

#include "tls/socket_bio.h"

namespace rampart::tls {

namespace {

std::string nameText(X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(length > 0 ? length : 0));
  BIO_free(bio);
  return out;
}

std::string asn1Text(const ASN1_STRING* text) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                     static_cast<size_t>(ASN1_STRING_length(text)));
}

}  // namespace

Transport::~Transport() {
  // OpenSSL spoils the session of a connection freed without a shutdown
  // (not resumable), and that session may be the one a pool keeps for the
  // next connection. A connection that failed keeps that fate; a healthy one
  // is marked as shut down (flags only: nothing is sent).
  if (established_ && !failed_) SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl_);
}

IoResult Transport::classify(int ret) {
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return {Io::kWantRead, 0};
    case SSL_ERROR_WANT_WRITE:
      return {Io::kWantWrite, 0};
    case SSL_ERROR_ZERO_RETURN:
      return {Io::kClosed, 0};
    case SSL_ERROR_SYSCALL:
      // EOF without close_notify, or a reset: the peer is gone either way.
      if (errno == EAGAIN || errno == EINTR) return {Io::kWantRead, 0};
      ERR_clear_error();
      return {Io::kClosed, 0};
    default: {
      failed_ = true;
      unsigned long code = ERR_peek_last_error();
      if (code != 0 && failure_.empty()) {
        char text[256];
        ERR_error_string_n(code, text, sizeof(text));
        failure_ = text;
      }
      ERR_clear_error();
      return {Io::kError, 0};
    }
  }
}

// errno is cleared before each call: SSL_ERROR_SYSCALL is read with it, and
// a stale EAGAIN from an earlier call must not pass for this one's.
IoResult Transport::handshake() {
  errno = 0;
  int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    established_ = true;
    return {Io::kDone, 0};
  }
  IoResult result = classify(ret);
  // A peer that leaves mid-handshake failed it, as a protocol error does.
  if (result.io == Io::kClosed) result.io = Io::kError;
  return result;
}

IoResult Transport::read(char* out, size_t size) {
  size_t got = 0;
  errno = 0;
  int ret = SSL_read_ex(ssl_, out, size, &got);
  if (ret == 1) {
    return {Io::kDone, got, SSL_has_pending(ssl_) == 0 && socketDrained(SSL_get_rbio(ssl_))};
  }
  return classify(ret);
}

IoResult Transport::write(const char* data, size_t size) {
  size_t sent = 0;
  errno = 0;
  int ret = SSL_write_ex(ssl_, data, size, &sent);
  if (ret == 1) return {Io::kDone, sent};
  IoResult result = classify(ret);
  if (result.io == Io::kClosed) result.io = Io::kError;  // writing to a gone peer fails
  return result;
}

void Transport::shutdown() {
  if (!established_) return;
  SSL_set_quiet_shutdown(ssl_, 0);
  if (SSL_shutdown(ssl_) < 0) ERR_clear_error();
}

void Transport::offerSession(SSL_SESSION* session) {
  if (session != nullptr) SSL_set_session(ssl_, session);
}

SSL_SESSION* Transport::resumableSession() const {
  if (!established_) return nullptr;
  SSL_SESSION* session = SSL_get1_session(ssl_);
  if (session != nullptr && SSL_SESSION_is_resumable(session) != 1) {
    SSL_SESSION_free(session);
    return nullptr;
  }
  return session;
}

void releaseSession(SSL_SESSION* session) {
  SSL_SESSION_free(session);
}

bool Transport::resumed() const {
  return SSL_session_reused(ssl_) == 1;
}

Protocol Transport::protocol() const {
  const unsigned char* data = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_, &data, &length);
  if (length == 2 && data[0] == 'h' && data[1] == '2') return Protocol::kH2;
  return Protocol::kHttp11;
}

std::string_view Transport::versionName() const {
  return SSL_get_version(ssl_);
}

bool Transport::peerCertificate(PeerCertificate* out) const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr || SSL_get_verify_result(ssl_) != X509_V_OK) return false;
  X509_NAME* subject = X509_get_subject_name(cert);
  out->subject = nameText(subject);
  out->issuer = nameText(X509_get_issuer_name(cert));
  int at = -1;
  for (int next = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); next >= 0;
       next = X509_NAME_get_index_by_NID(subject, NID_commonName, next)) {
    at = next;
  }
  if (at >= 0)
    out->common_name = asn1Text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type == GEN_DNS) out->dns.push_back(asn1Text(name->d.dNSName));
      if (name->type == GEN_URI) out->uri.push_back(asn1Text(name->d.uniformResourceIdentifier));
      if (name->type == GEN_EMAIL) out->email.push_back(asn1Text(name->d.rfc822Name));
    }
    GENERAL_NAMES_free(sans);
  }
  return true;
}

}  // namespace rampart::tls
