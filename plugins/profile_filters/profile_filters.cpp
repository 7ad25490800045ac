// Profile-level filters (filters.md, "Profile-level filters"): they read the
// profile summaries ingestion keeps and never interaction data; the host
// enforces it. Expiry never changes their answers.
#include <limits>

#include <retarget/sdk/helpers.hpp>
#include <retarget/sdk/plugin.hpp>
#include <retarget/sdk/simple_factory.hpp>

namespace {

using namespace retarget::sdk;

// t = a summary's time; matches by a time predicate.
class SummaryTimeFilter final : public Filter {
 public:
  SummaryTimeFilter(SummaryKind kind, std::string a, std::string b, std::string what, TimePredicate when)
      : kind_(kind), a_(std::move(a)), b_(std::move(b)), what_(std::move(what)), when_(std::move(when)) {}
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    match_time_chunk(ctx, ctx.profiles().times(kind_, a_, b_), when_.at(ctx.now()), chunk, out);
  }
  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    Timestamp t = time_of(ctx.profiles().times(kind_, a_, b_), user);
    return {when_.at(ctx.now()).matches(t), what_ + ": " + format_time(t) + "; wanted " + when_.text};
  }

 private:
  SummaryKind kind_;
  std::string a_, b_, what_;
  TimePredicate when_;
};

// Users present in a summary (have/is: true), or every other user.
class SummaryPresenceFilter final : public Filter {
 public:
  SummaryPresenceFilter(SummaryKind kind, std::string a, bool want, std::string yes, std::string no)
      : kind_(kind), a_(std::move(a)), want_(want), yes_(std::move(yes)), no_(std::move(no)) {}
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    match_presence_chunk(ctx, ctx.profiles().times(kind_, a_), want_, chunk, out);
  }
  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    Timestamp t = time_of(ctx.profiles().times(kind_, a_), user);
    return {(t != kNoTime) == want_, t != kNoTime ? yes_ + " (last at " + format_time(t) + ")" : no_};
  }

 private:
  SummaryKind kind_;
  std::string a_;
  bool want_;
  std::string yes_, no_;
};

// The "t = last <summary>" filters differ only in the summary they read.
class LastTimeFactory final : public FilterFactory {
 public:
  LastTimeFactory(std::string name, std::string description, SummaryKind kind, std::string arg, std::string what)
      : kind_(kind), arg_(std::move(arg)), what_(std::move(what)) {
    info_ = {std::move(name), std::move(description), "1.0.0", false, {time_param()}, "{more_than_days_ago: 7}"};
  }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params& p, CompileContext&) const override {
    return std::make_unique<SummaryTimeFilter>(kind_, arg_, "", what_, *p.time_predicate());
  }

 private:
  FilterInfo info_;
  SummaryKind kind_;
  std::string arg_, what_;
};

// Profile flags set by hard_bounce / spam_report / invalid_phone events.
class FlagFactory final : public FilterFactory {
 public:
  FlagFactory(std::string name, std::string description, std::string flag) : flag_(std::move(flag)) {
    info_ = {std::move(name), std::move(description), "1.0.0", false, {have_param("is")}, "{is: true}"};
  }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params& p, CompileContext&) const override {
    return std::make_unique<SummaryPresenceFilter>(SummaryKind::kFlag, flag_, p.boolean("is"), flag_ + " reported",
                                                   "never reported " + flag_);
  }

 private:
  FilterInfo info_;
  std::string flag_;
};

// news_feed_view_count: users without views count 0.
class NewsFeedViewCount final : public Filter {
 public:
  // The op is resolved once to an inclusive range [lo_, hi_] (no string compare per user).
  NewsFeedViewCount(std::string op, std::int64_t value) : op_(std::move(op)), value_(value) {
    if (op_ == "equals") lo_ = hi_ = value;
    else if (op_ == "more_than") lo_ = value == kMax ? kMax : value + 1, empty_ = value == kMax;
    else hi_ = value == kMin ? kMin : value - 1, empty_ = value == kMin;
  }
  bool matches(std::int64_t n) const { return !empty_ && lo_ <= n && n <= hi_; }
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    const UserCounts* counts = ctx.profiles().news_feed_views();
    const ValueChunk* block = counts ? counts->chunk(chunk) : nullptr;
    if (empty_) return;
    if (matches(0)) {
      // Users without views count 0: everyone, less those whose count is outside.
      ctx.universe(chunk, out);
      if (block) block->clear_bits_outside(lo_, hi_, out);
      return;
    }
    if (block) block->set_bits_in_range(lo_, hi_, out);
  }
  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    const UserCounts* counts = ctx.profiles().news_feed_views();
    auto n = counts ? counts->find(user) : std::nullopt;
    std::int64_t views = n ? *n : 0;
    return {matches(views), std::to_string(views) + " news feed view(s); wanted " + op_ + " " + std::to_string(value_)};
  }

 private:
  static constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::string op_;
  std::int64_t value_;
  std::int64_t lo_ = kMin, hi_ = kMax;
  bool empty_ = false;
};

const SimpleFactory kClickedAliasAny(
    {"clicked_alias_any", "Users who ever clicked a link alias in any campaign or Canvas step", "1.0.0", false,
     {{"alias", ParamType::kAlias, true, {}, "", "the tracked link alias"}, have_param()}, "{alias: cta}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto& a = p.text("alias");
      return std::make_unique<SummaryPresenceFilter>(SummaryKind::kLastClickedAlias, a, p.boolean("have"),
                                                     "clicked alias " + a, "never clicked alias " + a);
    });

