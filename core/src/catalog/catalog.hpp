// The catalog: campaigns, Canvases and Content Cards with their lifecycle
// status, tags and audiences; declared custom attribute types.
//
// Thread safety: not synchronised. The engine replaces its catalog under its
// own lock and hands evaluations an immutable copy.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/yaml_tree.hpp"
#include "retarget/diagnostics.hpp"
#include "retarget/identity.hpp"
#include "retarget/sdk/data.hpp"
#include "retarget/sdk/types.hpp"

namespace retarget {

// The public CatalogStatus (retarget/identity.hpp), by its internal name.
using LifecycleStatus = CatalogStatus;

struct Audience {
  std::vector<std::string> segments;
  std::optional<YamlNode> match;  // an inline boolean tree
  bool empty() const { return segments.empty() && !match; }
};

struct NamedId {
  std::string id, name;
  bool control = false;  // Canvas variations only
};

struct Campaign {
  std::string id, name;
  std::vector<std::string> tags;
  bool multivariate = false;
  std::vector<NamedId> variants;
  std::vector<std::string> aliases;
  bool recurring = false;
  LifecycleStatus status = LifecycleStatus::kDraft;
  sdk::Timestamp stopped_at = sdk::kNoTime;
  Audience audience;
  SourceLocation where;
  const NamedId* variant(std::string_view id) const;
};

struct Canvas {
  std::string id, name;
  std::vector<std::string> tags;
  std::vector<NamedId> variations;
  std::vector<NamedId> steps;
  LifecycleStatus status = LifecycleStatus::kDraft;
  sdk::Timestamp stopped_at = sdk::kNoTime;
  Audience audience;
  SourceLocation where;
  const NamedId* variation(std::string_view id) const;
  const NamedId* step(std::string_view id) const;
};

struct ContentCard {
  std::string id, name;
  LifecycleStatus status = LifecycleStatus::kDraft;
  Audience audience;
  SourceLocation where;
};

class Catalog {
 public:
  // Parses a catalog file and upserts its entries (by id) into this catalog.
  // Nothing is changed when the file has errors.
  void apply_file(const std::string& path, std::size_t max_bytes, std::size_t max_nodes, Diagnostics& diags);
  void apply_text(const std::string& text, const std::string& file, Diagnostics& diags);

  // Changes a consumer's status ("campaign", "canvas" or "card"); stopping
  // records stopped_at = `at`. Returns false when there is no such entry.
  bool set_status(const std::string& kind, const std::string& id, LifecycleStatus status, sdk::Timestamp at);

  const Campaign* campaign(std::string_view id) const;
  const Canvas* canvas(std::string_view id) const;
  const ContentCard* content_card(std::string_view id) const;
  const std::map<std::string, Campaign, std::less<>>& campaigns() const { return campaigns_; }
  const std::map<std::string, Canvas, std::less<>>& canvases() const { return canvases_; }
  const std::map<std::string, ContentCard, std::less<>>& content_cards() const { return cards_; }
  // Declared attribute types: "string", "number", "bool" or "time".
  std::optional<std::string> attribute_type(std::string_view name) const;
  const std::map<std::string, std::string, std::less<>>& attribute_types() const { return attributes_; }

  std::vector<std::string> campaign_ids() const;
  std::vector<std::string> canvas_ids() const;
  std::vector<std::string> tags() const;
  // Source keys ("campaign:<id>", "canvas:<id>") of everything carrying `tag` now.
  std::vector<std::string> sources_with_tag(std::string_view tag) const;

  // The plugin-facing descriptions.
  sdk::CampaignInfo campaign_info(const Campaign& c) const;
  sdk::CanvasInfo canvas_info(const Canvas& c) const;

 private:
  void apply(const YamlNode& root, const std::string& file, Diagnostics& diags);
  std::map<std::string, Campaign, std::less<>> campaigns_;
  std::map<std::string, Canvas, std::less<>> canvases_;
  std::map<std::string, ContentCard, std::less<>> cards_;
  std::map<std::string, std::string, std::less<>> attributes_;
};

}  // namespace retarget
