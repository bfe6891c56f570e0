#include "http/parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <vector>

namespace rampart::http {
namespace {

using E = ParseError;
using State = ParseOutcome::State;

// --- helpers -------------------------------------------------------------------

ParseOutcome parseRequest(std::string_view input, RequestHead& head, const Limits& limits = {}) {
  head.headers.reserve(32);
  return parseRequestHead(input, limits, head);
}

// The error a request head is refused with; kNone (a test failure) when it is not refused.
E requestError(std::string_view input, const Limits& limits = {}) {
  RequestHead head;
  ParseOutcome outcome = parseRequest(input, head, limits);
  EXPECT_EQ(outcome.state, State::kError) << testing::PrintToString(std::string(input));
  return outcome.error;
}

ParseOutcome parseResponse(std::string_view input, ResponseHead& head, bool head_request = false,
                           const Limits& limits = {}) {
  head.headers.reserve(32);
  return parseResponseHead(input, limits, head_request, head);
}

E responseError(std::string_view input, bool head_request = false, const Limits& limits = {}) {
  ResponseHead head;
  ParseOutcome outcome = parseResponse(input, head, head_request, limits);
  EXPECT_EQ(outcome.state, State::kError) << testing::PrintToString(std::string(input));
  return outcome.error;
}

// A request head with the given extra field lines after "Host: example.com".
std::string withFields(std::string_view fields) {
  return "POST /upload HTTP/1.1\r\nHost: example.com\r\n" + std::string(fields) + "\r\n";
}

std::string_view fieldValue(const RequestHead& head, std::string_view name) {
  for (const Header& header : head.headers) {
    if (equalsIgnoreCase(header.name, name)) return header.value;
  }
  return "<absent>";
}

// --- request line ----------------------------------------------------------------

TEST(RequestHead, ParsesATypicalRequest) {
  std::string input =
      "GET /index.html?q=1 HTTP/1.1\r\n"
      "Host: example.com\r\n"
      "User-Agent: test\r\n"
      "Accept: */*\r\n"
      "\r\n";
  RequestHead head;
  ParseOutcome outcome = parseRequest(input, head);
  ASSERT_EQ(outcome.state, State::kDone);
  EXPECT_EQ(outcome.error, E::kNone);
  EXPECT_EQ(outcome.consumed, input.size());
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/index.html?q=1");
  EXPECT_EQ(head.version, Version::kHttp11);
  ASSERT_EQ(head.headers.size(), 3u);
  EXPECT_EQ(head.headers[0].name, "Host");
  EXPECT_EQ(head.headers[0].value, "example.com");
  EXPECT_EQ(head.headers[2].name, "Accept");
  EXPECT_EQ(head.headers[2].value, "*/*");
  EXPECT_EQ(head.host, "example.com");
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_EQ(head.content_length, 0u);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.expect_continue);
  EXPECT_FALSE(head.has_upgrade);
}

TEST(RequestHead, ViewsPointIntoTheInput) {
  std::string input = "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parseRequest(input, head).state, State::kDone);
  const char* begin = input.data();
  const char* end = begin + input.size();
  for (std::string_view view :
       {head.method, head.target, head.host, head.headers[1].name, head.headers[1].value}) {
    EXPECT_GE(view.data(), begin);
    EXPECT_LE(view.data() + view.size(), end);
  }
}

TEST(RequestHead, ConsumedStopsAtTheEndOfTheHead) {
  std::string head_text = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
  std::string input = head_text + "helloGET / HTTP/1.1\r\n";
  RequestHead head;
  ParseOutcome outcome = parseRequest(input, head);
  ASSERT_EQ(outcome.state, State::kDone);
  EXPECT_EQ(outcome.consumed, head_text.size());
}

TEST(RequestHead, Http10WithoutHostIsAccepted) {
  RequestHead head;
  ASSERT_EQ(parseRequest("GET / HTTP/1.0\r\n\r\n", head).state, State::kDone);
  EXPECT_EQ(head.version, Version::kHttp10);
  EXPECT_EQ(head.host, "");
  EXPECT_FALSE(head.keep_alive);
}

TEST(RequestHead, AnyMethodTokenIsAccepted) {
  RequestHead head;
  ASSERT_EQ(parseRequest("M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n", head).state, State::kDone);
  EXPECT_EQ(head.method, "M-SEARCH");
  EXPECT_EQ(head.target, "*");
}

TEST(RequestHead, LeadingEmptyLinesAreSkippedAndCounted) {
  std::string input = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestHead head;
  ParseOutcome outcome = parseRequest(input, head);
  ASSERT_EQ(outcome.state, State::kDone);
  EXPECT_EQ(outcome.consumed, input.size());
  EXPECT_EQ(head.method, "GET");
}

TEST(RequestHead, LeadingBareLFIsRefused) {
  EXPECT_EQ(requestError("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), E::kBareLF);
}

TEST(RequestHead, LeadingBareCRIsRefused) {
  EXPECT_EQ(requestError("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n"), E::kBareCR);
}

TEST(RequestHead, EveryProperPrefixNeedsMore) {
  std::string input =
      "\r\nPOST /a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 3\r\n"
      "Connection: keep-alive\r\nX-Empty:\r\n\r\n";
  for (size_t n = 0; n < input.size(); ++n) {
    RequestHead head;
    ParseOutcome outcome = parseRequest(std::string_view(input).substr(0, n), head);
    EXPECT_EQ(outcome.state, State::kNeedMore) << "prefix of " << n << " bytes";
    EXPECT_EQ(outcome.error, E::kNone);
  }
  RequestHead head;
  EXPECT_EQ(parseRequest(input, head).state, State::kDone);
}

TEST(RequestHead, ClearsThePreviousHead) {
  std::string first =
      "POST /a HTTP/1.0\r\nContent-Length: 4\r\nConnection: keep-alive\r\n"
      "Expect: 100-continue\r\nUpgrade: x\r\n\r\n";
  std::string second = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parseRequest(first, head).state, State::kDone);
  ASSERT_EQ(parseRequest(second, head).state, State::kDone);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.headers.size(), 1u);
  EXPECT_EQ(head.framing, BodyFraming::kNone);
  EXPECT_EQ(head.content_length, 0u);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.expect_continue);
  EXPECT_FALSE(head.has_upgrade);
}

TEST(RequestHead, HeaderVectorMayGrowPastItsReservation) {
  std::string input = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 90; ++i) input += "X-" + std::to_string(i) + ": v\r\n";
  input += "\r\n";
  RequestHead head;  // no reserve()
  ASSERT_EQ(parseRequestHead(input, Limits{}, head).state, State::kDone);
  ASSERT_EQ(head.headers.size(), 91u);
  EXPECT_EQ(head.headers[90].name, "X-89");
}

