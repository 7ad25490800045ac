#include "rules/schema.hpp"

#include "rules/param_binder.hpp"

namespace retarget {

using nlohmann::json;
using sdk::ParamType;

namespace {

json string_enum(const std::vector<std::string>& values, const std::string& description) {
  json j{{"type", "string"}, {"description", description}};
  if (!values.empty()) j["examples"] = values;  // suggestions, not a restriction: the catalog may grow
  return j;
}

json param_schema(const sdk::ParamSpec& p, const Catalog& catalog, const std::vector<std::string>& segments,
                  const Limits& limits) {
  json j;
  switch (p.type) {
    case ParamType::kString:
      j = {{"type", "string"}};
      if (!p.allowed.empty()) j["enum"] = p.allowed;
      break;
    case ParamType::kInteger: j = {{"type", "integer"}}; break;
    case ParamType::kNumber: j = {{"type", "number"}}; break;
    case ParamType::kBool: j = {{"type", "boolean"}}; break;
    case ParamType::kStringList:
      j = {{"type", "array"}, {"items", {{"type", "string"}}}, {"maxItems", limits.max_in_values}};
      break;
    case ParamType::kValue:
      j = {{"anyOf", json::array({{{"type", "string"}}, {{"type", "number"}}, {{"type", "boolean"}},
                                  {{"type", "array"}, {"items", {{"type", {"string", "number", "boolean"}}}},
                                   {"maxItems", limits.max_in_values}}})}};
      break;
    case ParamType::kCampaign: j = string_enum(catalog.campaign_ids(), ""); break;
    case ParamType::kCanvas: j = string_enum(catalog.canvas_ids(), ""); break;
    case ParamType::kTag: j = string_enum(catalog.tags(), ""); break;
    case ParamType::kSegment: j = string_enum(segments, ""); break;
    default: j = {{"type", "string"}}; break;
  }
  if (p.type != ParamType::kString && !p.allowed.empty()) j["enum"] = p.allowed;
  j["description"] = p.description + " (" + sdk::to_string(p.type) + ")";
  if (!p.default_value.empty()) j["default"] = json::parse(p.default_value, nullptr, false).is_discarded()
                                                   ? json(p.default_value)
                                                   : json::parse(p.default_value, nullptr, false);
  return j;
}

}  // namespace

json rules_json_schema(const FilterLookup& registry, const Catalog& catalog,
                       const std::vector<std::string>& segment_ids, const Limits& limits) {
  json defs;
  json node_choices = json::array({{{"$ref", "#/definitions/all"}}, {{"$ref", "#/definitions/any"}},
                                   {{"$ref", "#/definitions/not"}}});
  json node_names = json::array({"all", "any", "not"});
  defs["all"] = {{"type", "object"}, {"additionalProperties", false}, {"required", {"all"}},
                 {"properties", {{"all", {{"type", "array"}, {"minItems", 1}, {"items", {{"$ref", "#/definitions/node"}}},
                                          {"description", "users in every child"}}}}}};
  defs["any"] = {{"type", "object"}, {"additionalProperties", false}, {"required", {"any"}},
                 {"properties", {{"any", {{"type", "array"}, {"minItems", 1}, {"items", {{"$ref", "#/definitions/node"}}},
                                          {"description", "users in at least one child"}}}}}};
  defs["not"] = {{"type", "object"}, {"additionalProperties", false}, {"required", {"not"}},
                 {"properties", {{"not", {{"$ref", "#/definitions/node"}}}}}};
  for (const auto& name : registry.names()) {
    const RegisteredFilter& f = *registry.find(name);
    json props = json::object();
    json required = json::array();
    json time_choice;
    for (const auto& p : f.info->params) {
      if (p.type == ParamType::kTimePredicate) {
        props["more_than_days_ago"] = {{"type", "integer"}, {"minimum", 0}, {"description", "t < now - N days"}};
        props["less_than_days_ago"] = {{"type", "integer"}, {"minimum", 0}, {"description", "now - N days < t <= now"}};
        props["after"] = {{"type", "string"}, {"pattern", "^\\d{4}-\\d{2}-\\d{2}$"}, {"description", "t on or after the day after DATE"}};
        props["before"] = {{"type", "string"}, {"pattern", "^\\d{4}-\\d{2}-\\d{2}$"}, {"description", "t before DATE"}};
        props["blank"] = {{"type", "boolean"}, {"description", "true: never happened; false: happened"}};
        time_choice = json::array();
        for (const auto& k : time_predicate_keys()) time_choice.push_back({{"required", {k}}});
        continue;
      }
      props[p.name] = param_schema(p, catalog, segment_ids, limits);
      if (p.required && p.default_value.empty()) required.push_back(p.name);
    }
    json params = {{"type", "object"}, {"additionalProperties", false}, {"properties", props},
                   {"description", f.info->description + (f.info->interaction_dependent
                                                              ? " [interaction-dependent: live data only]"
                                                              : " [profile-level]")}};
    if (!required.empty()) params["required"] = required;
    if (!time_choice.is_null()) params["oneOf"] = time_choice;
    if (f.info->params.empty()) params = {{"type", {"object", "null"}}, {"additionalProperties", false},
                                          {"description", f.info->description}};
    std::string def = "filter_" + name;
    defs[def] = {{"type", "object"}, {"additionalProperties", false}, {"required", {name}},
                 {"properties", {{name, params}}}};
    node_choices.push_back({{"$ref", "#/definitions/" + def}});
    node_names.push_back(name);
  }
  // The key of a node first, on its own: an editor then says "'recieved_campaign'
  // is not one of [...]" and completes the name, instead of "matches none of 43
  // schemas" (JSON Schema cannot compute a nearest name; `retarget validate` does).
  defs["node"] = {{"type", "object"},
                  {"minProperties", 1},
                  {"maxProperties", 1},
                  {"propertyNames", {{"enum", node_names}}},
                  {"description", "one key: all, any, not or a filter"},
                  {"oneOf", node_choices}};
  defs["segment"] = {
      {"type", "object"},
      {"additionalProperties", false},
      {"required", {"id", "match"}},
      {"properties",
       {{"id", {{"type", "string"}, {"minLength", 1}}},
        {"name", {{"type", "string"}}},
        {"description", {{"type", "string"}}},
        {"match", {{"$ref", "#/definitions/node"}}},
        {"exclude", {{"type", "array"}, {"items", {{"$ref", "#/definitions/node"}}},
                     {"description", "users in any of these trees are removed"}}}}}};
  return {{"$schema", "http://json-schema.org/draft-07/schema#"},
          {"$id", "https://retarget.invalid/rules.schema.json"},
          {"title", "Retarget segment rules (version 1)"},
          {"type", "object"},
          {"additionalProperties", false},
          {"required", {"version", "segments"}},
          {"properties", {{"version", {{"const", 1}}}, {"segments", {{"type", "array"}, {"items", {{"$ref", "#/definitions/segment"}}}}}}},
          {"definitions", defs}};
}

}  // namespace retarget
