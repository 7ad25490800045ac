// An example third-party filter: users who have at least `min` of the listed
// custom attributes set. Profile-level: it reads only ProfileView, through the
// compact column blocks of retarget/sdk/column.hpp (SDK ABI 3).
#include <retarget/sdk/plugin.hpp>
#include <retarget/sdk/simple_factory.hpp>

namespace {

using namespace retarget::sdk;

class AttributeCount final : public Filter {
 public:
  AttributeCount(std::vector<std::string> names, std::int64_t min) : names_(std::move(names)), min_(min) {}

  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    std::vector<std::uint8_t> counts(kChunkUsers, 0);
    for (const auto& name : names_)
      if (const UserAttributes* column = ctx.profiles().attribute(name))
        if (const AttributeChunk* c = column->chunk(chunk))
          c->for_each([&](std::uint32_t offset, const AttributeRef&) { ++counts[offset]; });
    for (std::uint32_t i = 0; i < kChunkUsers; ++i)
      if (counts[i] >= min_) out.set(i);
  }

  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    std::int64_t n = 0;
    for (const auto& name : names_)
      if (const UserAttributes* column = ctx.profiles().attribute(name); column && column->find(user)) ++n;
    return {n >= min_, std::to_string(n) + " of the listed attributes set; wanted at least " + std::to_string(min_)};
  }

 private:
  std::vector<std::string> names_;
  std::int64_t min_;
};

const SimpleFactory kAttributeCount(
    {"example_attribute_count", "Users with at least `min` of the listed custom attributes set", "1.0.0",
     /*interaction_dependent=*/false,
     {{"names", ParamType::kStringList, true, {}, "", "attribute names"},
      {"min", ParamType::kInteger, false, {}, "1", "how many must be set"}},
     "{names: [country, plan], min: 1}"},
    [](const Params& p, CompileContext& ctx) -> std::unique_ptr<Filter> {
      if (p.integer("min") < 1 || p.integer("min") > 255) {
        ctx.error("min", "min must be 1 to 255");
        return nullptr;
      }
      return std::make_unique<AttributeCount>(p.get("names").list, p.integer("min"));
    });

}  // namespace

RETARGET_PLUGIN("com.example.attribute_count", "1.0.0", &kAttributeCount)
