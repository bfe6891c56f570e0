// Parser costs on the hot path: one browser-like request head, one response
// head, and a chunked body, each parsed from memory.
#include <benchmark/benchmark.h>

#include <string>

#include "http/parser.h"

namespace rampart::http {
namespace {

// About 400 bytes, shaped like what a desktop browser sends for a page.
const std::string kBrowserRequest =
    "GET /products/shoes/running?size=42&color=blue HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://shop.example.com/products\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=4f1c2a9be07d; theme=dark\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "\r\n";

const std::string kResponse =
    "HTTP/1.1 200 OK\r\n"
    "Date: Tue, 11 Jun 2024 10:00:00 GMT\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Length: 5120\r\n"
    "Cache-Control: max-age=60\r\n"
    "Server: origin\r\n"
    "\r\n";

void BM_ParseBrowserRequestHead(benchmark::State& state) {
  RequestHead head;
  head.headers.reserve(32);
  Limits limits;
  for (auto _ : state) {
    ParseOutcome outcome = parseRequestHead(kBrowserRequest, limits, head);
    benchmark::DoNotOptimize(outcome);
    benchmark::DoNotOptimize(head.headers.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBrowserRequest.size()));
  state.SetLabel(std::to_string(kBrowserRequest.size()) + " bytes");
}
BENCHMARK(BM_ParseBrowserRequestHead);

void BM_ParseResponseHead(benchmark::State& state) {
  ResponseHead head;
  head.headers.reserve(32);
  Limits limits;
  for (auto _ : state) {
    ParseOutcome outcome = parseResponseHead(kResponse, limits, false, head);
    benchmark::DoNotOptimize(outcome);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kResponse.size()));
}
BENCHMARK(BM_ParseResponseHead);

// A 64 KiB payload in chunks of state.range(0) bytes, decoded into a string.
std::string makeChunkedBody(size_t chunk_size, size_t total) {
  std::string body;
  std::string chunk(chunk_size, 'x');
  char size_line[32];
  for (size_t sent = 0; sent < total; sent += chunk_size) {
    int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk_size);
    body.append(size_line, static_cast<size_t>(n));
    body += chunk;
    body += "\r\n";
  }
  body += "0\r\n\r\n";
  return body;
}

void BM_DecodeChunkedBody(benchmark::State& state) {
  std::string body = makeChunkedBody(static_cast<size_t>(state.range(0)), 64 * 1024);
  std::string payload;
  payload.reserve(64 * 1024);
  ChunkedDecoder decoder;
  for (auto _ : state) {
    decoder.reset();
    payload.clear();
    ChunkedDecoder::Progress progress = decoder.feed(body, &payload);
    benchmark::DoNotOptimize(progress);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_DecodeChunkedBody)->Arg(256)->Arg(4096);

// Validation only, fed in 1460-byte segments as a session sees them.
void BM_ValidateChunkedBodySegmented(benchmark::State& state) {
  std::string body = makeChunkedBody(4096, 64 * 1024);
  std::string_view view(body);
  ChunkedDecoder decoder;
  for (auto _ : state) {
    decoder.reset();
    for (size_t at = 0; at < view.size(); at += 1460) {
      ChunkedDecoder::Progress progress = decoder.feed(view.substr(at, 1460));
      benchmark::DoNotOptimize(progress);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ValidateChunkedBodySegmented);

}  // namespace
}  // namespace rampart::http