TEST(RequestHead, ObsTextAndTabAreAllowedInValues) {
  std::string input = "GET / HTTP/1.1\r\nHost: h\r\nX-A: caf\xc3\xa9\tbar\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parseRequest(input, head).state, State::kDone);
  EXPECT_EQ(fieldValue(head, "x-a"), "caf\xc3\xa9\tbar");
}

TEST(RequestHead, ValuesAreTrimmed) {
  RequestHead head;
  std::string input = withFields("X-A:   a  b \t \r\nX-B:\r\nX-C: \t \r\nX-D:x\r\n");
  ASSERT_EQ(parseRequest(input, head).state, State::kDone);
  EXPECT_EQ(fieldValue(head, "x-a"), "a  b");
  EXPECT_EQ(fieldValue(head, "x-b"), "");
  EXPECT_EQ(fieldValue(head, "x-c"), "");
  EXPECT_EQ(fieldValue(head, "x-d"), "x");
}

TEST(RequestHead, BadRequestLine) {
  for (const char* line : {
           "GET  / HTTP/1.1",       // two spaces
           " GET / HTTP/1.1",       // leading space
           "GET\t/ HTTP/1.1",       // tab as separator
           "GET /",                 // HTTP/0.9 style
           "GET / ",                // empty version
           "GET  HTTP/1.1",         // empty target
           "GET / HTTP/1.1 ",       // trailing space
           "GET /a b HTTP/1.1",     // space in target
           "GET /a\x01 HTTP/1.1",   // control in target
           "GET /a\x7f HTTP/1.1",   // DEL in target
           "GET / HTTP/1.1 extra",  // a fourth element
       }) {
    std::string input = std::string(line) + "\r\nHost: h\r\n\r\n";
    EXPECT_EQ(requestError(input), E::kBadRequestLine) << line;
  }
}

TEST(RequestHead, BadMethod) {
  for (const char* line : {"GE(T / HTTP/1.1", "G@T / HTTP/1.1", "(GET / HTTP/1.1", "/ HTTP/1.1",
                           "GET\"X / HTTP/1.1", "G\xc3\xa9T / HTTP/1.1"}) {
    std::string input = std::string(line) + "\r\nHost: h\r\n\r\n";
    EXPECT_EQ(requestError(input), E::kBadMethod) << line;
  }
}

TEST(RequestHead, BadMethodIsCaughtBeforeTheLineIsComplete) {
  EXPECT_EQ(requestError("GE{"), E::kBadMethod);
}

TEST(RequestHead, BadVersion) {
  for (const char* version : {"HTTP/1.2", "HTTP/2.0", "HTTP/0.9", "http/1.1", "HTTP/1.10", "HTTP/1",
                              "HTTP/1.", "HTTPS/1.1", "HTTP/11", "XTTP/1.1"}) {
    std::string input = std::string("GET / ") + version + "\r\nHost: h\r\n\r\n";
    EXPECT_EQ(requestError(input), E::kBadVersion) << version;
  }
}

TEST(RequestHead, BadVersionIsCaughtBeforeTheLineIsComplete) {
  EXPECT_EQ(requestError("GET / HTTP/1.1.1"), E::kBadVersion);
}

TEST(RequestHead, TargetAtTheLimitIsAccepted) {
  Limits limits;
  limits.max_target_bytes = 16;
  std::string input = "GET /" + std::string(15, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parseRequest(input, head, limits).state, State::kDone);
  EXPECT_EQ(head.target.size(), 16u);
}

