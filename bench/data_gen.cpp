// The benchmark data generator (quality.md "Data sets"): deterministic for a
// seed, it writes one data set in the engine's formats and in a columnar form
// the peers load.
//
//   build/release/bin/retarget_bench_gen --size S|M|L --out DIR [--seed 42] [--events N]
//
// DIR/catalog.yaml    240 campaigns c000..c239 and 60 Canvases k00..k59 (steps s1..s4,
//                     variations v1, v2, ctl = control), tags t00..t19, declared attributes
// DIR/events.jsonl    the events (formats.md)
// DIR/events.csv      the same events, one row each (time_ms,uid,type,...; empty = NULL)
// DIR/users.csv       uid,user,bucket (bucket = FNV-1a 64 of the id mod 10000)
// DIR/manifest.json   size, users, events, now, seed
//
// Sizes: S 100k users / 1M events, M 1M / 10M, L 10M / 100M. Skew: sources are
// picked by a Zipf law (a few huge campaigns, many small ones) and users by a
// power law (some users get far more messages than others). Every user has an
// attributes event, so every user is in U. Times lie in the 400 days before
// `now` = 2026-06-01T00:00:00Z. No user has two attributes events or two
// events of one feature flag at the same instant, so "latest wins" never ties.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::int64_t kNowMs = 1780272000000;  // 2026-06-01T00:00:00Z
constexpr std::int64_t kDayMs = 86400000;
constexpr std::int64_t kWindowMs = 400 * kDayMs;
constexpr int kCampaigns = 240, kCanvases = 60, kTags = 20;

// ---- output -----------------------------------------------------------------

// A file written through a large buffer (the L set is tens of gigabytes).
class Sink {
 public:
  explicit Sink(const std::filesystem::path& path) : file_(std::fopen(path.c_str(), "wb")), path_(path) {
    if (!file_) throw std::runtime_error("cannot write " + path.string());
    buf_.reserve(kFlush + 4096);
  }
  ~Sink() { close(); }
  void close() {
    if (!file_) return;
    flush();
    if (std::fclose(file_) != 0) std::cerr << "error closing " << path_ << "\n";
    file_ = nullptr;
  }
  std::string& buf() { return buf_; }
  void maybe_flush() {
    if (buf_.size() >= kFlush) flush();
  }

 private:
  static constexpr std::size_t kFlush = 8 << 20;
  void flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size())
      throw std::runtime_error("write failed: " + path_.string());
    buf_.clear();
  }
  std::FILE* file_;
  std::filesystem::path path_;
  std::string buf_;
};

void append_int(std::string& s, std::int64_t v) {
  char tmp[24];
  int n = std::snprintf(tmp, sizeof tmp, "%lld", static_cast<long long>(v));
  s.append(tmp, static_cast<std::size_t>(n));
}

void append_padded(std::string& s, int v, int width) {
  char tmp[12];
  int n = std::snprintf(tmp, sizeof tmp, "%0*d", width, v);
  s.append(tmp, static_cast<std::size_t>(n));
}

// RFC 3339 UTC with milliseconds (days-from-civil inverse, Howard Hinnant's algorithm).
void append_time(std::string& s, std::int64_t ms) {
  std::int64_t days = ms / kDayMs, rem = ms % kDayMs;
  std::int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1), m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  int y = static_cast<int>(yoe + era * 400 + (m <= 2));
  append_padded(s, y, 4), s += '-', append_padded(s, m, 2), s += '-', append_padded(s, d, 2), s += 'T';
  append_padded(s, static_cast<int>(rem / 3600000), 2), s += ':';
  append_padded(s, static_cast<int>(rem / 60000 % 60), 2), s += ':';
  append_padded(s, static_cast<int>(rem / 1000 % 60), 2), s += '.';
  append_padded(s, static_cast<int>(rem % 1000), 3), s += 'Z';
}

std::string user_id(std::uint32_t uid) {
  char tmp[16];
  std::snprintf(tmp, sizeof tmp, "u%08u", uid);
  return tmp;
}

std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// ---- the catalog ----------------------------------------------------------------

const char* const kCampaignChannel[10] = {"email",  "push",    "email",    "sms",          "email",
                                          "in_app", "webhook", "whatsapp", "content_card", "push"};
