#include "auth/jwt.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "auth/base64url.h"
#include "auth/json_util.h"

namespace rampart::auth {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// Larger than any supported signature: RSA 8192 bits is 1024 bytes.
constexpr size_t kMaxSignatureBytes = 1024;
constexpr int64_t kMaxSkewSeconds = 86400;
// NumericDates and `now` are clamped to +-2^53 s (far past any real date) so
// adding the skew can never overflow.
constexpr int64_t kTimeLimit = int64_t{1} << 53;

struct VerifyScratch::State {
  simdjson::dom::parser header_parser;
  simdjson::dom::parser claims_parser;
  std::string header_json;  // decoded bytes + SIMDJSON_PADDING readable slack
  std::string claims_json;
  // base64UrlMaxDecodedSize() of the longest accepted segment is at most this.
  uint8_t signature[kMaxSignatureBytes + 2];
};

VerifyScratch::VerifyScratch() : state_(std::make_unique<State>()) {}
VerifyScratch::~VerifyScratch() = default;

struct Authenticator::Issuer {
  IssuerSpec spec;       // spec.keys is unused after create(): `keys` holds the current set
  uint32_t allowed = 0;  // bit per Algorithm
  std::atomic<std::shared_ptr<const KeySet>> keys;
};

namespace {

bool decodeJson(std::string_view segment, std::string& buffer, size_t& length) {
  const size_t need = base64UrlMaxDecodedSize(segment.size()) + simdjson::SIMDJSON_PADDING;
  if (buffer.size() < need) buffer.resize(need);  // never shrinks: capacity is reused
  return decodeBase64Url(segment, reinterpret_cast<uint8_t*>(buffer.data()), &length);
}

JwtError parseObject(simdjson::dom::parser& parser, const std::string& buffer, size_t length,
                     object& out) {
  element root;
  if (parser.parse(buffer.data(), length, false).get(root) != simdjson::SUCCESS) {
    return JwtError::kBadJson;
  }
  if (root.get_object().get(out) != simdjson::SUCCESS) return JwtError::kNotObject;
  if (json::hasDuplicateKey(out)) return JwtError::kDuplicateMember;
  return JwtError::kNone;
}

struct Header {
  bool has_alg = false;
  AlgorithmParse alg_parse = AlgorithmParse::kUnknown;
  Algorithm alg = Algorithm::kHs256;
  bool has_kid = false;
  std::string_view kid;
};

JwtError readHeader(object header, Header& out) {
  bool remote = false, crit = false, bad_member = false;
  for (auto field : header) {
    const std::string_view name = field.key;
    if (name == "alg") {
      std::string_view value;
      out.has_alg = true;
      if (field.value.get_string().get(value) == simdjson::SUCCESS) {
        out.alg_parse = parseAlgorithm(value, out.alg);
      }
    } else if (name == "kid") {
      out.has_kid = true;
      if (field.value.get_string().get(out.kid) != simdjson::SUCCESS) bad_member = true;
    } else if (name == "jku" || name == "x5u" || name == "jwk" || name == "x5c") {
      remote = true;
    } else if (name == "crit") {
      crit = true;
    } else if (name == "typ" || name == "cty") {
      if (!field.value.is_string()) bad_member = true;
    }
  }
  if (out.has_alg && out.alg_parse == AlgorithmParse::kNone) return JwtError::kAlgNone;
  if (remote) return JwtError::kRemoteKeyReference;
  if (crit) return JwtError::kCriticalHeader;
  if (bad_member) return JwtError::kBadHeaderMember;
  if (!out.has_alg || out.alg_parse != AlgorithmParse::kOk) return JwtError::kUnknownAlgorithm;
  return JwtError::kNone;
}

// Reads an optional NumericDate. False when present but not a number.
bool readTime(object claims, std::string_view name, bool& present, int64_t& value) {
  element field;
  present = claims[name].get(field) == simdjson::SUCCESS;
  if (!present) return true;
  int64_t as_int = 0;
  uint64_t as_uint = 0;
  double as_double = 0;
  if (field.get_int64().get(as_int) == simdjson::SUCCESS) {
    value = std::clamp(as_int, -kTimeLimit, kTimeLimit);
  } else if (field.get_uint64().get(as_uint) == simdjson::SUCCESS) {
    value = kTimeLimit;
  } else if (field.get_double().get(as_double) == simdjson::SUCCESS && std::isfinite(as_double)) {
    as_double = std::floor(as_double);
    value = as_double >= static_cast<double>(kTimeLimit)    ? kTimeLimit
            : as_double <= -static_cast<double>(kTimeLimit) ? -kTimeLimit
                                                            : static_cast<int64_t>(as_double);
  } else {
    return false;
  }
  return true;
}

void splitSpaces(std::string_view text, std::vector<std::string>& out) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t end = i;
    while (end < text.size() && text[end] != ' ') ++end;
    if (end > i) out.emplace_back(text.substr(i, end - i));
    i = end;
  }
}