TEST(RequestHead, TargetTooLong) {
  Limits limits;
  limits.max_target_bytes = 16;
  std::string input = "GET /" + std::string(16, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(requestError(input, limits), E::kTargetTooLong);
  EXPECT_EQ(statusFor(E::kTargetTooLong), 414);
}

TEST(RequestHead, TargetTooLongIsCaughtWhileStillArriving) {
  Limits limits;
  limits.max_target_bytes = 16;
  EXPECT_EQ(requestError("GET /" + std::string(16, 'a'), limits), E::kTargetTooLong);
  RequestHead head;
  EXPECT_EQ(parseRequest("GET /" + std::string(15, 'a'), head, limits).state, State::kNeedMore);
}

// --- size limits -------------------------------------------------------------------

TEST(RequestHead, HeadAtTheLimitIsAccepted) {
  std::string input = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  Limits limits;
  limits.max_head_bytes = static_cast<uint32_t>(input.size());
  RequestHead head;
  EXPECT_EQ(parseRequest(input, head, limits).state, State::kDone);
}

TEST(RequestHead, HeadTooLarge) {
  std::string input = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + std::string(100, 'p') + "\r\n\r\n";
  Limits limits;
  limits.max_head_bytes = 64;
  EXPECT_EQ(requestError(input, limits), E::kHeadTooLarge);
  EXPECT_EQ(statusFor(E::kHeadTooLarge), 431);
}

TEST(RequestHead, HeadTooLargeOneByteOver) {
  std::string input = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  Limits limits;
  limits.max_head_bytes = static_cast<uint32_t>(input.size() - 1);
  EXPECT_EQ(requestError(input, limits), E::kHeadTooLarge);
}

TEST(RequestHead, IncompleteHeadPastTheLimitIsRefused) {
  std::string input = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + std::string(100, 'p');
  Limits limits;
  limits.max_head_bytes = 64;
  EXPECT_EQ(requestError(input, limits), E::kHeadTooLarge);
  RequestHead head;
  EXPECT_EQ(parseRequest(std::string_view(input).substr(0, 64), head, limits).state,
            State::kNeedMore);
}

TEST(RequestHead, EndlessEmptyLinesHitTheHeadLimit) {
  Limits limits;
  limits.max_head_bytes = 64;
  std::string input;
  for (int i = 0; i < 40; ++i) input += "\r\n";
  EXPECT_EQ(requestError(input, limits), E::kHeadTooLarge);
}

TEST(RequestHead, HeaderCountAtTheLimitIsAccepted) {
  Limits limits;
  limits.max_headers = 3;
  RequestHead head;
  EXPECT_EQ(parseRequest(withFields("A: 1\r\nB: 2\r\n"), head, limits).state, State::kDone);
}

TEST(RequestHead, TooManyHeaders) {
  Limits limits;
  limits.max_headers = 3;
  EXPECT_EQ(requestError(withFields("A: 1\r\nB: 2\r\nC: 3\r\n"), limits), E::kTooManyHeaders);
  EXPECT_EQ(statusFor(E::kTooManyHeaders), 431);
}

// --- line endings ------------------------------------------------------------------

TEST(RequestHead, BareLF) {
  for (const char* input : {
           "GET / HTTP/1.1\nHost: h\r\n\r\n",               // request line
           "GET / HTTP/1.1\r\nHost: h\n\r\n",               // field line
           "GET / HTTP/1.1\r\nHost: h\r\n\n",               // final empty line
           "GET / HTTP/1.1\r\nX: a\nb\r\nHost: h\r\n\r\n",  // inside a value
           "GET /a\nb HTTP/1.1\r\nHost: h\r\n\r\n",         // inside the target
           "GET\n/ HTTP/1.1\r\nHost: h\r\n\r\n",            // after the method
           "GET / HTTP/1.1\r\nX\n: a\r\nHost: h\r\n\r\n",   // inside a name
       }) {
    EXPECT_EQ(requestError(input), E::kBareLF) << testing::PrintToString(std::string(input));
  }
}

TEST(RequestHead, BareCR) {
  for (const char* input : {
           "GET / HTTP/1.1\rHost: h\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
           "GET / HTTP/1.1\r\nX: a\rb\r\nHost: h\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\r\n\rX",
           "GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n",
       }) {
    EXPECT_EQ(requestError(input), E::kBareCR) << testing::PrintToString(std::string(input));
  }
}

TEST(RequestHead, CRAtTheEndOfTheBufferWaits) {
  RequestHead head;
  EXPECT_EQ(parseRequest("GET / HTTP/1.1\r", head).state, State::kNeedMore);
  EXPECT_EQ(parseRequest("GET / HTTP/1.1\r\nHost: a\r", head).state, State::kNeedMore);
  EXPECT_EQ(parseRequest("GET / HTTP/1.1\r\nHost: a\r\n\r", head).state, State::kNeedMore);
}

// --- field lines -------------------------------------------------------------------

TEST(RequestHead, BadHeaderValue) {
  for (std::string value : {std::string("a\0b", 3), std::string("\x01"), std::string("a\x1b[0m"),
                            std::string("a\x7f"), std::string("\x0b"), std::string("a\x0c")}) {
    EXPECT_EQ(requestError(withFields("X-Bad: " + value + "\r\n")), E::kBadHeaderValue)
        << testing::PrintToString(value);
  }
}

// Values and targets are scanned 16 bytes at a time: every byte value at
// every position of a long one must still get the scalar verdict.
TEST(RequestHead, EveryByteAtEveryPositionOfALongValue) {
  for (size_t pos = 0; pos < 40; ++pos) {
    for (int byte = 0; byte < 256; ++byte) {
      char c = static_cast<char>(byte);
      std::string value(40, 'v');
      value[pos] = c;
      std::string input = withFields("X-Long: " + value + "\r\n");
      RequestHead head;
      ParseOutcome outcome = parseRequest(input, head);
      bool allowed = c == '\t' || (byte >= 0x20 && byte != 0x7f);
      if (allowed) {
        ASSERT_EQ(outcome.state, State::kDone) << pos << " " << byte;
      } else {
        E expected = c == '\r' ? E::kBareCR : c == '\n' ? E::kBareLF : E::kBadHeaderValue;
        ASSERT_EQ(outcome.error, expected) << pos << " " << byte;
      }
    }
  }
}

TEST(RequestHead, EveryByteAtEveryPositionOfALongTarget) {
  for (size_t pos = 1; pos < 40; ++pos) {
    for (int byte = 0; byte < 256; ++byte) {
      char c = static_cast<char>(byte);
      if (c == ' ') continue;  // splits the line: covered by BadRequestLine
      std::string target = "/" + std::string(39, 't');
      target[pos] = c;
      std::string input = "GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n";
      RequestHead head;
      ParseOutcome outcome = parseRequest(input, head);
      if (byte > 0x20 && byte != 0x7f) {
        ASSERT_EQ(outcome.state, State::kDone) << pos << " " << byte;
        EXPECT_EQ(head.target, target);
      } else {
        E expected = c == '\r' ? E::kBareCR : c == '\n' ? E::kBareLF : E::kBadRequestLine;
        ASSERT_EQ(outcome.error, expected) << pos << " " << byte;
      }
    }
  }
}

TEST(RequestHead, BadHeaderName) {
  for (std::string line :
       {std::string(": empty-name"), std::string("X(: v"), std::string("Na me: v"),
        std::string("NoColon"), std::string("X\xc3\xa9: v"), std::string("X\0Y: v", 6),
        std::string("[x]: v"), std::string("X/Y: v")}) {
    EXPECT_EQ(requestError(withFields(line + "\r\n")), E::kBadHeaderName)
        << testing::PrintToString(line);
  }
}

// Names are scanned 16 bytes at a time for letters, digits and '-', with
// every other byte judged on its own: each byte at each position of a name
// longer than one such block must get the verdict the byte alone deserves.
TEST(RequestHead, EveryByteAtEveryPositionOfALongName) {
  const std::string rare_tchars = "!#$%&'*+.^_`|~";
  for (size_t pos = 1; pos < 40; ++pos) {
    for (int byte = 0; byte < 256; ++byte) {
      char c = static_cast<char>(byte);
      std::string name(40, 'n');
      name[pos] = c;
      std::string input = withFields(name + ": v\r\n");
      RequestHead head;
      ParseOutcome outcome = parseRequest(input, head);
      bool tchar = std::isalnum(byte) != 0 || c == '-' || rare_tchars.find(c) != std::string::npos;
      if (tchar || c == ':') {
        ASSERT_EQ(outcome.state, State::kDone) << pos << " " << byte;
        EXPECT_EQ(head.headers.back().name, tchar ? name : name.substr(0, pos))
            << pos << " " << byte;
      } else {
        E expected = c == '\r'                              ? E::kBareCR
                     : c == '\n'                            ? E::kBareLF
                     : (c == ' ' || c == '\t') && pos == 39 ? E::kWhitespaceBeforeColon
                                                            : E::kBadHeaderName;
        ASSERT_EQ(outcome.error, expected) << pos << " " << byte;
      }
    }
  }
}

TEST(RequestHead, RareTokenCharactersAfterTheFirstBlock) {
  RequestHead head;
  std::string name = "X-Abcdefghijklmnop!#$%&'*+.^_`|~z-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const std::string input = withFields(name + ": v\r\n");  // the head's views point into it
  ASSERT_EQ(parseRequest(input, head).state, State::kDone);
  EXPECT_EQ(head.headers.back().name, name);
  EXPECT_EQ(head.headers.back().value, "v");
}

TEST(RequestHead, WhitespaceBeforeColon) {
  EXPECT_EQ(requestError(withFields("X-A : v\r\n")), E::kWhitespaceBeforeColon);
  EXPECT_EQ(requestError(withFields("X-A\t: v\r\n")), E::kWhitespaceBeforeColon);
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\nHost :h\r\n\r\n"), E::kWhitespaceBeforeColon);
}

TEST(RequestHead, ObsFold) {
  EXPECT_EQ(requestError(withFields("X-A: a\r\n b\r\n")), E::kObsFold);
  EXPECT_EQ(requestError(withFields("X-A: a\r\n\tb\r\n")), E::kObsFold);
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), E::kObsFold);
}

