// libFuzzer target for the HTTP/1.1 parser: request heads, response heads and
// chunked bodies. Besides "never crash" it checks the properties the session
// relies on: results do not depend on how the input was split, views stay in
// the input, and consumed counts stay within bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/parser.h"

namespace {

using rampart::http::ChunkedDecoder;
using rampart::http::Limits;
using rampart::http::ParseError;
using rampart::http::ParseOutcome;
using rampart::http::RequestHead;
using rampart::http::ResponseHead;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool inside(std::string_view view, std::string_view input) {
  return view.empty() ||
         (view.data() >= input.data() && view.data() + view.size() <= input.data() + input.size());
}

bool sameOutcome(const ParseOutcome& a, const ParseOutcome& b) {
  return a.state == b.state && a.consumed == b.consumed && a.error == b.error;
}

// A prefix of the input must need more, or reach the verdict the whole input
// reached: the session parses again from the start with every read.
void checkPrefix(const ParseOutcome& whole, const ParseOutcome& prefix, size_t prefix_size) {
  using State = ParseOutcome::State;
  if (prefix.state == State::kNeedMore) {
    check(whole.state != State::kDone || prefix_size < whole.consumed);
    return;
  }
  check(sameOutcome(whole, prefix));
}

void fuzzRequest(std::string_view input, const Limits& limits, size_t cut) {
  RequestHead head;
  head.headers.reserve(8);
  ParseOutcome whole = rampart::http::parseRequestHead(input, limits, head);
  if (whole.state == ParseOutcome::State::kDone) {
    check(whole.consumed <= input.size() && whole.consumed <= limits.max_head_bytes);
    check(!head.method.empty() && !head.target.empty());
    check(head.target.size() <= limits.max_target_bytes);
    check(head.headers.size() <= limits.max_headers);
    check(inside(head.method, input) && inside(head.target, input) && inside(head.host, input));
    check(head.version == rampart::http::Version::kHttp10 || !head.host.empty());
    for (const auto& header : head.headers) {
      check(!header.name.empty() && inside(header.name, input) && inside(header.value, input));
    }
  } else {
    check(whole.consumed == 0);
    check((whole.state == ParseOutcome::State::kError) == (whole.error != ParseError::kNone));
  }
  RequestHead again;
  size_t size = cut % (input.size() + 1);
  checkPrefix(whole, rampart::http::parseRequestHead(input.substr(0, size), limits, again), size);
}

void fuzzResponse(std::string_view input, const Limits& limits, bool head_request, size_t cut) {
  ResponseHead head;
  ParseOutcome whole = rampart::http::parseResponseHead(input, limits, head_request, head);
  if (whole.state == ParseOutcome::State::kDone) {
    check(whole.consumed <= input.size() && whole.consumed <= limits.max_head_bytes);
    check(head.status >= 100 && head.status <= 599);
    check(inside(head.reason, input));
    check(head.framing != rampart::http::BodyFraming::kUntilClose || !head.keep_alive);
  }
  ResponseHead again;
  size_t size = cut % (input.size() + 1);
  checkPrefix(whole,
              rampart::http::parseResponseHead(input.substr(0, size), limits, head_request, again),
              size);
}

struct Decoded {
  size_t consumed = 0;
  bool done = false;
  ParseError error = ParseError::kNone;
  std::string payload;
};

// Feeds `input` in pieces of `step` bytes (0: all at once).
Decoded decode(std::string_view input, size_t step) {
  ChunkedDecoder decoder;
  Decoded result;
  size_t at = 0;
  do {
    std::string_view piece = step == 0 ? input.substr(at) : input.substr(at, step);
    ChunkedDecoder::Progress progress = decoder.feed(piece, &result.payload);
    check(progress.consumed <= piece.size());
    result.consumed += progress.consumed;
    result.done = progress.done;
    result.error = progress.error;
    if (progress.done || progress.error != ParseError::kNone) break;
    check(progress.consumed == piece.size());
    at += piece.size();
  } while (at < input.size());
  check(decoder.payloadBytes() == result.payload.size());
  check(decoder.finished() == result.done);
  if (result.done || result.error != ParseError::kNone) {
    check(decoder.feed(input).consumed == 0);  // nothing more after the verdict
  }
  return result;
}

void fuzzChunked(std::string_view input, size_t step) {
  Decoded whole = decode(input, 0);
  check(whole.payload.size() <= whole.consumed);
  for (size_t each : {step % 64 + 1, size_t{1}}) {
    if (each == 1 && input.size() > 2048) break;  // byte by byte only on small inputs
    Decoded split = decode(input, each);
    check(split.consumed == whole.consumed && split.done == whole.done &&
          split.error == whole.error && split.payload == whole.payload);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // A cut point for the prefix checks, taken from the tail so the seeds' heads stay intact.
  size_t cut = size >= 2 ? data[size - 1] * 256u + data[size - 2] : size / 2;

  Limits defaults;
  fuzzRequest(input, defaults, cut);
  fuzzResponse(input, defaults, false, cut);
  fuzzResponse(input, defaults, true, cut / 3);

  // Tight limits reach the 414/431 paths with small inputs.
  Limits tight;
  tight.max_head_bytes = 96 + (cut % 64);
  tight.max_headers = 2 + static_cast<uint32_t>(cut % 4);
  tight.max_target_bytes = 8 + static_cast<uint32_t>(cut % 16);
  fuzzRequest(input, tight, cut / 5);
  fuzzResponse(input, tight, false, cut / 7);

  fuzzChunked(input, cut);
  return 0;
}
