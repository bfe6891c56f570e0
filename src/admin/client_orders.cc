#include "admin/client_orders.h"

#include <simdjson.h>

namespace rampart::admin {

namespace {

// The object's "address" as a range, and the object itself for more fields.
std::optional<net::Cidr> readAddress(simdjson::dom::object object, std::string* error) {
  std::string_view address;
  if (object["address"].get_string().get(address) != simdjson::SUCCESS) {
    *error = "\"address\" (a string: an address or a CIDR range) is required";
    return std::nullopt;
  }
  std::optional<net::Cidr> range = net::Cidr::parse(address);
  if (!range) *error = "\"address\": not an IPv4/IPv6 address or CIDR range";
  return range;
}

std::optional<simdjson::dom::object> readObject(simdjson::dom::parser& parser,
                                                std::string_view body, std::string* error) {
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    *error = "the body is not valid JSON";
    return std::nullopt;
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    *error = "the body must be a JSON object";
    return std::nullopt;
  }
  for (auto field : object) {
    if (field.key != "address" && field.key != "duration") {
      *error = "unknown field \"" + std::string(field.key) + "\" (known: address, duration)";
      return std::nullopt;
    }
  }
  return object;
}

}  // namespace

std::optional<int64_t> parseBlockDuration(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  int64_t unit = 1;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      unit = 0;
  }
  if (unit != 0) {
    text.remove_suffix(1);
  } else {
    unit = 1;
  }
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
    if (value > kMaxBlockSeconds) return std::nullopt;
  }
  value *= unit;
  if (value < 1 || value > kMaxBlockSeconds) return std::nullopt;
  return value;
}

std::optional<BlockOrder> parseBlockOrder(std::string_view body, std::string* error) {
  simdjson::dom::parser parser;
  std::optional<simdjson::dom::object> object = readObject(parser, body, error);
  if (!object) return std::nullopt;
  std::optional<net::Cidr> range = readAddress(*object, error);
  if (!range) return std::nullopt;
  BlockOrder order{*range, range->toString(), kDefaultBlockSeconds};
  simdjson::dom::element duration;
  if ((*object)["duration"].get(duration) == simdjson::SUCCESS) {
    std::optional<int64_t> seconds;
    int64_t number = 0;
    std::string_view text;
    if (duration.get_int64().get(number) == simdjson::SUCCESS) {
      if (number >= 1 && number <= kMaxBlockSeconds) seconds = number;
    } else if (duration.get_string().get(text) == simdjson::SUCCESS) {
      seconds = parseBlockDuration(text);
    }
    if (!seconds) {
      *error =
          "\"duration\": seconds (1 to 604800) or a string like \"90s\", \"15m\", \"2h\", \"7d\"";
      return std::nullopt;
    }
    order.seconds = *seconds;
  }
  return order;
}

std::optional<UnblockOrder> parseUnblockOrder(std::string_view body, std::string* error) {
  simdjson::dom::parser parser;
  std::optional<simdjson::dom::object> object = readObject(parser, body, error);
  if (!object) return std::nullopt;
  std::optional<net::Cidr> range = readAddress(*object, error);
  if (!range) return std::nullopt;
  return UnblockOrder{*range, range->toString()};
}

}  // namespace rampart::admin
