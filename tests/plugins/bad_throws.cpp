// A filter that throws while evaluating: refused at load by the probe.
#include <stdexcept>

#include <retarget/sdk/plugin.hpp>

namespace {
using namespace retarget::sdk;

class Thrower final : public Filter {
 public:
  void evaluate_chunk(const EvalContext&, std::uint32_t, ChunkBits&) const override { throw std::runtime_error("boom"); }
  Verdict evaluate_user(const EvalContext&, UserIndex) const override { throw std::runtime_error("boom"); }
};
class ThrowerFactory final : public FilterFactory {
 public:
  ThrowerFactory() { info_ = {"throwing_filter", "throws", "1.0.0", false, {}, "{}"}; }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params&, CompileContext&) const override { return std::make_unique<Thrower>(); }

 private:
  FilterInfo info_;
};
const ThrowerFactory kThrower;
}  // namespace

RETARGET_PLUGIN("test.bad_throws", "1.0.0", &kThrower)
