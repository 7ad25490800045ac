// Randomized differential test of segment evaluation.
//
// For a few fixed seeds it generates a catalog, a few thousand events of every
// event type of formats.md (with duplicates, rejected lines, out-of-order and
// equal times, boundary instants, future times) and thousands of random segment
// trees over every filter of filters.md. Each tree is evaluated by the engine
// (bulk `evaluate`, and `explain` for a sample of users) and by a deliberately
// simple REFERENCE evaluator written here from filters.md and the decisions of
// docs/rules.md and docs/decisions.md: it shares no code with the engine or the
// plugins, keeps the events as plain structs per user and computes every leaf
// directly from the raw events.
//
// Only filters the engine has loaded (Engine::filters(), or accepted by a probe)
// are drawn, so the test grows as plugins land; the coverage is printed.
//
// Reproduce a failure: the message names the seed; RETARGET_DIFF_SEED=<n>
// overrides the seed of every test, RETARGET_DIFF_SCALE=<x> multiplies the
// number of trees.
#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace retarget {
namespace {

using Json = nlohmann::json;          // sorted keys (canonical content)
using OJson = nlohmann::ordered_json;  // event lines as written

constexpr std::int64_t kSec = 1000;
constexpr std::int64_t kMin = 60 * kSec;
constexpr std::int64_t kHour = 60 * kMin;
constexpr std::int64_t kDay = 24 * kHour;

// ------------------------------------------------------------------ calendar
// Civil-date arithmetic (H. Hinnant's public-domain algorithms) and the
// Europe/Berlin rule (EU: CEST from the last Sunday of March 01:00 UTC to the
// last Sunday of October 01:00 UTC), written here so the reference shares no
// time code with the engine.

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::int64_t days_from_civil(std::int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  std::int64_t y;
  int m, d;
};

Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

std::int64_t at(std::int64_t y, int mo, int d, int h, int mi, int s, int ms) {
  return days_from_civil(y, mo, d) * kDay + h * kHour + mi * kMin + s * kSec + ms;
}

std::string date_text(std::int64_t day) {
  Civil c = civil_from_days(day);
  char b[40];
  std::snprintf(b, sizeof b, "%04lld-%02d-%02d", static_cast<long long>(c.y), c.m, c.d);
  return b;
}

struct Zone {
  bool berlin = false;

  static std::int64_t last_sunday(std::int64_t y, int m) {
    std::int64_t last = days_from_civil(y, m + 1, 1) - 1;
    std::int64_t weekday = ((last + 4) % 7 + 7) % 7;  // 1970-01-01 was a Thursday; 0 = Sunday
    return last - weekday;
  }
  std::int64_t offset_at(std::int64_t ms) const {
    if (!berlin) return 0;
    std::int64_t y = civil_from_days(floor_div(ms, kDay)).y;
    std::int64_t start = last_sunday(y, 3) * kDay + kHour, end = last_sunday(y, 10) * kDay + kHour;
    return (ms >= start && ms < end) ? 2 * kHour : kHour;
  }
  std::int64_t local_day(std::int64_t ms) const { return floor_div(ms + offset_at(ms), kDay); }
  // The instant local day `day` starts (DST changes happen at 01:00 UTC, never at local midnight).
  std::int64_t start_of_day(std::int64_t day) const {
    if (!berlin) return day * kDay;
    std::int64_t y = civil_from_days(day).y;
    bool dst = day > last_sunday(y, 3) && day <= last_sunday(y, 10);
    return day * kDay - (dst ? 2 : 1) * kHour;
  }
};

// Writes `ms` as RFC 3339 with the given offset (minutes) and fraction style:
// 0 = ".mmm", 1 = omitted when zero, 2 = trailing zeros trimmed, 3 = extra digits (truncated).
std::string format_time(std::int64_t ms, int off_min = 0, int frac_style = 0, bool lower = false,
                        bool plus_zero = false) {
  std::int64_t local = ms + off_min * kMin;
  std::int64_t day = floor_div(local, kDay);
  std::int64_t rem = local - day * kDay;
  Civil c = civil_from_days(day);
  char b[80];
  std::snprintf(b, sizeof b, "%04lld-%02d-%02d%c%02lld:%02lld:%02lld", static_cast<long long>(c.y), c.m, c.d,
                lower ? 't' : 'T', static_cast<long long>(rem / kHour), static_cast<long long>(rem / kMin % 60),
                static_cast<long long>(rem / kSec % 60));
  std::string s = b;
  int milli = static_cast<int>(rem % 1000);
  char f[8];
  std::snprintf(f, sizeof f, "%03d", milli);
  std::string frac = f;
  switch (frac_style) {
    case 1:
      if (milli != 0) s += "." + frac;
      break;
    case 2:
      while (frac.size() > 1 && frac.back() == '0') frac.pop_back();
      s += "." + frac;
      break;
    case 3:
      s += "." + frac + "4999";
      break;
    default:
      s += "." + frac;
  }
  if (off_min == 0) {
    s += plus_zero ? "+00:00" : (lower ? "z" : "Z");
  } else {
    int a = off_min < 0 ? -off_min : off_min;
    std::snprintf(b, sizeof b, "%c%02d:%02d", off_min < 0 ? '-' : '+', a / 60, a % 60);
    s += b;
  }
  return s;
}

std::string relative_to_now(std::int64_t t, std::int64_t now) {
  std::int64_t d = t - now;
  char sign = d < 0 ? '-' : '+';
  if (d < 0) d = -d;
  char b[64];
  std::snprintf(b, sizeof b, "now%c%lldd%02lld:%02lld:%02lld.%03lld", sign, static_cast<long long>(d / kDay),
                static_cast<long long>(d / kHour % 24), static_cast<long long>(d / kMin % 60),
                static_cast<long long>(d / kSec % 60), static_cast<long long>(d % 1000));
  return b;
}

// ------------------------------------------------------------------ random
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : g_(seed) {}
  std::int64_t range(std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(g_); }
  int uni(int lo, int hi) { return static_cast<int>(range(lo, hi)); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0.0, 1.0)(g_) < p; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(range(0, static_cast<std::int64_t>(v.size()) - 1))];
  }
  std::mt19937_64& engine() { return g_; }

 private:
  std::mt19937_64 g_;
};

// ------------------------------------------------------------------ data model
struct AttrVal {
  enum Kind { kNull, kStr, kNum, kBool } kind = kNull;
  std::string s;
  double n = 0;
  bool is_int = false;
  bool b = false;
  std::optional<std::int64_t> time;  // a string that is an RFC 3339 time
};

std::string num_text(double n, bool is_int) {
  if (is_int) return std::to_string(static_cast<long long>(n));
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  return std::string(buf, r.ptr);
}

Json attr_json(const AttrVal& v) {
  switch (v.kind) {
    case AttrVal::kStr: return v.s;
    case AttrVal::kNum: return v.is_int ? Json(static_cast<std::int64_t>(v.n)) : Json(v.n);
    case AttrVal::kBool: return v.b;
    default: return nullptr;
  }
}

struct Ev {
  std::int64_t t = 0;
  std::string type, campaign, canvas, step, variant, variation, channel, action, alias, flag, sg, kc;
  int conv = 0;
  bool enabled = false;
  std::vector<std::pair<std::string, AttrVal>> attrs;
  std::size_t order = 0;  // line index in the file (first occurrence)

  // Normalised content (decisions.md: events are the same when type, instant,
  // source and every type-specific field are equal).
  std::string key() const {
    std::string k = type + '|' + std::to_string(t) + '|' + campaign + '|' + canvas + '|' + step + '|' + variant +
                    '|' + variation + '|' + channel + '|' + action + '|' + alias + '|' + flag + '|' + sg + '|' + kc +
                    '|';
    if (type == "converted") k += std::to_string(conv);
    if (type == "feature_flag") k += enabled ? "1" : "0";
    if (type == "attributes") {
      Json o = Json::object();
      for (const auto& [n, v] : attrs) o[n] = attr_json(v);
      k += o.dump();
    }
    return k;
  }

  std::string brief(std::int64_t now) const {
    std::string s = format_time(t) + " (" + relative_to_now(t, now) + ") #" + std::to_string(order) + " " + type;
    if (!campaign.empty()) s += " campaign=" + campaign;
    if (!canvas.empty()) s += " canvas=" + canvas;
    if (!step.empty()) s += " step=" + step;
    if (!variant.empty()) s += " variant=" + variant;
    if (!variation.empty()) s += " variation=" + variation;
    if (!channel.empty()) s += " channel=" + channel;
    if (!action.empty()) s += " action=" + action;
    if (!alias.empty()) s += " alias=" + alias;
    if (type == "converted") s += " conversion_event=" + std::to_string(conv);
    if (type == "feature_flag") s += " flag=" + flag + (enabled ? " enabled" : " disabled");
    if (type == "sms_inbound") s += " group=" + sg + " category=" + kc;
    if (type == "attributes") {
      OJson o = OJson::object();
      for (const auto& [n, v] : attrs) o[n] = attr_json(v);
      s += " " + o.dump();
    }
    return s;
  }
};

struct UserData {
  std::string id;
  std::size_t idx = 0;
  std::vector<Ev> evs;  // accepted events, identical duplicates removed, in file order
};

struct Campaign {
  std::string id;
  std::vector<std::string> tags, variants, aliases;
  bool multivariate = false, recurring = false;
};

struct Variation {
  std::string id;
  bool control = false;
};

struct Canvas {
  std::string id;
  std::vector<std::string> tags, steps;
  std::vector<Variation> variations;
};

const std::vector<std::string> kChannels = {"email", "push", "sms", "whatsapp", "webhook", "in_app", "content_card"};
const std::vector<std::string> kEventActions = {"opened_email", "opened_email_machine", "clicked_email",
                                                "opened_push",  "viewed_in_app",        "clicked_in_app",
                                                "clicked_sms",  "read_whatsapp",        "clicked_content_card"};
const std::vector<std::string> kFilterActions = {
    "opened_email",   "opened_email_machine", "opened_email_other", "clicked_email",
    "opened_push",    "viewed_in_app",        "clicked_in_app",     "clicked_sms",
    "read_whatsapp",  "clicked_content_card", "any"};
