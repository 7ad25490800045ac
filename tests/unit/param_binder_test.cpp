// The time predicate of filters.md, compiled by compile_time_predicate
// (rules/param_binder.hpp), and bind_params' validation of a leaf's parameters.
//
// Boundary instants are computed independently (std::chrono civil calendar,
// and UTC offsets of America/New_York read from tzdata with zdump).
#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <set>
#include <string>

#include "catalog/catalog.hpp"
#include "common/time.hpp"
#include "rules/param_binder.hpp"

namespace retarget {
namespace {

using sdk::kMillisPerDay;
using sdk::kNoTime;
using sdk::TimePredicate;

constexpr std::int64_t kHour = 3600000;
constexpr Timestamp kFarPast = -400LL * 365 * kMillisPerDay;
constexpr Timestamp kFarFuture = 400LL * 365 * kMillisPerDay;

Timestamp utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
  using namespace std::chrono;
  auto days = sys_days{year{y} / month{mo} / day{d}}.time_since_epoch().count();
  return days * kMillisPerDay + ((h * 60LL + mi) * 60 + s) * 1000 + ms;
}

class TimePredicateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ny = TimeZone::Locate("America/New_York");
    ASSERT_TRUE(ny.ok()) << ny.status().message();
    ny_ = *ny;
  }

  // Compiles a predicate and binds it to `now`, as an evaluation does.
  sdk::TimeRange compile(std::string_view key, std::string_view value, Timestamp now, const TimeZone& zone) {
    std::string error;
    auto tp = compile_time_predicate(key, value, zone, error);
    EXPECT_TRUE(tp.has_value()) << key << ": " << value << " -> " << error;
    EXPECT_TRUE(error.empty()) << error;
    return tp.value_or(TimePredicate{}).at(now);
  }

  void invalid(std::string_view key, std::string_view value) {
    std::string error;
    auto tp = compile_time_predicate(key, value, utc_zone_, error);
    EXPECT_FALSE(tp.has_value()) << key << ": '" << value << "' was accepted";
    EXPECT_FALSE(error.empty()) << key << ": '" << value << "'";
  }

  Timestamp now_ = utc(2026, 3, 10, 12, 0, 0, 0);
  TimeZone utc_zone_ = TimeZone::Utc();
  TimeZone ny_ = TimeZone::Utc();
};

// ---------------------------------------------------- more_than_days_ago N

TEST_F(TimePredicateTest, MoreThanDaysAgoIsStrictlyBeforeNowMinusNDays) {
  sdk::TimeRange p = compile("more_than_days_ago", "7", now_, utc_zone_);
  Timestamp edge = now_ - 7 * kMillisPerDay;  // 2026-03-03T12:00:00Z
  EXPECT_EQ(edge, utc(2026, 3, 3, 12));
  EXPECT_TRUE(p.matches(edge - 1));
  EXPECT_FALSE(p.matches(edge));  // t < now - N*24h, strictly
  EXPECT_FALSE(p.matches(edge + 1));
  EXPECT_FALSE(p.matches(now_));
  EXPECT_FALSE(p.matches(now_ + kMillisPerDay));
  EXPECT_TRUE(p.matches(kFarPast));
  EXPECT_TRUE(p.matches(0));
  EXPECT_FALSE(p.matches(kNoTime));  // t present
  EXPECT_FALSE(p.match_absent);
}

TEST_F(TimePredicateTest, MoreThanZeroDaysAgoIsBeforeNow) {
  sdk::TimeRange p = compile("more_than_days_ago", "0", now_, utc_zone_);
  EXPECT_TRUE(p.matches(now_ - 1));
  EXPECT_FALSE(p.matches(now_));
  EXPECT_FALSE(p.matches(kNoTime));
}

TEST_F(TimePredicateTest, MoreThanDaysAgoIsExactly24HourDaysEvenAcrossDst) {
  // now = 2026-03-09T12:00Z, one day after New York's spring-forward: the
  // edge is still exactly 24h earlier, whatever the company time zone.
  Timestamp now = utc(2026, 3, 9, 12);
  sdk::TimeRange p = compile("more_than_days_ago", "1", now, ny_);
  EXPECT_TRUE(p.matches(utc(2026, 3, 8, 12) - 1));
  EXPECT_FALSE(p.matches(utc(2026, 3, 8, 12)));
  sdk::TimeRange q = compile("less_than_days_ago", "1", now, ny_);
  EXPECT_FALSE(q.matches(utc(2026, 3, 8, 12)));
  EXPECT_TRUE(q.matches(utc(2026, 3, 8, 12) + 1));
}

