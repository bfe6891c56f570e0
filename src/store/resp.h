// RESP (the Redis protocol) for Rampart's own sockets: commands formatted
// and replies parsed by hiredis (redisFormatCommandArgv, redisReader), while
// the sockets, timeouts and routing stay ours (see docs/store.md for why).
// Plain values, no thread affinity; a ReplyParser belongs to one connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct redisReader;

namespace rampart::store {

// One reply, copied out of hiredis's tree (replies are small: a lease, a
// list of blocks, a slot map).
struct Reply {
  enum class Type : uint8_t { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<Reply> elements;

  bool isError() const { return type == Type::kError; }
  // "NOSCRIPT ...", "MOVED 3999 127.0.0.1:6381", "ASK ...": the first word of an error.
  bool errorIs(std::string_view prefix) const {
    return isError() && str.size() >= prefix.size() && str.compare(0, prefix.size(), prefix) == 0;
  }
  // The integer of kInteger, or of a kString holding digits (as Lua numbers arrive).
  bool asInteger(int64_t* out) const;
};

// Appends one command (each argument binary-safe) in RESP to `out`.
void appendCommand(std::string& out, const std::vector<std::string_view>& args);

class ReplyParser {
 public:
  ReplyParser();
  ~ReplyParser();
  ReplyParser(const ReplyParser&) = delete;
  ReplyParser& operator=(const ReplyParser&) = delete;

  // Hands received bytes to the parser.
  void feed(const char* data, size_t size);
  enum class Status : uint8_t { kReply, kIncomplete, kProtocolError };
  // The next complete reply, if any. kProtocolError: the stream is unusable
  // (the connection must be closed).
  Status next(Reply* out);

 private:
  redisReader* reader_;
};

// A MOVED or ASK redirection: "MOVED <slot> <host>:<port>".
struct Redirect {
  bool ask = false;
  uint32_t slot = 0;
  std::string address;  // host:port
};
bool parseRedirect(const Reply& reply, Redirect* out);

}  // namespace rampart::store
