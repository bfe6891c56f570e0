#include "auth/base64url.h"

#include <array>

namespace rampart::auth {
namespace {

constexpr uint8_t kInvalid = 0xFF;

constexpr std::array<uint8_t, 256> makeTable() {
  std::array<uint8_t, 256> table{};
  for (auto& entry : table) entry = kInvalid;
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  }
  return table;
}

constexpr std::array<uint8_t, 256> kDecode = makeTable();
constexpr char kEncode[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

bool decodeBase64Url(std::string_view in, uint8_t* out, size_t* out_length) {
  const size_t n = in.size();
  if (n % 4 == 1) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t o = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32_t a = kDecode[p[i]], b = kDecode[p[i + 1]], c = kDecode[p[i + 2]],
                   d = kDecode[p[i + 3]];
    if ((a | b | c | d) == kInvalid || ((a | b | c | d) & 0xC0) != 0) return false;
    const uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = static_cast<uint8_t>(v >> 16);
    out[o++] = static_cast<uint8_t>(v >> 8);
    out[o++] = static_cast<uint8_t>(v);
  }
  const size_t rest = n - i;
  if (rest == 2) {
    const uint32_t a = kDecode[p[i]], b = kDecode[p[i + 1]];
    if (((a | b) & 0xC0) != 0) return false;
    if ((b & 0x0F) != 0) return false;  // non-canonical trailing bits
    out[o++] = static_cast<uint8_t>((a << 2) | (b >> 4));
  } else if (rest == 3) {
    const uint32_t a = kDecode[p[i]], b = kDecode[p[i + 1]], c = kDecode[p[i + 2]];
    if (((a | b | c) & 0xC0) != 0) return false;
    if ((c & 0x03) != 0) return false;  // non-canonical trailing bits
    const uint32_t v = (a << 10) | (b << 4) | (c >> 2);
    out[o++] = static_cast<uint8_t>(v >> 8);
    out[o++] = static_cast<uint8_t>(v);
  }
  *out_length = o;
  return true;
}

bool decodeBase64Url(std::string_view in, std::string& out) {
  out.resize(base64UrlMaxDecodedSize(in.size()));
  size_t length = 0;
  if (!decodeBase64Url(in, reinterpret_cast<uint8_t*>(out.data()), &length)) {
    out.clear();
    return false;
  }
  out.resize(length);
  return true;
}

std::string encodeBase64Url(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out += kEncode[v >> 18];
    out += kEncode[(v >> 12) & 63];
    out += kEncode[(v >> 6) & 63];
    out += kEncode[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{p[i]} << 16;
    out += kEncode[v >> 18];
    out += kEncode[(v >> 12) & 63];
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out += kEncode[v >> 18];
    out += kEncode[(v >> 12) & 63];
    out += kEncode[(v >> 6) & 63];
  }
  return out;
}

}  // namespace rampart::auth
