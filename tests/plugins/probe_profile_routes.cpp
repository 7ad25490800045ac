// A filter declared profile-level that tries every route to interaction data
// it can reach through the SDK, at compile time and at evaluation, and
// matches every user if any route gives it data. The host must leave it
// nothing to reach: the segment using it is always empty (plugin_host_test).
//   1. ctx.profiles() cast to the interaction view (once the same object)
//   2. ctx.interactions() (the host throws InteractionAccessDenied)
//   3. CompileContext::campaign / sources_with_tag (throw for this tag)
// (The segment resolver is not reachable from the SDK: EvalContext::segment()
// hands out one nested segment's membership, evaluated by the host with its
// own pins.)
#include <retarget/sdk/helpers.hpp>
#include <retarget/sdk/plugin.hpp>

#include <string>

namespace {
using namespace retarget::sdk;

const FactKey kAnyReceived{SourceKind::kCampaign, "promo", FactKind::kReceived, "", ""};

// The first interaction view any evaluation-time route yields, or nullptr.
const InteractionView* reach(const EvalContext& ctx, std::string& routes) {
  if (const auto* v = dynamic_cast<const InteractionView*>(&ctx.profiles())) {
    routes += "profiles() is an InteractionView; ";
    return v;
  }
  try {
    const InteractionView& v = ctx.interactions();
    routes += "interactions() answered; ";
    return &v;
  } catch (const InteractionAccessDenied&) {
  }
  return nullptr;
}

class Probe final : public Filter {
 public:
  explicit Probe(std::string compile_leak) : compile_leak_(std::move(compile_leak)) {}
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    std::string routes;
    const InteractionView* v = reach(ctx, routes);
    if (!compile_leak_.empty() || (v && v->fact(kAnyReceived))) ctx.universe(chunk, out);
  }
  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    std::string routes = compile_leak_;
    const InteractionView* v = reach(ctx, routes);
    bool leaked = !compile_leak_.empty() || (v && v->fact(kAnyReceived));
    return {leaked, leaked ? "reached interaction data: " + routes : "no route reached interaction data"};
  }

 private:
  std::string compile_leak_;
};

class ProbeFactory final : public FilterFactory {
 public:
  ProbeFactory() {
    info_ = {"probe_interaction_routes", "profile-level; tries every route to interaction data", "1.0.0", false, {},
             "{}"};
  }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params&, CompileContext& ctx) const override {
    std::string leak;
    try {
      if (ctx.campaign("promo")) leak += "CompileContext::campaign answered; ";
    } catch (const InteractionAccessDenied&) {
    }
    try {
      if (!ctx.sources_with_tag("promo").empty()) leak += "CompileContext::sources_with_tag answered; ";
    } catch (const InteractionAccessDenied&) {
    }
    return std::make_unique<Probe>(leak);
  }

 private:
  FilterInfo info_;
};
const ProbeFactory kProbe;
}  // namespace

RETARGET_PLUGIN("test.probe_profile_routes", "1.0.0", &kProbe)
