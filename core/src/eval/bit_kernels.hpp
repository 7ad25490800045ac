// The evaluator's whole-chunk bitset kernels, built for the machine's
// instruction set: each is compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2,
// POPCNT, BMI2) and baseline x86-64, and the loader picks one when the library
// is loaded (GCC/Clang target_clones, an ifunc). The package keeps running on
// any x86-64; on a current machine the kernels use its widest vectors and a
// hardware popcount (baseline x86-64 has none: std::popcount there is a call
// into libgcc). Elsewhere (not x86-64, and in sanitizer builds, where an
// ifunc resolver runs before the sanitizer runtime) they are the plain loops.
//
// Same results as the ChunkBits members of the same names (sdk/types.hpp).
// Thread safety: plain functions over their arguments.
#pragma once

#include <cstdint>
#include <vector>

#include "retarget/sdk/types.hpp"

namespace retarget::bit_kernels {

using sdk::ChunkBits;

std::uint64_t count(const ChunkBits& b);
bool none(const ChunkBits& b);
void and_with(ChunkBits& a, const ChunkBits& b);
void or_with(ChunkBits& a, const ChunkBits& b);
void and_not(ChunkBits& a, const ChunkBits& b);
void complement_within(ChunkBits& a, const ChunkBits& universe);
// Appends base + i for every set bit i, ascending.
void append_members(const ChunkBits& b, std::uint32_t base, std::vector<std::uint32_t>& out);
// The instruction set the loader chose for these kernels ("x86-64-v4",
// "x86-64-v3" or "x86-64"), for benchmarks and diagnostics.
const char* instruction_set();

}  // namespace retarget::bit_kernels
