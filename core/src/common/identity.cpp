#include "retarget/identity.hpp"

namespace retarget {

std::string_view to_string(SourceKind kind) { return kind == SourceKind::kCampaign ? "campaign" : "canvas"; }

std::optional<SourceKind> parse_source_kind(std::string_view s) {
  if (s == "campaign") return SourceKind::kCampaign;
  if (s == "canvas") return SourceKind::kCanvas;
  return std::nullopt;
}

std::string source_key(SourceKind kind, std::string_view id) {
  std::string key(to_string(kind));
  key += ':';
  key += id;
  return key;
}

std::string SourceId::key() const { return source_key(kind, id); }

std::optional<SourceId> SourceId::parse(std::string_view key) {
  auto colon = key.find(':');
  if (colon == std::string_view::npos || colon + 1 == key.size()) return std::nullopt;
  auto kind = parse_source_kind(key.substr(0, colon));
  if (!kind) return std::nullopt;
  return SourceId{*kind, std::string(key.substr(colon + 1))};
}

std::string_view to_string(CatalogKind kind) {
  switch (kind) {
    case CatalogKind::kCampaign: return "campaign";
    case CatalogKind::kCanvas: return "canvas";
    case CatalogKind::kCard: return "card";
  }
  return "?";
}

std::optional<CatalogKind> parse_catalog_kind(std::string_view s) {
  if (s == "campaign") return CatalogKind::kCampaign;
  if (s == "canvas") return CatalogKind::kCanvas;
  if (s == "card") return CatalogKind::kCard;
  return std::nullopt;
}

std::string_view to_string(CatalogStatus status) {
  switch (status) {
    case CatalogStatus::kDraft: return "draft";
    case CatalogStatus::kActive: return "active";
    case CatalogStatus::kStopped: return "stopped";
    case CatalogStatus::kArchived: return "archived";
  }
  return "?";
}

std::optional<CatalogStatus> parse_catalog_status(std::string_view s) {
  if (s == "draft") return CatalogStatus::kDraft;
  if (s == "active") return CatalogStatus::kActive;
  if (s == "stopped") return CatalogStatus::kStopped;
  if (s == "archived") return CatalogStatus::kArchived;
  return std::nullopt;
}

std::string_view to_string(Tier tier) {
  switch (tier) {
    case Tier::kLive: return "live";
    case Tier::kExpired: return "expired";
    case Tier::kDeleted: return "deleted";
  }
  return "live";
}

std::optional<Tier> parse_tier(std::string_view s) {
  if (s == "live") return Tier::kLive;
  if (s == "expired") return Tier::kExpired;
  if (s == "deleted") return Tier::kDeleted;
  return std::nullopt;
}

std::string_view tier_label(Tier tier, bool restoring) { return restoring ? "restoring" : to_string(tier); }

std::string_view to_string(SweepAction action) {
  return action == SweepAction::kDelete ? "delete" : "expire";
}

std::string_view to_string(JobState state) {
  switch (state) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kDone: return "done";
    case JobState::kFailed: return "failed";
  }
  return "queued";
}

std::optional<JobState> parse_job_state(std::string_view s) {
  if (s == "queued") return JobState::kQueued;
  if (s == "running") return JobState::kRunning;
  if (s == "done") return JobState::kDone;
  if (s == "failed") return JobState::kFailed;
  return std::nullopt;
}

}  // namespace retarget