// ---------------------------------------------------- less_than_days_ago N

TEST_F(TimePredicateTest, LessThanDaysAgoIsAfterNowMinusNDaysUpToNow) {
  sdk::TimeRange p = compile("less_than_days_ago", "7", now_, utc_zone_);
  Timestamp edge = now_ - 7 * kMillisPerDay;
  EXPECT_FALSE(p.matches(edge - 1));
  EXPECT_FALSE(p.matches(edge));  // now - N*24h < t, strictly
  EXPECT_TRUE(p.matches(edge + 1));
  EXPECT_TRUE(p.matches(now_ - 1));
  EXPECT_TRUE(p.matches(now_));       // t <= now
  EXPECT_FALSE(p.matches(now_ + 1));  // the future does not match
  EXPECT_FALSE(p.matches(kFarFuture));
  EXPECT_FALSE(p.matches(kNoTime));
}

TEST_F(TimePredicateTest, LessThanZeroDaysAgoMatchesNothing) {
  sdk::TimeRange p = compile("less_than_days_ago", "0", now_, utc_zone_);
  EXPECT_FALSE(p.matches(now_));
  EXPECT_FALSE(p.matches(now_ - 1));
  EXPECT_FALSE(p.matches(now_ + 1));
  EXPECT_FALSE(p.matches(kNoTime));
}

TEST_F(TimePredicateTest, LargeDayCounts) {
  sdk::TimeRange p = compile("more_than_days_ago", "36500", now_, utc_zone_);
  EXPECT_TRUE(p.matches(now_ - 36500 * kMillisPerDay - 1));
  EXPECT_FALSE(p.matches(now_ - 36500 * kMillisPerDay));
  sdk::TimeRange q = compile("less_than_days_ago", "36500", now_, utc_zone_);
  EXPECT_TRUE(q.matches(0));
  EXPECT_TRUE(q.matches(now_));
}

// ------------------------------------------------------------ after DATE

TEST_F(TimePredicateTest, AfterIsFromTheStartOfTheNextDayUtc) {
  sdk::TimeRange p = compile("after", "2026-03-07", now_, utc_zone_);
  Timestamp start = utc(2026, 3, 8);
  EXPECT_FALSE(p.matches(utc(2026, 3, 7)));
  EXPECT_FALSE(p.matches(utc(2026, 3, 7, 23, 59, 59, 999)));  // DATE itself is not after DATE
  EXPECT_FALSE(p.matches(start - 1));
  EXPECT_TRUE(p.matches(start));  // t >= start of the day after DATE
  EXPECT_TRUE(p.matches(now_));
  EXPECT_TRUE(p.matches(kFarFuture));  // not bounded by now
  EXPECT_FALSE(p.matches(kNoTime));
}

TEST_F(TimePredicateTest, AfterInNewYork) {
  // Start of 2026-03-08 in New York is 05:00Z (EST); of 2026-03-09 04:00Z (EDT).
  sdk::TimeRange p = compile("after", "2026-03-07", now_, ny_);
  EXPECT_FALSE(p.matches(utc(2026, 3, 8, 5) - 1));
  EXPECT_TRUE(p.matches(utc(2026, 3, 8, 5)));
  EXPECT_FALSE(p.matches(utc(2026, 3, 8, 0)));  // midnight UTC is still 03-07 in New York

  sdk::TimeRange q = compile("after", "2026-03-08", now_, ny_);
  EXPECT_FALSE(q.matches(utc(2026, 3, 9, 4) - 1));
  EXPECT_TRUE(q.matches(utc(2026, 3, 9, 4)));

  // Fall back: start of 2026-11-01 is 04:00Z (EDT), of 2026-11-02 05:00Z (EST).
  sdk::TimeRange r = compile("after", "2026-10-31", now_, ny_);
  EXPECT_FALSE(r.matches(utc(2026, 11, 1, 4) - 1));
  EXPECT_TRUE(r.matches(utc(2026, 11, 1, 4)));
  sdk::TimeRange s = compile("after", "2026-11-01", now_, ny_);
  EXPECT_FALSE(s.matches(utc(2026, 11, 2, 5) - 1));
  EXPECT_TRUE(s.matches(utc(2026, 11, 2, 5)));
}

