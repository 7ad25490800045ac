// A byte codec for what the processes exchange: fixed-width integers and
// length-prefixed strings, written and read in the same order. The
// processes of one command run the same build, so no versioning is needed.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace retarget::mpi {

class Writer {
 public:
  Writer& u64(std::uint64_t v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Writer& i64(std::int64_t v) { return u64(static_cast<std::uint64_t>(v)); }
  Writer& str(const std::string& s) {
    u64(s.size());
    bytes_ += s;
    return *this;
  }
  Writer& strings(const std::vector<std::string>& v) {
    u64(v.size());
    for (const auto& s : v) str(s);
    return *this;
  }
  const std::string& bytes() const { return bytes_; }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

// Reads what a Writer wrote; a short or malformed buffer throws
// std::runtime_error (a bug: the processes run the same build).
class Reader {
 public:
  explicit Reader(const std::string& bytes) : bytes_(bytes) {}
  Reader(std::string&&) = delete;  // it reads in place: the bytes must outlive it
  std::uint64_t u64() {
    need(sizeof(std::uint64_t));
    std::uint64_t v;
    std::memcpy(&v, bytes_.data() + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  std::string str() {
    std::uint64_t n = u64();
    need(n);
    std::string s = bytes_.substr(at_, n);
    at_ += n;
    return s;
  }
  std::vector<std::string> strings() {
    std::uint64_t n = u64();
    std::vector<std::string> v;
    for (std::uint64_t i = 0; i < n; ++i) v.push_back(str());
    return v;
  }
  bool done() const { return at_ == bytes_.size(); }

 private:
  void need(std::uint64_t n) const {
    if (n > bytes_.size() - at_) throw std::runtime_error("retarget-mpi: a truncated message between processes");
  }
  const std::string& bytes_;
  std::size_t at_ = 0;
};

}  // namespace retarget::mpi
