// CRC-32C (Castagnoli), as LevelDB and RocksDB checksum their files: the
// SSE4.2 instruction where the CPU has it (checked at run time, so the
// package stays baseline x86-64), a table otherwise.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace retarget::storage::crc32c {

// The CRC of `data` continued from `crc` (0 to start).
std::uint32_t extend(std::uint32_t crc, const char* data, std::size_t n);
inline std::uint32_t value(std::string_view s) { return extend(0, s.data(), s.size()); }

// A CRC stored next to the data it covers is masked, so that the CRC of a
// string containing CRCs is not trivially related to them (LevelDB's rule).
inline std::uint32_t mask(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline std::uint32_t unmask(std::uint32_t masked) {
  std::uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace retarget::storage::crc32c