// --- Content-Length ------------------------------------------------------------------

TEST(RequestHead, ContentLength) {
  RequestHead head;
  std::string input = withFields("Content-Length: 42\r\n");
  ASSERT_EQ(parseRequest(input, head).state, State::kDone);
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
  EXPECT_EQ(head.content_length, 42u);
}

TEST(RequestHead, ContentLengthEdgeValues) {
  struct Case {
    const char* value;
    uint64_t expected;
  };
  for (Case c :
       {Case{"0", 0}, Case{"007", 7}, Case{" 5 ", 5}, Case{"18446744073709551615", UINT64_MAX}}) {
    RequestHead head;
    std::string input = withFields(std::string("content-length:") + c.value + "\r\n");
    ASSERT_EQ(parseRequest(input, head).state, State::kDone) << c.value;
    EXPECT_EQ(head.framing, BodyFraming::kContentLength);
    EXPECT_EQ(head.content_length, c.expected) << c.value;
  }
}

TEST(RequestHead, BadContentLength) {
  for (const char* value : {"", "-1", "+1", "1 2", "5, 5", "5,5", "0x5", "abc", "5.0", "1e3",
                            "18446744073709551616", "99999999999999999999999"}) {
    EXPECT_EQ(requestError(withFields(std::string("Content-Length: ") + value + "\r\n")),
              E::kBadContentLength)
        << value;
  }
}

TEST(RequestHead, RepeatedIdenticalContentLengthIsAccepted) {
  RequestHead head;
  std::string input = withFields("Content-Length: 5\r\nContent-Length: 5\r\n");
  ASSERT_EQ(parseRequest(input, head).state, State::kDone);
  EXPECT_EQ(head.content_length, 5u);
}

TEST(RequestHead, ConflictingContentLength) {
  EXPECT_EQ(requestError(withFields("Content-Length: 5\r\nContent-Length: 6\r\n")),
            E::kConflictingContentLength);
}

TEST(RequestHead, ContentLengthAndTransferEncoding) {
  EXPECT_EQ(requestError(withFields("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")),
            E::kContentLengthAndTransferEncoding);
  EXPECT_EQ(requestError(withFields("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")),
            E::kContentLengthAndTransferEncoding);
}

// --- Transfer-Encoding ----------------------------------------------------------------

TEST(RequestHead, ChunkedIsAccepted) {
  for (const char* value : {"chunked", "Chunked", "CHUNKED", "chunked \t"}) {
    RequestHead head;
    std::string input = withFields(std::string("Transfer-Encoding: ") + value + "\r\n");
    ASSERT_EQ(parseRequest(input, head).state, State::kDone) << value;
    EXPECT_EQ(head.framing, BodyFraming::kChunked);
  }
}

TEST(RequestHead, BadTransferEncoding) {
  for (const char* value : {"chunked, identity", "identity", "xchunked", "chunked;foo", "chun ked",
                            "", "gzip, chunked", "gzip", "chunked,", ",chunked"}) {
    EXPECT_EQ(requestError(withFields(std::string("Transfer-Encoding: ") + value + "\r\n")),
              E::kBadTransferEncoding)
        << value;
  }
}

TEST(RequestHead, SecondTransferEncodingIsRefused) {
  EXPECT_EQ(
      requestError(withFields("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")),
      E::kBadTransferEncoding);
}

TEST(RequestHead, TransferEncodingOnHttp10IsRefused) {
  EXPECT_EQ(requestError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            E::kBadTransferEncoding);
}

// --- Host ------------------------------------------------------------------------------

TEST(RequestHead, ValidHosts) {
  for (const char* host :
       {"example.com", "example.com:8080", "EXAMPLE.com", "127.0.0.1:80", "[::1]", "[::1]:443",
        "[fe80::1%25eth0]", "a_b-c~d", "xn--bcher-kva.de", "h%41st", "host:"}) {
    RequestHead head;
    std::string input = std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n";
    ASSERT_EQ(parseRequest(input, head).state, State::kDone) << host;
    EXPECT_EQ(head.host, host);
  }
}

TEST(RequestHead, MissingHost) {
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), E::kMissingHost);
}