const std::vector<std::string> kAliases = {"cta", "footer", "hero", "unsub"};
const std::vector<std::string> kFlags = {"new_ui", "beta_checkout", "dark_mode"};
const std::vector<std::string> kGroups = {"sg_marketing", "sg_alerts"};
const std::vector<std::string> kCategories = {"opt_in", "opt_out", "help", "other"};
const std::vector<std::string> kTagPool = {"promo", "spring", "news", "lifecycle", "vip_only", "winback"};
const std::vector<std::string> kStepPool = {"welcome", "day3", "day7", "reminder", "final"};

// Every filter of filters.md.
const std::vector<std::string> kSpecFilters = {
    "clicked_alias_in_campaign", "clicked_alias_in_canvas_step", "clicked_opened_campaign", "clicked_opened_step",
    "converted_campaign", "converted_canvas", "entered_canvas_variation", "in_campaign_control_group",
    "in_canvas_control_group", "last_received_campaign", "last_received_canvas_step", "received_campaign_variant",
    "received_campaign", "received_canvas_step", "received_tagged", "clicked_opened_tagged", "last_received_tagged",
    "clicked_alias_any", "feature_flag", "hard_bounced", "marked_spam", "never_received", "invalid_phone",
    "last_engaged", "last_enrolled_control_group", "last_in_app_impression", "last_received_any",
    "last_received_email", "last_received_push", "last_received_sms", "last_received_webhook",
    "last_received_whatsapp", "last_sms_inbound_keyword", "last_viewed_news_feed", "news_feed_view_count",
    "custom_attribute", "segment", "random_bucket"};

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

struct SeedConfig {
  std::string label;
  std::uint64_t seed;
  std::string timezone;
  std::int64_t now;
  unsigned threads;
  int batches;
  int per_batch;
};

struct World {
  std::uint64_t seed = 0;
  std::string tz_name;
  Zone zone;
  std::int64_t now = 0;
  std::vector<Campaign> campaigns;
  std::vector<Canvas> canvases;
  std::vector<std::string> tags;
  std::vector<std::int64_t> n_pool, date_pool, boundaries;
  std::vector<std::string> time_strings;  // time-valued attribute strings as written
  std::vector<UserData> users;            // U, sorted by id (byte order)
  std::unordered_map<std::string, std::size_t> index;
  std::vector<std::string> ghosts;  // named only by rejected lines
  std::string catalog_yaml;
  std::vector<std::string> lines;  // the event file (blank lines included)
  std::size_t valid_lines = 0, unique_events = 0, invalid_lines = 0, nonblank_lines = 0;

  const Campaign* campaign(const std::string& id) const {
    for (const auto& c : campaigns)
      if (c.id == id) return &c;
    return nullptr;
  }
  const Canvas* canvas(const std::string& id) const {
    for (const auto& k : canvases)
      if (k.id == id) return &k;
    return nullptr;
  }
  bool is_control(const std::string& canvas_id, const std::string& variation) const {
    const Canvas* k = canvas(canvas_id);
    if (!k) return false;
    for (const auto& v : k->variations)
      if (v.id == variation) return v.control;
    return false;
  }
  // The event's source (campaign, or Canvas for step messages) carries the tag.
  bool tagged(const Ev& e, const std::string& tag) const {
    if (!e.campaign.empty()) {
      const Campaign* c = campaign(e.campaign);
      return c && contains(c->tags, tag);
    }
    if (!e.canvas.empty()) {
      const Canvas* k = canvas(e.canvas);
      return k && contains(k->tags, tag);
    }
    return false;
  }
};

// ------------------------------------------------------------------ reference helpers
template <class F>
bool has(const UserData& u, F&& f) {
  for (const Ev& e : u.evs)
    if (f(e)) return true;
  return false;
}

template <class F>
std::optional<std::int64_t> last(const UserData& u, F&& f) {
  std::optional<std::int64_t> best;
  for (const Ev& e : u.evs)
    if (f(e) && (!best || e.t > *best)) best = e.t;
  return best;
}

bool action_matches(const std::string& want, const std::string& got) {
  if (want == "any") return true;
  if (want == "opened_email") return got == "opened_email" || got == "opened_email_machine";
  if (want == "opened_email_other") return got == "opened_email";
  return want == got;
}

// The attribute's current value: the `attributes` event with the latest time
// (equal times: the later line); null unsets. nullptr = absent.
const AttrVal* attr_state(const UserData& u, const std::string& name) {
  const Ev* best = nullptr;
  const AttrVal* val = nullptr;
  for (const Ev& e : u.evs) {
    if (e.type != "attributes") continue;
    for (const auto& [n, v] : e.attrs) {
      if (n != name) continue;
      if (!best || e.t > best->t || (e.t == best->t && e.order > best->order)) {
        best = &e;
        val = &v;
      }
    }
  }
  return (val && val->kind != AttrVal::kNull) ? val : nullptr;
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

struct TimePred {
  enum Kind { kMore, kLess, kAfter, kBefore, kBlank } kind = kBlank;
  std::int64_t bound = 0, now = 0;
  bool blank = true;
  std::string key, value;

  bool match(std::optional<std::int64_t> t) const {
    switch (kind) {
      case kMore: return t && *t < bound;
      case kLess: return t && bound < *t && *t <= now;
      case kAfter: return t && *t >= bound;
      case kBefore: return t && *t < bound;
      case kBlank: return blank ? !t.has_value() : t.has_value();
    }
    return false;
  }
};

std::string yaml_quote(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"') o += '\\';
    o += c;
  }
  return o + "\"";
}

// ------------------------------------------------------------------ world generation
std::int64_t rand_time(const World& w, Rng& r, const std::vector<Ev>& mine) {
  double x = std::uniform_real_distribution<double>(0.0, 1.0)(r.engine());
  if (x < 0.55) return w.now - r.range(0, 100 * kDay);
  if (x < 0.65) return w.now - r.range(100 * kDay, 400 * kDay);
  if (x < 0.82) return r.pick(w.boundaries);
  if (x < 0.86) return w.now + r.range(-1, 1);
  if (x < 0.90) return w.now + r.range(1, 5 * kDay);
  if (!mine.empty()) return r.pick(mine).t;  // an equal-time tie with another event of this user
  return w.now - r.range(0, 30 * kDay);
}

std::string render_event_time(Rng& r, std::int64_t ms, bool plain_only) {
  static const std::vector<int> offsets = {60, 120, -240, -300, 330, 545, -570};
  int off = r.chance(0.55) ? 0 : r.pick(offsets);
  int style = r.uni(0, 9);
  int frac = style <= 5 ? 0 : style <= 7 ? 2 : style == 8 ? 1 : 3;
  if (plain_only && frac == 3) frac = 0;
  bool lower = !plain_only && r.chance(0.02);
  bool plus_zero = r.chance(0.1);
  return format_time(ms, off, frac, lower, plus_zero);
}

std::string render_event(Rng& r, const std::string& user, const Ev& e, bool extra_field) {
  OJson j;
  j["time"] = render_event_time(r, e.t, false);
  j["user"] = user;
  j["type"] = e.type;
  if (!e.campaign.empty()) j["campaign"] = e.campaign;
  if (!e.canvas.empty()) j["canvas"] = e.canvas;
  if (!e.step.empty()) j["step"] = e.step;
  if (!e.variant.empty()) j["variant"] = e.variant;
  if (!e.variation.empty()) j["variation"] = e.variation;
  if (!e.channel.empty()) j["channel"] = e.channel;
  if (!e.action.empty()) j["action"] = e.action;
  if (!e.alias.empty()) j["alias"] = e.alias;
  if (e.type == "converted" && (e.conv != 0 || r.chance(0.5))) j["conversion_event"] = e.conv;
  if (e.type == "feature_flag") {
    j["flag"] = e.flag;
    j["enabled"] = e.enabled;
  }
  if (e.type == "sms_inbound") {
    j["subscription_group"] = e.sg;
    j["keyword_category"] = e.kc;
  }
  if (e.type == "attributes") {
    OJson o = OJson::object();
    for (const auto& [n, v] : e.attrs) o[n] = attr_json(v);
    j["attributes"] = o;
  }
  if (extra_field) j["x_debug_note"] = "unknown fields are ignored";
  return j.dump();
}

AttrVal str_val(const std::string& s) {
  AttrVal v;
  v.kind = AttrVal::kStr;
  v.s = s;
  return v;
}
AttrVal num_val(double n, bool is_int) {
  AttrVal v;
  v.kind = AttrVal::kNum;
  v.n = n;
  v.is_int = is_int;
  return v;
}
AttrVal bool_val(bool b) {
  AttrVal v;
  v.kind = AttrVal::kBool;
  v.b = b;
  return v;
}

const std::vector<std::string> kCountries = {"DE", "AT", "CH", "FR", "de"};
const std::vector<std::string> kPlans = {"gold", "silver", "Gold", "bronze", "platinum", "", "gold "};
const std::vector<std::string> kEmails = {"a@example.com", "b@example.org", "c@example.com.evil.net",
                                          "d.e@Example.com"};
const std::vector<std::pair<double, bool>> kLtv = {{0, true},     {50, true},    {100, true}, {250, true},
                                                   {-3, true},    {99.99, false}, {120.5, false}, {0.25, false}};
const std::vector<std::pair<double, bool>> kScores = {{1, true}, {5, true}, {10, true}, {42, true}, {2.5, false},
                                                      {7.75, false}};

AttrVal time_attr(World& w, Rng& r) {
  std::vector<Ev> none;
  std::int64_t t = rand_time(w, r, none);
  std::string s = render_event_time(r, t, true);
  w.time_strings.push_back(s);
  AttrVal v = str_val(s);
  v.time = t;
  return v;
}

AttrVal gen_attr_value(World& w, Rng& r, const std::string& name) {
  if (r.chance(0.12)) return AttrVal{};  // null: unsets
  if (name == "country") return str_val(r.pick(kCountries));
  if (name == "ltv") {
    auto [n, i] = r.pick(kLtv);
    return num_val(n, i);
  }
  if (name == "vip" || name == "beta") return bool_val(r.chance(0.5));
  if (name == "signup_at" || name == "last_login") return time_attr(w, r);
  if (name == "plan") return str_val(r.pick(kPlans));
  if (name == "email") return str_val(r.pick(kEmails));
  if (name == "score") {
    auto [n, i] = r.pick(kScores);
    return num_val(n, i);
  }
  // mixed: its JSON type varies from event to event
  switch (r.uni(0, 7)) {
    case 0: return str_val("5");
    case 1: return str_val("yes");
    case 2: return str_val("gold");
    case 3: return time_attr(w, r);
    case 4: return num_val(5, true);
    case 5: return num_val(7.5, false);
    case 6: return bool_val(true);
    default: return bool_val(false);
  }
}

