// Interaction-dependent filters over one Canvas (and its steps).
// Semantics: filters.md, "Interaction-dependent filters".
#include <retarget/sdk/actions.hpp>
#include <retarget/sdk/fact_filters.hpp>
#include <retarget/sdk/plugin.hpp>
#include <retarget/sdk/simple_factory.hpp>

namespace {

using namespace retarget::sdk;

FactKey fact(const std::string& canvas, FactKind kind, std::string step = {}, std::string detail = {}) {
  return FactKey{SourceKind::kCanvas, canvas, kind, std::move(step), std::move(detail)};
}

ParamSpec canvas_param() { return {"canvas", ParamType::kCanvas, true, {}, "", "the Canvas's API id"}; }
ParamSpec step_param() { return {"step", ParamType::kCanvasStep, true, {}, "", "a step id of that Canvas"}; }

// in_canvas_control_group looks only at users who entered the Canvas:
// are: true = entered a control variation; are: false = entered, never a control variation.
class InCanvasControlGroup final : public Filter {
 public:
  InCanvasControlGroup(std::string canvas, std::vector<std::string> controls, bool are)
      : canvas_(std::move(canvas)), controls_(std::move(controls)), are_(are) {}

  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    const auto& iv = ctx.interactions();
    ChunkBits control;
    control.clear();
    for (const auto& v : controls_)
      if (const UserTimes* c = iv.fact(fact(canvas_, FactKind::kCanvasEntered, "", v))) c->set_chunk_bits(chunk, control);
    if (are_) {
      out.or_with(control);
      return;
    }
    if (const UserTimes* entered = iv.fact(fact(canvas_, FactKind::kCanvasEntered))) entered->set_chunk_bits(chunk, out);
    out.and_not(control);
  }

  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    const auto& iv = ctx.interactions();
    Timestamp entered = time_of(iv.fact(fact(canvas_, FactKind::kCanvasEntered)), user);
    std::string control_variation;
    for (const auto& v : controls_)
      if (time_of(iv.fact(fact(canvas_, FactKind::kCanvasEntered, "", v)), user) != kNoTime) control_variation = v;
    if (entered == kNoTime) return {false, "never entered " + canvas_ + " (in live data)"};
    if (!control_variation.empty()) return {are_, "entered control variation " + control_variation + " of " + canvas_};
    return {!are_, "entered " + canvas_ + ", never a control variation"};
  }

 private:
  std::string canvas_;
  std::vector<std::string> controls_;
  bool are_;
};

const SimpleFactory kClickedAliasInCanvasStep(
    {"clicked_alias_in_canvas_step", "Users who clicked a link alias in an email of a Canvas step", "1.0.0", true,
     {canvas_param(), step_param(), {"alias", ParamType::kAlias, true, {}, "", "the tracked link alias"}, have_param()},
     "{canvas: onboarding, step: welcome, alias: cta}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto &k = p.text("canvas"), &s = p.text("step");
      return std::make_unique<AnyFactFilter>(std::vector{fact(k, FactKind::kClickedAlias, s, p.text("alias"))},
                                             p.boolean("have"), "clicked alias " + p.text("alias") + " in " + k + "/" + s);
    });

const SimpleFactory kClickedOpenedStep(
    {"clicked_opened_step", "Users who performed an action on a message of a Canvas step", "1.0.0", true,
     {canvas_param(), step_param(),
      {"action", ParamType::kString, true, filter_actions(), "", "the interaction; opened_email = any open"},
      have_param()},
     "{canvas: onboarding, step: welcome, action: opened_email}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto &k = p.text("canvas"), &s = p.text("step");
      return std::make_unique<AnyFactFilter>(action_facts(SourceKind::kCanvas, k, s, p.text("action")),
                                             p.boolean("have"), p.text("action") + " on " + k + "/" + s);
    });

const SimpleFactory kConvertedCanvas(
    {"converted_canvas", "Users who ever had a primary conversion for the Canvas", "1.0.0", true,
     {canvas_param(), have_param()}, "{canvas: onboarding}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto& k = p.text("canvas");
      return std::make_unique<AnyFactFilter>(std::vector{fact(k, FactKind::kConverted, "", "0")}, p.boolean("have"),
                                             "had a primary conversion for " + k);
    });

const SimpleFactory kEnteredCanvasVariation(
    {"entered_canvas_variation", "Users who entered a variation of the Canvas", "1.0.0", true,
     {canvas_param(), {"variation", ParamType::kVariation, true, {}, "", "a variation id of that Canvas"}, have_param()},
     "{canvas: onboarding, variation: v1}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto& k = p.text("canvas");
      return std::make_unique<AnyFactFilter>(std::vector{fact(k, FactKind::kCanvasEntered, "", p.text("variation"))},
                                             p.boolean("have"), "entered " + k + " in variation " + p.text("variation"));
    });

const SimpleFactory kInCanvasControlGroup(
    {"in_canvas_control_group",
     "Among users who entered the Canvas: those in a control variation (are: false: those not)", "1.0.0", true,
     {canvas_param(), have_param("are")}, "{canvas: onboarding}"},
    [](const Params& p, CompileContext& ctx) -> std::unique_ptr<Filter> {
      const CanvasInfo* k = ctx.canvas(p.text("canvas"));
      if (!k) return nullptr;
      return std::make_unique<InCanvasControlGroup>(k->id, k->control_variations, p.boolean("are"));
    });

const SimpleFactory kLastReceivedCanvasStep(
    {"last_received_canvas_step", "Users by the time they last received a message of a Canvas step", "1.0.0", true,
     {canvas_param(), step_param(), time_param()}, "{canvas: onboarding, step: welcome, less_than_days_ago: 3}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto &k = p.text("canvas"), &s = p.text("step");
      return std::make_unique<LatestFactTimeFilter>(std::vector{fact(k, FactKind::kReceived, s)}, *p.time_predicate(),
                                                    "last received " + k + "/" + s);
    });

const SimpleFactory kReceivedCanvasStep(
    {"received_canvas_step", "Users who received a message of a Canvas step", "1.0.0", true,
     {canvas_param(), step_param(), have_param()}, "{canvas: onboarding, step: welcome}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      const auto &k = p.text("canvas"), &s = p.text("step");
      return std::make_unique<AnyFactFilter>(std::vector{fact(k, FactKind::kReceived, s)}, p.boolean("have"),
                                             "received " + k + "/" + s);
    });

}  // namespace

RETARGET_PLUGIN("io.retarget.canvas_filters", "1.0.0", &kClickedAliasInCanvasStep, &kClickedOpenedStep,
                &kConvertedCanvas, &kEnteredCanvasVariation, &kInCanvasControlGroup, &kLastReceivedCanvasStep,
                &kReceivedCanvasStep)
