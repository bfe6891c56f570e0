// Choosing a listener's certificate from the client's SNI name. Pure: plain
// strings in, an index out; no OpenSSL. Built once per config snapshot (on
// the loading thread), then read by every worker during handshakes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::tls {

// The names each certificate answers for, matched as TLS clients match them
// (RFC 6125 6.4.3): exact names first, then a wildcard "*.example.com" that
// covers exactly one more label ("a.example.com", never "example.com" nor
// "a.b.example.com"). Case-insensitive; a trailing dot is ignored. A name
// nothing matches, or a client that sends none, gets the default (the first
// certificate).
class SniTable {
 public:
  static constexpr uint32_t kDefault = 0;

  // Why a name cannot be added (the config loader words the message).
  enum class NameProblem : uint8_t {
    kNone,
    kEmpty,
    kBadWildcard,  // '*' anywhere but a whole first label, or "*.tld" alone
    kBadCharacter,
    kDuplicate,  // another certificate already answers for it
  };

  // Adds `name` for certificate `index`.
  NameProblem add(std::string_view name, uint32_t index);
  // The certificate for a client's SNI name (empty: none sent).
  uint32_t match(std::string_view server_name) const;

  size_t size() const { return exact_.size() + wildcard_.size(); }

 private:
  struct Entry {
    std::string suffix;  // exact: the whole name; wildcard: ".example.com"
    uint32_t index;
  };
  std::vector<Entry> exact_;     // a handful per listener: a scan beats a hash
  std::vector<Entry> wildcard_;  // sorted by nothing: suffixes never overlap by rule
};

// Lower case, trailing dot removed: the form names are compared in.
std::string normalizeName(std::string_view name);
const char* describe(SniTable::NameProblem problem);

}  // namespace rampart::tls
