#include "catalog/catalog.hpp"
#include "retarget/identity.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include "common/text.hpp"
#include "common/time.hpp"

namespace retarget {

template <typename T>
static const T* find_named(const std::vector<T>& v, std::string_view id) {
  for (const auto& x : v)
    if (x.id == id) return &x;
  return nullptr;
}
const NamedId* Campaign::variant(std::string_view id) const { return find_named(variants, id); }
const NamedId* Canvas::variation(std::string_view id) const { return find_named(variations, id); }
const NamedId* Canvas::step(std::string_view id) const { return find_named(steps, id); }

namespace {

// Reads one catalog file into staging entries, reporting every problem.
class CatalogReader {
 public:
  CatalogReader(const std::string& file, Diagnostics& diags) : file_(file), diags_(diags) {}

  void error(const YamlNode& n, std::string msg) { diags_.error(n.where(file_), std::move(msg)); }

  // Checks that every key of `map` is one of `allowed`.
  void check_keys(const YamlNode& map, const std::vector<std::string>& allowed, const std::string& what) {
    for (const auto& [k, v] : map.entries) {
      bool ok = false;
      for (const auto& a : allowed) ok |= (a == k.value);
      if (!ok) error(k, "unknown key '" + k.value + "' in " + what + did_you_mean(k.value, allowed));
    }
  }

  bool id_of(const YamlNode& item, const std::string& what, std::string& id) {
    const YamlNode* n = item.find("id");
    if (!n) {
      error(item, what + " without an id");
      return false;
    }
    if (!n->is_scalar() || n->value.empty()) {
      error(*n, what + " id must be a non-empty string");
      return false;
    }
    id = n->value;
    return true;
  }

  std::string str(const YamlNode& map, const char* key, const std::string& def = "") {
    const YamlNode* n = map.find(key);
    if (!n) return def;
    if (!n->is_scalar()) {
      error(*n, std::string("'") + key + "' must be a string");
      return def;
    }
    return n->value;
  }

  bool boolean(const YamlNode& map, const char* key, bool def = false) {
    const YamlNode* n = map.find(key);
    if (!n) return def;
    bool b;
    if (!yaml_as_bool(*n, b)) {
      error(*n, std::string("'") + key + "' must be true or false");
      return def;
    }
    return b;
  }

  std::vector<std::string> strings(const YamlNode& map, const char* key) {
    std::vector<std::string> out;
    const YamlNode* n = map.find(key);
    if (!n) return out;
    if (!n->is_sequence()) {
      error(*n, std::string("'") + key + "' must be a list");
      return out;
    }
    std::set<std::string> seen;
    for (const auto& i : n->items) {
      if (!i.is_scalar() || i.value.empty()) {
        error(i, std::string("'") + key + "' entries must be non-empty strings");
        continue;
      }
      if (!seen.insert(i.value).second) error(i, "duplicate '" + i.value + "' in '" + key + "'");
      out.push_back(i.value);
    }
    return out;
  }

  std::vector<NamedId> named(const YamlNode& map, const char* key, bool allow_control) {
    std::vector<NamedId> out;
    const YamlNode* n = map.find(key);
    if (!n) return out;
    if (!n->is_sequence()) {
      error(*n, std::string("'") + key + "' must be a list");
      return out;
    }
    std::set<std::string> seen;
    for (const auto& i : n->items) {
      NamedId x;
      if (i.is_scalar()) {
        x.id = x.name = i.value;
      } else if (i.is_map()) {
        std::vector<std::string> keys = {"id", "name"};
        if (allow_control) keys.push_back("control");
        check_keys(i, keys, std::string("an entry of '") + key + "'");
        if (!id_of(i, std::string("an entry of '") + key + "'", x.id)) continue;
        x.name = str(i, "name", x.id);
        if (allow_control) x.control = boolean(i, "control");
      } else {
        error(i, std::string("'") + key + "' entries must be maps with an id");
        continue;
      }
      if (!seen.insert(x.id).second) error(i, "duplicate id '" + x.id + "' in '" + key + "'");
      out.push_back(x);
    }
    return out;
  }

  LifecycleStatus status(const YamlNode& map) {
    const YamlNode* n = map.find("status");
    if (!n) return LifecycleStatus::kDraft;
    static const std::vector<std::string> kNames = {"draft", "active", "stopped", "archived"};
    if (n->is_scalar())
      if (auto status = parse_catalog_status(n->value)) return *status;
    error(*n, "status must be draft, active, stopped or archived" +
                  (n->is_scalar() ? did_you_mean(n->value, kNames) : std::string()));
    return LifecycleStatus::kDraft;
  }

  sdk::Timestamp time(const YamlNode& map, const char* key) {
    const YamlNode* n = map.find(key);
    if (!n) return sdk::kNoTime;
    auto t = n->is_scalar() ? parse_time(n->value) : std::nullopt;
    if (!t) {
      error(*n, std::string("'") + key + "' must be an RFC 3339 time such as 2026-05-01T00:00:00Z");
      return sdk::kNoTime;
    }
    return *t;
  }

