// Parsing and arithmetic of times, dates and durations.
//
// Times are RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`), kept to the
// millisecond (extra fraction digits are truncated). Dates are `YYYY-MM-DD`,
// interpreted in the company time zone.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "retarget/sdk/types.hpp"
#include "retarget/status.hpp"

namespace retarget {

using sdk::Timestamp;

// Returns nullopt when `text` is not a valid RFC 3339 time (bad field ranges,
// 30 February, missing zone, trailing characters...) or names an instant
// outside 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z (sdk::kMinTime..kMaxTime).
std::optional<Timestamp> parse_time(std::string_view text);

// A civil date as days since 1970-01-01, or nullopt when invalid.
std::optional<std::int64_t> parse_date(std::string_view text);

// Durations such as "90d", "36h", "15m", "30s", "500ms": milliseconds.
std::optional<std::int64_t> parse_duration(std::string_view text);

std::int64_t days_from_civil(int y, unsigned m, unsigned d);

// An IANA time zone (from the system's tzdata), e.g. "Europe/Berlin".
class TimeZone {
 public:
  static Result<TimeZone> Locate(const std::string& name);
  static TimeZone Utc();
  // The instant local midnight starts `days` (days since 1970-01-01) in this
  // zone. Where midnight does not exist (a DST gap), the first instant of the day.
  Timestamp start_of_day(std::int64_t days) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  const void* zone_ = nullptr;  // const date::time_zone*, nullptr = UTC
};

}  // namespace retarget