TEST_F(TimePredicateTest, AfterTheLastDayOfAMonthAndYear) {
  sdk::TimeRange p = compile("after", "2026-12-31", now_, utc_zone_);
  EXPECT_FALSE(p.matches(utc(2027, 1, 1) - 1));
  EXPECT_TRUE(p.matches(utc(2027, 1, 1)));
  sdk::TimeRange q = compile("after", "2028-02-28", now_, utc_zone_);
  EXPECT_FALSE(q.matches(utc(2028, 2, 29) - 1));
  EXPECT_TRUE(q.matches(utc(2028, 2, 29)));
}

// ----------------------------------------------------------- before DATE

TEST_F(TimePredicateTest, BeforeIsUntilTheStartOfTheDayUtc) {
  sdk::TimeRange p = compile("before", "2026-03-07", now_, utc_zone_);
  Timestamp start = utc(2026, 3, 7);
  EXPECT_TRUE(p.matches(start - 1));
  EXPECT_FALSE(p.matches(start));  // t < start of DATE
  EXPECT_FALSE(p.matches(utc(2026, 3, 7, 12)));
  EXPECT_TRUE(p.matches(kFarPast));
  EXPECT_TRUE(p.matches(-1));
  EXPECT_FALSE(p.matches(kNoTime));
}

TEST_F(TimePredicateTest, BeforeInNewYork) {
  sdk::TimeRange p = compile("before", "2026-03-08", now_, ny_);  // 05:00Z
  EXPECT_TRUE(p.matches(utc(2026, 3, 8, 5) - 1));
  EXPECT_FALSE(p.matches(utc(2026, 3, 8, 5)));
  sdk::TimeRange q = compile("before", "2026-03-09", now_, ny_);  // 04:00Z
  EXPECT_TRUE(q.matches(utc(2026, 3, 9, 4) - 1));
  EXPECT_FALSE(q.matches(utc(2026, 3, 9, 4)));
  sdk::TimeRange r = compile("before", "2026-11-01", now_, ny_);  // 04:00Z
  EXPECT_TRUE(r.matches(utc(2026, 11, 1, 4) - 1));
  EXPECT_FALSE(r.matches(utc(2026, 11, 1, 4)));
  sdk::TimeRange s = compile("before", "2026-11-02", now_, ny_);  // 05:00Z
  EXPECT_TRUE(s.matches(utc(2026, 11, 2, 5) - 1));
  EXPECT_FALSE(s.matches(utc(2026, 11, 2, 5)));
}

TEST_F(TimePredicateTest, BeforeAndAfterTheSameDateLeaveTheDayOut) {
  // Neither matches a time within DATE; together they cover everything else.
  sdk::TimeRange before = compile("before", "2026-11-01", now_, ny_);
  sdk::TimeRange after = compile("after", "2026-11-01", now_, ny_);
  Timestamp day_start = utc(2026, 11, 1, 4), next = utc(2026, 11, 2, 5);
  EXPECT_EQ(next - day_start, 25 * kHour);
  for (Timestamp t = day_start; t < next; t += kHour / 2) {
    EXPECT_FALSE(before.matches(t)) << t;
    EXPECT_FALSE(after.matches(t)) << t;
  }
  EXPECT_TRUE(before.matches(day_start - 1));
  EXPECT_TRUE(after.matches(next));
}

TEST_F(TimePredicateTest, DatesBeforeTheEpoch) {
  sdk::TimeRange p = compile("before", "1969-12-31", now_, utc_zone_);
  EXPECT_TRUE(p.matches(-kMillisPerDay - 1));
  EXPECT_FALSE(p.matches(-kMillisPerDay));
  sdk::TimeRange q = compile("after", "1969-12-31", now_, utc_zone_);
  EXPECT_FALSE(q.matches(-1));
  EXPECT_TRUE(q.matches(0));
}

