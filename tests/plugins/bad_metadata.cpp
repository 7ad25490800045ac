// A filter whose metadata is malformed (not snake_case, no description).
#include <retarget/sdk/plugin.hpp>

namespace {
using namespace retarget::sdk;

class Nothing final : public Filter {
 public:
  void evaluate_chunk(const EvalContext&, std::uint32_t, ChunkBits&) const override {}
  Verdict evaluate_user(const EvalContext&, UserIndex) const override { return {}; }
};
class BadInfoFactory final : public FilterFactory {
 public:
  BadInfoFactory() { info_ = {"Bad Name", "", "1.0.0", false, {}, "{}"}; }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params&, CompileContext&) const override { return std::make_unique<Nothing>(); }

 private:
  FilterInfo info_;
};
const BadInfoFactory kBadInfo;
}  // namespace

RETARGET_PLUGIN("test.bad_metadata", "1.0.0", &kBadInfo)