  Audience audience(const YamlNode& map) {
    Audience a;
    const YamlNode* n = map.find("audience");
    if (!n) return a;
    if (!n->is_map()) {
      error(*n, "'audience' must be a map with 'segments' and/or 'match'");
      return a;
    }
    check_keys(*n, {"segments", "match"}, "an audience");
    a.segments = strings(*n, "segments");
    if (const YamlNode* m = n->find("match")) a.match = *m;
    return a;
  }

  const std::string& file_;
  Diagnostics& diags_;
};

}  // namespace

void Catalog::apply_file(const std::string& path, std::size_t max_bytes, std::size_t max_nodes, Diagnostics& diags) {
  YamlLimits limits;
  limits.max_bytes = max_bytes;
  limits.max_nodes = max_nodes;
  Diagnostics local;
  YamlNode root = load_yaml_file(path, limits, local);
  if (!local.has_errors()) apply(root, path, local);
  diags.append(local);
}

void Catalog::apply_text(const std::string& text, const std::string& file, Diagnostics& diags) {
  Diagnostics local;
  YamlNode root = parse_yaml(text, file, YamlLimits{}, local);
  if (!local.has_errors()) apply(root, file, local);
  diags.append(local);
}

void Catalog::apply(const YamlNode& root, const std::string& file, Diagnostics& diags) {
  CatalogReader r(file, diags);
  std::size_t errors_before = diags.error_count();
  if (!root.is_map()) {
    r.error(root, "a catalog file must be a map with 'version: 1'");
    return;
  }
  r.check_keys(root, {"version", "campaigns", "canvases", "content_cards", "attributes"}, "the catalog");
  const YamlNode* version = root.find("version");
  long long v = 0;
  if (!version || !yaml_as_int(*version, v) || v != 1)
    r.error(version ? *version : root, "the catalog must declare 'version: 1'");

  std::vector<Campaign> campaigns;
  std::vector<Canvas> canvases;
  std::vector<ContentCard> cards;
  std::set<std::string> source_ids;
  auto list = [&](const char* key) -> const std::vector<YamlNode>* {
    const YamlNode* n = root.find(key);
    if (!n || n->is_null()) return nullptr;
    if (!n->is_sequence()) {
      r.error(*n, std::string("'") + key + "' must be a list");
      return nullptr;
    }
    return &n->items;
  };
  auto check_unique = [&](const YamlNode& item, const std::string& id, const char* what) {
    if (!source_ids.insert(std::string(what) + ":" + id).second)
      r.error(item, std::string("duplicate ") + what + " id '" + id + "' in this file");
  };

  if (auto* items = list("campaigns")) {
    for (const auto& item : *items) {
      if (!item.is_map()) { r.error(item, "a campaign must be a map"); continue; }
      r.check_keys(item, {"id", "name", "tags", "multivariate", "variants", "aliases", "recurring", "status",
                          "stopped_at", "audience"}, "a campaign");
      Campaign c;
      if (!r.id_of(item, "a campaign", c.id)) continue;
      check_unique(item, c.id, "campaign");
      c.name = r.str(item, "name", c.id);
      c.tags = r.strings(item, "tags");
      c.multivariate = r.boolean(item, "multivariate");
      c.variants = r.named(item, "variants", false);
      c.aliases = r.strings(item, "aliases");
      c.recurring = r.boolean(item, "recurring");
      c.status = r.status(item);
      c.stopped_at = r.time(item, "stopped_at");
      c.audience = r.audience(item);
      c.where = item.where(file);
      if (!c.multivariate && !c.variants.empty())
        r.error(*item.find("variants"), "campaign '" + c.id + "' lists variants but is not multivariate");
      campaigns.push_back(std::move(c));
    }
  }
  if (auto* items = list("canvases")) {
    for (const auto& item : *items) {
      if (!item.is_map()) { r.error(item, "a Canvas must be a map"); continue; }
      r.check_keys(item, {"id", "name", "tags", "variations", "steps", "status", "stopped_at", "audience"},
                   "a Canvas");
      Canvas c;
      if (!r.id_of(item, "a Canvas", c.id)) continue;
      check_unique(item, c.id, "Canvas");
      c.name = r.str(item, "name", c.id);
      c.tags = r.strings(item, "tags");
      c.variations = r.named(item, "variations", true);
      c.steps = r.named(item, "steps", false);
      c.status = r.status(item);
      c.stopped_at = r.time(item, "stopped_at");
      c.audience = r.audience(item);
      c.where = item.where(file);
      canvases.push_back(std::move(c));
    }
  }
  if (auto* items = list("content_cards")) {
    for (const auto& item : *items) {
      if (!item.is_map()) { r.error(item, "a Content Card must be a map"); continue; }
      r.check_keys(item, {"id", "name", "status", "audience"}, "a Content Card");
      ContentCard c;
      if (!r.id_of(item, "a Content Card", c.id)) continue;
      check_unique(item, c.id, "Content Card");
      c.name = r.str(item, "name", c.id);
      c.status = r.status(item);
      c.audience = r.audience(item);
      c.where = item.where(file);
      cards.push_back(std::move(c));
    }
  }
  std::map<std::string, std::string, std::less<>> attributes;
  if (const YamlNode* attrs = root.find("attributes")) {
    if (!attrs->is_map()) {
      r.error(*attrs, "'attributes' must be a map of name: type");
    } else {
      static const std::vector<std::string> kTypes = {"string", "number", "bool", "time"};
      for (const auto& [k, v] : attrs->entries) {
        bool ok = v.is_scalar() && std::find(kTypes.begin(), kTypes.end(), v.value) != kTypes.end();
        if (!ok) {
          r.error(v, "attribute type must be string, number, bool or time" +
                         (v.is_scalar() ? did_you_mean(v.value, kTypes) : std::string()));
          continue;
        }
        attributes[k.value] = v.value;
      }
    }
  }
  // A campaign and a Canvas may not share an id: events and filters name
  // sources by id, and lifecycle state is per id.
  for (const auto& c : campaigns)
    if (source_ids.count("Canvas:" + c.id) || canvases_.count(c.id))
      diags.error(c.where, "id '" + c.id + "' is used by both a campaign and a Canvas");
  for (const auto& c : canvases)
    if (campaigns_.count(c.id)) diags.error(c.where, "id '" + c.id + "' is used by both a campaign and a Canvas");

  if (diags.error_count() > errors_before) return;  // all or nothing
  for (auto& c : campaigns) campaigns_[c.id] = std::move(c);
  for (auto& c : canvases) canvases_[c.id] = std::move(c);
  for (auto& c : cards) cards_[c.id] = std::move(c);
  for (auto& [k, v] : attributes) attributes_[k] = v;
}

bool Catalog::set_status(const std::string& kind, const std::string& id, LifecycleStatus status, sdk::Timestamp at) {
  auto change = [&](auto& map) {
    auto it = map.find(id);
    if (it == map.end()) return false;
    auto& entry = it->second;
    if (status == LifecycleStatus::kStopped && entry.status != LifecycleStatus::kStopped) {
      if constexpr (requires { entry.stopped_at; }) entry.stopped_at = at;
    }
    entry.status = status;
    return true;
  };
  if (kind == "campaign") return change(campaigns_);
  if (kind == "canvas") return change(canvases_);
  if (kind == "card") return change(cards_);
  return false;
}

const Campaign* Catalog::campaign(std::string_view id) const {
  auto it = campaigns_.find(id);
  return it == campaigns_.end() ? nullptr : &it->second;
}
const Canvas* Catalog::canvas(std::string_view id) const {
  auto it = canvases_.find(id);
  return it == canvases_.end() ? nullptr : &it->second;
}
const ContentCard* Catalog::content_card(std::string_view id) const {
  auto it = cards_.find(id);
  return it == cards_.end() ? nullptr : &it->second;
}
std::optional<std::string> Catalog::attribute_type(std::string_view name) const {
  auto it = attributes_.find(name);
  if (it == attributes_.end()) return std::nullopt;
  return it->second;
}
std::vector<std::string> Catalog::campaign_ids() const {
  std::vector<std::string> v;
  for (const auto& [k, c] : campaigns_) v.push_back(k);
  return v;
}
std::vector<std::string> Catalog::canvas_ids() const {
  std::vector<std::string> v;
  for (const auto& [k, c] : canvases_) v.push_back(k);
  return v;
}
std::vector<std::string> Catalog::tags() const {
  std::set<std::string> s;
  for (const auto& [k, c] : campaigns_) s.insert(c.tags.begin(), c.tags.end());
  for (const auto& [k, c] : canvases_) s.insert(c.tags.begin(), c.tags.end());
  return {s.begin(), s.end()};
}

std::vector<std::string> Catalog::sources_with_tag(std::string_view tag) const {
  std::vector<std::string> out;
  auto has = [&](const std::vector<std::string>& tags) { return std::find(tags.begin(), tags.end(), tag) != tags.end(); };
  for (const auto& [id, c] : campaigns_)
    if (has(c.tags)) out.push_back(source_key(SourceKind::kCampaign, id));
  for (const auto& [id, c] : canvases_)
    if (has(c.tags)) out.push_back(source_key(SourceKind::kCanvas, id));
  return out;
}

sdk::CampaignInfo Catalog::campaign_info(const Campaign& c) const {
  sdk::CampaignInfo i;
  i.id = c.id;
  i.name = c.name;
  i.multivariate = c.multivariate;
  i.recurring = c.recurring;
  for (const auto& v : c.variants) i.variants.push_back(v.id);
  i.aliases = c.aliases;
  i.tags = c.tags;
  return i;
}

sdk::CanvasInfo Catalog::canvas_info(const Canvas& c) const {
  sdk::CanvasInfo i;
  i.id = c.id;
  i.name = c.name;
  for (const auto& s : c.steps) i.steps.push_back(s.id);
  for (const auto& v : c.variations) {
    i.variations.push_back(v.id);
    if (v.control) i.control_variations.push_back(v.id);
  }
  i.tags = c.tags;
  return i;
}

}  // namespace retarget