struct Line {
  std::string text;
  bool valid = false;
  std::string user;
  Ev ev;
};
using Group = std::vector<Line>;  // lines kept adjacent and in order

void gen_user_events(World& w, Rng& r, const std::string& user, std::vector<Group>& groups) {
  static const std::vector<std::string> types = {"received",      "interaction", "converted",     "control",
                                                 "canvas_entered", "canvas_exited", "hard_bounce", "spam_report",
                                                 "invalid_phone", "feature_flag", "news_feed_view", "sms_inbound",
                                                 "attributes"};
  static const std::vector<double> weights = {30, 24, 6, 3, 5, 2, 1.5, 1.5, 1.5, 4, 6, 4, 10};
  std::discrete_distribution<int> dist(weights.begin(), weights.end());
  std::vector<const Campaign*> mv;
  const Campaign* recurring = nullptr;
  for (const auto& c : w.campaigns) {
    if (c.multivariate) mv.push_back(&c);
    if (c.recurring) recurring = &c;
  }

  std::vector<Ev> mine;
  std::set<std::string> ordered_keys;  // attributes / feature_flag content already emitted
  auto emit = [&](Ev e) {
    bool ordered = e.type == "attributes" || e.type == "feature_flag";
    if (ordered) {
      // An accidental identical event elsewhere in the file would make "the one
      // ingested last" ambiguous for equal-time ties: never emit one.
      if (!ordered_keys.insert(e.key()).second) return;
    }
    mine.push_back(e);
    Group g;
    g.push_back({render_event(r, user, e, r.chance(0.05)), true, user, e});
    double pdup = e.type == "news_feed_view" ? 0.3 : 0.05;
    if (r.chance(pdup)) {
      Line dup{render_event(r, user, e, r.chance(0.5)), true, user, e};
      if (ordered)
        g.push_back(dup);  // an identical copy right after the original
      else
        groups.push_back({dup});
    }
    groups.push_back(std::move(g));
  };
  auto random_source = [&](Ev& e, bool with_variant) {
    if (r.chance(0.65)) {
      const Campaign& c = (recurring && r.chance(0.2)) ? *recurring : r.pick(w.campaigns);
      e.campaign = c.id;
      if (with_variant && c.multivariate && r.chance(0.85)) e.variant = r.pick(c.variants);
    } else {
      const Canvas& k = r.pick(w.canvases);
      e.canvas = k.id;
      e.step = r.pick(k.steps);
    }
  };
  auto receipts_of = [&](const std::string& campaign) {
    std::vector<std::int64_t> ts;
    for (const Ev& m : mine)
      if (m.type == "received" && m.campaign == campaign) ts.push_back(m.t);
    return ts;
  };

  int n = r.chance(0.25) ? r.uni(1, 4) : r.uni(5, 26);
  for (int i = 0; i < n; ++i) {
    Ev e;
    e.type = types[static_cast<std::size_t>(dist(r.engine()))];
    e.t = rand_time(w, r, mine);
    if (e.type == "received") {
      random_source(e, true);
      e.channel = r.pick(kChannels);
    } else if (e.type == "interaction") {
      std::vector<const Ev*> rec;
      for (const Ev& m : mine)
        if (m.type == "received") rec.push_back(&m);
      if (!rec.empty() && r.chance(0.7)) {
        const Ev* src = r.pick(rec);
        e.campaign = src->campaign;
        e.canvas = src->canvas;
        e.step = src->step;
      } else {
        random_source(e, false);
      }
      e.action = r.pick(kEventActions);
      if (e.action == "clicked_email" && r.chance(0.75)) {
        const Campaign* c = w.campaign(e.campaign);
        e.alias = (c && !c->aliases.empty() && r.chance(0.8)) ? r.pick(c->aliases) : r.pick(kAliases);
      }
    } else if (e.type == "converted") {
      if (r.chance(0.6)) {
        const Campaign& c = (recurring && r.chance(0.3)) ? *recurring : r.pick(w.campaigns);
        e.campaign = c.id;
        auto ts = receipts_of(c.id);
        if (c.recurring && !ts.empty() && r.chance(0.6)) e.t = r.pick(ts) + r.pick(std::vector<std::int64_t>{-1, 0, 0, 1});
      } else {
        e.canvas = r.pick(w.canvases).id;
      }
      e.conv = r.chance(0.6) ? 0 : r.uni(1, 3);
    } else if (e.type == "control") {
      e.campaign = r.pick(mv)->id;
      emit(e);
      if (r.chance(0.5)) {  // a control-group user who also converted
        Ev c;
        c.type = "converted";
        c.campaign = e.campaign;
        c.t = rand_time(w, r, mine);
        emit(c);
      }
      continue;
    } else if (e.type == "canvas_entered") {
      const Canvas& k = r.pick(w.canvases);
      e.canvas = k.id;
      e.variation = r.pick(k.variations).id;
    } else if (e.type == "canvas_exited") {
      e.canvas = r.pick(w.canvases).id;
    } else if (e.type == "feature_flag") {
      e.flag = r.pick(kFlags);
      e.enabled = r.chance(0.5);
      for (const Ev& m : mine)  // deliberate equal-time ties
        if (m.type == "feature_flag" && m.flag == e.flag && r.chance(0.4)) e.t = m.t;
    } else if (e.type == "sms_inbound") {
      e.sg = r.pick(kGroups);
      e.kc = r.pick(kCategories);
    } else if (e.type == "attributes") {
      static const std::vector<std::string> names = {"country", "ltv",   "vip",  "signup_at",  "plan",
                                                     "email",   "score", "beta", "last_login", "mixed"};
      std::vector<std::string> chosen = names;
      std::shuffle(chosen.begin(), chosen.end(), r.engine());
      chosen.resize(static_cast<std::size_t>(r.uni(1, 3)));
      for (const auto& nm : chosen) e.attrs.emplace_back(nm, gen_attr_value(w, r, nm));
      for (const Ev& m : mine)  // deliberate equal-time ties
        if (m.type == "attributes" && r.chance(0.3)) e.t = m.t;
    }
    emit(e);
  }
}

std::string invalid_line(const World& w, Rng& r, int kind, const std::string& user) {
  const Campaign* plain = nullptr;
  const Campaign* mv = nullptr;
  for (const auto& c : w.campaigns) {
    if (!c.multivariate && !plain) plain = &c;
    if (c.multivariate && !mv) mv = &c;
  }
  const Canvas& k0 = w.canvases[0];
  OJson j;
  j["time"] = format_time(w.now - r.range(0, 20 * kDay));
  j["user"] = user;
  j["type"] = "received";
  j["campaign"] = plain->id;
  j["channel"] = "email";
  switch (kind) {
    case 0: j["campaign"] = "c_does_not_exist"; break;
    case 1:
      j.erase("campaign");
      j["canvas"] = k0.id;
      j["step"] = "no_such_step";
      break;
    case 2:
      j["campaign"] = mv->id;
      j["variant"] = "zz";
      break;
    case 3: j["time"] = "2026-13-01T00:00:00Z"; break;
    case 4: j["time"] = "2026-06-10T10:00:00"; break;  // no offset
    case 5: j["time"] = "2026-06-30T23:59:60Z"; break;  // leap second (decisions.md: rejected)
    case 6: {                                           // not JSON
      std::string s = j.dump();
      s.pop_back();
      return s + ",";
    }
    case 7: j.erase("user"); break;
    case 8: j.erase("type"); break;
    case 9: j.erase("time"); break;
    case 10: j["type"] = "recieved"; break;      // unknown type
    case 11: j["step"] = k0.steps[0]; break;     // a step on a campaign event
    case 12: j["variant"] = "a"; break;          // a variant on a campaign that is not multivariate
    case 13:                                     // a Canvas message without its step
      j.erase("campaign");
      j["canvas"] = k0.id;
      break;
    case 14:
      j.erase("campaign");
      j["canvas"] = "k_does_not_exist";
      j["step"] = k0.steps[0];
      break;
    default: j["time"] = "yesterday"; break;
  }
  return j.dump();
}

std::string catalog_yaml(const World& w) {
  std::ostringstream y;
  y << "version: 1\ncampaigns:\n";
  auto list = [](const std::vector<std::string>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s + "]";
  };
  for (const auto& c : w.campaigns) {
    y << "  - id: " << c.id << "\n    name: \"Campaign " << c.id << "\"\n";
    if (!c.tags.empty()) y << "    tags: " << list(c.tags) << "\n";
    if (c.multivariate) {
      y << "    multivariate: true\n    variants: [";
      for (std::size_t i = 0; i < c.variants.size(); ++i)
        y << (i ? ", " : "") << "{id: " << c.variants[i] << ", name: \"Variant " << c.variants[i] << "\"}";
      y << "]\n";
    }
    if (!c.aliases.empty()) y << "    aliases: " << list(c.aliases) << "\n";
    y << "    recurring: " << (c.recurring ? "true" : "false") << "\n    status: active\n";
  }
  y << "canvases:\n";
  for (const auto& k : w.canvases) {
    y << "  - id: " << k.id << "\n    name: \"Canvas " << k.id << "\"\n";
    if (!k.tags.empty()) y << "    tags: " << list(k.tags) << "\n";
    y << "    variations: [";
    for (std::size_t i = 0; i < k.variations.size(); ++i)
      y << (i ? ", " : "") << "{id: " << k.variations[i].id << ", name: \"Variation " << k.variations[i].id << "\""
        << (k.variations[i].control ? ", control: true" : "") << "}";
    y << "]\n    steps: [";
    for (std::size_t i = 0; i < k.steps.size(); ++i)
      y << (i ? ", " : "") << "{id: " << k.steps[i] << ", name: \"Step " << k.steps[i] << "\"}";
    y << "]\n    status: active\n";
  }
  y << "attributes:\n  country: string\n  tier: string\n  ltv: number\n  vip: bool\n  signup_at: time\n";
  return y.str();
}

