// A FilterFactory made of metadata and a function: most filters need no more.
//
//   const SimpleFactory kReceived(
//       FilterInfo{"received_campaign", "...", "1.0.0", true, {...}, "{campaign: c1}"},
//       [](const Params& p, CompileContext& ctx) -> std::unique_ptr<Filter> { ... });
#pragma once

#include <memory>
#include <utility>

#include "retarget/sdk/filter.hpp"

namespace retarget::sdk {

class SimpleFactory final : public FilterFactory {
 public:
  using CreateFn = std::unique_ptr<Filter> (*)(const Params&, CompileContext&);
  SimpleFactory(FilterInfo info, CreateFn create) : info_(std::move(info)), create_(create) {}
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params& params, CompileContext& ctx) const override {
    return create_(params, ctx);
  }

 private:
  FilterInfo info_;
  CreateFn create_;
};

// Common parameter specs.
inline ParamSpec have_param(const char* name = "have") {
  return {name, ParamType::kBool, false, {}, "true", "false: every other user (the complement over all users)"};
}
inline ParamSpec time_param() {
  return {"time", ParamType::kTimePredicate, true, {}, "", "one of more_than_days_ago, less_than_days_ago, after, before, blank"};
}

}  // namespace retarget::sdk
