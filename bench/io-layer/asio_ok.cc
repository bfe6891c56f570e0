// Minimal HTTP/1.1 keep-alive responder on Boost.Asio (header-only, one
// thread, io_context with concurrency hint 1), in the two idiomatic styles:
//
//   -DASIO_STYLE_CORO  C++20 coroutines: co_spawn + awaitable + use_awaitable
//   (default)          classic callbacks: async_read_some / async_write with
//                      a shared_ptr-owned session (the Asio examples' style)
//
// Both read whatever has arrived, answer every complete head in one write,
// then read again.
//
//   asio_ok_{coro,cb} [port]   SIGTERM prints requests=N allocations=M.
#include <boost/asio.hpp>

#include <cstdio>
#include <memory>

#include "common.h"

namespace asio = boost::asio;
using asio::ip::tcp;

#ifdef ASIO_STYLE_CORO

asio::awaitable<void> session(tcp::socket s) {
  char buf[bench::kBufSize];
  size_t have = 0;
  for (;;) {
    if (have == sizeof buf) co_return;  // head larger than the buffer
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf + have, sizeof buf - have),
                                              asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    have += n;
    size_t used;
    size_t heads = bench::count_heads(buf, have, &used);
    if (used) {
      have -= used;
      if (have) memmove(buf, buf + used, have);
    }
    while (heads) {
      size_t k = heads < bench::kBatch ? heads : bench::kBatch;
      auto [wec, w] =
          co_await asio::async_write(s, asio::buffer(bench::canned.data, k * bench::kResponseLen),
                                     asio::as_tuple(asio::use_awaitable));
      if (wec) co_return;
      heads -= k;
    }
  }
}

asio::awaitable<void> listener(tcp::acceptor& acc) {
  for (;;) {
    auto [ec, s] = co_await acc.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) continue;
    s.set_option(tcp::no_delay(true));
    asio::co_spawn(acc.get_executor(), session(std::move(s)), asio::detached);
  }
}

#else  // callbacks

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket s) : s_(std::move(s)) {}
  void start() { read(); }

 private:
  void read() {
    if (have_ == sizeof buf_) return;  // head larger than the buffer
    s_.async_read_some(asio::buffer(buf_ + have_, sizeof buf_ - have_),
                       [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                         if (!ec) self->on_read(n);
                       });
  }

  void on_read(size_t n) {
    have_ += n;
    size_t used;
    heads_ += bench::count_heads(buf_, have_, &used);
    if (used) {
      have_ -= used;
      if (have_) memmove(buf_, buf_ + used, have_);
    }
    if (heads_)
      write();
    else
      read();
  }

  void write() {
    size_t k = heads_ < bench::kBatch ? heads_ : bench::kBatch;
    heads_ -= k;
    asio::async_write(s_, asio::buffer(bench::canned.data, k * bench::kResponseLen),
                      [self = shared_from_this()](boost::system::error_code ec, size_t) {
                        if (ec) return;
                        if (self->heads_)
                          self->write();
                        else
                          self->read();
                      });
  }

  tcp::socket s_;
  size_t have_ = 0;
  size_t heads_ = 0;
  char buf_[bench::kBufSize];
};

void accept(tcp::acceptor& acc) {
  acc.async_accept([&acc](boost::system::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(s))->start();
    }
    accept(acc);
  });
}

#endif

int main(int argc, char** argv) {
  bench::install_report_handler();
  int port = bench::port_arg(argc, argv);
  try {
    asio::io_context ioc(1);
    tcp::acceptor acc(
        ioc, tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port)));
    bench::announce_listening(port);
#ifdef ASIO_STYLE_CORO
    asio::co_spawn(ioc, listener(acc), asio::detached);
#else
    accept(acc);
#endif
    ioc.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asio_ok: %s\n", e.what());
    return 1;
  }
}
