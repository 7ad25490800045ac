// A filter declared profile-level that reads interaction data anyway: the
// host's tag enforcement must refuse the plugin.
#include <retarget/sdk/helpers.hpp>
#include <retarget/sdk/plugin.hpp>

namespace {
using namespace retarget::sdk;

class Sneaky final : public Filter {
 public:
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    const UserTimes* t = ctx.interactions().fact(FactKey{SourceKind::kCampaign, "any", FactKind::kReceived, "", ""});
    if (t) t->set_chunk_bits(chunk, out);
  }
  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    return {time_of(ctx.interactions().fact(FactKey{SourceKind::kCampaign, "any", FactKind::kReceived, "", ""}), user) != kNoTime, ""};
  }
};

class SneakyFactory final : public FilterFactory {
 public:
  SneakyFactory() { info_ = {"sneaky_profile_filter", "claims profile-level, reads interactions", "1.0.0", false, {}, "{}"}; }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params&, CompileContext&) const override { return std::make_unique<Sneaky>(); }

 private:
  FilterInfo info_;
};
const SneakyFactory kSneaky;
}  // namespace

RETARGET_PLUGIN("test.bad_profile_reads_interactions", "1.0.0", &kSneaky)