TEST(RequestHead, DuplicateHost) {
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), E::kDuplicateHost);
  EXPECT_EQ(requestError("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), E::kDuplicateHost);
  EXPECT_EQ(requestError("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), E::kDuplicateHost);
}

TEST(RequestHead, BadHost) {
  for (const char* host :
       {"",      "a b", "a/b",  "user@a", "a?b", "a#b",    "a\\b",     "a\"b", "a<b", "h\xc3\xa9",
        "a:b:c", ":80", "a:8x", "[::1",   "[]",  "[::1]x", "[::1]:8x", "a%zz", "a%4", "[a/b]"}) {
    std::string input = std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n";
    EXPECT_EQ(requestError(input), E::kBadHost) << host;
  }
}

TEST(RequestHead, BadHostOnHttp10) {
  EXPECT_EQ(requestError("GET / HTTP/1.0\r\nHost: a b\r\n\r\n"), E::kBadHost);
}

// --- Connection, Expect, Upgrade ----------------------------------------------------------

struct KeepAliveCase {
  const char* version;
  const char* fields;
  bool keep_alive;
};

TEST(RequestHead, KeepAlive) {
  for (KeepAliveCase c : {
           KeepAliveCase{"HTTP/1.1", "", true},
           KeepAliveCase{"HTTP/1.1", "Connection: close\r\n", false},
           KeepAliveCase{"HTTP/1.1", "Connection: CLOSE\r\n", false},
           KeepAliveCase{"HTTP/1.1", "Connection: upgrade , close\r\n", false},
           KeepAliveCase{"HTTP/1.1", "Connection: x\r\nConnection: close\r\n", false},
           KeepAliveCase{"HTTP/1.1", "Connection: closed\r\n", true},
           KeepAliveCase{"HTTP/1.1", "Connection: keep-alive\r\n", true},
           KeepAliveCase{"HTTP/1.0", "", false},
           KeepAliveCase{"HTTP/1.0", "Connection: keep-alive\r\n", true},
           KeepAliveCase{"HTTP/1.0", "Connection: Upgrade,Keep-Alive\r\n", true},
           KeepAliveCase{"HTTP/1.0", "Connection: keep-alive\r\nConnection: close\r\n", false},
           KeepAliveCase{"HTTP/1.0", "Connection: keep-alives\r\n", false},
       }) {
    std::string input = std::string("GET / ") + c.version + "\r\nHost: h\r\n" + c.fields + "\r\n";
    RequestHead head;
    ASSERT_EQ(parseRequest(input, head).state, State::kDone) << input;
    EXPECT_EQ(head.keep_alive, c.keep_alive) << input;
  }
}

TEST(RequestHead, ExpectContinue) {
  RequestHead head;
  std::string input = withFields("Content-Length: 3\r\nExpect: 100-Continue\r\n");
  ASSERT_EQ(parseRequest(input, head).state, State::kDone);
  EXPECT_TRUE(head.expect_continue);
  std::string other = withFields("Content-Length: 3\r\nExpect: 100-continue-x\r\n");
  ASSERT_EQ(parseRequest(other, head).state, State::kDone);
  EXPECT_FALSE(head.expect_continue);
}

TEST(RequestHead, Upgrade) {
  RequestHead head;
  std::string input = withFields("Connection: Upgrade\r\nUpgrade: websocket\r\n");
  ASSERT_EQ(parseRequest(input, head).state, State::kDone);
  EXPECT_TRUE(head.has_upgrade);
  EXPECT_TRUE(head.keep_alive);
}

// --- errors --------------------------------------------------------------------------------

TEST(ParseErrors, DescribeIsShortLowercaseAndDistinct) {
  std::vector<std::string> seen;
  for (int i = 0; i <= static_cast<int>(E::kBadChunkFraming); ++i) {
    std::string text = describe(static_cast<E>(i));
    EXPECT_FALSE(text.empty());
    EXPECT_LT(text.size(), 60u);
    for (char c : text) EXPECT_FALSE(std::isupper(static_cast<unsigned char>(c))) << text;
    for (const std::string& other : seen) EXPECT_NE(text, other);
    seen.push_back(text);
  }
}

TEST(ParseErrors, StatusFor) {
  EXPECT_EQ(statusFor(E::kTargetTooLong), 414);
  EXPECT_EQ(statusFor(E::kHeadTooLarge), 431);
  EXPECT_EQ(statusFor(E::kTooManyHeaders), 431);
  for (E e : {E::kBadRequestLine, E::kBareLF, E::kBadHost, E::kConflictingContentLength,
              E::kBadChunkSize, E::kBadChunkFraming}) {
    EXPECT_EQ(statusFor(e), 400);
  }
}

// --- response heads -----------------------------------------------------------------

TEST(ResponseHead, ParsesATypicalResponse) {
  std::string input = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nServer: x\r\n\r\nhello world!";
  ResponseHead head;
  ParseOutcome outcome = parseResponse(input, head);
  ASSERT_EQ(outcome.state, State::kDone);
  EXPECT_EQ(outcome.consumed, input.size() - 12);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.reason, "OK");
  EXPECT_EQ(head.version, Version::kHttp11);
  EXPECT_EQ(head.headers.size(), 2u);
  EXPECT_EQ(head.framing, BodyFraming::kContentLength);
  EXPECT_EQ(head.content_length, 12u);
  EXPECT_TRUE(head.keep_alive);
}

TEST(ResponseHead, ReasonMayBeEmptyOrMissing) {
  ResponseHead head;
  ASSERT_EQ(parseResponse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", head).state, State::kDone);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.reason, "");
  ASSERT_EQ(parseResponse("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", head).state, State::kDone);
  EXPECT_EQ(head.reason, "");
  ASSERT_EQ(parseResponse("HTTP/1.0 404 Not  Found\there\r\n\r\n", head).state, State::kDone);
  EXPECT_EQ(head.reason, "Not  Found\there");
  EXPECT_EQ(head.version, Version::kHttp10);
}

// The common status line is read in one step when all of it is in; cut
// anywhere it must wait, and a wrong byte anywhere must still fail.
TEST(ResponseHead, StatusLineEveryByteAtEveryPosition) {
  const std::string line = "HTTP/1.1 204 No Content";
  for (size_t pos = 0; pos < 12; ++pos) {
    for (int byte = 0; byte < 256; ++byte) {
      std::string input = line + "\r\n\r\n";
      if (input[pos] == static_cast<char>(byte)) continue;
      input[pos] = static_cast<char>(byte);
      ResponseHead head;
      ParseOutcome outcome = parseResponse(input, head);
      bool same_shape = (pos == 7 && (byte == '0' || byte == '1')) ||
                        (pos >= 9 && pos <= 11 && std::isdigit(byte) != 0);
      if (same_shape) {
        int status = std::stoi(input.substr(9, 3));
        if (status >= 100 && status <= 599) {
          ASSERT_EQ(outcome.state, State::kDone) << pos << " " << byte;
          EXPECT_EQ(head.status, status);
          EXPECT_EQ(head.version, input[7] == '1' ? Version::kHttp11 : Version::kHttp10);
          continue;
        }
      }
      ASSERT_EQ(outcome.state, State::kError) << pos << " " << byte;
      E expected = byte == '\r' ? E::kBareCR : byte == '\n' ? E::kBareLF : E::kBadStatusLine;
      if (pos == 0 && (byte == '\r' || byte == '\n'))
        continue;  // a leading empty line: its own rules
      EXPECT_EQ(outcome.error, expected) << pos << " " << byte;
    }
  }
}

TEST(ResponseHead, StatusRange) {
  ResponseHead head;
  EXPECT_EQ(parseResponse("HTTP/1.1 100 Continue\r\n\r\n", head).state, State::kDone);
  EXPECT_EQ(parseResponse("HTTP/1.1 599 X\r\n\r\n", head).state, State::kDone);
  EXPECT_EQ(responseError("HTTP/1.1 099 X\r\n\r\n"), E::kBadStatusLine);
  EXPECT_EQ(responseError("HTTP/1.1 600 X\r\n\r\n"), E::kBadStatusLine);
  EXPECT_EQ(responseError("HTTP/1.1 000 X\r\n\r\n"), E::kBadStatusLine);
}

TEST(ResponseHead, BadStatusLine) {
  for (const char* line :
       {"HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 2x0 OK", "HTTP/2 200 OK", "HTTP/1.2 200 OK",
        "HTTP/1.1  200 OK", "http/1.1 200 OK", "HTTP/1.1 200 O\x01K", "ICY 200 OK",
        "HTTP/1.1\t200 OK", "HTTP/1.1", "HTTP/1.1 200\x7f"}) {
    std::string input = std::string(line) + "\r\nContent-Length: 0\r\n\r\n";
    EXPECT_EQ(responseError(input), E::kBadStatusLine) << line;
  }
}

TEST(ResponseHead, BareLineEndsAndFieldErrors) {
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"), E::kBareLF);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\rX\r\n\r\n"), E::kBareCR);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nX : y\r\n\r\n"), E::kWhitespaceBeforeColon);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n"), E::kObsFold);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nX: \x01\r\n\r\n"), E::kBadHeaderValue);
}

