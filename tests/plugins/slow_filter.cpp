// A profile-level filter that takes 100 ms per chunk and matches everyone:
// the evaluation deadline's tests (a request must not hold a worker forever).
#include <chrono>
#include <thread>

#include <retarget/sdk/helpers.hpp>
#include <retarget/sdk/plugin.hpp>

namespace {
using namespace retarget::sdk;

class Slow final : public Filter {
 public:
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ctx.universe(chunk, out);
  }
  Verdict evaluate_user(const EvalContext&, UserIndex) const override { return {true, "slow: everyone"}; }
};

class SlowFactory final : public FilterFactory {
 public:
  SlowFactory() { info_ = {"slow_everyone", "matches every user, 100 ms per chunk", "1.0.0", false, {}, "{}"}; }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params&, CompileContext&) const override { return std::make_unique<Slow>(); }

 private:
  FilterInfo info_;
};
const SlowFactory kSlow;
}  // namespace

RETARGET_PLUGIN("test.slow_filter", "1.0.0", &kSlow)