World build_world(const SeedConfig& cfg, Rng& r) {
  World w;
  w.seed = cfg.seed;
  w.tz_name = cfg.timezone;
  w.zone.berlin = cfg.timezone == "Europe/Berlin";
  w.now = cfg.now;

  // Catalog.
  static const std::vector<std::string> cnames = {"c_spring", "c_summer", "c_news", "c_welcome",
                                                  "c_flash",  "c_quiet",  "c_digest", "c_promo2"};
  int nc = r.uni(5, 8);
  int rec = r.uni(0, nc - 1);
  auto subset = [&](const std::vector<std::string>& pool, int lo, int hi) {
    std::vector<std::string> v = pool;
    std::shuffle(v.begin(), v.end(), r.engine());
    v.resize(static_cast<std::size_t>(r.uni(lo, hi)));
    return v;
  };
  for (int i = 0; i < nc; ++i) {
    Campaign c;
    c.id = cnames[static_cast<std::size_t>(i)];
    c.tags = subset(kTagPool, 0, 2);
    c.multivariate = i < 2 || (i != 2 && r.chance(0.45));
    if (c.multivariate) {
      c.variants = {"a", "b"};
      if (r.chance(0.4)) c.variants.push_back("c");
    }
    c.aliases = subset(kAliases, 1, 3);
    c.recurring = i == rec;
    w.campaigns.push_back(c);
  }
  static const std::vector<std::string> knames = {"k_onboard", "k_reengage", "k_upsell", "k_loyalty"};
  int nk = r.uni(2, 4);
  for (int i = 0; i < nk; ++i) {
    Canvas k;
    k.id = knames[static_cast<std::size_t>(i)];
    k.tags = subset(kTagPool, 0, 2);
    k.steps = subset(kStepPool, 2, 4);
    k.variations.push_back({"v1", false});
    if (r.chance(0.6)) k.variations.push_back({"v2", false});
    if (i == 0 || r.chance(0.5)) k.variations.push_back({"ctl", true});
    w.canvases.push_back(k);
  }
  // A tag shared by a campaign and a Canvas.
  if (w.campaigns[0].tags.empty()) w.campaigns[0].tags.push_back("promo");
  if (!contains(w.canvases[0].tags, w.campaigns[0].tags[0])) w.canvases[0].tags.push_back(w.campaigns[0].tags[0]);
  std::set<std::string> tags;
  for (const auto& c : w.campaigns) tags.insert(c.tags.begin(), c.tags.end());
  for (const auto& k : w.canvases) tags.insert(k.tags.begin(), k.tags.end());
  w.tags.assign(tags.begin(), tags.end());
  w.catalog_yaml = catalog_yaml(w);

  // Time pools: the N and DATE values rules use, and the boundary instants events hit.
  w.n_pool = {1, 2, 3, 7, 14, 30, 45, 90, 365};
  std::int64_t today = w.zone.local_day(w.now);
  std::set<std::int64_t> dates;
  for (int k : {-120, -60, -30, -14, -7, -3, -2, -1, 0, 1, 2}) dates.insert(today + k);
  std::int64_t y = civil_from_days(today).y;
  for (int m : {3, 10})
    for (int k : {-1, 0, 1}) dates.insert(Zone::last_sunday(y, m) + k);
  w.date_pool.assign(dates.begin(), dates.end());
  std::set<std::int64_t> b;
  for (std::int64_t n : w.n_pool)
    for (int d : {-1, 0, 1}) b.insert(w.now - n * kDay + d);
  for (std::int64_t day : w.date_pool)
    for (int d : {-1, 0, 1}) {
      b.insert(w.zone.start_of_day(day) + d);
      b.insert(w.zone.start_of_day(day + 1) + d);
    }
  for (int d : {-1, 0, 1}) b.insert(w.now + d);
  w.boundaries.assign(b.begin(), b.end());

  // Users and their events.
  std::vector<std::string> ids = {"Zoë", "用户-7", "with space", "quote\"id", "back\\slash", "a/b",
                                  "emoji-😀", std::string(512, 'x'), "UPPER", "0"};
  int nu = r.uni(150, 300);
  for (int i = static_cast<int>(ids.size()); i < nu; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "u%03d", i);
    ids.push_back(buf);
  }
  std::vector<Group> groups;
  for (const auto& id : ids) gen_user_events(w, r, id, groups);
  // Rejected lines: every kind once, some more; some name ghosts, some real users.
  for (int g = 1; g <= 5; ++g) w.ghosts.push_back("ghost_" + std::to_string(g));
  int n_invalid = 16 + r.uni(0, 10);
  for (int i = 0; i < n_invalid; ++i) {
    int kind = i < 16 ? i : r.uni(0, 15);
    std::string user = (kind == 6 || r.chance(0.6)) ? r.pick(w.ghosts) : r.pick(ids);
    Line l;
    l.text = invalid_line(w, r, kind, user);
    groups.push_back({l});
  }
  std::shuffle(groups.begin(), groups.end(), r.engine());

  // The file, and the reference's view of it: identical events count once.
  std::map<std::string, std::vector<Ev>> per_user;
  std::set<std::string> seen;
  for (const auto& g : groups) {
    for (const auto& l : g) {
      if (r.chance(0.003)) w.lines.push_back("");  // blank lines are skipped
      std::size_t order = w.lines.size();
      w.lines.push_back(l.text);
      ++w.nonblank_lines;
      if (!l.valid) {
        ++w.invalid_lines;
        continue;
      }
      ++w.valid_lines;
      if (!seen.insert(l.user + '\x1f' + l.ev.key()).second) continue;
      ++w.unique_events;
      Ev e = l.ev;
      e.order = order;
      per_user[l.user].push_back(e);
    }
  }
  for (auto& [id, evs] : per_user) {  // std::map: byte order
    UserData u;
    u.id = id;
    u.idx = w.users.size();
    u.evs = std::move(evs);
    w.index[id] = u.idx;
    w.users.push_back(std::move(u));
  }
  std::sort(w.time_strings.begin(), w.time_strings.end());
  w.time_strings.erase(std::unique(w.time_strings.begin(), w.time_strings.end()), w.time_strings.end());
  return w;
}

// ------------------------------------------------------------------ segment trees
using Pred = std::function<bool(const UserData&)>;
using Params = std::vector<std::pair<std::string, std::string>>;

struct Node {
  enum Kind { kLeaf, kAll, kAny, kNot } kind = kLeaf;
  std::vector<Node> kids;
  std::string filter, yaml;  // leaves
  Pred pred;
};

struct Seg {
  std::string id, yaml;
  Node match;
  std::vector<Node> exclude;
  std::vector<char> members;  // reference, indexed like World::users
  std::vector<const Seg*> refs;
};

bool eval(const Node& n, const UserData& u) {
  switch (n.kind) {
    case Node::kLeaf: return n.pred(u);
    case Node::kAll:
      for (const auto& k : n.kids)
        if (!eval(k, u)) return false;
      return true;
    case Node::kAny:
      for (const auto& k : n.kids)
        if (eval(k, u)) return true;
      return false;
    case Node::kNot: return !eval(n.kids[0], u);
  }
  return false;
}

bool member(const Seg& s, const UserData& u) {
  if (!eval(s.match, u)) return false;
  for (const auto& x : s.exclude)
    if (eval(x, u)) return false;
  return true;
}

void emit_yaml(const Node& n, int ind, bool list_item, std::string& out) {
  out += list_item ? std::string(static_cast<std::size_t>(ind - 2), ' ') + "- " : std::string(static_cast<std::size_t>(ind), ' ');
  switch (n.kind) {
    case Node::kLeaf: out += n.yaml + "\n"; return;
    case Node::kNot:
      out += "not:\n";
      emit_yaml(n.kids[0], ind + 2, false, out);
      return;
    default:
      out += n.kind == Node::kAll ? "all:\n" : "any:\n";
      for (const auto& k : n.kids) emit_yaml(k, ind + 4, true, out);
  }
}

void collect_leaves(const Node& n, std::vector<const Node*>& out) {
  if (n.kind == Node::kLeaf) out.push_back(&n);
  for (const auto& k : n.kids) collect_leaves(k, out);
}

class Gen {
 public:
  Gen(const World& w, Rng& r) : w_(w), r_(r) { install(); }

  std::vector<std::string> avail;  // filters to draw leaves from
  std::deque<Seg>* batch = nullptr;

  Node leaf_of(const std::string& filter) { return makers_.at(filter)(); }

  Node random_leaf() {
    std::string f;
    do {
      f = r_.pick(avail);
    } while (f == "segment" && (!batch || batch->empty()));
    return leaf_of(f);
  }

  Node tree(int depth, int max_depth) {
    double p_leaf = depth == 0 ? 0.25 : 0.3 + 0.2 * depth;
    if (depth >= max_depth || r_.chance(p_leaf)) return random_leaf();
    Node n;
    int k = r_.uni(0, 9);
    if (k < 2) {
      n.kind = Node::kNot;
      n.kids.push_back(tree(depth + 1, max_depth));
    } else {
      n.kind = k < 6 ? Node::kAll : Node::kAny;
      int c = r_.uni(1, 4);
      for (int i = 0; i < c; ++i) n.kids.push_back(tree(depth + 1, max_depth));
    }
    return n;
  }

  // A segment over the current batch; its reference members are computed at once.
  Seg& segment(const std::string& id) {
    refs_.clear();
    Seg s;
    s.id = id;
    s.match = tree(0, 4);
    if (r_.chance(0.3)) {
      int c = r_.uni(1, 2);
      for (int i = 0; i < c; ++i) s.exclude.push_back(tree(1, 3));
    }
    s.refs = refs_;
    s.yaml = "  - id: " + id + "\n    match:\n";
    emit_yaml(s.match, 6, false, s.yaml);
    if (!s.exclude.empty()) {
      s.yaml += "    exclude:\n";
      for (const auto& x : s.exclude) emit_yaml(x, 8, true, s.yaml);
    }
    s.members.assign(w_.users.size(), 0);
    for (const auto& u : w_.users) s.members[u.idx] = member(s, u) ? 1 : 0;
    batch->push_back(std::move(s));
    return batch->back();
  }

