#include "http/canonical.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::http {
namespace {

using E = CanonicalError;

struct Outcome {
  E error;
  std::string text;
};

Outcome run(std::string_view raw, const CanonicalOptions& options = {}) {
  CanonicalTarget out;
  E error = canonicalizeTarget(raw, options, out);
  return {error, error == E::kNone ? out.text : std::string()};
}

std::string ok(std::string_view raw, const CanonicalOptions& options = {}) {
  Outcome outcome = run(raw, options);
  EXPECT_EQ(outcome.error, E::kNone) << raw << ": " << describe(outcome.error);
  return outcome.text;
}

E fail(std::string_view raw, const CanonicalOptions& options = {}) {
  return run(raw, options).error;
}

// --- forms -----------------------------------------------------------------

TEST(CanonicalForm, OriginFormSplitsPathAndQuery) {
  CanonicalTarget out;
  ASSERT_EQ(canonicalizeTarget("/api/v1?x=1&y=2", {}, out), E::kNone);
  EXPECT_EQ(out.text, "/api/v1?x=1&y=2");
  EXPECT_EQ(out.path(), "/api/v1");
  EXPECT_EQ(out.query(), "x=1&y=2");
  EXPECT_TRUE(out.authority.empty());
  EXPECT_FALSE(out.asterisk);
}

TEST(CanonicalForm, RootPath) {
  EXPECT_EQ(ok("/"), "/");
}

TEST(CanonicalForm, AbsoluteFormMovesAuthorityOut) {
  CanonicalTarget out;
  ASSERT_EQ(canonicalizeTarget("http://Example.COM:8080/a/b?q=1", {}, out), E::kNone);
  EXPECT_EQ(out.text, "/a/b?q=1");
  EXPECT_EQ(out.path(), "/a/b");
  EXPECT_EQ(out.authority, "example.com:8080");
}

TEST(CanonicalForm, AbsoluteFormSchemeIsCaseInsensitive) {
  CanonicalTarget out;
  ASSERT_EQ(canonicalizeTarget("HTTPS://host/x", {}, out), E::kNone);
  EXPECT_EQ(out.text, "/x");
  EXPECT_EQ(out.authority, "host");
  ASSERT_EQ(canonicalizeTarget("hTtP://host/y", {}, out), E::kNone);
  EXPECT_EQ(out.text, "/y");
}

TEST(CanonicalForm, AbsoluteFormWithoutPathIsRoot) {
  CanonicalTarget out;
  ASSERT_EQ(canonicalizeTarget("http://host", {}, out), E::kNone);
  EXPECT_EQ(out.text, "/");
  EXPECT_EQ(out.authority, "host");
  ASSERT_EQ(canonicalizeTarget("http://host?q=1", {}, out), E::kNone);
  EXPECT_EQ(out.text, "/?q=1");
  EXPECT_EQ(out.path(), "/");
  EXPECT_EQ(out.query(), "q=1");
}

TEST(CanonicalForm, AbsoluteFormIpv6Literal) {
  CanonicalTarget out;
  ASSERT_EQ(canonicalizeTarget("http://[::1]:8080/x", {}, out), E::kNone);
  EXPECT_EQ(out.authority, "[::1]:8080");
  ASSERT_EQ(canonicalizeTarget("http://[FE80::A]/x", {}, out), E::kNone);
  EXPECT_EQ(out.authority, "[fe80::a]");
}

TEST(CanonicalForm, AbsoluteFormEmptyPortIsDropped) {
  CanonicalTarget out;
  ASSERT_EQ(canonicalizeTarget("http://host:/x", {}, out), E::kNone);
  EXPECT_EQ(out.authority, "host");
}

TEST(CanonicalForm, AbsoluteFormPathIsCanonicalizedToo) {
  EXPECT_EQ(ok("http://h//a/./b/../c"), "/a/c");
  EXPECT_EQ(fail("http://h/../x"), E::kClimbsAboveRoot);
}

TEST(CanonicalForm, BadAuthorities) {
  EXPECT_EQ(fail("http:///x"), E::kBadForm);  // empty host
  EXPECT_EQ(fail("http://"), E::kBadForm);
  EXPECT_EQ(fail("http://user@host/x"), E::kBadForm);  // userinfo
  EXPECT_EQ(fail("http://host:80a/x"), E::kBadForm);
  EXPECT_EQ(fail("http://host:123456/x"), E::kBadForm);
  EXPECT_EQ(fail("http://host:65536/x"), E::kBadForm);
  EXPECT_EQ(fail("http://[::1/x"), E::kBadForm);
  EXPECT_EQ(fail("http://[]/x"), E::kBadForm);
  EXPECT_EQ(fail("http://ho%41st/x"), E::kBadForm);  // encoded host
  EXPECT_EQ(fail("http://ho st/x"), E::kBadCharacter);
  EXPECT_EQ(fail("http://h\x01/x"), E::kBadCharacter);
}

TEST(CanonicalForm, Asterisk) {
  CanonicalTarget out;
  ASSERT_EQ(canonicalizeTarget("*", {}, out), E::kNone);
  EXPECT_TRUE(out.asterisk);
  EXPECT_EQ(out.text, "*");
  EXPECT_EQ(out.path(), "*");
  EXPECT_EQ(fail("*x"), E::kBadForm);
  EXPECT_EQ(fail("**"), E::kBadForm);
}

TEST(CanonicalForm, EmptyTarget) {
  EXPECT_EQ(fail(""), E::kEmpty);
}

TEST(CanonicalForm, OtherFormsAreRefused) {
  EXPECT_EQ(fail("path"), E::kBadForm);
  EXPECT_EQ(fail("a/b"), E::kBadForm);
  EXPECT_EQ(fail("host:443"), E::kBadForm);  // authority-form (CONNECT) is not routed
  EXPECT_EQ(fail("ftp://host/x"), E::kBadForm);
  EXPECT_EQ(fail("http:/host/x"), E::kBadForm);
  EXPECT_EQ(fail("?q"), E::kBadForm);
  EXPECT_EQ(fail("\\admin"), E::kBadForm);
}

TEST(CanonicalForm, ReusedTargetIsReset) {
  CanonicalTarget out;
  ASSERT_EQ(canonicalizeTarget("http://host/a/very/long/path?with=query", {}, out), E::kNone);
  ASSERT_EQ(canonicalizeTarget("*", {}, out), E::kNone);
  ASSERT_EQ(canonicalizeTarget("/b", {}, out), E::kNone);
  EXPECT_EQ(out.text, "/b");
  EXPECT_EQ(out.path(), "/b");
  EXPECT_EQ(out.query(), "");
  EXPECT_TRUE(out.authority.empty());
  EXPECT_FALSE(out.asterisk);
}

// --- characters and escapes ------------------------------------------------

TEST(CanonicalCharacters, AllPcharsPass) {
  CanonicalOptions options;
  options.allow_semicolon = true;
  EXPECT_EQ(ok("/azAZ09-._~!$&'()*+,;=:@", options), "/azAZ09-._~!$&'()*+,;=:@");
  EXPECT_EQ(ok("/azAZ09-._~!$&'()*+,=:@"), "/azAZ09-._~!$&'()*+,=:@");
}

// "/admin;x=1" is "/admin" to Tomcat and Spring, "admin;x=1" to others: refused.
TEST(CanonicalCharacters, SemicolonInThePathIsRefusedUnlessAllowed) {
  EXPECT_EQ(fail("/admin;x=1"), E::kSemicolon);
  EXPECT_EQ(fail("/a;/b"), E::kSemicolon);
  CanonicalOptions options;
  options.allow_semicolon = true;
  EXPECT_EQ(ok("/admin;x=1", options), "/admin;x=1");
  // In the query it is ordinary.
  EXPECT_EQ(ok("/a?x=1;y=2"), "/a?x=1;y=2");
  // Encoded, it stays encoded: no server splits on %3B.
  EXPECT_EQ(ok("/a%3bb"), "/a%3Bb");
}

TEST(CanonicalCharacters, LowercasePathWhenConfigured) {
  EXPECT_EQ(ok("/ADMIN/Users"), "/ADMIN/Users");  // case-sensitive by default
  CanonicalOptions options;
  options.lowercase_path = true;
  EXPECT_EQ(ok("/ADMIN/Users?Q=A", options), "/admin/users?Q=A");  // the query is left alone
  EXPECT_EQ(ok("/%41dmin", options), "/admin");                    // decoded, then lowercased
  EXPECT_EQ(ok("/a%C3%A9", options), "/a%C3%A9");                  // escapes keep upper-case hex
}

TEST(CanonicalCharacters, BadBytesInPath) {
  for (std::string_view bad : {" ", "\"", "<", ">", "\\", "^", "`", "{", "|", "}", "[", "]", "\x7f",
                               "\x80", "\xff", "\t", "\r", "\n"}) {
    std::string target = "/a" + std::string(bad) + "b";
    EXPECT_EQ(fail(target), E::kBadCharacter) << target;
  }
  EXPECT_EQ(fail(std::string_view("/a\0b", 4)), E::kBadCharacter);
}

TEST(CanonicalCharacters, BadBytesInQuery) {
  EXPECT_EQ(fail("/a?b c"), E::kBadCharacter);
  EXPECT_EQ(fail("/a?b\\c"), E::kBadCharacter);
  EXPECT_EQ(fail("/a?\x80"), E::kBadCharacter);
  EXPECT_EQ(fail("/a?{}"), E::kBadCharacter);
}

TEST(CanonicalCharacters, RawBackslashIsRefused) {
  EXPECT_EQ(fail("/admin\\..\\x"), E::kBadCharacter);
  EXPECT_EQ(fail("/\\admin"), E::kBadCharacter);
}

TEST(CanonicalEscapes, MalformedEscapes) {
  EXPECT_EQ(fail("/a%"), E::kBadPercentEncoding);
  EXPECT_EQ(fail("/a%4"), E::kBadPercentEncoding);
  EXPECT_EQ(fail("/a%4g"), E::kBadPercentEncoding);
  EXPECT_EQ(fail("/a%g4"), E::kBadPercentEncoding);
  EXPECT_EQ(fail("/a%4?x"), E::kBadPercentEncoding);  // an escape cannot span the '?'
  EXPECT_EQ(fail("/a%/b"), E::kBadPercentEncoding);
}

TEST(CanonicalEscapes, MalformedEscapesInQuery) {
  EXPECT_EQ(fail("/a?x=%"), E::kBadPercentEncoding);
  EXPECT_EQ(fail("/a?x=%2"), E::kBadPercentEncoding);
  EXPECT_EQ(fail("/a?x=%zz"), E::kBadPercentEncoding);
}

TEST(CanonicalEscapes, UnreservedAreDecoded) {
  EXPECT_EQ(ok("/%41%7A%30%2D%2E%5F%7E"), "/Az0-._~");
  EXPECT_EQ(ok("/%61dmin"), "/admin");
}

TEST(CanonicalEscapes, OthersKeptWithUppercaseHex) {
  EXPECT_EQ(ok("/a%20b"), "/a%20b");
  EXPECT_EQ(ok("/%3f%3a%c3%a9"), "/%3F%3A%C3%A9");
  EXPECT_EQ(ok("/%25"), "/%25");
}

TEST(CanonicalEscapes, EncodedSlashRefusedByDefault) {
  EXPECT_EQ(fail("/a%2Fb"), E::kEncodedSlash);
  EXPECT_EQ(fail("/a%2fb"), E::kEncodedSlash);
}

TEST(CanonicalEscapes, EncodedSlashKeptWhenAllowed) {
  CanonicalOptions options;
  options.allow_encoded_slash = true;
  EXPECT_EQ(ok("/a%2fb", options), "/a%2Fb");
  // It stays data: never a segment separator, so ".." does not climb over it.
  EXPECT_EQ(ok("/a%2F../b", options), "/a%2F../b");
  EXPECT_EQ(ok("/x/a%2F..", options), "/x/a%2F..");
}

TEST(CanonicalEscapes, EncodedBackslash) {
  EXPECT_EQ(fail("/a%5Cb"), E::kEncodedBackslash);
  EXPECT_EQ(fail("/a%5cb"), E::kEncodedBackslash);
  CanonicalOptions options;
  options.allow_encoded_backslash = true;
  EXPECT_EQ(ok("/a%5cb", options), "/a%5Cb");
}

TEST(CanonicalEscapes, EncodedNulAlwaysRefused) {
  CanonicalOptions loose;
  loose.allow_encoded_slash = true;
  loose.allow_encoded_backslash = true;
  loose.allow_fragment = true;
  EXPECT_EQ(fail("/a%00b"), E::kEncodedNul);
  EXPECT_EQ(fail("/a%00b", loose), E::kEncodedNul);
}

TEST(CanonicalEscapes, MixedCaseHexOfDot) {
  EXPECT_EQ(ok("/a/%2e%2E/b"), "/b");
  EXPECT_EQ(ok("/a/.%2e/b"), "/b");
  EXPECT_EQ(ok("/a/%2E/b"), "/a/b");
}

// --- dot segments and slashes ----------------------------------------------

TEST(CanonicalDots, SingleDotSegmentsRemoved) {
  EXPECT_EQ(ok("/a/./b"), "/a/b");
  EXPECT_EQ(ok("/./a"), "/a");
  EXPECT_EQ(ok("/a/././b"), "/a/b");
}

TEST(CanonicalDots, DoubleDotRemovesPreviousSegment) {
  EXPECT_EQ(ok("/a/b/../c"), "/a/c");
  EXPECT_EQ(ok("/a/b/c/../../d"), "/a/d");
}

TEST(CanonicalDots, TrailingDotSegmentsKeepDirectorySlash) {
  EXPECT_EQ(ok("/a/."), "/a/");
  EXPECT_EQ(ok("/a/.."), "/");
  EXPECT_EQ(ok("/a/b/.."), "/a/");
  EXPECT_EQ(ok("/."), "/");
}

TEST(CanonicalDots, ClimbingAboveRootRefused) {
  EXPECT_EQ(fail("/.."), E::kClimbsAboveRoot);
  EXPECT_EQ(fail("/../x"), E::kClimbsAboveRoot);
  EXPECT_EQ(fail("/a/../../x"), E::kClimbsAboveRoot);
  EXPECT_EQ(fail("/%2e%2e/x"), E::kClimbsAboveRoot);
  EXPECT_EQ(fail("/./../x"), E::kClimbsAboveRoot);
}

TEST(CanonicalDots, DotsInsideNamesAreNotSegments) {
  EXPECT_EQ(ok("/a.b/..c/c../.../.x"), "/a.b/..c/c../.../.x");
}

TEST(CanonicalSlashes, TrailingSlashPreserved) {
  EXPECT_EQ(ok("/a/b/"), "/a/b/");
}

TEST(CanonicalSlashes, RepeatedSlashesMerged) {
  EXPECT_EQ(ok("//a///b//"), "/a/b/");
  EXPECT_EQ(ok("//"), "/");
  EXPECT_EQ(ok("/a//./b"), "/a/b");
  EXPECT_EQ(ok("/a/..//b"), "/b");
}

TEST(CanonicalSlashes, RepeatedSlashesKeptWhenNotMerging) {
  CanonicalOptions options;
  options.merge_slashes = false;
  EXPECT_EQ(ok("//a///b", options), "//a///b");
  // RFC 3986 5.2.4: ".." removes the empty segment before it.
  EXPECT_EQ(ok("/a//../b", options), "/a/b");
  EXPECT_EQ(ok("//..", options), "/");
}

// --- query and fragment ----------------------------------------------------

TEST(CanonicalQuery, KeptAsSent) {
  CanonicalTarget out;
  ASSERT_EQ(canonicalizeTarget("/a/./b?x=%2f..%2e&y=/../?z", {}, out), E::kNone);
  EXPECT_EQ(out.path(), "/a/b");
  EXPECT_EQ(out.query(), "x=%2f..%2e&y=/../?z");
}

TEST(CanonicalQuery, EmptyQueryDropsQuestionMark) {
  CanonicalTarget out;
  ASSERT_EQ(canonicalizeTarget("/a?", {}, out), E::kNone);
  EXPECT_EQ(out.text, "/a");
  EXPECT_EQ(out.query(), "");
}

TEST(CanonicalQuery, QuestionMarkBeforeDotSegmentsEndsThePath) {
  EXPECT_EQ(ok("/a?/../../b"), "/a?/../../b");
}

TEST(CanonicalFragment, RefusedByDefault) {
  EXPECT_EQ(fail("/a#frag"), E::kFragment);
  EXPECT_EQ(fail("/a?q#frag"), E::kFragment);
  EXPECT_EQ(fail("/#"), E::kFragment);
}

TEST(CanonicalFragment, DroppedWhenAllowed) {
  CanonicalOptions options;
  options.allow_fragment = true;
  EXPECT_EQ(ok("/a#frag", options), "/a");
  EXPECT_EQ(ok("/a?q=1#frag", options), "/a?q=1");
  EXPECT_EQ(ok("http://h#f", options), "/");
  EXPECT_EQ(fail("/a#fr ag", options), E::kBadCharacter);
  EXPECT_EQ(fail("/a#f#g", options), E::kBadCharacter);
}

// --- bypass classes --------------------------------------------------------

TEST(CanonicalBypass, AdminTraversalVariants) {
  EXPECT_EQ(ok("/admin/../admin"), "/admin");
  EXPECT_EQ(ok("/public/../admin"), "/admin");
  EXPECT_EQ(ok("/public/%2e%2e/admin"), "/admin");
  EXPECT_EQ(ok("/public/.%2E/admin"), "/admin");
  EXPECT_EQ(ok("/./admin"), "/admin");
  EXPECT_EQ(ok("//admin"), "/admin");
  EXPECT_EQ(ok("/%61dmin"), "/admin");
  EXPECT_EQ(ok("/%61%64%6d%69%6e"), "/admin");
}

TEST(CanonicalBypass, EncodedSlashTraversal) {
  EXPECT_EQ(fail("/admin%2f.."), E::kEncodedSlash);
  EXPECT_EQ(fail("/public%2f..%2fadmin"), E::kEncodedSlash);
  EXPECT_EQ(fail("/public%5c..%5cadmin"), E::kEncodedBackslash);
}

TEST(CanonicalBypass, PathIsCaseSensitive) {
  EXPECT_EQ(ok("/ADMIN"), "/ADMIN");
  EXPECT_EQ(ok("/Admin/X"), "/Admin/X");
}

TEST(CanonicalBypass, DoubleEncodingDecodedOnce) {
  // %25 is not unreserved, so it stays; "2e" after it is literal data, not
  // hex of an escape, and so keeps its case ("x%2e" != "x%2E" decoded).
  EXPECT_EQ(ok("/%252e%252e/admin"), "/%252e%252e/admin");
  EXPECT_EQ(ok("/a/%252E%252E/b"), "/a/%252E%252E/b");
}

TEST(CanonicalBypass, OverlongUtf8KeptEncoded) {
  EXPECT_EQ(ok("/a/%c0%ae%c0%ae/b"), "/a/%C0%AE%C0%AE/b");
  EXPECT_EQ(ok("/%e0%80%ae"), "/%E0%80%AE");
}

TEST(CanonicalBypass, RawUtf8Refused) {
  EXPECT_EQ(fail("/caf\xc3\xa9"), E::kBadCharacter);
  EXPECT_EQ(fail("/\xc0\xae\xc0\xae/x"), E::kBadCharacter);
}

// --- idempotence -----------------------------------------------------------

TEST(CanonicalIdempotence, OutputIsAFixedPoint) {
  CanonicalOptions loose;
  loose.allow_encoded_slash = true;
  loose.allow_encoded_backslash = true;
  for (std::string_view raw : {"/a/./b/../c/", "//x//y", "/%41%2e%2E/%c0%ae", "/a%2Fb/..",
                               "/a%5c/./b?q=%2e", "/a/.", "http://h", "*", "/a/b/..", "/%7e?"}) {
    CanonicalTarget first;
    ASSERT_EQ(canonicalizeTarget(raw, loose, first), E::kNone) << raw;
    CanonicalTarget second;
    ASSERT_EQ(canonicalizeTarget(first.text, loose, second), E::kNone) << raw;
    EXPECT_EQ(first.text, second.text) << raw;
    EXPECT_EQ(first.path_length, second.path_length) << raw;
  }
}

TEST(CanonicalDescribe, EveryErrorHasText) {
  for (E error : {E::kNone, E::kEmpty, E::kBadForm, E::kBadCharacter, E::kBadPercentEncoding,
                  E::kEncodedSlash, E::kEncodedBackslash, E::kEncodedNul, E::kClimbsAboveRoot,
                  E::kFragment}) {
    EXPECT_NE(std::string(describe(error)), "");
  }
}

}  // namespace
}  // namespace rampart::http
