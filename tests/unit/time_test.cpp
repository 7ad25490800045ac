// Times, dates, durations and time zones (common/time.hpp), and the SDK's
// format_time (helpers.hpp).
//
// Expected instants are computed independently with std::chrono's civil
// calendar, never with the engine's own arithmetic.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/time.hpp"
#include "retarget/engine.hpp"
#include "retarget/sdk/helpers.hpp"

namespace retarget {
namespace {

using sdk::kMillisPerDay;

std::int64_t civil_days(int y, unsigned m, unsigned d) {
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{m}, day{d}};
  EXPECT_TRUE(ymd.ok()) << y << "-" << m << "-" << d;
  return sys_days{ymd}.time_since_epoch().count();
}

// An instant given in UTC civil fields.
Timestamp utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
  return civil_days(y, mo, d) * kMillisPerDay + ((h * 60LL + mi) * 60 + s) * 1000 + ms;
}

constexpr std::int64_t kHour = 3600000;
constexpr std::int64_t kMinute = 60000;

// ---------------------------------------------------------------- parse_time

TEST(ParseTime, UtcWithZ) {
  EXPECT_EQ(parse_time("2026-03-01T09:00:00Z"), utc(2026, 3, 1, 9));
  EXPECT_EQ(parse_time("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_time("2000-02-29T23:59:59Z"), utc(2000, 2, 29, 23, 59, 59));
  EXPECT_EQ(parse_time("2026-12-31T23:59:59Z"), utc(2026, 12, 31, 23, 59, 59));
}

TEST(ParseTime, PositiveAndNegativeOffsets) {
  // The offset is local minus UTC: 10:00+01:00 is 09:00Z.
  EXPECT_EQ(parse_time("2026-03-01T10:00:00+01:00"), utc(2026, 3, 1, 9));
  EXPECT_EQ(parse_time("2026-03-01T04:00:00-05:00"), utc(2026, 3, 1, 9));
  EXPECT_EQ(parse_time("2026-03-01T14:30:00+05:30"), utc(2026, 3, 1, 9));
  EXPECT_EQ(parse_time("2026-03-01T09:00:00+00:00"), utc(2026, 3, 1, 9));
  EXPECT_EQ(parse_time("2026-03-01T09:00:00-00:00"), utc(2026, 3, 1, 9));
  // Offsets that move the instant across a day, month and year boundary.
  EXPECT_EQ(parse_time("2026-01-01T00:30:00+01:00"), utc(2025, 12, 31, 23, 30));
  EXPECT_EQ(parse_time("2025-12-31T23:30:00-01:00"), utc(2026, 1, 1, 0, 30));
  EXPECT_EQ(parse_time("2026-03-01T00:00:00+23:59"), utc(2026, 3, 1) - 23 * kHour - 59 * kMinute);
  EXPECT_EQ(parse_time("2026-03-01T00:00:00-23:59"), utc(2026, 3, 1) + 23 * kHour + 59 * kMinute);
}

TEST(ParseTime, SameInstantDifferentOffsetsAreEqual) {
  auto a = parse_time("2026-06-15T12:00:00Z");
  auto b = parse_time("2026-06-15T14:00:00+02:00");
  auto c = parse_time("2026-06-15T08:00:00-04:00");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
}

TEST(ParseTime, FractionsAreKeptToTheMillisecondAndTruncated) {
  Timestamp base = utc(2026, 3, 1, 9);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00.1Z"), base + 100);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00.12Z"), base + 120);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00.123Z"), base + 123);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00.000Z"), base);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00.999Z"), base + 999);
  // Extra digits are truncated, never rounded.
  EXPECT_EQ(parse_time("2026-03-01T09:00:00.1239Z"), base + 123);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00.123456Z"), base + 123);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00.123456789Z"), base + 123);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00.999999999Z"), base + 999);
  // Fraction with an offset.
  EXPECT_EQ(parse_time("2026-03-01T10:00:00.5+01:00"), base + 500);
}

TEST(ParseTime, FractionsOfAnyLengthAreTruncated) {
  // RFC 3339's time-secfrac is "." 1*DIGIT: a fraction of any length is a
  // valid time, and time.hpp keeps it to the millisecond by truncation.
  Timestamp base = utc(2026, 3, 1, 9);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00.1234567891Z"), base + 123);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00.123456789012Z"), base + 123);
  EXPECT_EQ(parse_time("2026-03-01T10:00:00.99999999999+01:00"), base + 999);
}