const char* const kStepChannel[4] = {"email", "push", "sms", "in_app"};
const char* const kVariations[3] = {"v1", "v2", "ctl"};

struct Campaign {
  std::string id, channel;
  bool multivariate, recurring;
  std::vector<int> tags;
};
struct Canvas {
  std::string id;
  std::vector<int> tags;
};

std::string tag_name(int t) {
  char tmp[8];
  std::snprintf(tmp, sizeof tmp, "t%02d", t);
  return tmp;
}

std::vector<int> two_tags(int a, int b) { return a == b ? std::vector<int>{a} : std::vector<int>{a, b}; }

std::vector<Campaign> make_campaigns() {
  std::vector<Campaign> out;
  for (int i = 0; i < kCampaigns; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "c%03d", i);
    out.push_back({id, kCampaignChannel[i % 10], i % 4 == 0, i % 5 == 2,
                   two_tags(i % kTags, (i * 7 + 3) % kTags)});
  }
  return out;
}

std::vector<Canvas> make_canvases() {
  std::vector<Canvas> out;
  for (int j = 0; j < kCanvases; ++j) {
    char id[8];
    std::snprintf(id, sizeof id, "k%02d", j);
    out.push_back({id, two_tags((j * 3) % kTags, (j + 11) % kTags)});
  }
  return out;
}

void write_catalog(const std::filesystem::path& path, const std::vector<Campaign>& campaigns,
                   const std::vector<Canvas>& canvases) {
  std::ofstream f(path);
  auto tags = [](const std::vector<int>& t) {
    std::string s = "[";
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (i) s += ", ";
      s += tag_name(t[i]);
    }
    return s + "]";
  };
  f << "# Generated by retarget_bench_gen (bench/data_gen.cpp).\nversion: 1\ncampaigns:\n";
  for (const auto& c : campaigns) {
    f << "  - {id: " << c.id << ", name: Campaign " << c.id << ", tags: " << tags(c.tags)
      << ", recurring: " << (c.recurring ? "true" : "false") << ", aliases: [cta, footer], status: active";
    if (c.multivariate) f << ", multivariate: true, variants: [{id: a, name: Variant A}, {id: b, name: Variant B}]";
    f << "}\n";
  }
  f << "canvases:\n";
  for (const auto& k : canvases)
    f << "  - {id: " << k.id << ", name: Canvas " << k.id << ", tags: " << tags(k.tags)
      << ", status: active, variations: [{id: v1, name: Variant 1}, {id: v2, name: Variant 2}, "
         "{id: ctl, name: Control, control: true}], steps: [{id: s1, name: Step 1}, {id: s2, name: Step 2}, "
         "{id: s3, name: Step 3}, {id: s4, name: Step 4}]}\n";
  f << "attributes:\n  country: string\n  ltv: number\n  plan: string\n";
}

// ---- events ------------------------------------------------------------------

// One event with every field either format needs; empty = absent.
struct Event {
  std::int64_t time = 0;
  std::uint32_t uid = 0;
  const char* type = "";
  std::string_view campaign, canvas, step, variant, variation, channel, action, alias, flag, group, keyword;
  int conversion_event = -1;  // -1 = absent
  int enabled = -1;           // -1 = absent, 0/1
  std::string_view country, plan;
  double ltv = -1;  // < 0 = absent
};

class Writer {
 public:
  Writer(const std::filesystem::path& dir, std::uint64_t limit)
      : jsonl_(dir / "events.jsonl"), csv_(dir / "events.csv"), limit_(limit) {
    csv_.buf() +=
        "time_ms,uid,type,campaign,canvas,step,variant,variation,channel,action,alias,conversion_event,flag,"
        "enabled,subscription_group,keyword_category,country,ltv,plan\n";
  }
  bool full() const { return written_ >= limit_; }
  std::uint64_t written() const { return written_; }

  void write(const Event& e) {
    if (full()) return;
    ++written_;
    write_json(e);
    write_csv(e);
    jsonl_.maybe_flush();
    csv_.maybe_flush();
  }
  void close() {
    jsonl_.close();
    csv_.close();
  }