const SimpleFactory kFeatureFlag(
    {"feature_flag", "Users by the latest state of a feature flag (never set = disabled)", "1.0.0", false,
     {{"flag", ParamType::kString, true, {}, "", "the feature flag's id"},
      {"enabled", ParamType::kBool, false, {}, "true", "the state to match"}},
     "{flag: new_checkout}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto& f = p.text("flag");
      return std::make_unique<SummaryPresenceFilter>(SummaryKind::kFeatureFlagEnabled, f, p.boolean("enabled"),
                                                     "flag " + f + " enabled", "flag " + f + " disabled or never set");
    });

const SimpleFactory kNeverReceived(
    {"never_received", "Users who never received any campaign or Canvas message (is: false: who did)", "1.0.0", false,
     {have_param("is")}, "{is: true}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      return std::make_unique<SummaryPresenceFilter>(SummaryKind::kLastReceived, "", !p.boolean("is"),
                                                     "received a message", "never received a message");
    });

const SimpleFactory kLastSmsInboundKeyword(
    {"last_sms_inbound_keyword", "Users by their last inbound SMS of a keyword category to a subscription group",
     "1.0.0", false,
     {{"subscription_group", ParamType::kString, true, {}, "", "the SMS subscription group"},
      {"keyword_category", ParamType::kString, true, {}, "", "the keyword category (e.g. STOP, HELP)"},
      time_param()},
     "{subscription_group: marketing, keyword_category: STOP, less_than_days_ago: 30}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto &g = p.text("subscription_group"), &k = p.text("keyword_category");
      return std::make_unique<SummaryTimeFilter>(SummaryKind::kLastSmsInbound, g, k,
                                                 "last inbound SMS " + k + " to " + g, *p.time_predicate());
    });

const SimpleFactory kNewsFeedViewCount(
    {"news_feed_view_count", "Users by how many times they viewed the news feed", "1.0.0", false,
     {{"op", ParamType::kString, true, {"equals", "more_than", "less_than"}, "", "the comparison"},
      {"value", ParamType::kInteger, true, {}, "", "the number of views"}},
     "{op: more_than, value: 3}"},
    [](const Params& p, CompileContext& ctx) -> std::unique_ptr<Filter> {
      if (p.integer("value") < 0) {
        ctx.error("value", "a view count is 0 or more");
        return nullptr;
      }
      return std::make_unique<NewsFeedViewCount>(p.text("op"), p.integer("value"));
    });

using K = SummaryKind;
const FlagFactory kHardBounced("hard_bounced", "Users whose email hard bounced", "hard_bounced");
const FlagFactory kMarkedSpam("marked_spam", "Users who marked a message as spam", "marked_spam");
const FlagFactory kInvalidPhone("invalid_phone", "Users whose phone number was reported invalid", "invalid_phone");
const LastTimeFactory kLastEngaged("last_engaged", "Users by their last interaction of any kind with any message",
                                   K::kLastInteraction, "", "last engaged");
const LastTimeFactory kLastEnrolledControl("last_enrolled_control_group",
                                           "Users by their last enrollment in any control group",
                                           K::kLastControlEnrolled, "", "last enrolled in a control group");
const LastTimeFactory kLastInAppImpression("last_in_app_impression", "Users by their last in-app message impression",
                                           K::kLastInteraction, "viewed_in_app", "last in-app impression");
const LastTimeFactory kLastReceivedAny("last_received_any", "Users by the last time they received any message",
                                       K::kLastReceived, "", "last received a message");
const LastTimeFactory kLastReceivedEmail("last_received_email", "Users by the last time they received an email",
                                         K::kLastReceived, "email", "last received email");
const LastTimeFactory kLastReceivedPush("last_received_push", "Users by the last time they received a push",
                                        K::kLastReceived, "push", "last received push");
const LastTimeFactory kLastReceivedSms("last_received_sms", "Users by the last time they received an SMS",
                                       K::kLastReceived, "sms", "last received SMS");
const LastTimeFactory kLastReceivedWebhook("last_received_webhook", "Users by the last time they received a webhook",
                                           K::kLastReceived, "webhook", "last received webhook");
const LastTimeFactory kLastReceivedWhatsapp("last_received_whatsapp",
                                            "Users by the last time they received a WhatsApp message",
                                            K::kLastReceived, "whatsapp", "last received WhatsApp");
const LastTimeFactory kLastViewedNewsFeed("last_viewed_news_feed", "Users by the last time they viewed the news feed",
                                          K::kLastNewsFeedView, "", "last viewed the news feed");

}  // namespace

RETARGET_PLUGIN("io.retarget.profile_filters", "1.1.0", &kClickedAliasAny, &kFeatureFlag, &kHardBounced,
                &kMarkedSpam, &kNeverReceived, &kInvalidPhone, &kLastEngaged, &kLastEnrolledControl,
                &kLastInAppImpression, &kLastReceivedAny, &kLastReceivedEmail, &kLastReceivedPush, &kLastReceivedSms,
                &kLastReceivedWebhook, &kLastReceivedWhatsapp, &kLastSmsInboundKeyword, &kLastViewedNewsFeed,
                &kNewsFeedViewCount)