// A string list claim: an array of strings or one space-separated string.
bool readStringList(element value, std::vector<std::string>& out) {
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    splitSpaces(text, out);
    return true;
  }
  array list;
  if (value.get_array().get(list) != simdjson::SUCCESS) return false;
  for (element item : list) {
    if (item.get_string().get(text) != simdjson::SUCCESS) return false;
    out.emplace_back(text);
  }
  return true;
}

// Claim value as text for Identity::claims (see ClaimMapping::extra_claims).
void appendClaimText(element value, std::string& out) {
  switch (value.type()) {
    case simdjson::dom::element_type::STRING:
      out += std::string_view(value);
      break;
    case simdjson::dom::element_type::ARRAY: {
      bool first = true;
      for (element item : array(value)) {
        if (!first) out += ',';
        first = false;
        appendClaimText(item, out);
      }
      break;
    }
    case simdjson::dom::element_type::BOOL:
      out += bool(value) ? "true" : "false";
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      out += "null";
      break;
    default:  // numbers and objects: their minified JSON text
      out += simdjson::minify(value);
      break;
  }
}

bool audienceMatches(object claims, const std::vector<std::string>& wanted) {
  element aud;
  if (claims["aud"].get(aud) != simdjson::SUCCESS) return false;
  auto wants = [&wanted](std::string_view value) {
    return std::find(wanted.begin(), wanted.end(), value) != wanted.end();
  };
  std::string_view text;
  if (aud.get_string().get(text) == simdjson::SUCCESS) return wants(text);
  array list;
  if (aud.get_array().get(list) != simdjson::SUCCESS) return false;
  bool match = false;
  for (element item : list) {
    if (item.get_string().get(text) != simdjson::SUCCESS) return false;  // malformed "aud"
    if (wants(text)) match = true;
  }
  return match;
}

JwtError fromSignatureError(SignatureError error) {
  switch (error) {
    case SignatureError::kNone:
      return JwtError::kNone;
    case SignatureError::kKeyMismatch:
      return JwtError::kKeyTypeMismatch;
    case SignatureError::kWeakKey:
      return JwtError::kWeakKey;
    case SignatureError::kBadLength:
      return JwtError::kBadSignatureLength;
    case SignatureError::kBadSignature:
      return JwtError::kBadSignature;
    case SignatureError::kInternal:
      return JwtError::kInternal;
  }
  return JwtError::kInternal;
}