 private:
  static void json_field(std::string& s, const char* key, std::string_view v) {
    if (v.empty()) return;
    s += ",\"", s += key, s += "\":\"", s += v, s += '"';
  }
  void write_json(const Event& e) {
    std::string& s = jsonl_.buf();
    s += "{\"time\":\"", append_time(s, e.time), s += "\",\"user\":\"", s += user_id(e.uid);
    s += "\",\"type\":\"", s += e.type, s += '"';
    json_field(s, "campaign", e.campaign), json_field(s, "canvas", e.canvas), json_field(s, "step", e.step);
    json_field(s, "variant", e.variant), json_field(s, "variation", e.variation);
    json_field(s, "channel", e.channel), json_field(s, "action", e.action), json_field(s, "alias", e.alias);
    if (e.conversion_event >= 0) s += ",\"conversion_event\":", append_int(s, e.conversion_event);
    json_field(s, "flag", e.flag);
    if (e.enabled >= 0) s += e.enabled ? ",\"enabled\":true" : ",\"enabled\":false";
    json_field(s, "subscription_group", e.group), json_field(s, "keyword_category", e.keyword);
    if (e.ltv >= 0) {
      char ltv[32];
      std::snprintf(ltv, sizeof ltv, "%.2f", e.ltv);
      s += ",\"attributes\":{\"country\":\"", s += e.country, s += "\",\"ltv\":", s += ltv;
      s += ",\"plan\":\"", s += e.plan, s += "\"}";
    }
    s += "}\n";
  }
  void write_csv(const Event& e) {
    std::string& s = csv_.buf();
    append_int(s, e.time), s += ',', append_int(s, e.uid), s += ',', s += e.type;
    for (std::string_view v : {e.campaign, e.canvas, e.step, e.variant, e.variation, e.channel, e.action, e.alias})
      s += ',', s += v;
    s += ',';
    if (e.conversion_event >= 0) append_int(s, e.conversion_event);
    s += ',', s += e.flag, s += ',';
    if (e.enabled >= 0) s += e.enabled ? "true" : "false";
    s += ',', s += e.group, s += ',', s += e.keyword, s += ',', s += e.country, s += ',';
    if (e.ltv >= 0) {
      char ltv[32];
      std::snprintf(ltv, sizeof ltv, "%.2f", e.ltv);
      s += ltv;
    }
    s += ',', s += e.plan, s += '\n';
  }

  Sink jsonl_, csv_;
  std::uint64_t limit_, written_ = 0;
};

class Generator {
 public:
  Generator(std::uint32_t users, std::uint64_t seed)
      : users_(users), rng_(seed), campaigns_(make_campaigns()), canvases_(make_canvases()) {
    // Source popularity: Zipf(1.1) over ranks; every fifth rank is a Canvas,
    // so c000 is the biggest campaign and k00 the biggest Canvas.
    double total = 0;
    for (int r = 0; r < kCampaigns + kCanvases; ++r) total += 1.0 / std::pow(r + 1, 1.1), cdf_.push_back(total);
    for (auto& c : cdf_) c /= total;
  }

  const std::vector<Campaign>& campaigns() const { return campaigns_; }
  const std::vector<Canvas>& canvases() const { return canvases_; }

