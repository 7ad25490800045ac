// Which process owns a user, and where each process keeps its partition.
//
// A user belongs to rank H(external id) mod P, where H is the 64-bit FNV-1a
// hash of the id's UTF-8 bytes (offset basis 14695981039346656037, prime
// 1099511628211): documented in docs/scale-out.md, stable across releases and
// machines, so that a partitioned data directory stays valid.
//
// Rank r of P keeps its data in D/rank-r-of-P. A directory partitioned for
// another P, or a single-process directory, is refused.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "retarget/status.hpp"

namespace retarget::mpi {

std::uint64_t user_hash(std::string_view external_id);
inline int owner_of(std::string_view external_id, int processes) {
  return static_cast<int>(user_hash(external_id) % static_cast<std::uint64_t>(processes));
}

// "D/rank-r-of-P" for the configured directory D (":memory:" stays itself),
// checked: D must not hold another P's partitions or a single-process store.
// `writes`: D is created when missing.
Result<std::string> partition_directory(const std::string& configured, int rank, int processes, bool writes);

}  // namespace retarget::mpi
