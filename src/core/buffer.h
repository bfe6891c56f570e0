// A contiguous byte buffer with a read and a write position. Owned by one
// connection; its storage is allocated once and reused for every request on
// that connection.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace rampart::core {

class Buffer {
 public:
  explicit Buffer(size_t capacity = 0) { reserve(capacity); }

  std::string_view readable() const { return {data_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  size_t capacity() const { return capacity_; }

  // Space after the data; call makeRoom() first to reclaim consumed space.
  char* writePtr() { return data_.get() + end_; }
  size_t writable() const { return capacity_ - end_; }
  void produce(size_t n) { end_ += n; }

  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void clear() { begin_ = end_ = 0; }
  // Removes `n` bytes at `offset` from the front of the data, keeping what
  // follows in order.
  void erase(size_t offset, size_t n) {
    char* at = data_.get() + begin_ + offset;
    std::memmove(at, at + n, size() - offset - n);
    end_ -= n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Moves unread data to the front so writable() is as large as capacity allows.
  // Invalidates views into the buffer.
  void makeRoom() {
    if (begin_ == 0) return;
    size_t n = end_ - begin_;
    if (n > 0) std::memmove(data_.get(), data_.get() + begin_, n);
    begin_ = 0;
    end_ = n;
  }

  // Grows the storage to at least `capacity` bytes (keeps the data).
  void reserve(size_t capacity) {
    if (capacity <= capacity_) return;
    std::unique_ptr<char[]> bigger(new char[capacity]);
    size_t n = end_ - begin_;
    if (n > 0) std::memcpy(bigger.get(), data_.get() + begin_, n);
    data_ = std::move(bigger);
    capacity_ = capacity;
    begin_ = 0;
    end_ = n;
  }

  // Appends, growing when needed (used to build message heads). Small
  // enough to inline where heads are built; growing is the rare, outlined part.
  void append(std::string_view bytes) {
    if (bytes.empty()) return;  // an empty view's data() may be null: memcpy must not see it
    if (writable() < bytes.size()) makeWritable(bytes.size());
    std::memcpy(writePtr(), bytes.data(), bytes.size());
    produce(bytes.size());
  }
  // At least `n` bytes of writable() afterwards: consumed space is reclaimed
  // first, then the storage grows. Invalidates views into the buffer.
  [[gnu::noinline]] void makeWritable(size_t n) {
    makeRoom();
    if (writable() < n) reserve(capacity_ * 2 + n);
  }
  void append(char c) { append(std::string_view(&c, 1)); }

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace rampart::core
