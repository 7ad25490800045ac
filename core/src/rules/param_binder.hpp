// Validates a filter leaf's parameters against the filter's declared
// ParamSpecs and turns them into sdk::Params: types, allowed values, required
// and unknown keys, catalog references, the time predicate (compiled with the
// company time zone; relative forms bound to the clock at evaluation).
#pragma once

#include <map>
#include <set>
#include <string>

#include "catalog/catalog.hpp"
#include "common/time.hpp"
#include "common/yaml_tree.hpp"
#include "retarget/config.hpp"
#include "retarget/diagnostics.hpp"
#include "retarget/sdk/filter.hpp"

namespace retarget {

// What a leaf references: the edges it contributes to the dependency graph.
struct References {
  std::set<std::string> campaigns, canvases, tags, segments;
  void merge(const References& o);
};

struct BindContext {
  // nullptr: do not check references (the plugin host's load-time probe).
  const Catalog* catalog = nullptr;
  const std::set<std::string>* segment_ids = nullptr;
  // Sources whose data the legacy policy deleted ("campaign:<id>"): referencing one is an error.
  const std::set<std::string>* deleted_sources = nullptr;
  const TimeZone* zone = nullptr;
  const Limits* limits = nullptr;
  std::string file;
  Diagnostics* diags = nullptr;
};

struct BoundParams {
  sdk::Params params;
  std::map<std::string, SourceLocation> where;  // per parameter name
  References references;
};

// `node` is the leaf's parameter map (or null for no parameters); `leaf` the
// leaf's key node (for locations). Returns false after reporting errors.
bool bind_params(const sdk::FilterInfo& info, const YamlNode& leaf, const YamlNode& node, BindContext& ctx,
                 BoundParams& out);

// Compiles one time-predicate key and its value (as written) in the company
// time zone. nullopt with `error` set when invalid.
std::optional<sdk::TimePredicate> compile_time_predicate(std::string_view key, std::string_view value,
                                                         const TimeZone& zone, std::string& error);

// The time-predicate keys, in the order documented in filters.md.
const std::vector<std::string>& time_predicate_keys();

}  // namespace retarget
