// Cache keys: each configured part counts, and no two different requests
// share a key (length-prefixed fields, anonymous unlike any principal).
#include <gtest/gtest.h>

#include <string>

#include "authz/authorizer.h"

namespace rampart::authz {
namespace {

KeyPart part(KeyPart::Kind kind, std::string header = {}) {
  KeyPart p;
  p.kind = kind;
  p.header = std::move(header);
  return p;
}

std::string keyOf(const std::vector<KeyPart>& parts, const CheckInput& input) {
  std::string out = "garbage";
  buildKey(parts, input, &out);
  return out;
}

TEST(AuthzKeyTest, PartsDistinguishRequests) {
  auth::Identity alice;
  alice.kind = auth::CredentialKind::kJwt;
  alice.principal = "alice";
  alice.account = "acme";
  auth::Identity empty = alice;
  empty.principal = "";
  std::vector<http::Header> headers = {{"Authorization", "Bearer a"}};
  std::vector<http::Header> other = {{"authorization", "Bearer b"}};
  std::vector<http::Header> twice = {{"authorization", "Bearer a"}, {"authorization", "Bearer a"}};
  CheckInput base;
  base.method = "GET";
  base.path = "/a";
  base.route = "r";
  base.identity = &alice;
  base.headers = &headers;
  std::vector<KeyPart> parts = {part(KeyPart::Kind::kPrincipal), part(KeyPart::Kind::kRoute),
                                part(KeyPart::Kind::kHeader, "authorization")};
  std::string k = keyOf(parts, base);
  EXPECT_EQ(k, keyOf(parts, base));  // stable, and cleared first
  CheckInput anonymous = base;
  anonymous.identity = nullptr;
  CheckInput nameless = base;
  nameless.identity = &empty;
  CheckInput other_header = base;
  other_header.headers = &other;
  CheckInput doubled = base;
  doubled.headers = &twice;
  CheckInput other_route = base;
  other_route.route = "s";
  CheckInput other_path = base;
  other_path.path = "/b";
  EXPECT_NE(k, keyOf(parts, anonymous));
  EXPECT_NE(keyOf(parts, anonymous), keyOf(parts, nameless));
  EXPECT_NE(k, keyOf(parts, other_header));
  EXPECT_NE(k, keyOf(parts, doubled));
  EXPECT_NE(k, keyOf(parts, other_route));
  EXPECT_EQ(k, keyOf(parts, other_path));  // path is not part of this key
}

TEST(AuthzKeyTest, FieldBoundariesCannotBeShifted) {
  CheckInput a;
  a.route = "ab";
  a.method = "c";
  CheckInput b;
  b.route = "a";
  b.method = "bc";
  std::vector<KeyPart> parts = {part(KeyPart::Kind::kRoute), part(KeyPart::Kind::kMethod)};
  EXPECT_NE(keyOf(parts, a), keyOf(parts, b));
}

}  // namespace
}  // namespace rampart::authz
