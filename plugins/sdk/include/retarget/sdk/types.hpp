// Basic value types shared by the engine and its filter plugins.
//
// Thread safety: plain values; ChunkBits is not synchronised (one writer).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

namespace retarget::sdk {

// Milliseconds since the Unix epoch, UTC. Every time in the engine is one.
using Timestamp = std::int64_t;
// "Never": the time of something that did not happen.
inline constexpr Timestamp kNoTime = std::numeric_limits<Timestamp>::min();
inline constexpr Timestamp kMillisPerDay = 24LL * 60 * 60 * 1000;
// The instants RFC 3339 can write: 0000-01-01T00:00:00.000Z to
// 9999-12-31T23:59:59.999Z. Nothing outside is accepted or produced.
inline constexpr Timestamp kMinTime = -62167219200000LL;
inline constexpr Timestamp kMaxTime = 253402300799999LL;
inline constexpr bool in_time_range(Timestamp t) { return t >= kMinTime && t <= kMaxTime; }
// a + b, or kNoTime when it leaves the writable range (an instant after year
// 9999 is "never" for every time rule).
inline constexpr Timestamp add_time(Timestamp a, std::int64_t b) {
  if (a == kNoTime) return kNoTime;
  Timestamp r = 0;
  if (__builtin_add_overflow(a, b, &r) || !in_time_range(r)) return kNoTime;
  return r;
}

// Dense user number 0..U-1, assigned when an event first names the user.
using UserIndex = std::uint32_t;

// Users are evaluated in chunks of 65,536 (one roaring container): the unit of
// parallel work. Chunk c holds users [c * kChunkUsers, (c + 1) * kChunkUsers).
inline constexpr std::uint32_t kChunkShift = 16;
inline constexpr std::uint32_t kChunkUsers = 1u << kChunkShift;
inline constexpr std::uint32_t kChunkWords = kChunkUsers / 64;

inline constexpr std::uint32_t chunk_of(UserIndex u) { return u >> kChunkShift; }
inline constexpr std::uint32_t offset_in_chunk(UserIndex u) { return u & (kChunkUsers - 1); }

// The membership of one chunk: bit i is user (chunk * kChunkUsers + i). 8 KiB.
struct alignas(64) ChunkBits {
  std::uint64_t words[kChunkWords];

  void clear() { std::memset(words, 0, sizeof words); }
  void fill() { std::memset(words, 0xff, sizeof words); }
  void set(std::uint32_t i) { words[i >> 6] |= 1ULL << (i & 63); }
  bool test(std::uint32_t i) const { return (words[i >> 6] >> (i & 63)) & 1; }
  void and_with(const ChunkBits& o) { for (std::uint32_t w = 0; w < kChunkWords; ++w) words[w] &= o.words[w]; }
  void or_with(const ChunkBits& o) { for (std::uint32_t w = 0; w < kChunkWords; ++w) words[w] |= o.words[w]; }
  void and_not(const ChunkBits& o) { for (std::uint32_t w = 0; w < kChunkWords; ++w) words[w] &= ~o.words[w]; }
  // this = universe AND NOT this: the complement over the users that exist.
  void complement_within(const ChunkBits& universe) {
    for (std::uint32_t w = 0; w < kChunkWords; ++w) words[w] = universe.words[w] & ~words[w];
  }
  std::uint64_t count() const {
    std::uint64_t n = 0;
    for (std::uint32_t w = 0; w < kChunkWords; ++w) n += static_cast<std::uint64_t>(std::popcount(words[w]));
    return n;
  }
};

}  // namespace retarget::sdk
