// The engine's identities as types: what a source is (kind + id, and its key
// "campaign:<id>" / "canvas:<id>", the one string form, used in maps, logs
// and output), the tier its interaction data is in, and a restore job's
// state. Each has exactly one spelling, made and read here.
//
// Thread safety: value types and pure functions.
#pragma once

#include <compare>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "retarget/sdk/data.hpp"

namespace retarget {

using SourceKind = sdk::SourceKind;
std::string_view to_string(SourceKind kind);  // "campaign", "canvas"
std::optional<SourceKind> parse_source_kind(std::string_view s);

struct SourceId {
  SourceKind kind = SourceKind::kCampaign;
  std::string id;

  // "campaign:<id>" or "canvas:<id>".
  std::string key() const;
  // The inverse of key(); nullopt for anything else.
  static std::optional<SourceId> parse(std::string_view key);
  auto operator<=>(const SourceId&) const = default;
};
std::string source_key(SourceKind kind, std::string_view id);

// Where a source's interaction data is (lifecycle.md): queryable, in
// long-term storage (hidden until restored), or deleted for good (legacy).
enum class Tier { kLive, kExpired, kDeleted };
std::string_view to_string(Tier tier);  // "live", "expired", "deleted"
std::optional<Tier> parse_tier(std::string_view s);
// The tier as operators see it: "restoring" while a restore job is making an
// expired source queryable again (its Tier is still kExpired until then).
std::string_view tier_label(Tier tier, bool restoring);

// What the sweep does to a due source: move it to long-term storage (the
// tiered policy) or delete it (the legacy policy).
enum class SweepAction { kExpire, kDelete };
std::string_view to_string(SweepAction action);  // "expire", "delete"

// What a catalog item is: the consumers with a status (formats.md "catalog").
// Campaigns and Canvases are also sources of interaction data (SourceKind);
// Content Cards only consume.
enum class CatalogKind { kCampaign, kCanvas, kCard };
std::string_view to_string(CatalogKind kind);  // "campaign", "canvas", "card"
std::optional<CatalogKind> parse_catalog_kind(std::string_view s);

// A catalog item's status.
enum class CatalogStatus { kDraft, kActive, kStopped, kArchived };
std::string_view to_string(CatalogStatus status);  // "draft", "active", "stopped", "archived"
std::optional<CatalogStatus> parse_catalog_status(std::string_view s);

// A restore job (lifecycle.md's job table).
enum class JobState { kQueued, kRunning, kDone, kFailed };
std::string_view to_string(JobState state);  // "queued", "running", "done", "failed"
std::optional<JobState> parse_job_state(std::string_view s);
inline bool finished(JobState s) { return s == JobState::kDone || s == JobState::kFailed; }

inline std::ostream& operator<<(std::ostream& o, SourceKind k) { return o << to_string(k); }
inline std::ostream& operator<<(std::ostream& o, Tier t) { return o << to_string(t); }
inline std::ostream& operator<<(std::ostream& o, JobState s) { return o << to_string(s); }
inline std::ostream& operator<<(std::ostream& o, CatalogKind k) { return o << to_string(k); }
inline std::ostream& operator<<(std::ostream& o, CatalogStatus s) { return o << to_string(s); }
inline std::ostream& operator<<(std::ostream& o, SweepAction a) { return o << to_string(a); }

}  // namespace retarget