// ------------------------------------------------------------------ blank

TEST_F(TimePredicateTest, Blank) {
  sdk::TimeRange t = compile("blank", "true", now_, utc_zone_);
  EXPECT_TRUE(t.match_absent);
  EXPECT_FALSE(t.match_present);
  EXPECT_TRUE(t.matches(kNoTime));
  for (Timestamp x : {kFarPast, Timestamp{-1}, Timestamp{0}, now_, kFarFuture}) EXPECT_FALSE(t.matches(x)) << x;

  sdk::TimeRange f = compile("blank", "false", now_, utc_zone_);
  EXPECT_FALSE(f.match_absent);
  EXPECT_TRUE(f.match_present);
  EXPECT_FALSE(f.matches(kNoTime));
  for (Timestamp x : {kFarPast, Timestamp{-1}, Timestamp{0}, now_, kFarFuture}) EXPECT_TRUE(f.matches(x)) << x;
}

TEST_F(TimePredicateTest, OnlyBlankTrueMatchesAbsentUsers) {
  for (auto [k, v] : std::initializer_list<std::pair<const char*, const char*>>{
           {"more_than_days_ago", "7"}, {"less_than_days_ago", "7"}, {"after", "2026-01-01"},
           {"before", "2026-01-01"}, {"blank", "false"}}) {
    sdk::TimeRange p = compile(k, v, now_, utc_zone_);
    EXPECT_FALSE(p.match_absent) << k;
    EXPECT_FALSE(p.matches(kNoTime)) << k;
  }
}

TEST_F(TimePredicateTest, TextIsAsWritten) {
  std::string error;
  EXPECT_EQ(compile_time_predicate("more_than_days_ago", "7", utc_zone_, error)->text, "more_than_days_ago: 7");
  EXPECT_EQ(compile_time_predicate("after", "2026-03-07", utc_zone_, error)->text, "after: 2026-03-07");
  EXPECT_EQ(compile_time_predicate("blank", "true", utc_zone_, error)->text, "blank: true");
}

TEST_F(TimePredicateTest, KeysInDocumentedOrder) {
  EXPECT_EQ(time_predicate_keys(),
            (std::vector<std::string>{"more_than_days_ago", "less_than_days_ago", "after", "before", "blank"}));
}

// ---------------------------------------------------------------- invalid

TEST_F(TimePredicateTest, InvalidValues) {
  for (const char* v : {"-1", "-7", "1.5", "seven", "", "7d", " 7", "0x10"}) {
    invalid("more_than_days_ago", v);
    invalid("less_than_days_ago", v);
  }
  for (const char* v : {"2026-02-30", "2026-02-29", "2026-13-01", "2026-3-1", "tomorrow", "", "2026-03-01T00:00:00Z",
                        "03/01/2026"}) {
    invalid("after", v);
    invalid("before", v);
  }
  for (const char* v : {"maybe", "yes", "no", "1", "0", ""}) invalid("blank", v);
  invalid("more_than_days", "7");
  invalid("since", "2026-01-01");
  invalid("", "7");
}

TEST_F(TimePredicateTest, LeapDayIsAValidDateInALeapYear) {
  sdk::TimeRange p = compile("after", "2028-02-29", now_, utc_zone_);
  EXPECT_FALSE(p.matches(utc(2028, 3, 1) - 1));
  EXPECT_TRUE(p.matches(utc(2028, 3, 1)));
}

// ------------------------------------------------------------- bind_params

class BindParamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Diagnostics d;
    catalog_.apply_text(R"(version: 1
campaigns:
  - id: spring_sale
    tags: [promo]
    multivariate: true
    variants: [a, b]
canvases:
  - id: onboarding
    steps: [welcome, day3]
    variations: [v1]
)",
                        "catalog.yaml", d);
    ASSERT_FALSE(d.has_errors()) << d.to_string();

    info_.name = "test_filter";
    info_.interaction_dependent = true;
    info_.example = "{campaign: c1, more_than_days_ago: 7}";
    sdk::ParamSpec campaign{"campaign", sdk::ParamType::kCampaign, true, {}, "", "a campaign"};
    sdk::ParamSpec action{"action", sdk::ParamType::kString, false, {"clicked_email", "opened_email", "any"}, "any",
                          "an action"};
    sdk::ParamSpec have{"have", sdk::ParamType::kBool, false, {}, "true", "have"};
    sdk::ParamSpec time{"time", sdk::ParamType::kTimePredicate, true, {}, "", "when"};
    info_.params = {campaign, action, have, time};

    step_info_.name = "step_filter";
    step_info_.example = "{canvas: k, step: s}";
    step_info_.params = {sdk::ParamSpec{"canvas", sdk::ParamType::kCanvas, true, {}, "", ""},
                         sdk::ParamSpec{"step", sdk::ParamType::kCanvasStep, true, {}, "", ""},
                         sdk::ParamSpec{"days", sdk::ParamType::kInteger, false, {}, "", ""}};
  }

  // `yaml` is a one-key map: {filter: {params}}.
  bool bind(const sdk::FilterInfo& info, const std::string& yaml, BoundParams& out, Diagnostics& d) {
    root_ = parse_yaml(yaml, "rules.yaml", YamlLimits{}, d);
    EXPECT_TRUE(root_.is_map()) << d.to_string();
    if (!root_.is_map() || root_.entries.empty()) return false;
    BindContext ctx;
    ctx.catalog = &catalog_;
    ctx.segment_ids = &segments_;
    ctx.zone = &zone_;
    ctx.limits = &limits_;
    ctx.file = "rules.yaml";
    ctx.diags = &d;
    return bind_params(info, root_.entries[0].first, root_.entries[0].second, ctx, out);
  }

  static const Diagnostic* find_error(const Diagnostics& d, const std::string& needle) {
    for (const auto& i : d.items())
      if (i.message.find(needle) != std::string::npos) return &i;
    return nullptr;
  }

  Catalog catalog_;
  std::set<std::string> segments_{"win_back"};
  TimeZone zone_ = TimeZone::Utc();
  Timestamp now_ = utc(2026, 3, 10, 12);
  Limits limits_;
  sdk::FilterInfo info_, step_info_;
  YamlNode root_;
};

TEST_F(BindParamsTest, ValidLeaf) {
  BoundParams out;
  Diagnostics d;
  ASSERT_TRUE(bind(info_, "test_filter: {campaign: spring_sale, action: clicked_email, more_than_days_ago: 7}\n", out, d))
      << d.to_string();
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(out.params.text("campaign"), "spring_sale");
  EXPECT_EQ(out.params.text("action"), "clicked_email");
  // Declared defaults are filled in.
  ASSERT_TRUE(out.params.has("have"));
  EXPECT_TRUE(out.params.boolean("have"));
  ASSERT_TRUE(out.params.time_predicate().has_value());
  const TimePredicate& tp = *out.params.time_predicate();
  EXPECT_TRUE(tp.at(now_).matches(now_ - 7 * kMillisPerDay - 1));
  EXPECT_FALSE(tp.at(now_).matches(now_ - 7 * kMillisPerDay));
  EXPECT_EQ(out.references.campaigns, (std::set<std::string>{"spring_sale"}));
  ASSERT_TRUE(out.where.count("campaign"));
  EXPECT_EQ(out.where["campaign"].line, 1);
  EXPECT_EQ(out.where["campaign"].column, 25);
}

TEST_F(BindParamsTest, DefaultsAndExplicitBool) {
  BoundParams out;
  Diagnostics d;
  ASSERT_TRUE(bind(info_, "test_filter: {campaign: spring_sale, have: false, blank: true}\n", out, d))
      << d.to_string();
  EXPECT_FALSE(out.params.boolean("have"));
  EXPECT_EQ(out.params.text("action"), "any");
  ASSERT_TRUE(out.params.time_predicate().has_value());
  EXPECT_TRUE(out.params.time_predicate()->at(now_).matches(kNoTime));
}

