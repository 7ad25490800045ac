// Interaction-dependent filters over one campaign's messaging data.
// Semantics: filters.md, "Interaction-dependent filters".
#include <retarget/sdk/actions.hpp>
#include <retarget/sdk/fact_filters.hpp>
#include <retarget/sdk/plugin.hpp>
#include <retarget/sdk/simple_factory.hpp>

namespace {

using namespace retarget::sdk;

FactKey fact(const std::string& campaign, FactKind kind, std::string detail = {}) {
  return FactKey{SourceKind::kCampaign, campaign, kind, "", std::move(detail)};
}

ParamSpec campaign_param() { return {"campaign", ParamType::kCampaign, true, {}, "", "the campaign's API id"}; }
ParamSpec action_param() {
  return {"action", ParamType::kString, true, filter_actions(), "", "the interaction; opened_email = any open"};
}

// Multivariate-only filters: other campaigns are a validation error.
bool require_multivariate(const Params& p, CompileContext& ctx) {
  const CampaignInfo* c = ctx.campaign(p.text("campaign"));
  if (c && !c->multivariate) {
    ctx.error("campaign", "campaign '" + c->id + "' is not multivariate; this filter needs a multivariate campaign");
    return false;
  }
  return c != nullptr;
}

// converted_campaign: a primary conversion, not in the control group; for a
// recurring campaign only a conversion at or after the last receipt counts
// (a user who never received it keeps the conversion).
class ConvertedCampaign final : public Filter {
 public:
  ConvertedCampaign(std::string campaign, bool recurring, bool have)
      : campaign_(std::move(campaign)), recurring_(recurring), have_(have) {}

  bool converted(Timestamp conversion, Timestamp receipt, bool control) const {
    if (conversion == kNoTime || control) return false;
    return !recurring_ || receipt == kNoTime || conversion >= receipt;
  }

  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    const auto& iv = ctx.interactions();
    const UserTimes* conversions = iv.fact(fact(campaign_, FactKind::kConverted, "0"));
    const UserTimes* receipts = iv.fact(fact(campaign_, FactKind::kReceived));
    const UserTimes* control = iv.fact(fact(campaign_, FactKind::kControl));
    if (const ValueChunk* conv = conversions ? conversions->chunk(chunk) : nullptr) {
      const ValueChunk* rec = recurring_ && receipts ? receipts->chunk(chunk) : nullptr;
      if (!rec) {
        conv->set_bits(out);
      } else {
        // Recurring: a conversion counts at or after the user's last receipt
        // (receipt times gathered in a dense per-thread array, reset after use).
        thread_local std::vector<Timestamp> receipt(kChunkUsers, kNoTime);
        rec->for_each([&](std::uint32_t o, std::int64_t t) { receipt[o] = t; });
        conv->for_each([&](std::uint32_t o, std::int64_t t) {
          if (receipt[o] == kNoTime || t >= receipt[o]) out.set(o);
        });
        rec->for_each_offset([&](std::uint32_t o) { receipt[o] = kNoTime; });
      }
      // Control-group users never count as converted.
      if (const ValueChunk* ctl = control ? control->chunk(chunk) : nullptr) {
        ChunkBits in_control;
        in_control.clear();
        ctl->set_bits(in_control);
        out.and_not(in_control);
      }
    }
    if (!have_) {
      ChunkBits universe;
      ctx.universe(chunk, universe);
      out.complement_within(universe);
    }
  }

  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    const auto& iv = ctx.interactions();
    Timestamp conversion = time_of(iv.fact(fact(campaign_, FactKind::kConverted, "0")), user);
    Timestamp receipt = time_of(iv.fact(fact(campaign_, FactKind::kReceived)), user);
    bool control = time_of(iv.fact(fact(campaign_, FactKind::kControl)), user) != kNoTime;
    bool yes = converted(conversion, recurring_ ? receipt : kNoTime, control);
    std::string why = conversion == kNoTime ? "no primary conversion for " + campaign_
                      : control ? "converted but in the control group of " + campaign_
                      : !yes ? "last primary conversion " + format_time(conversion) + " is before the last receipt " +
                                   format_time(receipt) + " (recurring campaign)"
                             : "primary conversion for " + campaign_ + " at " + format_time(conversion);
    return {yes == have_, why};
  }

 private:
  std::string campaign_;
  bool recurring_;
  bool have_;
};