 private:
  static Node leaf(const std::string& filter, const Params& params, Pred pred) {
    Node n;
    n.filter = filter;
    n.yaml = filter + ": {";
    for (std::size_t i = 0; i < params.size(); ++i)
      n.yaml += (i ? ", " : "") + params[i].first + ": " + params[i].second;
    n.yaml += "}";
    n.pred = std::move(pred);
    return n;
  }

  // have / is / are: omitted (default true), true, or false (the complement over U).
  void flag_param(Params& p, Pred& f, const char* key) {
    int k = r_.uni(0, 2);
    if (k == 0) return;
    p.emplace_back(key, k == 1 ? "true" : "false");
    if (k == 2) f = [g = std::move(f)](const UserData& u) { return !g(u); };
  }

  TimePred time_pred() {
    TimePred t;
    t.now = w_.now;
    switch (r_.uni(0, 5)) {
      case 0: {
        std::int64_t n = r_.pick(w_.n_pool);
        t.kind = TimePred::kMore;
        t.bound = w_.now - n * kDay;
        t.key = "more_than_days_ago";
        t.value = std::to_string(n);
        break;
      }
      case 1: {
        std::int64_t n = r_.pick(w_.n_pool);
        t.kind = TimePred::kLess;
        t.bound = w_.now - n * kDay;
        t.key = "less_than_days_ago";
        t.value = std::to_string(n);
        break;
      }
      case 2: {
        std::int64_t d = r_.pick(w_.date_pool);
        t.kind = TimePred::kAfter;
        t.bound = w_.zone.start_of_day(d + 1);
        t.key = "after";
        t.value = date_text(d);
        break;
      }
      case 3: {
        std::int64_t d = r_.pick(w_.date_pool);
        t.kind = TimePred::kBefore;
        t.bound = w_.zone.start_of_day(d);
        t.key = "before";
        t.value = date_text(d);
        break;
      }
      default:
        t.kind = TimePred::kBlank;
        t.blank = r_.chance(0.5);
        t.key = "blank";
        t.value = t.blank ? "true" : "false";
    }
    return t;
  }

  const Campaign& mv_campaign() {
    std::vector<const Campaign*> mv;
    for (const auto& c : w_.campaigns)
      if (c.multivariate) mv.push_back(&c);
    return *r_.pick(mv);
  }

  std::string alias_for(const Campaign* c) {
    return (c && !c->aliases.empty() && r_.chance(0.8)) ? r_.pick(c->aliases) : r_.pick(kAliases);
  }

  // A leaf "t = last time of the events F": filter(extra params..., time predicate).
  template <class F>
  Node time_leaf(const std::string& filter, Params p, F f) {
    TimePred t = time_pred();
    p.emplace_back(t.key, t.value);
    return leaf(filter, p, [t, f](const UserData& u) { return t.match(last(u, f)); });
  }

  template <class F>
  Node have_leaf(const std::string& filter, Params p, F f, const char* key = "have") {
    Pred pred = [f](const UserData& u) { return has(u, f); };
    flag_param(p, pred, key);
    return leaf(filter, p, std::move(pred));
  }

  void install();
  Node custom_attribute();

  const World& w_;
  Rng& r_;
  std::map<std::string, std::function<Node()>> makers_;
  std::vector<const Seg*> refs_;
};

void Gen::install() {
  const World* w = &w_;
  auto& m = makers_;

  // ---- interaction-dependent
  m["clicked_alias_in_campaign"] = [this] {
    const Campaign& c = r_.pick(w_.campaigns);
    std::string a = alias_for(&c);
    return have_leaf("clicked_alias_in_campaign", {{"campaign", c.id}, {"alias", a}}, [id = c.id, a](const Ev& e) {
      return e.type == "interaction" && e.campaign == id && e.action == "clicked_email" && e.alias == a;
    });
  };
  m["clicked_alias_in_canvas_step"] = [this] {
    const Canvas& k = r_.pick(w_.canvases);
    std::string s = r_.pick(k.steps), a = r_.pick(kAliases);
    return have_leaf("clicked_alias_in_canvas_step", {{"canvas", k.id}, {"step", s}, {"alias", a}},
                     [id = k.id, s, a](const Ev& e) {
                       return e.type == "interaction" && e.canvas == id && e.step == s &&
                              e.action == "clicked_email" && e.alias == a;
                     });
  };
  m["clicked_opened_campaign"] = [this] {
    const Campaign& c = r_.pick(w_.campaigns);
    std::string a = r_.pick(kFilterActions);
    return have_leaf("clicked_opened_campaign", {{"campaign", c.id}, {"action", a}}, [id = c.id, a](const Ev& e) {
      return e.type == "interaction" && e.campaign == id && action_matches(a, e.action);
    });
  };
  m["clicked_opened_step"] = [this] {
    const Canvas& k = r_.pick(w_.canvases);
    std::string s = r_.pick(k.steps), a = r_.pick(kFilterActions);
    return have_leaf("clicked_opened_step", {{"canvas", k.id}, {"step", s}, {"action", a}},
                     [id = k.id, s, a](const Ev& e) {
                       return e.type == "interaction" && e.canvas == id && e.step == s && action_matches(a, e.action);
                     });
  };
  m["converted_campaign"] = [this] {
    const Campaign& c = r_.pick(w_.campaigns);
    Params p{{"campaign", c.id}};
    Pred f = [id = c.id, recurring = c.recurring](const UserData& u) {
      if (has(u, [&](const Ev& e) { return e.type == "control" && e.campaign == id; })) return false;
      auto last_receipt = last(u, [&](const Ev& e) { return e.type == "received" && e.campaign == id; });
      return has(u, [&](const Ev& e) {
        return e.type == "converted" && e.campaign == id && e.conv == 0 &&
               (!recurring || !last_receipt || e.t >= *last_receipt);
      });
    };
    flag_param(p, f, "have");
    return leaf("converted_campaign", p, std::move(f));
  };
  m["converted_canvas"] = [this] {
    const Canvas& k = r_.pick(w_.canvases);
    return have_leaf("converted_canvas", {{"canvas", k.id}}, [id = k.id](const Ev& e) {
      return e.type == "converted" && e.canvas == id && e.conv == 0;
    });
  };
  m["entered_canvas_variation"] = [this] {
    const Canvas& k = r_.pick(w_.canvases);
    std::string v = r_.pick(k.variations).id;
    return have_leaf("entered_canvas_variation", {{"canvas", k.id}, {"variation", v}}, [id = k.id, v](const Ev& e) {
      return e.type == "canvas_entered" && e.canvas == id && e.variation == v;
    });
  };
  m["in_campaign_control_group"] = [this] {
    const Campaign& c = mv_campaign();
    return have_leaf("in_campaign_control_group", {{"campaign", c.id}},
                     [id = c.id](const Ev& e) { return e.type == "control" && e.campaign == id; }, "are");
  };
  m["in_canvas_control_group"] = [this, w] {
    const Canvas& k = r_.pick(w_.canvases);
    Params p{{"canvas", k.id}};
    int are = r_.uni(0, 2);  // omitted, true, false
    if (are) p.emplace_back("are", are == 1 ? "true" : "false");
    Pred f = [w, id = k.id, want = are != 2](const UserData& u) {
      bool entered = has(u, [&](const Ev& e) { return e.type == "canvas_entered" && e.canvas == id; });
      bool control = has(u, [&](const Ev& e) {
        return e.type == "canvas_entered" && e.canvas == id && w->is_control(id, e.variation);
      });
      return want ? control : (entered && !control);
    };
    return leaf("in_canvas_control_group", p, std::move(f));
  };
  m["last_received_campaign"] = [this] {
    const Campaign& c = r_.pick(w_.campaigns);
    return time_leaf("last_received_campaign", {{"campaign", c.id}},
                     [id = c.id](const Ev& e) { return e.type == "received" && e.campaign == id; });
  };
  m["last_received_canvas_step"] = [this] {
    const Canvas& k = r_.pick(w_.canvases);
    std::string s = r_.pick(k.steps);
    return time_leaf("last_received_canvas_step", {{"canvas", k.id}, {"step", s}}, [id = k.id, s](const Ev& e) {
      return e.type == "received" && e.canvas == id && e.step == s;
    });
  };
  m["received_campaign_variant"] = [this] {
    const Campaign& c = mv_campaign();
    std::string v = r_.pick(c.variants);
    return have_leaf("received_campaign_variant", {{"campaign", c.id}, {"variant", v}}, [id = c.id, v](const Ev& e) {
      return e.type == "received" && e.campaign == id && e.variant == v;
    });
  };
  m["received_campaign"] = [this] {
    const Campaign& c = r_.pick(w_.campaigns);
    return have_leaf("received_campaign", {{"campaign", c.id}},
                     [id = c.id](const Ev& e) { return e.type == "received" && e.campaign == id; });
  };
  m["received_canvas_step"] = [this] {
    const Canvas& k = r_.pick(w_.canvases);
    std::string s = r_.pick(k.steps);
    return have_leaf("received_canvas_step", {{"canvas", k.id}, {"step", s}}, [id = k.id, s](const Ev& e) {
      return e.type == "received" && e.canvas == id && e.step == s;
    });
  };
  m["received_tagged"] = [this, w] {
    std::string tag = r_.pick(w_.tags);
    return have_leaf("received_tagged", {{"tag", tag}},
                     [w, tag](const Ev& e) { return e.type == "received" && w->tagged(e, tag); });
  };
  m["clicked_opened_tagged"] = [this, w] {
    std::string tag = r_.pick(w_.tags), a = r_.pick(kFilterActions);
    return have_leaf("clicked_opened_tagged", {{"tag", tag}, {"action", a}}, [w, tag, a](const Ev& e) {
      return e.type == "interaction" && w->tagged(e, tag) && action_matches(a, e.action);
    });
  };
  m["last_received_tagged"] = [this, w] {
    std::string tag = r_.pick(w_.tags);
    return time_leaf("last_received_tagged", {{"tag", tag}},
                     [w, tag](const Ev& e) { return e.type == "received" && w->tagged(e, tag); });
  };

  // ---- profile-level
  m["clicked_alias_any"] = [this] {
    std::string a = r_.pick(kAliases);
    return have_leaf("clicked_alias_any", {{"alias", a}}, [a](const Ev& e) {
      return e.type == "interaction" && e.action == "clicked_email" && e.alias == a;
    });
  };
  m["feature_flag"] = [this] {
    std::string flag = r_.chance(0.05) ? "never_set_flag" : r_.pick(kFlags);
    Params p{{"flag", flag}};
    int k = r_.uni(0, 2);
    if (k) p.emplace_back("enabled", k == 1 ? "true" : "false");
    Pred f = [flag, want = k != 2](const UserData& u) {
      const Ev* latest = nullptr;
      for (const Ev& e : u.evs)
        if (e.type == "feature_flag" && e.flag == flag &&
            (!latest || e.t > latest->t || (e.t == latest->t && e.order > latest->order)))
          latest = &e;
      return (latest ? latest->enabled : false) == want;
    };
    return leaf("feature_flag", p, std::move(f));
  };
  m["hard_bounced"] = [this] {
    return have_leaf("hard_bounced", {}, [](const Ev& e) { return e.type == "hard_bounce"; }, "is");
  };
  m["marked_spam"] = [this] {
    return have_leaf("marked_spam", {}, [](const Ev& e) { return e.type == "spam_report"; }, "is");
  };
  m["invalid_phone"] = [this] {
    return have_leaf("invalid_phone", {}, [](const Ev& e) { return e.type == "invalid_phone"; }, "is");
  };
  m["never_received"] = [this] {
    Params p;
    Pred f = [](const UserData& u) { return !has(u, [](const Ev& e) { return e.type == "received"; }); };
    flag_param(p, f, "is");
    return leaf("never_received", p, std::move(f));
  };
  m["last_engaged"] = [this] {
    return time_leaf("last_engaged", {}, [](const Ev& e) { return e.type == "interaction"; });
  };
  m["last_enrolled_control_group"] = [this, w] {
    return time_leaf("last_enrolled_control_group", {}, [w](const Ev& e) {
      return e.type == "control" || (e.type == "canvas_entered" && w->is_control(e.canvas, e.variation));
    });
  };
  m["last_in_app_impression"] = [this] {
    return time_leaf("last_in_app_impression", {},
                     [](const Ev& e) { return e.type == "interaction" && e.action == "viewed_in_app"; });
  };
  m["last_received_any"] = [this] {
    return time_leaf("last_received_any", {}, [](const Ev& e) { return e.type == "received"; });
  };
  for (std::string ch : {"email", "push", "sms", "webhook", "whatsapp"}) {
    m["last_received_" + ch] = [this, ch] {
      return time_leaf("last_received_" + ch, {},
                       [ch](const Ev& e) { return e.type == "received" && e.channel == ch; });
    };
  }
  m["last_sms_inbound_keyword"] = [this] {
    std::string g = r_.pick(kGroups), c = r_.pick(kCategories);
    return time_leaf("last_sms_inbound_keyword", {{"subscription_group", g}, {"keyword_category", c}},
                     [g, c](const Ev& e) { return e.type == "sms_inbound" && e.sg == g && e.kc == c; });
  };
  m["last_viewed_news_feed"] = [this] {
    return time_leaf("last_viewed_news_feed", {}, [](const Ev& e) { return e.type == "news_feed_view"; });
  };
  m["news_feed_view_count"] = [this] {
    static const std::vector<std::string> ops = {"equals", "more_than", "less_than"};
    std::string op = r_.pick(ops);
    int v = r_.uni(0, 4);
    return leaf("news_feed_view_count", {{"op", op}, {"value", std::to_string(v)}}, [op, v](const UserData& u) {
      int n = 0;
      for (const Ev& e : u.evs) n += e.type == "news_feed_view" ? 1 : 0;
      return op == "equals" ? n == v : op == "more_than" ? n > v : n < v;
    });
  };

  // ---- general
  m["random_bucket"] = [this] {
    static const std::vector<std::string> ops = {"less_than", "more_than", "equals"};
    std::string op = r_.pick(ops);
    std::int64_t v;
    if (op == "equals" || r_.chance(0.3)) {  // a real user's bucket, or a neighbour of it
      v = static_cast<std::int64_t>(fnv1a(r_.pick(w_.users).id) % 10000) + (op == "equals" ? 0 : r_.range(-1, 1));
      v = std::clamp<std::int64_t>(v, 0, 9999);
    } else {
      v = r_.range(0, 9999);
    }
    return leaf("random_bucket", {{"op", op}, {"value", std::to_string(v)}}, [op, v](const UserData& u) {
      auto b = static_cast<std::int64_t>(fnv1a(u.id) % 10000);
      return op == "equals" ? b == v : op == "more_than" ? b > v : b < v;
    });
  };
  m["segment"] = [this] {
    const Seg& s = (*batch)[static_cast<std::size_t>(r_.range(0, static_cast<std::int64_t>(batch->size()) - 1))];
    refs_.push_back(&s);
    Params p{{"id", s.id}};
    Pred f = [members = &s.members](const UserData& u) { return (*members)[u.idx] != 0; };
    flag_param(p, f, "in");
    return leaf("segment", p, std::move(f));
  };
  m["custom_attribute"] = [this] { return custom_attribute(); };
}

