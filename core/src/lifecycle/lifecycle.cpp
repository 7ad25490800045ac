#include "lifecycle/lifecycle.hpp"

#include "retarget/sdk/helpers.hpp"

namespace retarget {


bool LifecyclePolicy::parse_schedule(const std::string& text, int& minutes) {
  // "daily HH:MM"
  if (text.size() != 11 || text.rfind("daily ", 0) != 0 || text[8] != ':') return false;
  auto digit = [&](std::size_t i) { return text[i] >= '0' && text[i] <= '9'; };
  if (!digit(6) || !digit(7) || !digit(9) || !digit(10)) return false;
  int h = (text[6] - '0') * 10 + (text[7] - '0'), m = (text[9] - '0') * 10 + (text[10] - '0');
  if (h > 23 || m > 59) return false;
  minutes = h * 60 + m;
  return true;
}

LifecyclePolicy::LifecyclePolicy(const Config& config, TimeZone zone)
    : window_ms_(config.expiry_window_ms), legacy_(config.policy == "legacy"), zone_(std::move(zone)) {
  parse_schedule(config.sweep_schedule, sweep_minute_);
}

sdk::Timestamp LifecyclePolicy::next_sweep(sdk::Timestamp t) const {
  if (t == sdk::kNoTime) return sdk::kNoTime;
  // Start from the local day containing t (approximated by the UTC day, one
  // day early to be safe) and take the first sweep instant >= t.
  std::int64_t day = (t >= 0 ? t / sdk::kMillisPerDay : -((-t + sdk::kMillisPerDay - 1) / sdk::kMillisPerDay)) - 1;
  for (int i = 0; i < 4; ++i, ++day) {
    sdk::Timestamp at = zone_.start_of_day(day) + std::int64_t{sweep_minute_} * 60000;
    if (at >= t) return sdk::in_time_range(at) ? at : sdk::kNoTime;
  }
  return t;
}

ExpiryInfo LifecyclePolicy::expiry(const SourceFacts& f, const SourceLifecycle& s) const {
  ExpiryInfo e;
  e.active = f.status == LifecycleStatus::kActive;
  e.pinned = f.pinned;
  auto consider = [&](sdk::Timestamp t, const char* why) {
    if (t != sdk::kNoTime && t > e.last_activity) e.last_activity = t, e.last_activity_reason = why;
  };
  consider(f.stopped_at, "stopped");
  consider(f.last_sent, "last message sent");
  consider(s.restored_at, "restore completed");
  consider(s.pin_released_at, "last pin released");
  if (e.active || e.pinned || e.last_activity == sdk::kNoTime) return e;
  if (legacy_) {
    e.due = legacy_deletion_due(f);
  } else {
    e.due = sdk::add_time(e.last_activity, window_ms_);  // kNoTime past year 9999
  }
  e.next_sweep = next_sweep(e.due);
  return e;
}

sdk::Timestamp LifecyclePolicy::legacy_deletion_due(const SourceFacts& f) const {
  sdk::Timestamp base = f.last_sent != sdk::kNoTime ? f.last_sent : f.stopped_at;
  if (base == sdk::kNoTime) return sdk::kNoTime;
  // 25 calendar months after the last send, same time of day, day clamped to the month's end.
  std::int64_t days = base >= 0 ? base / sdk::kMillisPerDay : -((-base + sdk::kMillisPerDay - 1) / sdk::kMillisPerDay);
  sdk::Timestamp time_of_day = base - days * sdk::kMillisPerDay;
  int y;
  unsigned m, d;
  sdk::civil_from_days(days, y, m, d);
  int months = static_cast<int>(m) - 1 + 25;
  y += months / 12;
  m = static_cast<unsigned>(months % 12) + 1;
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  unsigned last = (m == 2 && leap) ? 29 : kDays[m - 1];
  if (d > last) d = last;
  if (y > 9999) return sdk::kNoTime;  // beyond what can be written: never
  return days_from_civil(y, m, d) * sdk::kMillisPerDay + time_of_day;
}

}  // namespace retarget