TEST(ParseTime, FractionBeforeTheEpoch) {
  // 1969-12-31T23:59:59.500Z is half a second before the epoch.
  EXPECT_EQ(parse_time("1969-12-31T23:59:59.500Z"), -500);
  EXPECT_EQ(parse_time("1969-12-31T23:59:59.999Z"), -1);
  EXPECT_EQ(parse_time("1969-12-31T00:00:00Z"), -kMillisPerDay);
  EXPECT_EQ(parse_time("1900-01-01T00:00:00Z"), utc(1900, 1, 1));
}

TEST(ParseTime, RejectsBadFieldRanges) {
  EXPECT_EQ(parse_time("2026-13-01T00:00:00Z"), std::nullopt);  // month 13
  EXPECT_EQ(parse_time("2026-00-01T00:00:00Z"), std::nullopt);  // month 0
  EXPECT_EQ(parse_time("2026-01-00T00:00:00Z"), std::nullopt);  // day 0
  EXPECT_EQ(parse_time("2026-01-32T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("2026-04-31T00:00:00Z"), std::nullopt);  // April has 30 days
  EXPECT_EQ(parse_time("2026-02-30T00:00:00Z"), std::nullopt);  // 30 February
  EXPECT_EQ(parse_time("2026-02-29T00:00:00Z"), std::nullopt);  // 2026 is not a leap year
  EXPECT_EQ(parse_time("2100-02-29T00:00:00Z"), std::nullopt);  // century, not leap
  EXPECT_EQ(parse_time("2026-03-01T24:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("2026-03-01T23:60:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00+24:00"), std::nullopt);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00+01:60"), std::nullopt);
}

TEST(ParseTime, AcceptsLeapDays) {
  EXPECT_EQ(parse_time("2028-02-29T00:00:00Z"), utc(2028, 2, 29));
  EXPECT_EQ(parse_time("2000-02-29T12:00:00Z"), utc(2000, 2, 29, 12));
  EXPECT_EQ(parse_time("2026-02-28T23:59:59Z"), utc(2026, 2, 28, 23, 59, 59));
}

TEST(ParseTime, RejectsMalformedText) {
  EXPECT_EQ(parse_time(""), std::nullopt);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00"), std::nullopt);       // missing zone
  EXPECT_EQ(parse_time("2026-03-01"), std::nullopt);                // a date is not a time
  EXPECT_EQ(parse_time("2026-03-01T09:00Z"), std::nullopt);         // seconds are required
  EXPECT_EQ(parse_time("2026-03-01T09:00:00ZZ"), std::nullopt);     // trailing garbage
  EXPECT_EQ(parse_time("2026-03-01T09:00:00Z "), std::nullopt);
  EXPECT_EQ(parse_time(" 2026-03-01T09:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00+01:00x"), std::nullopt);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00+0100"), std::nullopt);  // offset needs a colon
  EXPECT_EQ(parse_time("2026-03-01T09:00:00+01"), std::nullopt);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00.Z"), std::nullopt);     // a dot needs digits
  EXPECT_EQ(parse_time("2026-03-01T09:00:00,5Z"), std::nullopt);
  EXPECT_EQ(parse_time("2026-3-01T09:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("2026-03-1T09:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("2026-03-01T9:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("2026/03/01T09:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("2026-03-01X09:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00UTC"), std::nullopt);
  EXPECT_EQ(parse_time("yesterday"), std::nullopt);
  EXPECT_EQ(parse_time("2026-03-01T09:00:00+01:00Z"), std::nullopt);
}

TEST(ParseTime, LowercaseTAndZAreAccepted) {
  // RFC 3339 section 5.6: "T" and "Z" may alternatively be lower case.
  EXPECT_EQ(parse_time("2026-03-01t09:00:00z"), utc(2026, 3, 1, 9));
  EXPECT_EQ(parse_time("2026-03-01t09:00:00Z"), utc(2026, 3, 1, 9));
  EXPECT_EQ(parse_time("2026-03-01T09:00:00z"), utc(2026, 3, 1, 9));
}

TEST(ParseTime, PublicParseTimeMsAgrees) {
  for (const char* text : {"2026-03-01T09:00:00Z", "2026-03-01T10:00:00.123+01:00", "1969-07-20T20:17:40Z"})
    EXPECT_EQ(parse_time_ms(text), parse_time(text)) << text;
  EXPECT_EQ(parse_time_ms("2026-02-30T00:00:00Z"), std::nullopt);
}

// ---------------------------------------------------------------- parse_date

TEST(ParseDate, ValidDates) {
  EXPECT_EQ(parse_date("1970-01-01"), 0);
  EXPECT_EQ(parse_date("1970-01-02"), 1);
  EXPECT_EQ(parse_date("1969-12-31"), -1);
  EXPECT_EQ(parse_date("2026-03-08"), civil_days(2026, 3, 8));
  EXPECT_EQ(parse_date("2028-02-29"), civil_days(2028, 2, 29));
  EXPECT_EQ(parse_date("2000-02-29"), civil_days(2000, 2, 29));
  EXPECT_EQ(parse_date("1900-03-01"), civil_days(1900, 3, 1));
}

TEST(ParseDate, InvalidDates) {
  EXPECT_EQ(parse_date(""), std::nullopt);
  EXPECT_EQ(parse_date("2026-02-29"), std::nullopt);
  EXPECT_EQ(parse_date("2026-02-30"), std::nullopt);
  EXPECT_EQ(parse_date("2026-13-01"), std::nullopt);
  EXPECT_EQ(parse_date("2026-00-10"), std::nullopt);
  EXPECT_EQ(parse_date("2026-06-31"), std::nullopt);
  EXPECT_EQ(parse_date("2026-6-1"), std::nullopt);
  EXPECT_EQ(parse_date("2026-03-01T00:00:00Z"), std::nullopt);  // a time is not a date
  EXPECT_EQ(parse_date("2026-03-01 "), std::nullopt);
  EXPECT_EQ(parse_date("20260301"), std::nullopt);
  EXPECT_EQ(parse_date("2026/03/01"), std::nullopt);
  EXPECT_EQ(parse_date("2026-03-0a"), std::nullopt);
}

TEST(DaysFromCivil, MatchesTheCivilCalendar) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  for (int y : {1600, 1899, 1900, 1969, 1970, 2000, 2024, 2026, 2028, 2100, 2400})
    for (unsigned m : {1u, 2u, 3u, 12u}) EXPECT_EQ(days_from_civil(y, m, 1), civil_days(y, m, 1)) << y << "-" << m;
}

// ------------------------------------------------------------ parse_duration

TEST(ParseDuration, Units) {
  EXPECT_EQ(parse_duration("90d"), 90 * kMillisPerDay);
  EXPECT_EQ(parse_duration("1d"), kMillisPerDay);
  EXPECT_EQ(parse_duration("36h"), 36 * kHour);
  EXPECT_EQ(parse_duration("15m"), 15 * kMinute);
  EXPECT_EQ(parse_duration("30s"), 30000);
  EXPECT_EQ(parse_duration("500ms"), 500);
  EXPECT_EQ(parse_duration("0s"), 0);
  EXPECT_EQ(parse_duration("3650d"), 3650 * kMillisPerDay);
}

TEST(ParseDuration, Invalid) {
  for (const char* bad : {"", "d", "90", "90x", "-5d", "1.5h", " 90d", "90d ", "90 d", "d90", "90dd", "5mss", "h",
                          "ms", "+5d", "90days"})
    EXPECT_EQ(parse_duration(bad), std::nullopt) << "'" << bad << "'";
}

TEST(ParseDuration, NeverWrapsAround) {
  // A duration whose milliseconds do not fit in 64 bits must be refused, not
  // returned as a wrapped (possibly negative or tiny) number.
  // 999999999999 days is 8.64e19 ms, over INT64_MAX (9.22e18).
  // 213503982336 days wraps to a small positive number (about 1.4 days).
  for (const char* huge : {"999999999999d", "200000000000d", "213503982336d"}) {
    auto d = parse_duration(huge);
    EXPECT_EQ(d, std::nullopt) << huge << " parsed as " << (d ? std::to_string(*d) : "nullopt");
  }
  // Large durations that do fit still parse exactly.
  EXPECT_EQ(parse_duration("999999999999h"), 999999999999LL * 3600000);
  EXPECT_EQ(parse_duration("100000000000d"), 100000000000LL * kMillisPerDay);
  EXPECT_EQ(parse_duration("999999999999ms"), 999999999999LL);
  EXPECT_EQ(parse_duration("999999999999s"), 999999999999000LL);
}

// ----------------------------------------------------------------- TimeZone

TEST(TimeZone, UtcStartOfDay) {
  TimeZone utc_zone = TimeZone::Utc();
  EXPECT_EQ(utc_zone.name(), "UTC");
  EXPECT_EQ(utc_zone.start_of_day(0), 0);
  EXPECT_EQ(utc_zone.start_of_day(-1), -kMillisPerDay);
  EXPECT_EQ(utc_zone.start_of_day(civil_days(2026, 3, 8)), utc(2026, 3, 8));
  auto located = TimeZone::Locate("UTC");
  ASSERT_TRUE(located.ok()) << located.status().message();
  EXPECT_EQ(located->start_of_day(civil_days(2026, 11, 1)), utc(2026, 11, 1));
  auto etc = TimeZone::Locate("Etc/UTC");
  ASSERT_TRUE(etc.ok());
  EXPECT_EQ(etc->start_of_day(civil_days(2026, 11, 1)), utc(2026, 11, 1));
}

TEST(TimeZone, NewYorkAroundDaylightSaving) {
  auto ny = TimeZone::Locate("America/New_York");
  ASSERT_TRUE(ny.ok()) << ny.status().message();
  EXPECT_EQ(ny->name(), "America/New_York");
  // Winter: EST (UTC-5).
  EXPECT_EQ(ny->start_of_day(civil_days(2026, 1, 15)), utc(2026, 1, 15, 5));
  // 2026-03-08: midnight is still EST; the clocks jump at 02:00.
  EXPECT_EQ(ny->start_of_day(civil_days(2026, 3, 8)), utc(2026, 3, 8, 5));
  EXPECT_EQ(ny->start_of_day(civil_days(2026, 3, 9)), utc(2026, 3, 9, 4));
  // 2026-11-01: midnight is still EDT; the clocks fall back at 02:00.
  EXPECT_EQ(ny->start_of_day(civil_days(2026, 11, 1)), utc(2026, 11, 1, 4));
  EXPECT_EQ(ny->start_of_day(civil_days(2026, 11, 2)), utc(2026, 11, 2, 5));
  // The DST days are 23 and 25 hours long.
  EXPECT_EQ(ny->start_of_day(civil_days(2026, 3, 9)) - ny->start_of_day(civil_days(2026, 3, 8)), 23 * kHour);
  EXPECT_EQ(ny->start_of_day(civil_days(2026, 11, 2)) - ny->start_of_day(civil_days(2026, 11, 1)), 25 * kHour);
}

TEST(TimeZone, MidnightInADaylightSavingGapIsTheFirstInstantOfTheDay) {
  // Checked against the system tzdata (zdump): America/Havana jumps from
  // 2026-03-07 23:59:59 CST to 2026-03-08 01:00:00 CDT at 05:00Z;
  // America/Santiago from 2026-09-05 23:59:59 -04 to 2026-09-06 01:00 -03 at 04:00Z.
  auto havana = TimeZone::Locate("America/Havana");
  ASSERT_TRUE(havana.ok()) << havana.status().message();
  EXPECT_EQ(havana->start_of_day(civil_days(2026, 3, 8)), utc(2026, 3, 8, 5));
  EXPECT_EQ(havana->start_of_day(civil_days(2026, 3, 7)), utc(2026, 3, 7, 5));  // an ordinary day (CST)
  EXPECT_EQ(havana->start_of_day(civil_days(2026, 3, 9)), utc(2026, 3, 9, 4));  // CDT

  auto santiago = TimeZone::Locate("America/Santiago");
  ASSERT_TRUE(santiago.ok()) << santiago.status().message();
  EXPECT_EQ(santiago->start_of_day(civil_days(2026, 9, 6)), utc(2026, 9, 6, 4));
  EXPECT_EQ(santiago->start_of_day(civil_days(2026, 9, 5)), utc(2026, 9, 5, 4));  // -04
  EXPECT_EQ(santiago->start_of_day(civil_days(2026, 9, 7)), utc(2026, 9, 7, 3));  // -03
  // 2026-04-05: 24:00 of 04-04 (-03) becomes 23:00 (-04) at 03:00Z; midnight
  // of 04-05 then happens once, at 04:00Z.
  EXPECT_EQ(santiago->start_of_day(civil_days(2026, 4, 5)), utc(2026, 4, 5, 4));
}

TEST(TimeZone, MidnightThatHappensTwiceStartsTheDayAtTheFirst) {
  // Atlantic/Azores, 2026-10-25: 01:00 (+00) falls back to 00:00 (-01) at
  // 01:00Z, so local midnight happens at 00:00Z and again at 01:00Z. The day
  // starts at the first of them.
  auto azores = TimeZone::Locate("Atlantic/Azores");
  ASSERT_TRUE(azores.ok()) << azores.status().message();
  EXPECT_EQ(azores->start_of_day(civil_days(2026, 10, 25)), utc(2026, 10, 25, 0));
  EXPECT_EQ(azores->start_of_day(civil_days(2026, 10, 26)), utc(2026, 10, 26, 1));
}

TEST(TimeZone, PositiveOffsetZone) {
  auto tokyo = TimeZone::Locate("Asia/Tokyo");  // UTC+9, no DST
  ASSERT_TRUE(tokyo.ok());
  EXPECT_EQ(tokyo->start_of_day(civil_days(2026, 3, 8)), utc(2026, 3, 7, 15));
  auto kolkata = TimeZone::Locate("Asia/Kolkata");  // UTC+5:30
  ASSERT_TRUE(kolkata.ok());
  EXPECT_EQ(kolkata->start_of_day(civil_days(2026, 1, 1)), utc(2025, 12, 31, 18, 30));
}

TEST(TimeZone, UnknownZoneIsAnError) {
  for (const char* bad : {"Mars/Olympus_Mons", "Europe/Berln", "", "not a zone"}) {
    auto tz = TimeZone::Locate(bad);
    EXPECT_FALSE(tz.ok()) << "'" << bad << "'";
    if (!tz.ok()) {
      EXPECT_EQ(tz.status().code(), Status::Code::kInvalidInput);
      EXPECT_FALSE(tz.status().message().empty());
    }
  }
}

// ----------------------------------------------------- sdk::format_time

TEST(FormatTime, Format) {
  EXPECT_EQ(sdk::format_time(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(sdk::format_time(utc(2026, 3, 1, 9, 0, 0, 0)), "2026-03-01T09:00:00.000Z");
  EXPECT_EQ(sdk::format_time(utc(2026, 3, 1, 9, 5, 10, 7)), "2026-03-01T09:05:10.007Z");
  EXPECT_EQ(sdk::format_time(utc(2028, 2, 29, 23, 59, 59, 999)), "2028-02-29T23:59:59.999Z");
  EXPECT_EQ(sdk::format_time(sdk::kNoTime), "never");
}

TEST(FormatTime, BeforeTheEpoch) {
  EXPECT_EQ(sdk::format_time(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(sdk::format_time(-500), "1969-12-31T23:59:59.500Z");
  EXPECT_EQ(sdk::format_time(-1000), "1969-12-31T23:59:59.000Z");
  EXPECT_EQ(sdk::format_time(-kMillisPerDay), "1969-12-31T00:00:00.000Z");
  EXPECT_EQ(sdk::format_time(-kMillisPerDay - 1), "1969-12-30T23:59:59.999Z");
  EXPECT_EQ(sdk::format_time(utc(1900, 1, 1)), "1900-01-01T00:00:00.000Z");
  EXPECT_EQ(sdk::format_time(utc(1969, 7, 20, 20, 17, 40)), "1969-07-20T20:17:40.000Z");
}

TEST(FormatTime, RoundTripsThroughParseTime) {
  const Timestamp samples[] = {0,
                               1,
                               -1,
                               -999,
                               -1000,
                               -1001,
                               -kMillisPerDay,
                               -kMillisPerDay + 1,
                               utc(1969, 12, 31, 12, 34, 56, 789),
                               utc(1900, 2, 28, 23, 59, 59, 1),
                               utc(1600, 1, 1),
                               utc(2000, 2, 29, 0, 0, 0, 1),
                               utc(2026, 3, 8, 7, 0, 0, 0),
                               utc(2026, 12, 31, 23, 59, 59, 999),
                               utc(2100, 3, 1),
                               utc(9999, 12, 31, 23, 59, 59, 999)};
  for (Timestamp t : samples) {
    std::string text = sdk::format_time(t);
    EXPECT_EQ(parse_time(text), t) << text;
  }
  // A sweep over every hour of a few days either side of the epoch, with odd milliseconds.
  for (Timestamp t = -3 * kMillisPerDay + 17; t < 3 * kMillisPerDay; t += kHour + 7) {
    std::string text = sdk::format_time(t);
    ASSERT_EQ(parse_time(text), t) << text;
  }
}

TEST(FormatTime, ParseThenFormatNormalisesToUtcMilliseconds) {
  auto t = parse_time("2026-03-01T10:00:00.123456+01:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(sdk::format_time(*t), "2026-03-01T09:00:00.123Z");
  t = parse_time("1970-01-01T00:00:00-00:30");
  ASSERT_TRUE(t);
  EXPECT_EQ(sdk::format_time(*t), "1970-01-01T00:30:00.000Z");
  t = parse_time("1970-01-01T00:00:00+00:30");
  ASSERT_TRUE(t);
  EXPECT_EQ(sdk::format_time(*t), "1969-12-31T23:30:00.000Z");
}

}  // namespace
}  // namespace retarget