// custom_attribute, per docs/rules.md. Declared attributes (country, tier:
// string; ltv: number; vip: bool; signup_at: time) get type-correct filters
// only. Undeclared ones get every op, across types on purpose, except where
// the docs leave the meaning open (exists/not_exists and `blank` are drawn
// only for attributes whose values are always strings / times or absent).
Node Gen::custom_attribute() {
  struct Spec {
    std::string op;
    AttrVal::Kind vk = AttrVal::kStr;
    std::string s;
    double n = 0;
    bool b = false;
    std::vector<std::string> list;
    std::shared_ptr<const std::regex> re;
    std::optional<TimePred> tp;
  };
  static const std::vector<std::string> names = {"country", "tier",  "ltv",  "vip",        "signup_at",
                                                 "plan",    "email", "score", "beta",      "last_login",
                                                 "mixed",   "ghost_attr"};
  static const std::vector<std::string> regexes = {
      "^gold$", "old",  "^G",           R"(@example\.com$)", "example", "^$", "[0-9]",         "^(DE|AT)$",
      "e.*e",   R"(\.)", "^2026-0[1-6]", "Z$",               R"(\+0[0-9]:)",   "^[a-z]+$", R"(gold\s$)"};
  const std::string name = r_.pick(names);
  std::vector<std::string> str_pool;
  if (name == "country" || name == "tier") str_pool = kCountries;
  if (name == "plan") str_pool = kPlans;
  if (name == "email") str_pool = kEmails;
  if (name == "mixed") str_pool = {"5", "yes", "gold"};
  if ((name == "last_login" || name == "mixed" || name == "signup_at") && !w_.time_strings.empty())
    for (int i = 0; i < 4; ++i) str_pool.push_back(r_.pick(w_.time_strings));
  auto any_string = [&]() -> std::string {
    if (!str_pool.empty() && r_.chance(0.75)) return r_.pick(str_pool);
    switch (r_.uni(0, 4)) {
      case 0: return r_.pick(kCountries);
      case 1: return r_.pick(kPlans);
      case 2: return r_.pick(kEmails);
      case 3: return w_.time_strings.empty() ? "XX" : r_.pick(w_.time_strings);
      default: return r_.chance(0.5) ? "XX" : "5";
    }
  };
  auto any_number = [&]() -> std::pair<double, bool> {
    static const std::vector<std::pair<double, bool>> extra = {{49, true}, {101, true}, {5, true}, {7.5, false}};
    switch (r_.uni(0, 2)) {
      case 0: return r_.pick(kLtv);
      case 1: return r_.pick(kScores);
      default: return r_.pick(extra);
    }
  };

  Spec sp;
  const bool always_string = name == "country" || name == "tier" || name == "plan" || name == "email" ||
                             name == "last_login" || name == "ghost_attr";
  const bool always_time = name == "signup_at" || name == "last_login" || name == "ghost_attr";
  std::vector<std::string> ops;
  if (name == "country" || name == "tier") {
    ops = {"equals", "not_equals", "in", "not_in", "matches", "exists", "not_exists"};
  } else if (name == "ltv") {
    ops = {"equals", "not_equals", "more_than", "less_than"};
  } else if (name == "vip") {
    ops = {"equals"};
  } else if (name == "signup_at") {
    ops = {"time"};
  } else {
    ops = {"equals", "not_equals", "in", "not_in", "matches", "more_than", "less_than", "time"};
    if (always_string) {
      ops.push_back("exists");
      ops.push_back("not_exists");
    }
  }
  sp.op = r_.pick(ops);
  Params p{{"name", name}};
  const bool declared = name == "country" || name == "tier" || name == "ltv" || name == "vip" || name == "signup_at";

  if (sp.op == "time") {
    TimePred t;
    do {
      t = time_pred();
    } while (t.kind == TimePred::kBlank && !always_time);
    sp.op = t.key;
    p.emplace_back("op", t.key);
    p.emplace_back("value", t.value);
    sp.tp = t;
  } else if (sp.op == "exists" || sp.op == "not_exists") {
    p.emplace_back("op", sp.op);
  } else if (sp.op == "in" || sp.op == "not_in") {
    int c = r_.uni(1, 4);
    std::string v = "[";
    for (int i = 0; i < c; ++i) {
      sp.list.push_back(any_string());
      v += (i ? ", " : "") + yaml_quote(sp.list.back());
    }
    p.emplace_back("op", sp.op);
    p.emplace_back("value", v + "]");
  } else if (sp.op == "matches") {
    std::string re = r_.pick(regexes);
    sp.re = std::make_shared<const std::regex>(re, std::regex::ECMAScript);
    p.emplace_back("op", sp.op);
    p.emplace_back("value", yaml_quote(re));
  } else if (sp.op == "more_than" || sp.op == "less_than") {
    auto [n, is_int] = any_number();
    sp.vk = AttrVal::kNum;
    sp.n = n;
    p.emplace_back("op", sp.op);
    p.emplace_back("value", num_text(n, is_int));
  } else {  // equals / not_equals
    int kind;
    if (declared)
      kind = name == "ltv" ? 1 : name == "vip" ? 2 : 0;
    else
      kind = r_.uni(0, sp.op == "equals" ? 2 : 1);  // not_equals: strings and numbers only
    p.emplace_back("op", sp.op);
    if (kind == 0) {
      sp.vk = AttrVal::kStr;
      sp.s = any_string();
      p.emplace_back("value", yaml_quote(sp.s));
    } else if (kind == 1) {
      auto [n, is_int] = name == "ltv" ? r_.pick(kLtv) : any_number();
      sp.vk = AttrVal::kNum;
      sp.n = n;
      p.emplace_back("value", num_text(n, is_int));
    } else {
      sp.vk = AttrVal::kBool;
      sp.b = r_.chance(0.5);
      p.emplace_back("value", sp.b ? "true" : "false");
    }
  }

  Pred f = [name, sp](const UserData& u) {
    const AttrVal* v = attr_state(u, name);
    if (sp.tp) {
      if (sp.tp->kind == TimePred::kBlank) {
        bool present = v && v->time;
        return sp.tp->blank ? !present : present;
      }
      return v && v->time && sp.tp->match(*v->time);
    }
    const std::string& op = sp.op;
    if (op == "exists") return v != nullptr;
    if (op == "not_exists") return v == nullptr;
    auto same_type = [&] { return v && v->kind == sp.vk; };
    auto equal = [&] {
      switch (sp.vk) {
        case AttrVal::kStr: return v->s == sp.s;
        case AttrVal::kNum: return v->n == sp.n;
        case AttrVal::kBool: return v->b == sp.b;
        default: return false;
      }
    };
    if (op == "equals") return same_type() && equal();
    if (op == "not_equals") return !v || (same_type() && !equal());
    if (op == "in") return v && v->kind == AttrVal::kStr && contains(sp.list, v->s);
    if (op == "not_in") return !v || (v->kind == AttrVal::kStr && !contains(sp.list, v->s));
    if (op == "matches") return v && v->kind == AttrVal::kStr && std::regex_search(v->s, *sp.re);
    if (op == "more_than") return v && v->kind == AttrVal::kNum && v->n > sp.n;
    if (op == "less_than") return v && v->kind == AttrVal::kNum && v->n < sp.n;
    ADD_FAILURE() << "reference: unhandled op " << op;
    return false;
  };
  return leaf("custom_attribute", p, std::move(f));
}