JwtError mapClaims(object claims, const ClaimMapping& mapping, Identity& out) {
  element value;
  std::string_view text;
  if (claims[mapping.principal_claim].get(value) != simdjson::SUCCESS ||
      value.get_string().get(text) != simdjson::SUCCESS) {
    return JwtError::kPrincipalMissing;
  }
  out.principal.assign(text);
  out.token_id.clear();
  if (claims["jti"].get(value) == simdjson::SUCCESS &&
      value.get_string().get(text) == simdjson::SUCCESS && !text.empty()) {
    out.token_id.assign("jti:").append(text);
  }
  out.account.clear();
  if (!mapping.account_claim.empty() &&
      claims[mapping.account_claim].get(value) == simdjson::SUCCESS) {
    if (value.get_string().get(text) != simdjson::SUCCESS) return JwtError::kBadClaimType;
    out.account.assign(text);
  }
  out.roles.clear();
  if (!mapping.roles_claim.empty() && claims[mapping.roles_claim].get(value) == simdjson::SUCCESS &&
      !readStringList(value, out.roles)) {
    return JwtError::kBadClaimType;
  }
  out.scopes.clear();
  if (mapping.scopes_claim.empty()) {
    if ((claims["scope"].get(value) == simdjson::SUCCESS ||
         claims["scp"].get(value) == simdjson::SUCCESS) &&
        !readStringList(value, out.scopes)) {
      return JwtError::kBadClaimType;
    }
  } else if (claims[mapping.scopes_claim].get(value) == simdjson::SUCCESS &&
             !readStringList(value, out.scopes)) {
    return JwtError::kBadClaimType;
  }
  out.claims.clear();
  for (const std::string& name : mapping.extra_claims) {
    if (claims[name].get(value) != simdjson::SUCCESS) continue;
    std::string text_value;
    appendClaimText(value, text_value);
    out.claims.emplace_back(name, std::move(text_value));
  }
  return JwtError::kNone;
}

}  // namespace

const char* describe(JwtError error) {
  switch (error) {
    case JwtError::kNone:
      return "ok";
    case JwtError::kTooLarge:
      return "token too large";
    case JwtError::kMalformed:
      return "token is not three dot-separated segments";
    case JwtError::kBadBase64:
      return "token segment is not base64url";
    case JwtError::kBadJson:
      return "token header or claims are not valid JSON";
    case JwtError::kNotObject:
      return "token header or claims are not a JSON object";
    case JwtError::kDuplicateMember:
      return "duplicate member in token header or claims";
    case JwtError::kAlgNone:
      return "unsigned token (alg none)";
    case JwtError::kUnknownAlgorithm:
      return "unsupported or missing token algorithm";
    case JwtError::kAlgorithmNotAllowed:
      return "token algorithm not allowed for this issuer";
    case JwtError::kRemoteKeyReference:
      return "token header names a key (jku/x5u/jwk/x5c): refused";
    case JwtError::kCriticalHeader:
      return "token header has crit extensions";
    case JwtError::kBadHeaderMember:
      return "token header member of the wrong type";
    case JwtError::kIssuerMissing:
      return "token has no issuer";
    case JwtError::kUnknownIssuer:
      return "token issuer not trusted";
    case JwtError::kUnknownKid:
      return "token key id unknown";
    case JwtError::kNoKey:
      return "token has no key id and no single key fits";
    case JwtError::kKeyTypeMismatch:
      return "token algorithm does not fit the key";
    case JwtError::kWeakKey:
      return "HMAC key too short for the algorithm";
    case JwtError::kBadSignatureLength:
      return "token signature has the wrong length";
    case JwtError::kBadSignature:
      return "token signature invalid";
    case JwtError::kBadTimeClaim:
      return "token exp/nbf/iat is not a number";
    case JwtError::kExpMissing:
      return "token has no expiry";
    case JwtError::kExpired:
      return "token expired";
    case JwtError::kNotYetValid:
      return "token not yet valid";
    case JwtError::kIssuedInFuture:
      return "token issued in the future";
    case JwtError::kAudienceMismatch:
      return "token audience not accepted";
    case JwtError::kPrincipalMissing:
      return "token has no principal claim";
    case JwtError::kBadClaimType:
      return "token claim of the wrong type";
    case JwtError::kInternal:
      return "internal error verifying token";
    case JwtError::kBusy:
      return "too many new tokens to verify right now";
  }
  return "unknown";
}

