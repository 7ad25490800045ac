// Interaction-dependent filters over one campaign's messaging data:
// received_campaign, clicked_opened_campaign, last_received_campaign.
// Semantics: filters.md, "Interaction-dependent filters".
#include <retarget/sdk/actions.hpp>
#include <retarget/sdk/helpers.hpp>
#include <retarget/sdk/plugin.hpp>

namespace {

using namespace retarget::sdk;

FactKey campaign_fact(const std::string& campaign, FactKind kind, std::string detail = {}) {
  return FactKey{SourceKind::kCampaign, campaign, kind, "", std::move(detail)};
}

ParamSpec campaign_param() {
  return {"campaign", ParamType::kCampaign, true, {}, "", "the campaign's API id"};
}
ParamSpec have_param() {
  return {"have", ParamType::kBool, false, {}, "true", "false: users who did not (the complement over all users)"};
}

// --- received_campaign ---------------------------------------------------------

class ReceivedCampaign final : public Filter {
 public:
  ReceivedCampaign(std::string campaign, bool have) : campaign_(std::move(campaign)), have_(have) {}
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    match_presence_chunk(ctx, column(ctx), have_, chunk, out);
  }
  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    Timestamp t = time_of(column(ctx), user);
    bool received = t != kNoTime;
    return {received == have_, received ? "last received " + campaign_ + " at " + format_time(t)
                                        : "never received " + campaign_ + " (in live data)"};
  }

 private:
  const UserTimes* column(const EvalContext& ctx) const {
    return ctx.interactions().fact(campaign_fact(campaign_, FactKind::kReceived));
  }
  std::string campaign_;
  bool have_;
};

class ReceivedCampaignFactory final : public FilterFactory {
 public:
  ReceivedCampaignFactory() {
    info_ = {"received_campaign", "Users who received any message of the campaign", "1.0.0", true,
             {campaign_param(), have_param()}, "{campaign: spring_sale}"};
  }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params& p, CompileContext&) const override {
    return std::make_unique<ReceivedCampaign>(p.text("campaign"), p.boolean("have"));
  }

 private:
  FilterInfo info_;
};

// --- clicked_opened_campaign ----------------------------------------------------

class ClickedOpenedCampaign final : public Filter {
 public:
  ClickedOpenedCampaign(std::string campaign, std::string action, bool have)
      : campaign_(std::move(campaign)), action_(std::move(action)), event_actions_(event_actions_for(action_)),
        have_(have) {}

  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    for (const auto& a : event_actions_)
      if (const UserTimes* c = ctx.interactions().fact(campaign_fact(campaign_, FactKind::kInteraction, a)))
        c->set_chunk_bits(chunk, out);
    if (!have_) {
      ChunkBits universe;
      ctx.universe(chunk, universe);
      out.complement_within(universe);
    }
  }
  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    Timestamp latest = kNoTime;
    std::string which;
    for (const auto& a : event_actions_) {
      Timestamp t = time_of(ctx.interactions().fact(campaign_fact(campaign_, FactKind::kInteraction, a)), user);
      if (t != kNoTime && t > latest) latest = t, which = a;
    }
    bool did = latest != kNoTime;
    return {did == have_, did ? "last " + which + " on " + campaign_ + " at " + format_time(latest)
                              : "no " + action_ + " on " + campaign_ + " (in live data)"};
  }

 private:
  std::string campaign_, action_;
  std::vector<std::string> event_actions_;
  bool have_;
};

class ClickedOpenedCampaignFactory final : public FilterFactory {
 public:
  ClickedOpenedCampaignFactory() {
    info_ = {"clicked_opened_campaign", "Users who performed an action (open, click...) on a message of the campaign",
             "1.0.0", true,
             {campaign_param(),
              {"action", ParamType::kString, true, filter_actions(), "", "the interaction; opened_email = any open"},
              have_param()},
             "{campaign: spring_sale, action: clicked_email}"};
  }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params& p, CompileContext&) const override {
    return std::make_unique<ClickedOpenedCampaign>(p.text("campaign"), p.text("action"), p.boolean("have"));
  }

 private:
  FilterInfo info_;
};

// --- last_received_campaign -----------------------------------------------------

class LastReceivedCampaign final : public Filter {
 public:
  LastReceivedCampaign(std::string campaign, TimePredicate when) : campaign_(std::move(campaign)), when_(std::move(when)) {}
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    match_time_chunk(ctx, column(ctx), when_, chunk, out);
  }
  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    Timestamp t = time_of(column(ctx), user);
    return {when_.matches(t), "last received " + campaign_ + ": " + format_time(t) + "; wanted " + when_.text};
  }

 private:
  const UserTimes* column(const EvalContext& ctx) const {
    return ctx.interactions().fact(campaign_fact(campaign_, FactKind::kReceived));
  }
  std::string campaign_;
  TimePredicate when_;
};

class LastReceivedCampaignFactory final : public FilterFactory {
 public:
  LastReceivedCampaignFactory() {
    info_ = {"last_received_campaign", "Users by the time they last received a message of the campaign", "1.0.0",
             true,
             {campaign_param(), {"time", ParamType::kTimePredicate, true, {}, "", "when the last receipt was"}},
             "{campaign: spring_sale, more_than_days_ago: 7}"};
  }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params& p, CompileContext&) const override {
    return std::make_unique<LastReceivedCampaign>(p.text("campaign"), *p.time_predicate());
  }

 private:
  FilterInfo info_;
};

const ReceivedCampaignFactory kReceivedCampaign;
const ClickedOpenedCampaignFactory kClickedOpenedCampaign;
const LastReceivedCampaignFactory kLastReceivedCampaign;

}  // namespace

RETARGET_PLUGIN("io.retarget.campaign_filters", "1.0.0", &kReceivedCampaign, &kClickedOpenedCampaign,
                &kLastReceivedCampaign)
