// The JSON Schema of rule files, generated from the loaded filters' metadata
// (and, when a catalog is loaded, the ids it knows), so editors validate and
// complete rules as authors type (e.g. the YAML language server:
// `# yaml-language-server: $schema=rules.schema.json`).
#pragma once

#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "rules/filter_lookup.hpp"
#include "retarget/config.hpp"

namespace retarget {

nlohmann::json rules_json_schema(const FilterLookup& registry, const Catalog& catalog,
                                 const std::vector<std::string>& segment_ids, const Limits& limits);

}  // namespace retarget
