// The shared time predicate of filters.md, compiled to an interval.
//
// A filter that declares a parameter of type ParamType::kTimePredicate receives
// it compiled by the host (now, company time zone and DATE arithmetic already
// applied), so every filter gives `more_than_days_ago`, `after`, ... exactly
// the same meaning in bulk and in point evaluation.
#pragma once

#include <string>

#include "retarget/sdk/types.hpp"

namespace retarget::sdk {

struct TimePredicate {
  // Matches a present time t when lo <= t <= hi (both inclusive, ms).
  Timestamp lo = kNoTime;
  Timestamp hi = kNoTime;
  bool match_present = false;  // false: no present time matches (blank: true)
  bool match_absent = false;   // true: users without a time match (blank: true)
  std::string text;            // as written, e.g. "more_than_days_ago: 7"

  bool matches(Timestamp t) const {
    if (t == kNoTime) return match_absent;
    return match_present && lo <= t && t <= hi;
  }
};

}  // namespace retarget::sdk
