// Read-only views of the index that filters evaluate against.
//
// Thread safety: every view and column is immutable for the duration of one
// evaluation (the engine evaluates against a snapshot) and may be read from
// any number of threads at once.
//
// Two views, and the tag that separates them:
//  - InteractionView: messaging interaction data per source (campaign or
//    Canvas). Only live data is visible: facts of expired sources are absent.
//    Only filters declared interaction-dependent get it.
//  - ProfileView: the profile summaries ingestion keeps per user (last receipt
//    per channel, flags, attributes...). Expiry never touches it. The object
//    behind it holds no interaction data: no cast reaches any.
// Columns are the compact blocks of column.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "retarget/sdk/column.hpp"
#include "retarget/sdk/types.hpp"

namespace retarget::sdk {

// What is known about a source (campaign or Canvas) at compile time.
enum class SourceKind : std::uint8_t { kCampaign, kCanvas };

struct CampaignInfo {
  std::string id, name;
  bool multivariate = false;
  bool recurring = false;
  std::vector<std::string> variants, aliases, tags;
};
struct CanvasInfo {
  std::string id, name;
  std::vector<std::string> steps, variations, control_variations, tags;
};

// Kinds of interaction facts recorded per source (and per Canvas step).
enum class FactKind : std::uint8_t {
  kReceived,         // detail: "" = any channel; step: "" = any step
  kReceivedVariant,  // detail: variant id (campaigns)
  kInteraction,      // detail: action name (opened_email, opened_email_machine, clicked_email, ...)
  kClickedAlias,     // detail: link alias
  kConverted,        // detail: conversion_event number as text ("0" = primary); time = last conversion
  kControl,          // campaign control-group enrollment
  kCanvasEntered,    // detail: variation id; time = last entry
  kCanvasExited,     // time = last exit
};

// A campaign or Canvas, by kind and id.
struct SourceRef {
  SourceKind kind = SourceKind::kCampaign;
  std::string id;
};

struct FactKey {
  SourceKind kind = SourceKind::kCampaign;
  std::string source;  // campaign or Canvas id
  FactKind fact = FactKind::kReceived;
  std::string step;    // Canvas step id, "" = the whole source
  std::string detail;
};

class InteractionView {
 public:
  virtual ~InteractionView() = default;
  // The users with the fact and the last time of it, or nullptr when no user
  // has it, or when the source's data is expired (expired data is absent).
  virtual const UserTimes* fact(const FactKey& key) const = 0;
};

// Profile summaries: maintained by ingestion, never touched by expiry.
enum class SummaryKind : std::uint8_t {
  kLastReceived,        // a: channel, "" = any channel
  kLastInteraction,     // a: action, "" = any action (last_engaged)
  kLastControlEnrolled, // any campaign or Canvas control group
  kLastNewsFeedView,
  kFlag,                // a: hard_bounced | marked_spam | invalid_phone; time = last report
  kFeatureFlagEnabled,  // a: flag; users whose latest state is enabled
  kLastSmsInbound,      // a: subscription group, b: keyword category
  kLastClickedAlias,    // a: alias, any source
};

class ProfileView {
 public:
  virtual ~ProfileView() = default;
  virtual const UserTimes* times(SummaryKind kind, std::string_view a = {}, std::string_view b = {}) const = 0;
  // Number of news feed views per user (users with none are absent).
  virtual const UserCounts* news_feed_views() const = 0;
  // The current value of a custom attribute per user (unset users absent).
  virtual const UserAttributes* attribute(std::string_view name) const = 0;
  // The random bucket of every user of one chunk (element i belongs to user
  // chunk * kChunkUsers + i): user_id_hash(external id) % 10000, precomputed.
  // Fixed forever: random_bucket uses it.
  virtual std::span<const std::uint16_t> user_buckets(std::uint32_t chunk) const = 0;
};

// FNV-1a 64 of a user id (offset basis 14695981039346656037, prime
// 1099511628211): the hash behind random buckets and partitioning by user.
inline std::uint64_t user_id_hash(std::string_view id) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace retarget::sdk
