#include "eval/bit_kernels.hpp"

#include <bit>

namespace retarget::bit_kernels {

// Not under the sanitizers: a clone's resolver (an ifunc) runs while the
// program is being relocated, before a sanitizer's runtime is initialised,
// and the instrumented resolver crashes there (seen with TSan).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define RETARGET_NO_MULTIVERSIONING 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#ifndef RETARGET_NO_MULTIVERSIONING
#define RETARGET_NO_MULTIVERSIONING 1
#endif
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(RETARGET_NO_MULTIVERSIONING)
#define RETARGET_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RETARGET_CLONES
#endif

using sdk::kChunkWords;

RETARGET_CLONES std::uint64_t count(const ChunkBits& b) {
  std::uint64_t n = 0;
  for (std::uint32_t w = 0; w < kChunkWords; ++w) n += static_cast<std::uint64_t>(std::popcount(b.words[w]));
  return n;
}

RETARGET_CLONES bool none(const ChunkBits& b) {
  std::uint64_t any = 0;
  for (std::uint32_t w = 0; w < kChunkWords; ++w) any |= b.words[w];
  return any == 0;
}

RETARGET_CLONES void and_with(ChunkBits& a, const ChunkBits& b) {
  for (std::uint32_t w = 0; w < kChunkWords; ++w) a.words[w] &= b.words[w];
}

RETARGET_CLONES void or_with(ChunkBits& a, const ChunkBits& b) {
  for (std::uint32_t w = 0; w < kChunkWords; ++w) a.words[w] |= b.words[w];
}

RETARGET_CLONES void and_not(ChunkBits& a, const ChunkBits& b) {
  for (std::uint32_t w = 0; w < kChunkWords; ++w) a.words[w] &= ~b.words[w];
}

RETARGET_CLONES void complement_within(ChunkBits& a, const ChunkBits& universe) {
  for (std::uint32_t w = 0; w < kChunkWords; ++w) a.words[w] = universe.words[w] & ~a.words[w];
}

RETARGET_CLONES void append_members(const ChunkBits& b, std::uint32_t base, std::vector<std::uint32_t>& out) {
  std::size_t at = out.size();
  out.resize(at + count(b));
  std::uint32_t* dst = out.data() + at;
  for (std::uint32_t w = 0; w < kChunkWords; ++w)
    for (std::uint64_t word = b.words[w]; word; word &= word - 1)
      *dst++ = base + w * 64 + static_cast<std::uint32_t>(std::countr_zero(word));
}

const char* instruction_set() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(RETARGET_NO_MULTIVERSIONING)
  __builtin_cpu_init();
  // The features the loader's choice rests on (the level names are not
  // understood by every compiler's __builtin_cpu_supports).
  const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("fma") &&
                  __builtin_cpu_supports("popcnt");
  const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512cd");
  if (v4) return "x86-64-v4";
  if (v3) return "x86-64-v3";
#endif
  return "x86-64";
}

}  // namespace retarget::bit_kernels