// ------------------------------------------------------------------ reporting
void print_explain(std::ostream& os, const ExplainNode& n, int ind) {
  os << std::string(static_cast<std::size_t>(ind), ' ') << n.label << " = " << (n.value ? "true" : "false");
  if (!n.because.empty()) os << "   [" << n.because << "]";
  os << "\n";
  for (const auto& k : n.children) print_explain(os, k, ind + 2);
}

void collect_refs(const Seg& s, std::vector<const Seg*>& out) {
  for (const Seg* r : s.refs) {
    if (std::find(out.begin(), out.end(), r) != out.end()) continue;
    collect_refs(*r, out);
    out.push_back(r);
  }
}

std::string describe(const World& w, const Engine& engine, const Seg& s, const std::vector<char>& got,
                     const std::vector<std::size_t>& users) {
  std::ostringstream os;
  os << "seed=" << w.seed << " (0x" << std::hex << w.seed << std::dec << ") timezone=" << w.tz_name
     << " now=" << format_time(w.now) << "\n--- segment (and the segments it references) ---\n";
  std::vector<const Seg*> refs;
  collect_refs(s, refs);
  for (const Seg* r : refs) os << r->yaml;
  os << s.yaml;
  std::vector<const Node*> leaves;
  collect_leaves(s.match, leaves);
  for (const auto& x : s.exclude) collect_leaves(x, leaves);
  for (std::size_t idx : users) {
    const UserData& u = w.users[idx];
    os << "--- user " << u.id << ": engine (evaluate) says " << (got[idx] ? "member" : "not a member")
       << ", reference says "
       << (s.members[idx] ? "member" : "not a member") << "\n  reference leaf values:\n";
    for (const Node* l : leaves) os << "    " << l->yaml << " = " << (l->pred(u) ? "true" : "false") << "\n";
    auto ex = engine.explain(s.id, u.id);
    if (ex.ok()) {
      os << "  engine explain (member=" << (ex->member ? "true" : "false") << "):\n";
      print_explain(os, ex->match, 4);
      for (const auto& x : ex->exclude) {
        os << "    exclude:\n";
        print_explain(os, x, 6);
      }
    } else {
      os << "  engine explain failed: " << ex.status().message() << "\n";
    }
    std::vector<const Ev*> evs;
    for (const Ev& e : u.evs) evs.push_back(&e);
    std::sort(evs.begin(), evs.end(), [](const Ev* a, const Ev* b) {
      return a->t != b->t ? a->t < b->t : a->order < b->order;
    });
    os << "  events (" << evs.size() << ", time UTC, #line, duplicates removed):\n";
    for (const Ev* e : evs) os << "    " << e->brief(w.now) << "\n";
  }
  return os.str();
}

// ------------------------------------------------------------------ the test
double scale() {
  const char* s = std::getenv("RETARGET_DIFF_SCALE");
  double v = s ? std::atof(s) : 1.0;
  return v > 0 ? v : 1.0;
}

