// Strict base64url (RFC 4648 section 5, unpadded) as JWS compact form uses it.
// Pure functions, any thread. Decoding refuses anything a second encoder
// could not have produced: padding, '+', '/', whitespace, a length that is
// 1 mod 4, and non-zero trailing bits, so every token has one spelling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rampart::auth {

// Upper bound of the decoded size of `encoded_length` base64url characters.
constexpr size_t base64UrlMaxDecodedSize(size_t encoded_length) {
  return encoded_length / 4 * 3 + 2;
}

// Decodes `in` into out[0, *out_length). `out` must hold
// base64UrlMaxDecodedSize(in.size()) bytes. Returns false (out unspecified) on
// any non-canonical or invalid input. The empty string decodes to zero bytes.
bool decodeBase64Url(std::string_view in, uint8_t* out, size_t* out_length);

// Decodes into `out`, replacing its contents (keeps its capacity).
bool decodeBase64Url(std::string_view in, std::string& out);

// Encodes without padding. For tests, tools and JWKS building; not on the
// request path.
std::string encodeBase64Url(std::string_view bytes);

}  // namespace rampart::auth
