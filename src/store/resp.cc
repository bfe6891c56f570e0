#include "store/resp.h"

#include <hiredis/hiredis.h>

#include <charconv>

namespace rampart::store {

namespace {

void copyReply(const redisReply* in, Reply* out) {
  switch (in->type) {
    case REDIS_REPLY_STRING:
      out->type = Reply::Type::kString;
      break;
    case REDIS_REPLY_ARRAY:
      out->type = Reply::Type::kArray;
      break;
    case REDIS_REPLY_INTEGER:
      out->type = Reply::Type::kInteger;
      break;
    case REDIS_REPLY_STATUS:
      out->type = Reply::Type::kStatus;
      break;
    case REDIS_REPLY_ERROR:
      out->type = Reply::Type::kError;
      break;
    default:
      out->type = Reply::Type::kNil;
      break;
  }
  out->integer = in->integer;
  if (in->str != nullptr) out->str.assign(in->str, in->len);
  out->elements.resize(in->type == REDIS_REPLY_ARRAY ? in->elements : 0);
  for (size_t i = 0; i < out->elements.size(); ++i) copyReply(in->element[i], &out->elements[i]);
}

}  // namespace

bool Reply::asInteger(int64_t* out) const {
  if (type == Type::kInteger) {
    *out = integer;
    return true;
  }
  if (type != Type::kString || str.empty()) return false;
  auto [end, ec] = std::from_chars(str.data(), str.data() + str.size(), *out);
  return ec == std::errc() && end == str.data() + str.size();
}

void appendCommand(std::string& out, const std::vector<std::string_view>& args) {
  // Formatted here rather than by redisFormatCommandArgv: that one mallocs a
  // buffer per command we would copy anyway; the format is four lines of RESP.
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (std::string_view arg : args) {
    out += '$';
    out += std::to_string(arg.size());
    out += "\r\n";
    out.append(arg);
    out += "\r\n";
  }
}

ReplyParser::ReplyParser() : reader_(redisReaderCreate()) {}

ReplyParser::~ReplyParser() {
  redisReaderFree(reader_);
}

void ReplyParser::feed(const char* data, size_t size) {
  redisReaderFeed(reader_, data, size);
}

ReplyParser::Status ReplyParser::next(Reply* out) {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) return Status::kProtocolError;
  if (raw == nullptr) return Status::kIncomplete;
  *out = Reply{};
  copyReply(static_cast<redisReply*>(raw), out);
  freeReplyObject(raw);
  return Status::kReply;
}

bool parseRedirect(const Reply& reply, Redirect* out) {
  if (!reply.isError()) return false;
  std::string_view text = reply.str;
  if (reply.errorIs("MOVED ")) {
    out->ask = false;
    text.remove_prefix(6);
  } else if (reply.errorIs("ASK ")) {
    out->ask = true;
    text.remove_prefix(4);
  } else {
    return false;
  }
  size_t space = text.find(' ');
  if (space == std::string_view::npos) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + space, out->slot);
  if (ec != std::errc() || end != text.data() + space || out->slot >= 16384) return false;
  out->address = std::string(text.substr(space + 1));
  return !out->address.empty();
}

}  // namespace rampart::store