  // The profile part: every user's attributes and a sprinkling of flags,
  // bounces, news feed views and inbound SMS.
  void profiles(Writer& w) {
    static const char* const countries[] = {"US", "KR", "DE", "FR", "JP", "GB", "BR", "IN", "CA", "ES"};
    static const double country_weight[] = {30, 15, 10, 8, 8, 8, 6, 6, 5, 4};
    static const char* const plans[] = {"free", "silver", "gold", "platinum"};
    static const double plan_weight[] = {70, 18, 9, 3};
    std::discrete_distribution<int> country(std::begin(country_weight), std::end(country_weight));
    std::discrete_distribution<int> plan(std::begin(plan_weight), std::end(plan_weight));
    std::exponential_distribution<double> ltv(1.0 / 150);
    for (std::uint32_t u = 0; u < users_ && !w.full(); ++u) {
      Event e = profile_base(u, "attributes");
      e.country = countries[country(rng_)], e.plan = plans[plan(rng_)], e.ltv = ltv(rng_);
      w.write(e);
      if (chance(0.03)) {  // a later change of some attributes
        e.time = later(e.time), e.plan = plans[plan(rng_)], e.ltv = ltv(rng_);
        w.write(e);
      }
      if (chance(0.01)) w.write(base(u, "hard_bounce"));
      if (chance(0.005)) w.write(base(u, "spam_report"));
      if (chance(0.005)) w.write(base(u, "invalid_phone"));
      if (chance(0.2)) {
        Event f = profile_base(u, "feature_flag");
        f.flag = "beta", f.enabled = chance(0.6);
        w.write(f);
        if (chance(0.1)) f.time = later(f.time), f.enabled = !f.enabled, w.write(f);
      }
      if (chance(0.15))
        for (int n = 1 + static_cast<int>(rng_() % 6); n > 0; --n) w.write(base(u, "news_feed_view"));
      if (chance(0.03)) {
        Event s = base(u, "sms_inbound");
        s.group = chance(0.7) ? "g1" : "g2";
        static const char* const categories[] = {"opt_in", "opt_out", "help"};
        s.keyword = categories[rng_() % 3];
        w.write(s);
      }
    }
  }

  // Message traffic until the writer is full.
  void messages(Writer& w) {
    while (!w.full()) {
      int rank = source_rank();
      std::uint32_t u = pick_user();
      if (rank % 5 == 4) canvas_send(w, canvases_[static_cast<std::size_t>(rank / 5 % kCanvases)], u);
      else campaign_send(w, campaigns_[static_cast<std::size_t>((rank - rank / 5) % kCampaigns)], u);
    }
  }

 private:
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::int64_t random_time() { return kNowMs - 1 - static_cast<std::int64_t>(rng_() % kWindowMs); }
  // A time after `t` (by 1 ms to 3 days), never after now.
  std::int64_t later(std::int64_t t) {
    return std::min<std::int64_t>(kNowMs - 1, t + 1 + static_cast<std::int64_t>(rng_() % (3 * kDayMs)));
  }
  Event base(std::uint32_t u, const char* type) {
    Event e;
    e.uid = u, e.type = type, e.time = random_time();
    return e;
  }
  // Profile state (attributes, flags) starts at least 4 days before now, so
  // its later change (at most 3 days later) is never clamped into a tie.
  Event profile_base(std::uint32_t u, const char* type) {
    Event e = base(u, type);
    e.time = kNowMs - 4 * kDayMs - static_cast<std::int64_t>(rng_() % (kWindowMs - 4 * kDayMs));
    return e;
  }
  int source_rank() {
    double x = std::uniform_real_distribution<double>(0, 1)(rng_);
    return static_cast<int>(std::lower_bound(cdf_.begin(), cdf_.end(), x) - cdf_.begin());
  }
  std::uint32_t pick_user() {
    double x = std::uniform_real_distribution<double>(0, 1)(rng_);
    return std::min(users_ - 1, static_cast<std::uint32_t>(users_ * std::pow(x, 1.3)));
  }

  // Interactions that follow a receipt on `channel`.
  void interactions(Writer& w, Event e, std::string_view channel) {
    e.type = "interaction", e.variant = {}, e.channel = {};
    auto act = [&](const char* action, double p, bool alias = false) {
      if (!chance(p)) return;
      Event i = e;
      i.time = later(e.time), i.action = action;
      if (alias && chance(0.8)) i.alias = chance(0.6) ? "cta" : "footer";
      w.write(i);
    };
    if (channel == "email") {
      act("opened_email", 0.25), act("opened_email_machine", 0.1), act("clicked_email", 0.1, true);
    } else if (channel == "push") {
      act("opened_push", 0.2);
    } else if (channel == "sms") {
      act("clicked_sms", 0.08);
    } else if (channel == "whatsapp") {
      act("read_whatsapp", 0.3);
    } else if (channel == "in_app") {
      act("viewed_in_app", 0.5), act("clicked_in_app", 0.1);
    } else if (channel == "content_card") {
      act("clicked_content_card", 0.1);
    }
  }

