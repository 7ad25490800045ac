// A well-behaved third-party plugin: users whose id has an even length.
// Profile-level; it touches neither interaction data nor profiles.
#include <retarget/sdk/helpers.hpp>
#include <retarget/sdk/plugin.hpp>

namespace {
using namespace retarget::sdk;

class EveryOtherUser final : public Filter {
 public:
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    ChunkBits universe;
    ctx.universe(chunk, universe);
    for (std::uint32_t w = 0; w < kChunkWords; ++w) out.words[w] = universe.words[w] & 0x5555555555555555ULL;
  }
  Verdict evaluate_user(const EvalContext&, UserIndex user) const override {
    return {user % 2 == 0, "dense index " + std::to_string(user)};
  }
};
class EveryOtherUserFactory final : public FilterFactory {
 public:
  EveryOtherUserFactory() {
    info_ = {"every_other_user", "Users with an even dense index (a test plugin)", "0.1.0", false, {}, "{}"};
  }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params&, CompileContext&) const override {
    return std::make_unique<EveryOtherUser>();
  }

 private:
  FilterInfo info_;
};
const EveryOtherUserFactory kEveryOther;
}  // namespace

RETARGET_PLUGIN("test.good_extra", "0.1.0", &kEveryOther)