void run_seed(SeedConfig cfg) {
  if (const char* s = std::getenv("RETARGET_DIFF_SEED")) cfg.seed = std::strtoull(s, nullptr, 0);
  cfg.batches = std::max(1, static_cast<int>(cfg.batches * scale()));
  SCOPED_TRACE("differential seed " + std::to_string(cfg.seed) + " (" + cfg.label + ", " + cfg.timezone + ")");
  auto started = std::chrono::steady_clock::now();

  // Sanity of the reference's own calendar (independent of the engine).
  {
    Zone berlin{true};
    ASSERT_EQ(berlin.start_of_day(days_from_civil(2026, 3, 30)), at(2026, 3, 29, 22, 0, 0, 0));
    ASSERT_EQ(berlin.start_of_day(days_from_civil(2026, 3, 29)), at(2026, 3, 28, 23, 0, 0, 0));
    ASSERT_EQ(berlin.start_of_day(days_from_civil(2026, 10, 25)), at(2026, 10, 24, 22, 0, 0, 0));
    ASSERT_EQ(berlin.start_of_day(days_from_civil(2026, 10, 26)), at(2026, 10, 25, 23, 0, 0, 0));
    ASSERT_EQ(date_text(days_from_civil(2024, 2, 29)), "2024-02-29");
  }

  Rng r(cfg.seed);
  World w = build_world(cfg, r);

  testing::TempDir tmp;
  testing::write_file(tmp / "retarget.yaml", "version: 1\ntimezone: " + cfg.timezone + "\n");
  EngineOptions options = testing::test_options(format_time(w.now), cfg.threads);
  options.config_path = (tmp / "retarget.yaml").string();
  auto opened = Engine::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<Engine> engine = std::move(opened).value();
  ASSERT_EQ(engine->now_ms(), w.now);

  Diagnostics diags;
  Status st = engine->apply_catalog_text(w.catalog_yaml, "differential_catalog.yaml", diags);
  ASSERT_TRUE(st.ok()) << st.message() << "\n" << diags.to_string() << "\n" << w.catalog_yaml;

  // Ingest in three pieces (order of arrival = file order).
  {
    std::size_t cut1 = w.lines.size() / 3 + static_cast<std::size_t>(r.range(0, 20));
    std::size_t cut2 = 2 * w.lines.size() / 3 + static_cast<std::size_t>(r.range(0, 20));
    std::uint64_t lines = 0, accepted = 0, duplicates = 0, rejected = 0;
    std::string rejections;
    std::size_t from = 0;
    for (std::size_t to : {cut1, cut2, w.lines.size()}) {
      std::string text;
      for (std::size_t i = from; i < to; ++i) text += w.lines[i] + "\n";
      auto rep = engine->ingest_text(text);
      ASSERT_TRUE(rep.ok()) << rep.status().message();
      lines += rep->lines;
      accepted += rep->accepted;
      duplicates += rep->duplicates;
      rejected += rep->rejected;
      for (const auto& rj : rep->rejections) {
        std::size_t physical = 0, seen = 0;  // map the piece's line number back to the file
        for (std::size_t i = from; i < to; ++i)
          if (++seen == rj.line) physical = i;
        rejections += "  line " + std::to_string(rj.line) + " of piece: " + rj.reason + "\n    " +
                      (physical < w.lines.size() ? w.lines[physical] : std::string("?")) + "\n";
      }
      from = to;
    }
    EXPECT_EQ(lines, w.nonblank_lines);
    EXPECT_EQ(rejected, w.invalid_lines) << "rejections:\n" << rejections;
    EXPECT_EQ(accepted, w.unique_events) << "valid lines " << w.valid_lines;
    EXPECT_EQ(duplicates, w.valid_lines - w.unique_events);
  }

  // U: exactly the users named by a valid event.
  {
    std::vector<std::string> got = engine->users();
    std::sort(got.begin(), got.end());
    std::vector<std::string> want;
    for (const auto& u : w.users) want.push_back(u.id);
    ASSERT_EQ(got.size(), want.size()) << "engine U differs from the reference U";
    EXPECT_EQ(got, want);
  }

  // Which filters exist: the engine's list, and a probe for the rest.
  Gen gen(w, r);
  std::set<std::string> loaded;
  for (const auto& f : engine->filters()) loaded.insert(f.name);
  std::vector<std::string> avail, missing;
  {
    std::deque<Seg> probe_batch;
    gen.batch = &probe_batch;
    for (const auto& f : kSpecFilters) {
      if (loaded.count(f)) {
        avail.push_back(f);
        continue;
      }
      if (f == "segment") continue;  // probed below
      Node leaf = gen.leaf_of(f);
      Diagnostics d;
      std::string text = "version: 1\nsegments:\n  - id: probe_" + f + "\n    match:\n      " + leaf.yaml + "\n";
      if (engine->load_rules_text(text, "probe.yaml", d).ok())
        avail.push_back(f);
      else
        missing.push_back(f);
    }
    if (!loaded.count("segment")) {
      if (avail.empty()) {
        missing.push_back("segment");
      } else {
        Node base = gen.leaf_of(avail[0]);
        Diagnostics d;
        std::string text = "version: 1\nsegments:\n  - id: probe_base\n    match:\n      " + base.yaml +
                           "\n  - id: probe_segment\n    match:\n      segment: {id: probe_base}\n";
        if (engine->load_rules_text(text, "probe.yaml", d).ok())
          avail.push_back("segment");
        else
          missing.push_back("segment");
      }
    }
  }
  ASSERT_TRUE(std::any_of(avail.begin(), avail.end(), [](const std::string& f) { return f != "segment"; }))
      << "no filter of filters.md is loaded";
  gen.avail = avail;

  struct Stat {
    int leaves = 0, nontrivial = 0;
  };
  std::map<std::string, Stat> stats;
  int trees = 0, mismatches = 0, reported = 0, explains = 0;
  const int kMaxReports = 6;

  std::deque<Seg> batch;  // the segments of the current batch (Seg addresses stay valid)
  // Generates a batch of segments and loads it as one rules text.
  auto load_batch = [&](int b) -> bool {
    batch.clear();
    gen.batch = &batch;
    std::string text = "version: 1\nsegments:\n";
    for (int i = 0; i < cfg.per_batch; ++i) {
      // Ids repeat every third batch: later batches upsert earlier segments, so
      // the engine holds a bounded number of segments and replaces definitions.
      std::string id = "d";
      id += std::to_string(cfg.seed % 1000);
      id += "_g";
      id += std::to_string(b % 3);
      id += "_s";
      id += std::to_string(i);
      Seg& s = gen.segment(id);
      text += s.yaml;
    }
    Diagnostics d;
    Status loaded_ok = engine->load_rules_text(text, "differential_rules.yaml", d);
    if (!loaded_ok.ok()) {
      ADD_FAILURE() << "generated rules were refused (they are valid per filters.md; seed " << cfg.seed << "):\n"
                    << loaded_ok.message() << "\n"
                    << d.to_string() << "\n--- rules ---\n"
                    << text;
      return false;
    }
    return true;
  };
  // Compares every segment of the batch with the reference.
  auto check_batch = [&](int b, const std::string& phase, bool count_stats) {
    for (const Seg& s : batch) {
      ++trees;
      std::vector<const Node*> leaves;
      collect_leaves(s.match, leaves);
      for (const auto& x : s.exclude) collect_leaves(x, leaves);
      if (count_stats)
        for (const Node* l : leaves) {
          std::size_t c = 0;
          for (const auto& u : w.users) c += l->pred(u) ? 1 : 0;
          Stat& st2 = stats[l->filter];
          ++st2.leaves;
          st2.nontrivial += (c > 0 && c < w.users.size()) ? 1 : 0;
        }

      auto res = engine->evaluate(s.id);
      if (!res.ok()) {
        ADD_FAILURE() << "evaluate(" << s.id << ") failed: " << res.status().message() << "\n" << s.yaml;
        continue;
      }
      std::vector<char> got(w.users.size(), 0);
      std::vector<std::string> unknown;
      for (const auto& m : res->members) {
        auto it = w.index.find(m);
        if (it == w.index.end())
          unknown.push_back(m);
        else
          got[it->second] = 1;
      }
      EXPECT_EQ(res->count, res->members.size()) << s.id;
      EXPECT_TRUE(std::is_sorted(res->members.begin(), res->members.end()) &&
                  std::adjacent_find(res->members.begin(), res->members.end()) == res->members.end())
          << "members of " << s.id << " are not sorted and unique";
      std::vector<std::size_t> extra, lacking;
      for (std::size_t i = 0; i < got.size(); ++i) {
        if (got[i] && !s.members[i]) extra.push_back(i);
        if (!got[i] && s.members[i]) lacking.push_back(i);
      }

      // Point evaluation for a sample of users (and every user that differs).
      std::vector<std::size_t> sample = {static_cast<std::size_t>(r.range(0, static_cast<std::int64_t>(w.users.size()) - 1)),
                                         static_cast<std::size_t>(r.range(0, static_cast<std::int64_t>(w.users.size()) - 1))};
      std::vector<std::size_t> explain_bad;
      for (std::size_t idx : sample) {
        ++explains;
        auto ex = engine->explain(s.id, w.users[idx].id);
        if (!ex.ok()) {
          ADD_FAILURE() << "explain(" << s.id << ", " << w.users[idx].id << ") failed: " << ex.status().message();
          continue;
        }
        if (!ex->known_user || ex->member != (s.members[idx] != 0)) explain_bad.push_back(idx);
      }
      if (b == 0 && &s == &batch.front() && phase == "main") {  // a user named only by rejected lines is not in U
        auto ex = engine->explain(s.id, w.ghosts[0]);
        if (ex.ok()) {
          EXPECT_FALSE(ex->known_user) << w.ghosts[0] << " is named only by rejected lines";
          EXPECT_FALSE(ex->member) << w.ghosts[0] << " is named only by rejected lines";
        }
      }

      if (extra.empty() && lacking.empty() && unknown.empty() && explain_bad.empty()) continue;
      ++mismatches;
      if (reported >= kMaxReports) continue;
      ++reported;
      std::vector<std::size_t> show;
      for (std::size_t i = 0; i < extra.size() && i < 2; ++i) show.push_back(extra[i]);
      for (std::size_t i = 0; i < lacking.size() && i < 2; ++i) show.push_back(lacking[i]);
      for (std::size_t i = 0; i < explain_bad.size() && show.size() < 5; ++i) show.push_back(explain_bad[i]);
      std::ostringstream os;
      os << "MISMATCH in segment " << s.id << " (" << phase << ", batch " << b << "): engine has " << extra.size()
         << " member(s) the reference lacks, lacks " << lacking.size() << " reference member(s)";
      if (!unknown.empty()) os << ", and returned " << unknown.size() << " id(s) not in U (first: " << unknown[0] << ")";
      if (!explain_bad.empty()) os << "; explain disagrees with the reference for " << explain_bad.size() << " sampled user(s)";
      os << "\n  engine-only: ";
      for (std::size_t i = 0; i < extra.size() && i < 10; ++i) os << w.users[extra[i]].id << " ";
      os << "\n  reference-only: ";
      for (std::size_t i = 0; i < lacking.size() && i < 10; ++i) os << w.users[lacking[i]].id << " ";
      os << "\n" << describe(w, *engine, s, got, show);
      ADD_FAILURE() << os.str();
    }
  };

  for (int b = 0; b < cfg.batches; ++b)
    if (load_batch(b)) check_batch(b, "main", true);

  // Tags added later are covered at once (filters.md: tag filters look at every
  // source carrying the tag at evaluation time). The reference reads the World,
  // so it sees the new tags too.
  {
    w.campaigns.back().tags.push_back("late_tag");
    w.canvases.back().tags.push_back("late_tag");
    for (auto& c : w.campaigns)
      if (!contains(c.tags, w.tags[0])) {
        c.tags.push_back(w.tags[0]);
        break;
      }
    std::set<std::string> tags(w.tags.begin(), w.tags.end());
    tags.insert("late_tag");
    w.tags.assign(tags.begin(), tags.end());
    w.catalog_yaml = catalog_yaml(w);
    Diagnostics cd;
    Status cs = engine->apply_catalog_text(w.catalog_yaml, "differential_catalog_v2.yaml", cd);
    ASSERT_TRUE(cs.ok()) << cs.message() << "\n" << cd.to_string() << "\n" << w.catalog_yaml;
    std::vector<std::string> focus;
    for (const auto& f : avail)
      if (f.find("tagged") != std::string::npos || f == "segment" || f == "received_campaign" ||
          f == "last_received_any")
        focus.push_back(f);
    if (std::any_of(focus.begin(), focus.end(), [](const std::string& f) { return f.find("tagged") != std::string::npos; })) {
      gen.avail = focus;
      for (int b = cfg.batches; b < cfg.batches + 3; ++b)
        if (load_batch(b)) check_batch(b, "after late tags", false);
      gen.avail = avail;
    }
  }

  // Ingesting the whole file again changes nothing (events are idempotent by content).
  {
    std::string all;
    for (const auto& l : w.lines) all += l + "\n";
    auto rep = engine->ingest_text(all);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_EQ(rep->accepted, 0u) << "re-ingesting the same events stored new ones";
    EXPECT_EQ(rep->duplicates, w.valid_lines);
    EXPECT_EQ(rep->rejected, w.invalid_lines);
    if (!batch.empty()) check_batch(cfg.batches + 3, "after re-ingesting every line", false);
  }

  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::ostringstream summary;
  summary << "[differential] " << cfg.label << " seed=" << cfg.seed << " tz=" << cfg.timezone
          << " now=" << format_time(w.now) << ": users=" << w.users.size() << " events=" << w.unique_events
          << " (+" << (w.valid_lines - w.unique_events) << " duplicates, " << w.invalid_lines << " rejected)"
          << " trees=" << trees << " explains=" << explains << " mismatching trees=" << mismatches << " in "
          << secs << " s\n[differential] filters covered " << avail.size() << "/" << kSpecFilters.size()
          << " (leaves drawn / with a non-trivial reference set):";
  for (const auto& f : avail) summary << " " << f << "=" << stats[f].leaves << "/" << stats[f].nontrivial;
  if (!missing.empty()) {
    summary << "\n[differential] not loaded yet (skipped):";
    for (const auto& f : missing) summary << " " << f;
  }
  std::cout << summary.str() << std::endl;
  if (mismatches > reported) ADD_FAILURE() << (mismatches - reported) << " more mismatching trees not shown";
}

TEST(Differential, UtcMidJune) {
  run_seed({"utc-mid-june", 0x5EED0001, "UTC", at(2026, 6, 15, 12, 0, 0, 0), 2, 18, 40});
}

TEST(Differential, BerlinAfterSpringForward) {
  run_seed({"berlin-spring", 0x5EED0002, "Europe/Berlin", at(2026, 3, 30, 8, 15, 30, 250), 2, 18, 40});
}

TEST(Differential, BerlinAfterFallBack) {
  run_seed({"berlin-autumn", 0x5EED0003, "Europe/Berlin", at(2026, 10, 26, 0, 30, 0, 0), 2, 18, 40});
}

TEST(Differential, UtcNowAtMidnightOneThread) {
  run_seed({"utc-midnight", 0x5EED0004, "UTC", at(2026, 1, 1, 0, 0, 0, 0), 1, 18, 40});
}

}  // namespace
}  // namespace retarget
