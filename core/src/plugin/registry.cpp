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

std::string FilterRegistry::unavailable_because(std::string_view name) const {
  std::vector<const RefusedPlugin*> unknown_contents;
  for (const auto& r : refused_) {
    for (const auto& f : r.filters)
      if (f == name)
        return "filter '" + std::string(name) + "' is provided by plugin library " + r.path +
               ", which was refused: " + r.reason;
    bool is_library = r.path.size() > 3 && r.path.compare(r.path.size() - 3, 3, ".so") == 0;
    if (r.filters.empty() && is_library) unknown_contents.push_back(&r);
  }
  if (unknown_contents.empty()) return "";
  std::string s = "note: " + std::to_string(unknown_contents.size()) +
                  " plugin librar" + (unknown_contents.size() == 1 ? "y was" : "ies were") +
                  " refused and may provide it:";
  for (const auto* r : unknown_contents) s += " " + r->path + " (" + r->reason + ");";
  s.back() = ' ';
  return s + "see `retarget plugins`";
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
