// What the rules compiler knows of the filter types: the interface it reads
// them through. The plugin host's registry implements it (plugin/registry.hpp);
// the rules never see how filters are loaded.
//
// Thread safety: implementations are read-only once handed to a compiler, and
// safe to read from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "retarget/sdk/filter.hpp"

namespace retarget {

struct RegisteredFilter {
  const sdk::FilterFactory* factory = nullptr;
  const sdk::FilterInfo* info = nullptr;
  std::string plugin_name;
  std::string plugin_version;
  std::string library_path;
};

class FilterLookup {
 public:
  virtual ~FilterLookup() = default;
  // nullptr when no filter of that name is available.
  virtual const RegisteredFilter* find(std::string_view name) const = 0;
  // Every available filter's name, sorted.
  virtual std::vector<std::string> names() const = 0;
  // Why `name` is unavailable when a refused library may have provided it;
  // "" when no refusal explains it.
  virtual std::string unavailable_because(std::string_view name) const = 0;
};

}  // namespace retarget
