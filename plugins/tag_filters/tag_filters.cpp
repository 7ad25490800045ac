// Interaction-dependent filters over every campaign and Canvas carrying a tag.
// The tag's sources are resolved when the segment is compiled, which is at
// every evaluation, so a source tagged after the segment was written is
// covered at once. Semantics: filters.md, "Interaction-dependent filters".
#include <retarget/sdk/actions.hpp>
#include <retarget/sdk/fact_filters.hpp>
#include <retarget/sdk/plugin.hpp>
#include <retarget/sdk/simple_factory.hpp>

namespace {

using namespace retarget::sdk;

ParamSpec tag_param() { return {"tag", ParamType::kTag, true, {}, "", "a tag of campaigns and Canvases"}; }

// One fact per tagged source (whole source, every step).
std::vector<FactKey> tagged(CompileContext& ctx, const std::string& tag, FactKind kind) {
  std::vector<FactKey> keys;
  for (const auto& s : ctx.sources_with_tag(tag)) keys.push_back(FactKey{s.kind, s.id, kind, "", ""});
  return keys;
}

const SimpleFactory kReceivedTagged(
    {"received_tagged", "Users who received a message of any campaign or Canvas carrying the tag", "1.0.0", true,
     {tag_param(), have_param()}, "{tag: promo}"},
    [](const Params& p, CompileContext& ctx) -> std::unique_ptr<Filter> {
      return std::make_unique<AnyFactFilter>(tagged(ctx, p.text("tag"), FactKind::kReceived), p.boolean("have"),
                                             "received a message tagged " + p.text("tag"));
    });

const SimpleFactory kClickedOpenedTagged(
    {"clicked_opened_tagged", "Users who performed an action on any campaign or Canvas carrying the tag", "1.0.0",
     true,
     {tag_param(), {"action", ParamType::kString, true, filter_actions(), "", "the interaction; opened_email = any open"},
      have_param()},
     "{tag: promo, action: clicked_email}"},
    [](const Params& p, CompileContext& ctx) -> std::unique_ptr<Filter> {
      std::vector<FactKey> keys;
      for (const auto& s : ctx.sources_with_tag(p.text("tag")))
        for (auto& k : action_facts(s.kind, s.id, "", p.text("action"))) keys.push_back(std::move(k));
      return std::make_unique<AnyFactFilter>(std::move(keys), p.boolean("have"),
                                             p.text("action") + " on a message tagged " + p.text("tag"));
    });

const SimpleFactory kLastReceivedTagged(
    {"last_received_tagged", "Users by their latest receipt over every campaign and Canvas carrying the tag", "1.0.0",
     true, {tag_param(), time_param()}, "{tag: promo, more_than_days_ago: 30}"},
    [](const Params& p, CompileContext& ctx) -> std::unique_ptr<Filter> {
      return std::make_unique<LatestFactTimeFilter>(tagged(ctx, p.text("tag"), FactKind::kReceived),
                                                    *p.time_predicate(), "last received a message tagged " + p.text("tag"));
    });

}  // namespace

RETARGET_PLUGIN("io.retarget.tag_filters", "1.0.0", &kClickedOpenedTagged, &kLastReceivedTagged, &kReceivedTagged)