const SimpleFactory kReceivedCampaign(
    {"received_campaign", "Users who received any message of the campaign", "1.0.0", true,
     {campaign_param(), have_param()}, "{campaign: spring_sale}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto& c = p.text("campaign");
      return std::make_unique<AnyFactFilter>(std::vector{fact(c, FactKind::kReceived)}, p.boolean("have"),
                                             "received " + c);
    });

const SimpleFactory kClickedOpenedCampaign(
    {"clicked_opened_campaign", "Users who performed an action (open, click...) on a message of the campaign",
     "1.0.0", true, {campaign_param(), action_param(), have_param()},
     "{campaign: spring_sale, action: clicked_email}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto& c = p.text("campaign");
      return std::make_unique<AnyFactFilter>(action_facts(SourceKind::kCampaign, c, "", p.text("action")),
                                             p.boolean("have"), p.text("action") + " on " + c);
    });

const SimpleFactory kClickedAliasInCampaign(
    {"clicked_alias_in_campaign", "Users who clicked a link alias in an email of the campaign", "1.0.0", true,
     {campaign_param(), {"alias", ParamType::kAlias, true, {}, "", "the tracked link alias"}, have_param()},
     "{campaign: spring_sale, alias: cta}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto& c = p.text("campaign");
      return std::make_unique<AnyFactFilter>(std::vector{fact(c, FactKind::kClickedAlias, p.text("alias"))},
                                             p.boolean("have"), "clicked alias " + p.text("alias") + " in " + c);
    });

const SimpleFactory kConvertedCampaign(
    {"converted_campaign",
     "Users with a primary conversion for the campaign, not in its control group (recurring: since the last receipt)",
     "1.0.0", true, {campaign_param(), have_param()}, "{campaign: spring_sale}"},
    [](const Params& p, CompileContext& ctx) -> std::unique_ptr<Filter> {
      const CampaignInfo* c = ctx.campaign(p.text("campaign"));
      return std::make_unique<ConvertedCampaign>(p.text("campaign"), c && c->recurring, p.boolean("have"));
    });

const SimpleFactory kInCampaignControlGroup(
    {"in_campaign_control_group", "Users enrolled in the control group of a multivariate campaign", "1.0.0", true,
     {campaign_param(), have_param("are")}, "{campaign: spring_sale}"},
    [](const Params& p, CompileContext& ctx) -> std::unique_ptr<Filter> {
      if (!require_multivariate(p, ctx)) return nullptr;
      const auto& c = p.text("campaign");
      return std::make_unique<AnyFactFilter>(std::vector{fact(c, FactKind::kControl)}, p.boolean("are"),
                                             "enrolled in the control group of " + c);
    });

const SimpleFactory kLastReceivedCampaign(
    {"last_received_campaign", "Users by the time they last received a message of the campaign", "1.0.0", true,
     {campaign_param(), time_param()}, "{campaign: spring_sale, more_than_days_ago: 7}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto& c = p.text("campaign");
      return std::make_unique<LatestFactTimeFilter>(std::vector{fact(c, FactKind::kReceived)}, *p.time_predicate(),
                                                    "last received " + c);
    });

const SimpleFactory kReceivedCampaignVariant(
    {"received_campaign_variant", "Users who received a multivariate campaign in a given variant", "1.0.0", true,
     {campaign_param(), {"variant", ParamType::kVariant, true, {}, "", "the variant's id"}, have_param()},
     "{campaign: spring_sale, variant: a}"},
    [](const Params& p, CompileContext& ctx) -> std::unique_ptr<Filter> {
      if (!require_multivariate(p, ctx)) return nullptr;
      const auto& c = p.text("campaign");
      return std::make_unique<AnyFactFilter>(std::vector{fact(c, FactKind::kReceivedVariant, p.text("variant"))},
                                             p.boolean("have"), "received " + c + " in variant " + p.text("variant"));
    });

}  // namespace

RETARGET_PLUGIN("io.retarget.campaign_filters", "1.1.0", &kClickedAliasInCampaign, &kClickedOpenedCampaign,
                &kConvertedCampaign, &kInCampaignControlGroup, &kLastReceivedCampaign, &kReceivedCampaignVariant,
                &kReceivedCampaign)