TEST_F(BindParamsTest, TheTimePredicateUsesTheCompanyTimeZone) {
  auto ny = TimeZone::Locate("America/New_York");
  ASSERT_TRUE(ny.ok());
  zone_ = *ny;
  BoundParams out;
  Diagnostics d;
  ASSERT_TRUE(bind(info_, "test_filter: {campaign: spring_sale, after: 2026-03-07}\n", out, d)) << d.to_string();
  ASSERT_TRUE(out.params.time_predicate().has_value());
  EXPECT_FALSE(out.params.time_predicate()->at(now_).matches(utc(2026, 3, 8, 5) - 1));
  EXPECT_TRUE(out.params.time_predicate()->at(now_).matches(utc(2026, 3, 8, 5)));
}

struct BindErrorCase {
  const char* name;
  const char* yaml;
  const char* needle;
  int line, column;
};

class BindParamsErrors : public BindParamsTest, public ::testing::WithParamInterface<BindErrorCase> {};

TEST_P(BindParamsErrors, Reported) {
  const BindErrorCase& k = GetParam();
  BoundParams out;
  Diagnostics d;
  bool ok = bind(std::string(k.yaml).rfind("step_filter", 0) == 0 ? step_info_ : info_, k.yaml, out, d);
  EXPECT_FALSE(ok) << k.name;
  ASSERT_TRUE(d.has_errors()) << k.name;
  const Diagnostic* e = find_error(d, k.needle);
  ASSERT_NE(e, nullptr) << k.name << ": no error mentions '" << k.needle << "':\n" << d.to_string();
  EXPECT_EQ(e->where.file, "rules.yaml");
  if (k.line) {
    EXPECT_EQ(e->where.line, k.line) << k.name << ": " << e->to_string();
    EXPECT_EQ(e->where.column, k.column) << k.name << ": " << e->to_string();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Binder, BindParamsErrors,
    ::testing::Values(
        BindErrorCase{"unknown param", "test_filter: {campain: spring_sale, blank: true}\n",
                      "did you mean 'campaign'", 1, 15},
        BindErrorCase{"two time keys", "test_filter: {campaign: spring_sale, blank: true, after: 2026-01-01}\n",
                      "after", 0, 0},
        BindErrorCase{"no time key", "test_filter: {campaign: spring_sale}\n", "time", 0, 0},
        BindErrorCase{"unknown campaign", "test_filter: {campaign: sprng_sale, blank: true}\n",
                      "did you mean 'spring_sale'", 1, 25},
        BindErrorCase{"missing campaign", "test_filter: {blank: true}\n", "campaign", 0, 0},
        BindErrorCase{"not allowed", "test_filter: {campaign: spring_sale, action: clicked_emial, blank: true}\n",
                      "did you mean 'clicked_email'", 1, 46},
        BindErrorCase{"bool type", "test_filter: {campaign: spring_sale, have: maybe, blank: true}\n", "have", 1, 44},
        BindErrorCase{"negative days", "test_filter: {campaign: spring_sale, more_than_days_ago: -1}\n",
                      "more_than_days_ago", 1, 58},
        BindErrorCase{"bad date", "test_filter: {campaign: spring_sale, before: 2026-02-30}\n", "before", 1, 46},
        BindErrorCase{"blank maybe", "test_filter: {campaign: spring_sale, blank: maybe}\n", "blank", 1, 45},
        BindErrorCase{"not a map", "test_filter: [spring_sale]\n", "test_filter", 0, 0},
        BindErrorCase{"unknown step", "step_filter: {canvas: onboarding, step: day4}\n", "day4", 1, 41},
        BindErrorCase{"unknown canvas", "step_filter: {canvas: onbording, step: day3}\n", "onbording", 1, 23},
        BindErrorCase{"integer type", "step_filter: {canvas: onboarding, step: day3, days: 1.5}\n", "days", 1, 53}),
    [](const ::testing::TestParamInfo<BindErrorCase>& info) {
      std::string n = info.param.name;
      for (char& ch : n)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

TEST_F(BindParamsTest, EveryProblemOfALeafIsReported) {
  BoundParams out;
  Diagnostics d;
  EXPECT_FALSE(bind(info_, "test_filter: {campaign: nope, action: bogus, have: 3, more_than_days_ago: x}\n", out, d));
  EXPECT_EQ(d.error_count(), 4u) << d.to_string();
}

}  // namespace
}  // namespace retarget