TEST(ResponseHead, EveryProperPrefixNeedsMore) {
  std::string input = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX:\r\n\r\n";
  for (size_t n = 0; n < input.size(); ++n) {
    ResponseHead head;
    EXPECT_EQ(parseResponse(std::string_view(input).substr(0, n), head).state, State::kNeedMore)
        << n;
  }
}

TEST(ResponseHead, HostIsNotCheckedInResponses) {
  ResponseHead head;
  EXPECT_EQ(parseResponse("HTTP/1.1 204 No Content\r\nHost: a b\r\nHost: c\r\n\r\n", head).state,
            State::kDone);
}

struct FramingCase {
  const char* head;
  bool head_request;
  BodyFraming framing;
  bool keep_alive;
};

TEST(ResponseHead, Framing) {
  for (FramingCase c : {
           FramingCase{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", true, BodyFraming::kNone, true},
           FramingCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n", true,
                       BodyFraming::kNone, true},
           FramingCase{"HTTP/1.1 100 Continue\r\n", false, BodyFraming::kNone, true},
           FramingCase{"HTTP/1.1 101 Switching\r\nUpgrade: ws\r\n", false, BodyFraming::kNone,
                       true},
           FramingCase{"HTTP/1.1 204 No Content\r\n", false, BodyFraming::kNone, true},
           FramingCase{"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n", false,
                       BodyFraming::kNone, true},
           FramingCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n", false,
                       BodyFraming::kChunked, true},
           FramingCase{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", false,
                       BodyFraming::kContentLength, true},
           FramingCase{"HTTP/1.1 200 OK\r\n", false, BodyFraming::kUntilClose, false},
           FramingCase{"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n", false,
                       BodyFraming::kUntilClose, false},
           FramingCase{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n", false,
                       BodyFraming::kContentLength, false},
           FramingCase{"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n", false,
                       BodyFraming::kContentLength, false},
           FramingCase{"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: Keep-Alive\r\n", false,
                       BodyFraming::kContentLength, true},
           FramingCase{"HTTP/1.0 200 OK\r\n", false, BodyFraming::kUntilClose, false},
       }) {
    std::string input = std::string(c.head) + "\r\n";
    ResponseHead head;
    ASSERT_EQ(parseResponse(input, head, c.head_request).state, State::kDone) << c.head;
    EXPECT_EQ(head.framing, c.framing) << c.head;
    EXPECT_EQ(head.keep_alive, c.keep_alive) << c.head;
  }
}

// The rule on its own, as HTTP/2 streams use it for heads handed over as fields.
TEST(ResponseHead, ResponseFramingFollowsRfc9112Section63InItsOrder) {
  using F = BodyFraming;
  for (uint16_t status : {100, 101, 199, 204, 304}) {
    EXPECT_EQ(responseFraming(false, status, true, true), F::kNone) << status;
  }
  EXPECT_EQ(responseFraming(true, 200, true, true), F::kNone);
  EXPECT_EQ(responseFraming(false, 200, true, false), F::kChunked);
  EXPECT_EQ(responseFraming(false, 200, true, true), F::kChunked);
  EXPECT_EQ(responseFraming(false, 205, false, true), F::kContentLength);
  EXPECT_EQ(responseFraming(false, 404, false, false), F::kUntilClose);
}

TEST(ResponseHead, ContentLengthOnlyWithContentLengthFraming) {
  ResponseHead head;
  ASSERT_EQ(parseResponse("HTTP/1.1 304 NM\r\nContent-Length: 9\r\n\r\n", head).state,
            State::kDone);
  EXPECT_EQ(head.content_length, 0u);
  ASSERT_EQ(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", head).state,
            State::kDone);
  EXPECT_EQ(head.content_length, 9u);
}

TEST(ResponseHead, FramingConflictsAreErrors) {
  EXPECT_EQ(
      responseError("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
      E::kContentLengthAndTransferEncoding);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
            E::kBadTransferEncoding);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            E::kBadTransferEncoding);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            E::kConflictingContentLength);
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n"), E::kBadContentLength);
  EXPECT_EQ(responseError("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            E::kBadTransferEncoding);
  // Framing headers are judged even when the status says there is no body.
  EXPECT_EQ(responseError("HTTP/1.1 204 NC\r\nContent-Length: x\r\n\r\n"), E::kBadContentLength);
}

TEST(ResponseHead, Limits) {
  Limits limits;
  limits.max_head_bytes = 32;
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nServer: " + std::string(40, 's'), false, limits),
            E::kHeadTooLarge);
  limits = Limits{};
  limits.max_headers = 1;
  EXPECT_EQ(responseError("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", false, limits),
            E::kTooManyHeaders);
}

// --- chunked bodies -----------------------------------------------------------------

struct Decoded {
  size_t consumed = 0;
  bool done = false;
  E error = E::kNone;
  std::string payload;
  uint64_t payload_bytes = 0;
};

