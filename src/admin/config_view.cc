#include "admin/config_view.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>

#include "observe/export.h"

namespace rampart::admin {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// -?(0|[1-9][0-9]{0,17})(\.[0-9]+)?([eE][+-]?[0-9]+)?: a JSON number whose
// integer part fits 18 digits (the config's numbers are never longer).
bool isJsonNumber(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && text[i] == '-') ++i;
  const size_t first = i;
  if (i < text.size() && text[i] == '0') {
    ++i;
  } else {
    while (i < text.size() && isDigit(text[i])) ++i;
    if (i == first || i - first > 18) return false;
  }
  if (i == first) return false;
  if (i < text.size() && text[i] == '.') {
    const size_t digits = ++i;
    while (i < text.size() && isDigit(text[i])) ++i;
    if (i == digits) return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    const size_t digits = i;
    while (i < text.size() && isDigit(text[i])) ++i;
    if (i == digits) return false;
  }
  return i == text.size();
}

// A plain YAML scalar that JSON can carry bare.
bool looksBare(const std::string& value) {
  if (value == "true" || value == "false" || value == "null") return true;
  return isJsonNumber(value);
}

void emit(const YAML::Node& node, bool secret, std::string& out) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      out += '{';
      bool first = true;
      for (const auto& pair : node) {
        if (!first) out += ',';
        first = false;
        const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : "?";
        out += '"';
        out += observe::escapeJson(key);
        out += "\":";
        emit(pair.second, secret || isSecretKey(key), out);
      }
      out += '}';
      return;
    }
    case YAML::NodeType::Sequence: {
      out += '[';
      bool first = true;
      for (const auto& item : node) {
        if (!first) out += ',';
        first = false;
        emit(item, secret, out);
      }
      out += ']';
      return;
    }
    case YAML::NodeType::Scalar: {
      if (secret) {
        out += '"';
        out += kRedacted;
        out += '"';
        return;
      }
      const std::string& value = node.Scalar();
      // A quoted scalar ("600") stays a string, as the loader reads it.
      if (node.Tag() != "!" && looksBare(value)) {
        out += value;
        return;
      }
      out += '"';
      out += observe::escapeJson(redactUrlCredentials(value));
      out += '"';
      return;
    }
    default:
      out += "null";
  }
}

}  // namespace

bool isSecretKey(std::string_view key) {
  const std::string k = lower(key);
  static constexpr std::string_view kExact[] = {
      "token",         "password",    "passwd",     "secret",     "credentials",
      "authorization", "private_key", "api_key",    "apikey",     "key_pem",
      "client_secret", "bearer",      "auth_token", "secret_key", "pass"};
  for (std::string_view exact : kExact) {
    if (k == exact) return true;
  }
  if (k.find("secret") != std::string::npos || k.find("password") != std::string::npos ||
      k.find("hmac") != std::string::npos) {
    return true;
  }
  return endsWith(k, "_token") || endsWith(k, "_passwd") || endsWith(k, "_private_key");
}

std::string redactUrlCredentials(std::string_view value) {
  const size_t scheme = value.find("://");
  if (scheme == std::string_view::npos) return std::string(value);
  const size_t start = scheme + 3;
  const size_t end = value.find_first_of("/?#", start);
  const std::string_view authority =
      value.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(value);
  std::string out(value.substr(0, start));
  out += kRedacted;
  out += value.substr(start + at);
  return out;
}

std::string redactedConfigJson(std::string_view yaml_text) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    std::string out;
    out.reserve(yaml_text.size() + 64);
    emit(root, false, out);
    return out;
  } catch (const std::exception& e) {
    return std::string("{\"error\":\"") + observe::escapeJson(e.what()) + "\"}";
  }
}

}  // namespace rampart::admin
