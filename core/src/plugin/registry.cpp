#include "plugin/registry.hpp"

#include <cassert>

namespace retarget {

void FilterRegistry::add(RegisteredFilter filter) {
  assert(!frozen_);
  std::string name = filter.info->name;
  filters_.emplace(std::move(name), std::move(filter));
}

const RegisteredFilter* FilterRegistry::find(std::string_view name) const {
  auto it = filters_.find(name);
  return it == filters_.end() ? nullptr : &it->second;
}

std::vector<std::string> FilterRegistry::names() const {
  std::vector<std::string> v;
  for (const auto& [k, f] : filters_) v.push_back(k);
  return v;
}

FilterRegistry::~FilterRegistry() {
  // Forget every pointer into the libraries before unloading them.
  filters_.clear();
  libraries_.clear();
}

}  // namespace retarget