Authenticator::Authenticator(std::vector<IssuerSpec> issuers) {
  for (IssuerSpec& spec : issuers) {
    auto issuer = std::make_unique<Issuer>();
    for (Algorithm algorithm : spec.algorithms) {
      issuer->allowed |= uint32_t{1} << static_cast<unsigned>(algorithm);
    }
    issuer->keys.store(std::move(spec.keys));
    max_token_bytes_ = std::max(max_token_bytes_, spec.max_token_bytes);
    issuer->spec = std::move(spec);
    issuers_.push_back(std::move(issuer));
  }
}

Authenticator::~Authenticator() = default;

std::unique_ptr<Authenticator> Authenticator::create(std::vector<IssuerSpec> issuers,
                                                     std::string& error) {
  if (issuers.empty()) {
    error = "no issuer configured";
    return nullptr;
  }
  for (size_t i = 0; i < issuers.size(); ++i) {
    const IssuerSpec& spec = issuers[i];
    const std::string where = "issuer \"" + spec.issuer + "\": ";
    if (spec.issuer.empty()) {
      error = "issuer " + std::to_string(i) + ": empty issuer name";
      return nullptr;
    }
    for (size_t j = 0; j < i; ++j) {
      if (issuers[j].issuer == spec.issuer) {
        error = where + "configured twice";
        return nullptr;
      }
    }
    if (spec.algorithms.empty()) {
      error = where + "no algorithm allowed";
      return nullptr;
    }
    if (spec.keys == nullptr) {
      error = where + "no key set";
      return nullptr;
    }
    if (spec.clock_skew_seconds < 0 || spec.clock_skew_seconds > kMaxSkewSeconds) {
      error = where + "clock skew must be 0..86400 seconds";
      return nullptr;
    }
    if (spec.max_token_bytes == 0) {
      error = where + "max token size is 0";
      return nullptr;
    }
    if (spec.claims.principal_claim.empty()) {
      error = where + "empty principal claim";
      return nullptr;
    }
  }
  return std::unique_ptr<Authenticator>(new Authenticator(std::move(issuers)));
}

const Authenticator::Issuer* Authenticator::findIssuer(std::string_view name) const {
  for (const auto& issuer : issuers_) {
    if (issuer->spec.issuer == name) return issuer.get();
  }
  return nullptr;
}

bool Authenticator::replaceKeys(std::string_view issuer, std::shared_ptr<const KeySet> keys) {
  if (keys == nullptr) return false;
  for (auto& candidate : issuers_) {
    if (candidate->spec.issuer == issuer) {
      candidate->keys.store(std::move(keys), std::memory_order_release);
      return true;
    }
  }
  return false;
}

std::shared_ptr<const KeySet> Authenticator::keys(std::string_view issuer) const {
  const Issuer* found = findIssuer(issuer);
  return found == nullptr ? nullptr : found->keys.load(std::memory_order_acquire);
}

JwtError Authenticator::authenticate(std::string_view token, int64_t now, VerifyScratch& scratch,
                                     Identity& out, SignatureGate* gate) const {
  out.kind = CredentialKind::kNone;
  out.issuer.clear();
  return verify(token, now, *scratch.state_, out, gate);
}

JwtError Authenticator::authenticate(std::string_view token, int64_t now, Identity& out) const {
  thread_local VerifyScratch scratch;
  return authenticate(token, now, scratch, out);
}