  void conversion(Writer& w, Event e, double p) {
    if (!chance(p)) return;
    e.type = "converted", e.step = {}, e.variant = {}, e.channel = {}, e.time = later(e.time);
    e.conversion_event = chance(0.85) ? 0 : 1;
    w.write(e);
  }

  void campaign_send(Writer& w, const Campaign& c, std::uint32_t u) {
    Event e = base(u, "received");
    e.campaign = c.id;
    if (c.multivariate && chance(0.05)) {  // held out in the control group
      e.type = "control";
      w.write(e);
      conversion(w, e, 0.03);
      return;
    }
    e.channel = c.channel;
    if (c.multivariate) e.variant = chance(0.5) ? "a" : "b";
    w.write(e);
    interactions(w, e, c.channel);
    conversion(w, e, 0.04);
  }

  void canvas_send(Writer& w, const Canvas& k, std::uint32_t u) {
    Event e = base(u, "canvas_entered");
    e.canvas = k.id;
    std::string_view variation = kVariations[chance(0.1) ? 2 : rng_() % 2];
    if (chance(0.5)) {
      e.variation = variation;
      w.write(e);
      e.variation = {};
      if (variation == "ctl") return;
    }
    static const char* const steps[4] = {"s1", "s2", "s3", "s4"};
    static const double step_weight[4] = {50, 25, 15, 10};
    static std::discrete_distribution<int> step_of(std::begin(step_weight), std::end(step_weight));
    int s = step_of(rng_);
    e.type = "received", e.step = steps[s], e.channel = kStepChannel[s], e.time = later(e.time);
    w.write(e);
    interactions(w, e, kStepChannel[s]);
    conversion(w, e, 0.03);
    if (chance(0.05)) {
      Event x = base(u, "canvas_exited");
      x.canvas = k.id, x.time = later(e.time);
      w.write(x);
    }
  }

  std::uint32_t users_;
  std::mt19937_64 rng_;
  std::vector<Campaign> campaigns_;
  std::vector<Canvas> canvases_;
  std::vector<double> cdf_;
};

void write_users(const std::filesystem::path& path, std::uint32_t users) {
  Sink s(path);
  s.buf() += "uid,user,bucket\n";
  for (std::uint32_t u = 0; u < users; ++u) {
    std::string id = user_id(u);
    append_int(s.buf(), u), s.buf() += ',', s.buf() += id, s.buf() += ',';
    append_int(s.buf(), static_cast<std::int64_t>(fnv1a64(id) % 10000)), s.buf() += '\n';
    s.maybe_flush();
  }
}

int usage() {
  std::cerr << "usage: retarget_bench_gen --size S|M|L --out DIR [--seed N] [--events N]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string size, out;
  std::uint64_t seed = 42, events = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--size") size = argv[i + 1];
    else if (a == "--out") out = argv[i + 1];
    else if (a == "--seed") seed = std::stoull(argv[i + 1]);
    else if (a == "--events") events = std::stoull(argv[i + 1]);
    else return usage();
  }
  if (out.empty() || (size != "S" && size != "M" && size != "L" && events == 0)) return usage();
  if (events == 0) events = size == "S" ? 1000000ULL : size == "M" ? 10000000ULL : 100000000ULL;
  auto users = static_cast<std::uint32_t>(std::max<std::uint64_t>(10, events / 10));
  try {
    std::filesystem::create_directories(out);
    Generator gen(users, seed);
    write_catalog(std::filesystem::path(out) / "catalog.yaml", gen.campaigns(), gen.canvases());
    write_users(std::filesystem::path(out) / "users.csv", users);
    Writer w(out, events);
    gen.profiles(w);
    gen.messages(w);
    w.close();
    std::ofstream m(std::filesystem::path(out) / "manifest.json");
    m << "{\"size\":\"" << (size.empty() ? "custom" : size) << "\",\"users\":" << users << ",\"events\":" << w.written()
      << ",\"now\":\"2026-06-01T00:00:00Z\",\"now_ms\":" << kNowMs << ",\"seed\":" << seed << "}\n";
    std::printf("wrote %s: %u users, %llu events\n", out.c_str(), users,
                static_cast<unsigned long long>(w.written()));
  } catch (const std::exception& e) {
    std::cerr << "retarget_bench_gen: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