// Feeds `body` in pieces ending at `cuts` (and at the end), as a session would.
Decoded decode(std::string_view body, const std::vector<size_t>& cuts = {}) {
  ChunkedDecoder decoder;
  Decoded result;
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(body.size());
  for (size_t end : ends) {
    if (end < start) continue;
    std::string_view piece = body.substr(start, end - start);
    ChunkedDecoder::Progress progress = decoder.feed(piece, &result.payload);
    result.consumed += progress.consumed;
    result.done = progress.done;
    result.error = progress.error;
    EXPECT_EQ(progress.done, decoder.finished());
    if (progress.done || progress.error != E::kNone) break;
    EXPECT_EQ(progress.consumed, piece.size()) << "an unfinished decoder accepts every valid byte";
    start = end;
  }
  result.payload_bytes = decoder.payloadBytes();
  return result;
}

Decoded decodeByteByByte(std::string_view body) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < body.size(); ++i) cuts.push_back(i);
  return decode(body, cuts);
}

E chunkError(std::string_view body) {
  Decoded result = decode(body);
  EXPECT_FALSE(result.done) << testing::PrintToString(std::string(body));
  return result.error;
}

TEST(Chunked, DecodesASimpleBody) {
  std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  Decoded result = decode(body);
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.error, E::kNone);
  EXPECT_EQ(result.consumed, body.size());
  EXPECT_EQ(result.payload, "hello world");
  EXPECT_EQ(result.payload_bytes, 11u);
}

TEST(Chunked, HexSizesInEitherCaseAndLeadingZeros) {
  std::string body = "a\r\n0123456789\r\nA\r\nabcdefghij\r\n0001\r\nx\r\n000\r\n\r\n";
  Decoded result = decode(body);
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.payload, "0123456789abcdefghijx");
}

TEST(Chunked, TheTrailerSectionIsMeasuredAsItArrives) {
  ChunkedDecoder decoder;
  decoder.feed("3\r\nabc\r\n");
  EXPECT_FALSE(decoder.inTrailerSection());
  EXPECT_EQ(decoder.trailerBytes(), 0u);
  decoder.feed("0\r\n");  // the last chunk: the section starts after it
  EXPECT_TRUE(decoder.inTrailerSection());
  EXPECT_EQ(decoder.trailerBytes(), 0u);
  decoder.feed("X-A: 1\r\nX-");
  EXPECT_TRUE(decoder.inTrailerSection());
  EXPECT_EQ(decoder.trailerBytes(), 10u);
  ChunkedDecoder::Progress last = decoder.feed("B: 2\r\n\r\nGET");
  EXPECT_TRUE(last.done);
  EXPECT_EQ(last.consumed, 8u);
  EXPECT_FALSE(decoder.inTrailerSection());
  EXPECT_EQ(decoder.trailerBytes(), 18u);  // both field lines and the final CRLF
  ChunkedDecoder none;
  EXPECT_TRUE(none.feed("0\r\n\r\n").done);
  EXPECT_EQ(none.trailerBytes(), 2u);  // the final CRLF alone
}

TEST(Chunked, BytesAfterTheBodyAreNotConsumed) {
  std::string body = "3\r\nabc\r\n0\r\n\r\n";
  std::string input = body + "GET / HTTP/1.1\r\n";
  ChunkedDecoder decoder;
  std::string payload;
  ChunkedDecoder::Progress progress = decoder.feed(input, &payload);
  EXPECT_TRUE(progress.done);
  EXPECT_EQ(progress.consumed, body.size());
  EXPECT_TRUE(decoder.finished());
  progress = decoder.feed("more", &payload);
  EXPECT_TRUE(progress.done);
  EXPECT_EQ(progress.consumed, 0u);
  EXPECT_EQ(payload, "abc");
}

TEST(Chunked, NothingIsConsumedAfterAnError) {
  ChunkedDecoder decoder;
  ChunkedDecoder::Progress progress = decoder.feed("3\r\nabcX");
  EXPECT_EQ(progress.error, E::kBadChunkFraming);
  EXPECT_EQ(progress.consumed, 6u);  // up to, not including, the bad byte
  progress = decoder.feed("\r\n0\r\n\r\n");
  EXPECT_EQ(progress.error, E::kBadChunkFraming);
  EXPECT_EQ(progress.consumed, 0u);
  EXPECT_FALSE(progress.done);
}

TEST(Chunked, ResetStartsANewBody) {
  ChunkedDecoder decoder;
  ASSERT_TRUE(decoder.feed("1\r\na\r\n0\r\n\r\n").done);
  decoder.reset();
  EXPECT_FALSE(decoder.finished());
  EXPECT_EQ(decoder.payloadBytes(), 0u);
  std::string payload;
  ChunkedDecoder::Progress progress = decoder.feed("2\r\nbc\r\n0\r\n\r\n", &payload);
  EXPECT_TRUE(progress.done);
  EXPECT_EQ(payload, "bc");
  decoder.reset();
  EXPECT_EQ(decoder.feed("zz").error, E::kBadChunkSize);
  decoder.reset();
  EXPECT_TRUE(decoder.feed("0\r\n\r\n").done);
}

TEST(Chunked, WithoutPayloadOutputOnlyCounts) {
  ChunkedDecoder decoder;
  ChunkedDecoder::Progress progress = decoder.feed("4\r\nabcd\r\n0\r\n\r\n");
  EXPECT_TRUE(progress.done);
  EXPECT_EQ(decoder.payloadBytes(), 4u);
}

TEST(Chunked, Extensions) {
  for (const char* line :
       {"3;name", "3;name=value", "3;a;b=c;d", "3 ;a", "3\t; a = b", "3;a=\"quoted string\"",
        "3;a=\"esc \\\" and \\\\\"", "3;a=\"\"", "3;a=b ;c", "3;a=\"x\";b"}) {
    std::string body = std::string(line) + "\r\nabc\r\n0;last\r\n\r\n";
    Decoded result = decode(body);
    EXPECT_TRUE(result.done) << line << " " << describe(result.error);
    EXPECT_EQ(result.payload, "abc") << line;
  }
}

TEST(Chunked, BadExtensions) {
  for (const char* line :
       {"3;", "3; ", "3;=v", "3;a=", "3;a= ", "3;a=b c", "3;a=\"open", "3;a=\"x\"y", "3;a b", "3 ",
        "3\t", "3;a ", "3;a=b ", "3;a==b", "3;a=\"\x01\"", "3;a=\"\\\x01\"", "3;(a)", "3 x"}) {
    std::string body = std::string(line) + "\r\nabc\r\n0\r\n\r\n";
    EXPECT_EQ(chunkError(body), E::kBadChunkFraming) << testing::PrintToString(line);
  }
}