JwtError Authenticator::verify(std::string_view token, int64_t now, VerifyScratch::State& scratch,
                               Identity& out, SignatureGate* gate) const {
  if (token.size() > max_token_bytes_) return JwtError::kTooLarge;
  const size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return JwtError::kMalformed;
  const size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return JwtError::kMalformed;
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view claims_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);
  const std::string_view signing_input = token.substr(0, dot2);
  if (header_b64.empty()) return JwtError::kMalformed;

  size_t header_length = 0, claims_length = 0, signature_length = 0;
  if (!decodeJson(header_b64, scratch.header_json, header_length) ||
      !decodeJson(claims_b64, scratch.claims_json, claims_length)) {
    return JwtError::kBadBase64;
  }
  if (base64UrlMaxDecodedSize(signature_b64.size()) > sizeof(scratch.signature)) {
    return JwtError::kBadSignatureLength;
  }
  if (!decodeBase64Url(signature_b64, scratch.signature, &signature_length)) {
    return JwtError::kBadBase64;
  }

  object header;
  JwtError error = parseObject(scratch.header_parser, scratch.header_json, header_length, header);
  if (error != JwtError::kNone) return error;
  Header fields;
  error = readHeader(header, fields);
  if (error != JwtError::kNone) return error;

  object claims;
  error = parseObject(scratch.claims_parser, scratch.claims_json, claims_length, claims);
  if (error != JwtError::kNone) return error;
  std::string_view iss;
  if (claims["iss"].get_string().get(iss) != simdjson::SUCCESS) return JwtError::kIssuerMissing;
  out.issuer.assign(iss);
  const Issuer* issuer = findIssuer(iss);
  if (issuer == nullptr) return JwtError::kUnknownIssuer;
  const IssuerSpec& spec = issuer->spec;
  if (token.size() > spec.max_token_bytes) return JwtError::kTooLarge;
  if ((issuer->allowed & (uint32_t{1} << static_cast<unsigned>(fields.alg))) == 0) {
    return JwtError::kAlgorithmNotAllowed;
  }

  // One load: this call keeps this set alive even if replaceKeys runs now.
  const std::shared_ptr<const KeySet> keys = issuer->keys.load(std::memory_order_acquire);
  const Key* key = nullptr;
  if (fields.has_kid) {
    key = keys->findKid(fields.kid);
    if (key == nullptr) return JwtError::kUnknownKid;
    if (!key->fits(fields.alg)) return JwtError::kKeyTypeMismatch;
  } else {
    size_t fitting = 0;
    for (const Key& candidate : keys->keys()) {
      if (candidate.fits(fields.alg)) {
        key = &candidate;
        ++fitting;
      }
    }
    if (fitting == 0 && keys->size() > 0) return JwtError::kKeyTypeMismatch;
    if (fitting != 1) return JwtError::kNoKey;
  }
  if (gate != nullptr && !gate->admit()) return JwtError::kBusy;
  error = fromSignatureError(
      verifySignature(fields.alg, *key, signing_input, scratch.signature, signature_length));
  if (error != JwtError::kNone) return error;

  // Claims, only now that they are known to come from the issuer.
  bool has_exp = false, has_nbf = false, has_iat = false;
  int64_t exp = 0, nbf = 0, iat = 0;
  if (!readTime(claims, "exp", has_exp, exp) || !readTime(claims, "nbf", has_nbf, nbf) ||
      !readTime(claims, "iat", has_iat, iat)) {
    return JwtError::kBadTimeClaim;
  }
  now = std::clamp(now, -kTimeLimit, kTimeLimit);
  const int64_t skew = spec.clock_skew_seconds;
  if (!has_exp && spec.require_exp) return JwtError::kExpMissing;
  if (has_exp && now >= exp + skew) return JwtError::kExpired;
  if (has_nbf && now + skew < nbf) return JwtError::kNotYetValid;
  if (has_iat && iat > now + skew) return JwtError::kIssuedInFuture;
  if (!spec.audiences.empty() && !audienceMatches(claims, spec.audiences)) {
    return JwtError::kAudienceMismatch;
  }

  error = mapClaims(claims, spec.claims, out);
  if (error != JwtError::kNone) return error;
  out.expires_at = has_exp ? exp : 0;
  out.kind = CredentialKind::kJwt;
  return JwtError::kNone;
}

}  // namespace rampart::auth
