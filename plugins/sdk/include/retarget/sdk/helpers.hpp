// Building blocks most filters share, so bulk and point evaluation of a filter
// apply one definition: a chunk kernel and a per-user check over the same data.
#pragma once

#include <cstdio>
#include <string>

#include "retarget/sdk/filter.hpp"

namespace retarget::sdk {

// Days since 1970-01-01 -> civil date (Howard Hinnant's algorithm).
inline void civil_from_days(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t yy = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yy + (m <= 2));
}

// RFC 3339 UTC with milliseconds: 2026-03-01T09:00:00.000Z ("never" for kNoTime).
// The host never hands out instants outside kMinTime..kMaxTime; should one
// appear it is clamped, so that what is printed can always be read back.
inline std::string format_time(Timestamp t) {
  if (t == kNoTime) return "never";
  t = t < kMinTime ? kMinTime : t > kMaxTime ? kMaxTime : t;
  std::int64_t days = t >= 0 ? t / kMillisPerDay : -((-t + kMillisPerDay - 1) / kMillisPerDay);
  std::int64_t ms = t - days * kMillisPerDay;
  int y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d, static_cast<int>(ms / 3600000),
                static_cast<int>(ms / 60000 % 60), static_cast<int>(ms / 1000 % 60), static_cast<int>(ms % 1000));
  return buf;
}

// Bulk: sets the users of `chunk` whose time in `column` satisfies `range`
// (users absent from the column count as "never"). Whole chunks are decided
// from the block's zone map (min and max time) where they can be.
inline void match_time_chunk(const EvalContext& ctx, const UserTimes* column, const TimeRange& range,
                             std::uint32_t chunk, ChunkBits& out) {
  const ValueChunk* block = column ? column->chunk(chunk) : nullptr;
  if (range.match_absent) {
    ctx.universe(chunk, out);
    if (!block) return;
    // Users present in the column are not absent: keep only those whose
    // time also matches (a predicate may match both).
    if (range.match_present) block->clear_bits_outside(range.lo, range.hi, out);
    else block->clear_bits_outside(1, 0, out);  // an empty range: clear every present user
    return;
  }
  if (!block || !range.match_present) return;
  block->set_bits_in_range(range.lo, range.hi, out);
}

// Point: the time of `user` in `column` (kNoTime when absent).
inline Timestamp time_of(const UserTimes* column, UserIndex user) {
  if (column == nullptr) return kNoTime;
  auto t = column->find(user);
  return t ? *t : kNoTime;
}

// Bulk: the users of `chunk` present in `column`, complemented over U when !have.
inline void match_presence_chunk(const EvalContext& ctx, const UserTimes* column, bool have, std::uint32_t chunk,
                                 ChunkBits& out) {
  if (column) column->set_chunk_bits(chunk, out);
  if (!have) {
    ChunkBits universe;
    ctx.universe(chunk, universe);
    out.complement_within(universe);
  }
}

}  // namespace retarget::sdk
