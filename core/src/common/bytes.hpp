// Little-endian integers, varints and length-prefixed strings in byte
// strings: the building blocks of every binary format on disk (log records,
// tables, event batches, residues).
//
//   std::string out;
//   put_le<std::uint32_t>(out, 1);
//   put_string(out, "id");
//   ByteReader in(out);
//   auto v = in.le<std::uint32_t>();
//   std::string id = in.string();
//   if (!in.ok) ...;  // anything truncated or malformed clears ok
//
// Thread safety: plain functions and a value type.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace retarget {

template <typename T>
void put_le(std::string& out, T v) {
  static_assert(std::is_trivially_copyable_v<T>);
  out.append(reinterpret_cast<const char*>(&v), sizeof v);  // the targets are little endian
}

// Reads a T off the front of `in`; false (nothing consumed) when too short.
template <typename T>
bool get_le(std::string_view& in, T& v) {
  if (in.size() < sizeof v) return false;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

struct ByteReader {
  explicit ByteReader(std::string_view bytes) : in(bytes) {}
  std::string_view in;
  bool ok = true;

  template <typename T>
  T le() {
    T v{};
    if (!get_le(in, v)) ok = false;
    return v;
  }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in.empty()) return ok = false, 0;
      auto b = static_cast<unsigned char>(in[0]);
      in.remove_prefix(1);
      v |= std::uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  std::uint8_t byte() { return le<std::uint8_t>(); }
  std::uint64_t fixed() { return le<std::uint64_t>(); }
  std::string string() {
    std::uint64_t n = varint();
    if (!ok || n > in.size()) return ok = false, std::string();
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
  // A count of items each at least `min_bytes` long: refuses counts the
  // remaining bytes cannot hold (no allocation from a damaged length).
  std::uint64_t count(std::size_t min_bytes) {
    std::uint64_t n = varint();
    if (ok && min_bytes > 0 && n > in.size() / min_bytes) ok = false;
    return ok ? n : 0;
  }
};

}  // namespace retarget
