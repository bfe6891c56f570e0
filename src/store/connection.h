// One connection to one Redis node, on the store thread's event loop:
// non-blocking connect, AUTH, pipelined commands answered in order, a
// deadline per command (the store timeout) and pub/sub pushes. Owned by the
// StoreClient and used on the store thread only; lives until it fails or the
// client stops (a failed connection is replaced, never reused).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include "core/event_loop.h"
#include "net/address.h"
#include "store/resp.h"

namespace rampart::store {

struct ConnectionOptions {
  core::Millis timeout = 50;  // connect (and the TLS handshake), and each command's answer
  std::string username;       // AUTH username password (Redis 6 ACL), or AUTH password
  std::string password;
  SSL_CTX* tls = nullptr;   // TLS when set (owned by the client, outlives connections)
  std::string server_name;  // TLS: SNI and the name verified; empty: the peer's IP
};

class Connection : public core::EventHandler {
 public:
  // The answer to one command: null when it failed (timeout, connection
  // lost, refused); a Redis error reply is a reply (type kError).
  using Callback = std::function<void(const Reply*)>;
  // Pub/sub messages (["message", channel, payload]) once subscribed.
  using PushHandler = std::function<void(const Reply&)>;
  // Called once when the connection fails, after every pending callback ran.
  using FailHandler = std::function<void(const std::string& why)>;

  Connection(core::EventLoop& loop, net::SocketAddress address, std::string name,
             const ConnectionOptions& options);
  ~Connection() override;

  // Starts connecting; commands sent before it completes are queued.
  // False when the socket could not even be created (then failed() is true).
  bool start(FailHandler on_fail);
  void send(const std::vector<std::string_view>& args, Callback done);
  // Like send(), with no deadline for the answer (SUBSCRIBE: pushes follow).
  void setPushHandler(PushHandler handler) { push_ = std::move(handler); }

  // Fails every command whose deadline passed; called by the client's tick.
  void expire(core::Millis now);
  // Closes now, failing every pending command.
  void fail(const std::string& why);

  bool failed() const { return fd_ < 0 && started_; }
  // Connected, and past the TLS handshake when there is one.
  bool connected() const { return connected_ && (ssl_ == nullptr || handshaken_); }
  size_t pending() const { return pending_.size(); }
  const std::string& name() const { return name_; }  // "host:port"
  uint64_t commands() const { return commands_; }

  void onEvents(uint32_t events) override;

 private:
  struct Pending {
    Callback done;
    core::Millis deadline;
  };
  void flush();
  void readAll();
  bool startTls();
  // -1 with errno-like `*again` when the call must wait for the socket.
  ssize_t readSome(char* buffer, size_t size, bool* again);
  ssize_t writeSome(const char* data, size_t size, bool* again);

  core::EventLoop& loop_;
  net::SocketAddress address_;
  std::string name_;
  ConnectionOptions options_;
  int fd_ = -1;
  bool started_ = false;
  bool connected_ = false;
  SSL* ssl_ = nullptr;
  bool handshaken_ = false;
  std::string out_;
  size_t out_offset_ = 0;
  std::deque<Pending> pending_;
  ReplyParser parser_;
  PushHandler push_;
  FailHandler on_fail_;
  uint64_t commands_ = 0;
};

}  // namespace rampart::store