TEST(Chunked, LongExtensionLineIsRefused) {
  std::string body = "3;a=" + std::string(5000, 'x') + "\r\nabc\r\n0\r\n\r\n";
  EXPECT_EQ(chunkError(body), E::kBadChunkFraming);
  std::string fits = "3;a=" + std::string(4000, 'x') + "\r\nabc\r\n0\r\n\r\n";
  EXPECT_TRUE(decode(fits).done);
}

TEST(Chunked, BadChunkSize) {
  for (const char* body :
       {"\r\n", "x\r\n", "5x\r\nhello\r\n", "-5\r\n", "+5\r\n", "0x5\r\n", ";a\r\n", " 5\r\n",
        "g\r\n", "11111111111111111\r\n", "00000000000000001\r\n"}) {
    EXPECT_EQ(chunkError(body), E::kBadChunkSize) << testing::PrintToString(std::string(body));
  }
}

TEST(Chunked, SixteenHexDigitsAreAccepted) {
  ChunkedDecoder decoder;
  ChunkedDecoder::Progress progress = decoder.feed("ffffffffffffffff\r\nabc");
  EXPECT_EQ(progress.error, E::kNone);
  EXPECT_EQ(progress.consumed, 21u);
  EXPECT_EQ(decoder.payloadBytes(), 3u);
}

TEST(Chunked, BadFraming) {
  for (const char* body : {
           "5\nhello\r\n0\r\n\r\n",     // bare LF after the size
           "5\rhello\r\n0\r\n\r\n",     // bare CR after the size
           "5\r\nhelloX\r\n0\r\n\r\n",  // data longer than announced
           "5\r\nhello\n0\r\n\r\n",     // LF only after the data
           "5\r\nhello\r0\r\n\r\n",     // CR only after the data
           "5\r\nhello\r\n0\r\n\n",     // bare LF ending the body
           "5\r\nhello\r\n0\r\n\rX",    // CR without LF ending the body
           "0\n\r\n",                   // bare LF after the last chunk
       }) {
    EXPECT_EQ(chunkError(body), E::kBadChunkFraming) << testing::PrintToString(std::string(body));
  }
}

TEST(Chunked, Trailers) {
  std::string body = "2\r\nhi\r\n0\r\nX-Checksum: abc\r\nX-Other:\t v \r\nX-Empty:\r\n\r\n";
  Decoded result = decode(body);
  EXPECT_TRUE(result.done) << describe(result.error);
  EXPECT_EQ(result.consumed, body.size());
  EXPECT_EQ(result.payload, "hi");
}

TEST(Chunked, BadTrailers) {
  for (std::string trailer :
       {std::string("X-A: v\n"), std::string("X-A: v\rX"), std::string(" X-A: v\r\n"),
        std::string("\tX: v\r\n"), std::string("NoColon\r\n"), std::string("X-A : v\r\n"),
        std::string(": v\r\n"), std::string("X-A: \x01\r\n"), std::string("X-A: a\0b\r\n", 10),
        std::string("X(A): v\r\n"), std::string("X-A: v\r\n\n")}) {
    std::string body = "0\r\n" + trailer + "\r\n";
    EXPECT_EQ(chunkError(body), E::kBadChunkFraming) << testing::PrintToString(trailer);
  }
}

TEST(Chunked, LargeTrailerSectionIsRefused) {
  std::string trailers;
  for (int i = 0; i < 100; ++i)
    trailers += "X-T" + std::to_string(i) + ": " + std::string(80, 'v') + "\r\n";
  EXPECT_EQ(chunkError("0\r\n" + trailers + "\r\n"), E::kBadChunkFraming);
  std::string small;
  for (int i = 0; i < 50; ++i)
    small += "X-T" + std::to_string(i) + ": " + std::string(80, 'v') + "\r\n";
  EXPECT_TRUE(decode("0\r\n" + small + "\r\n").done);
}

TEST(Chunked, LargeChunkAcrossManyFeeds) {
  std::string data(100000, 'd');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  std::string body = "186a0\r\n" + data + "\r\n0\r\n\r\n";
  std::vector<size_t> cuts;
  for (size_t at = 1000; at < body.size(); at += 4093) cuts.push_back(at);
  Decoded result = decode(body, cuts);
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.payload, data);
}

// Every split of the input must give the result of feeding it whole: the
// session hands the decoder whatever recv() returned.
const std::vector<std::string>& splitCorpus() {
  static const std::vector<std::string> corpus = {
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
      "3;a=b;c=\"q\\\"x\" ; d\r\nabc\r\n10\r\n0123456789abcdef\r\n0;z\r\nT-A: 1\r\nT-B: x "
      "y\r\n\r\n",
      "0\r\n\r\nGET / HTTP/1.1\r\n",
      "5\r\nhello\r\n0\r\nX-A: v\n\r\n",
      "5\r\nhelloX",
      "3;a=\"open\r\nabc\r\n",
      "ffff_\r\n",
      "1\r\nx\r\n1\r\ny\r\n1\r\nz\r\n0\r\n\rX",
      "2\r\nab\r\n0\r\nX : y\r\n\r\n",
  };
  return corpus;
}

void expectSame(const Decoded& a, const Decoded& b, const std::string& body) {
  EXPECT_EQ(a.consumed, b.consumed) << testing::PrintToString(body);
  EXPECT_EQ(a.done, b.done) << testing::PrintToString(body);
  EXPECT_EQ(a.error, b.error) << testing::PrintToString(body);
  EXPECT_EQ(a.payload, b.payload) << testing::PrintToString(body);
}

TEST(Chunked, ByteByByteMatchesWhole) {
  for (const std::string& body : splitCorpus())
    expectSame(decode(body), decodeByteByByte(body), body);
}

TEST(Chunked, RandomSplitsMatchWhole) {
  std::mt19937 rng(20240611);
  for (const std::string& body : splitCorpus()) {
    Decoded whole = decode(body);
    for (int round = 0; round < 200; ++round) {
      std::vector<size_t> cuts;
      std::uniform_int_distribution<size_t> pick(0, body.size());
      int n = std::uniform_int_distribution<int>(1, 6)(rng);
      for (int i = 0; i < n; ++i) cuts.push_back(pick(rng));
      std::sort(cuts.begin(), cuts.end());
      expectSame(whole, decode(body, cuts), body);
    }
  }
}

TEST(Chunked, EmptyFeedIsHarmless) {
  ChunkedDecoder decoder;
  ChunkedDecoder::Progress progress = decoder.feed("");
  EXPECT_EQ(progress.consumed, 0u);
  EXPECT_FALSE(progress.done);
  EXPECT_EQ(progress.error, E::kNone);
}

}  // namespace
}  // namespace rampart::http
