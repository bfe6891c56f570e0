// GET /config: the running config as JSON with its secrets redacted. Pure
// functions over the YAML text the snapshot was compiled from (kept in the
// Snapshot), called on the admin thread. A value is replaced by
// "<redacted>" when its key names a secret (token, password, secret, hmac,
// private key, credentials, an API key's value) whatever section it is in, and
// a URL's user:password@ (a Redis URL's password) is cut from every string.
// File paths stay: they tell where a secret is, not what it is.
#pragma once

#include <string>
#include <string_view>

namespace rampart::admin {

inline constexpr std::string_view kRedacted = "<redacted>";

// True when a mapping key holds a secret: token, password, passwd, secret,
// credentials, authorization, private_key, api_key, hmac..., or a name ending
// in _token, _secret, _password or containing secret/password/hmac.
// Keys that only count or size tokens (token_cache_entries, max_token_bytes)
// are not secrets.
bool isSecretKey(std::string_view key);

// "redis://user:pass@host:6379/0" -> "redis://<redacted>@host:6379/0"; any
// other string unchanged.
std::string redactUrlCredentials(std::string_view value);

// The YAML document as JSON (mappings as objects in file order, sequences as
// arrays, plain scalars that read as numbers, booleans or null as such, the
// rest as strings), secrets redacted. On a YAML error: {"error": "..."}.
std::string redactedConfigJson(std::string_view yaml_text);

}  // namespace rampart::admin
