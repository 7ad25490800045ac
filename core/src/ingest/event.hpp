// One parsed, validated event (formats.md, "Events").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "retarget/sdk/data.hpp"
#include "retarget/sdk/types.hpp"
#include "common/attribute_value.hpp"

namespace retarget {

enum class EventType : std::uint8_t {
  kReceived,
  kInteraction,
  kConverted,
  kControl,
  kCanvasEntered,
  kCanvasExited,
  kHardBounce,
  kSpamReport,
  kInvalidPhone,
  kFeatureFlag,
  kNewsFeedView,
  kSmsInbound,
  kAttributes,
};

// True for the types that carry messaging interaction data of a source.
inline bool is_interaction_event(EventType t) { return t <= EventType::kCanvasExited; }

struct Event {
  sdk::Timestamp time = sdk::kNoTime;
  std::uint64_t seq = 0;  // ingestion order (ties of latest-time-wins go to the later one)
  std::string user;
  EventType type = EventType::kReceived;
  // Source (interaction events): a campaign, or a Canvas with an optional step.
  sdk::SourceKind source_kind = sdk::SourceKind::kCampaign;
  std::string source;
  std::string step;
  std::string variant;    // received (campaign)
  std::string channel;    // received
  std::string action;     // interaction
  std::string alias;      // interaction (clicked_email)
  std::string variation;  // canvas_entered
  std::int64_t conversion_event = 0;  // converted
  std::string flag;       // feature_flag
  bool enabled = false;   // feature_flag
  std::string subscription_group, keyword_category;  // sms_inbound
  // attributes: name -> value (nullopt = unset)
  std::vector<std::pair<std::string, std::optional<AttributeValue>>> attributes;
};

}  // namespace retarget
