// The filter registry: every filter type the loaded plugins provide.
//
// Filled once at engine start by the PluginHost, then frozen: lookups after
// freeze() are lock-free reads. The libraries that own the factories stay
// loaded for the life of the registry.
//
// Thread safety: add() before freeze() from one thread; everything else is
// read-only and safe from any thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "retarget/sdk/filter.hpp"
#include "rules/filter_lookup.hpp"

namespace retarget {

struct PluginRecord {
  std::string name, version, path;
  std::vector<std::string> filters;
};

struct RefusedPlugin {
  std::string path;
  std::string reason;
  // Filters the library declares, when it was refused after its plugin table
  // could be read safely (matching ABI); empty otherwise.
  std::vector<std::string> filters = {};
};

class FilterRegistry final : public FilterLookup {
 public:
  // REQUIRES: !frozen(), no filter of that name yet.
  void add(RegisteredFilter filter);
  void add_plugin(PluginRecord record) { plugins_.push_back(std::move(record)); }
  void add_refused(RefusedPlugin refused) { refused_.push_back(std::move(refused)); }
  // Keeps a library alive for the registry's life.
  void keep_alive(std::shared_ptr<void> library) { libraries_.push_back(std::move(library)); }
  void freeze() { frozen_ = true; }
  bool frozen() const { return frozen_; }

  const RegisteredFilter* find(std::string_view name) const override;
  // Why `name` is not available, when a refused library may have provided it:
  // "filter 'x' is provided by plugin library L, which was refused: REASON",
  // or a note naming the refused libraries whose filters are unknown; "" when
  // no refusal can explain it.
  std::string unavailable_because(std::string_view name) const override;
  std::vector<std::string> names() const override;
  const std::map<std::string, RegisteredFilter, std::less<>>& filters() const { return filters_; }
  const std::vector<PluginRecord>& plugins() const { return plugins_; }
  const std::vector<RefusedPlugin>& refused() const { return refused_; }

  ~FilterRegistry();

 private:
  bool frozen_ = false;
  std::map<std::string, RegisteredFilter, std::less<>> filters_;
  std::vector<PluginRecord> plugins_;
  std::vector<RefusedPlugin> refused_;
  // Unloaded in the destructor, after every pointer into them is dropped.
  std::vector<std::shared_ptr<void>> libraries_;
};

}  // namespace retarget
