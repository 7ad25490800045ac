// The shared time predicate of filters.md.
//
// A filter that declares a parameter of type ParamType::kTimePredicate receives
// it compiled by the host (the company time zone and DATE arithmetic already
// applied); the relative forms are bound to the evaluation's clock with at():
//
//   TimeRange r = when_.at(ctx.now());   // once per chunk or user
//   if (r.matches(t)) ...
//
// so a compiled plan can be cached and evaluated at any `now`, and every
// filter gives `more_than_days_ago`, `after`, ... the same meaning in bulk and
// in point evaluation.
#pragma once

#include <string>

#include "retarget/sdk/types.hpp"

namespace retarget::sdk {

// A bound predicate: matches a present time t when lo <= t <= hi (inclusive, ms).
struct TimeRange {
  Timestamp lo = kMinTime;
  Timestamp hi = kMaxTime;
  bool match_present = false;  // false: no present time matches (blank: true)
  bool match_absent = false;   // true: users without a time match (blank: true)

  bool matches(Timestamp t) const {
    if (t == kNoTime) return match_absent;
    return match_present && lo <= t && t <= hi;
  }
};

struct TimePredicate {
  enum class Kind : std::uint8_t { kMoreThanDaysAgo, kLessThanDaysAgo, kAfter, kBefore, kBlank };
  Kind kind = Kind::kBlank;
  std::int64_t days = 0;  // kMoreThanDaysAgo, kLessThanDaysAgo
  Timestamp edge = 0;     // kAfter: start of the day after DATE; kBefore: start of DATE
  bool blank = true;      // kBlank: true = absent, false = present
  std::string text;       // as written, e.g. "more_than_days_ago: 7"

  // The predicate at evaluation time `now`.
  TimeRange at(Timestamp now) const {
    TimeRange r;
    switch (kind) {
      case Kind::kMoreThanDaysAgo:  // t < now - N*24h
        r.match_present = true;
        r.hi = now - days * kMillisPerDay - 1;
        break;
      case Kind::kLessThanDaysAgo:  // now - N*24h < t <= now
        r.match_present = true;
        r.lo = now - days * kMillisPerDay + 1;
        r.hi = now;
        break;
      case Kind::kAfter:  // t >= start of the day after DATE
        r.match_present = true;
        r.lo = edge;
        break;
      case Kind::kBefore:  // t < start of DATE
        r.match_present = true;
        r.hi = edge - 1;
        break;
      case Kind::kBlank:
        r.match_absent = blank;
        r.match_present = !blank;
        break;
    }
    return r;
  }
};

}  // namespace retarget::sdk
