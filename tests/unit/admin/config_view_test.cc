#include "admin/config_view.h"

#include <gtest/gtest.h>

namespace rampart::admin {
namespace {

TEST(ConfigViewTest, SecretKeysAreRecognisedAndCountersAreNot) {
  for (const char* key :
       {"token", "Token", "password", "redis_password", "hmac_secret", "hmac_key", "secret",
        "client_secret", "private_key", "api_key", "auth_token", "credentials", "authorization"}) {
    EXPECT_TRUE(isSecretKey(key)) << key;
  }
  for (const char* key : {"token_cache_entries", "max_token_bytes", "address", "file", "path",
                          "key", "keys", "name", "sha256", "jwks_file"}) {
    EXPECT_FALSE(isSecretKey(key)) << key;
  }
}

TEST(ConfigViewTest, UrlCredentialsAreCut) {
  EXPECT_EQ(redactUrlCredentials("redis://:hunter2@10.0.0.5:6379/0"),
            "redis://<redacted>@10.0.0.5:6379/0");
  EXPECT_EQ(redactUrlCredentials("redis://user:pw@host"), "redis://<redacted>@host");
  EXPECT_EQ(redactUrlCredentials("https://idp.example/jwks?x=a@b"),
            "https://idp.example/jwks?x=a@b");
  EXPECT_EQ(redactUrlCredentials("plain@text"), "plain@text");
}

TEST(ConfigViewTest, TheConfigBecomesJsonWithoutItsSecrets) {
  const std::string yaml = R"(workers: 2
drain_timeout: 5s
admin:
  address: 127.0.0.1:9901
  token: very-secret-admin-token
store:
  url: redis://:redis-pass@127.0.0.1:6379
  password: redis-pass
limits:
  - {name: hmac, hmac_secret: [a, b], rate: 10/s}
authentication:
  providers:
    - name: keys
      api_keys: {file: keys.yaml}
flags: {on: true, off: false, nothing: null, quoted: "600"}
)";
  const std::string json = redactedConfigJson(yaml);
  EXPECT_EQ(json.find("very-secret-admin-token"), std::string::npos);
  EXPECT_EQ(json.find("redis-pass"), std::string::npos);
  EXPECT_NE(json.find("\"token\":\"<redacted>\""), std::string::npos);
  EXPECT_NE(json.find("\"password\":\"<redacted>\""), std::string::npos);
  // A secret's whole value goes, even a sequence.
  EXPECT_NE(json.find("\"hmac_secret\":[\"<redacted>\",\"<redacted>\"]"), std::string::npos);
  EXPECT_NE(json.find("\"url\":\"redis://<redacted>@127.0.0.1:6379\""), std::string::npos);
  // Paths, numbers, booleans stay; a quoted number stays a string.
  EXPECT_NE(json.find("\"file\":\"keys.yaml\""), std::string::npos);
  EXPECT_NE(json.find("\"workers\":2"), std::string::npos);
  EXPECT_NE(json.find("\"drain_timeout\":\"5s\""), std::string::npos);
  EXPECT_NE(json.find("\"on\":true,\"off\":false,\"nothing\":null,\"quoted\":\"600\""),
            std::string::npos);
}

TEST(ConfigViewTest, HostileStringsAreEscaped) {
  const std::string json = redactedConfigJson("via: \"a\\\"b\\\\c\\n\\x01\"\n");
  EXPECT_EQ(json, "{\"via\":\"a\\\"b\\\\c\\u000a\\u0001\"}");
}

TEST(ConfigViewTest, BrokenYamlIsAnErrorObject) {
  EXPECT_EQ(redactedConfigJson("a: [1, 2").rfind("{\"error\":", 0), 0u);
}

}  // namespace
}  // namespace rampart::admin

namespace rampart::admin {
namespace {

TEST(ConfigViewTest, OnlyJsonNumbersGoBare) {
  const std::string json = redactedConfigJson(
      "a: 8080\nb: 0.5\nc: -1e3\nd: 007\ne: 12abc\nf: 1.\ng: 2E+2\nh: '9'\ni: -x\n");
  EXPECT_NE(json.find("\"a\":8080"), std::string::npos) << json;
  EXPECT_NE(json.find("\"b\":0.5"), std::string::npos) << json;
  EXPECT_NE(json.find("\"c\":-1e3"), std::string::npos) << json;
  EXPECT_NE(json.find("\"d\":\"007\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"e\":\"12abc\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"f\":\"1.\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"g\":2E+2"), std::string::npos) << json;
  EXPECT_NE(json.find("\"h\":\"9\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"i\":\"-x\""), std::string::npos) << json;
}

}  // namespace
}  // namespace rampart::admin
