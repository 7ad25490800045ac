// What one event means, in one place: the interaction facts it adds to its
// source, the profile summaries it moves forward, and what it counts in its
// source's analytics. The index builder applies it to columns; the legacy
// purge applies it to a residue (what a deleted source's events leave behind).
//
//   struct Sink {
//     void fact(sdk::FactKind kind, std::string_view step, std::string_view detail);
//     void summary(sdk::SummaryKind kind, std::string_view a, std::string_view b);
//     void analytics(AnalyticsEffect effect);
//   };
//   derive(event, catalog, sink);
//
// Latest-wins state (attributes, feature flags) and news feed view counts are
// not derived here: they are per user, never per source (IndexBuilder::apply).
//
// Thread safety: a pure function of its arguments.
#pragma once

#include <string_view>

#include "catalog/catalog.hpp"
#include "index/index_image.hpp"
#include "ingest/event.hpp"
#include "retarget/sdk/data.hpp"

namespace retarget {

enum class AnalyticsEffect { kSend, kOpen, kClick, kConversion, kControl };

// Counts one effect of `user`'s event in its source's analytics.
inline void add_effect(SourceAnalytics& a, AnalyticsEffect effect, std::uint32_t user) {
  switch (effect) {
    case AnalyticsEffect::kSend:
      ++a.sends;
      a.recipients.add(user);
      break;
    case AnalyticsEffect::kOpen:
      ++a.opens;
      break;
    case AnalyticsEffect::kClick:
      ++a.clicks;
      break;
    case AnalyticsEffect::kConversion:
      ++a.conversions;
      break;
    case AnalyticsEffect::kControl:
      a.control.add(user);
      break;
  }
}

// The canvas variation an entry went to is a control group (per the catalog
// the event was ingested under).
inline bool entered_control(const Event& e, const Catalog& catalog) {
  const Canvas* canvas = catalog.canvas(e.source);
  const NamedId* v = canvas ? canvas->variation(e.variation) : nullptr;
  return v && v->control;
}

template <typename Sink>
void derive(const Event& e, const Catalog& catalog, Sink& sink) {
  using sdk::FactKind;
  using sdk::SummaryKind;
  if (is_interaction_event(e.type)) {
    switch (e.type) {
      case EventType::kReceived:
        sink.analytics(AnalyticsEffect::kSend);
        break;
      case EventType::kInteraction:
        if (e.action == "opened_email" || e.action == "opened_email_machine" || e.action == "opened_push")
          sink.analytics(AnalyticsEffect::kOpen);
        if (e.action == "clicked_email" || e.action == "clicked_in_app" || e.action == "clicked_sms" ||
            e.action == "clicked_content_card")
          sink.analytics(AnalyticsEffect::kClick);
        break;
      case EventType::kConverted:
        if (e.conversion_event == 0) sink.analytics(AnalyticsEffect::kConversion);
        break;
      case EventType::kControl:
        sink.analytics(AnalyticsEffect::kControl);
        break;
      case EventType::kCanvasEntered:
        if (entered_control(e, catalog)) sink.analytics(AnalyticsEffect::kControl);
        break;
      default:
        break;
    }
  }
  switch (e.type) {
    case EventType::kReceived:
      // Per source (and per step) facts: interaction data, subject to expiry.
      sink.fact(FactKind::kReceived, "", "");
      if (!e.step.empty()) sink.fact(FactKind::kReceived, e.step, "");
      if (!e.variant.empty()) sink.fact(FactKind::kReceivedVariant, "", e.variant);
      // Profile summaries: never expire.
      sink.summary(SummaryKind::kLastReceived, "", "");
      sink.summary(SummaryKind::kLastReceived, e.channel, "");
      break;
    case EventType::kInteraction:
      sink.fact(FactKind::kInteraction, "", e.action);
      if (!e.step.empty()) sink.fact(FactKind::kInteraction, e.step, e.action);
      if (!e.alias.empty()) {
        sink.fact(FactKind::kClickedAlias, "", e.alias);
        if (!e.step.empty()) sink.fact(FactKind::kClickedAlias, e.step, e.alias);
        sink.summary(SummaryKind::kLastClickedAlias, e.alias, "");
      }
      sink.summary(SummaryKind::kLastInteraction, "", "");
      sink.summary(SummaryKind::kLastInteraction, e.action, "");
      break;
    case EventType::kConverted:
      sink.fact(FactKind::kConverted, "", std::to_string(e.conversion_event));
      break;
    case EventType::kControl:
      sink.fact(FactKind::kControl, "", "");
      sink.summary(SummaryKind::kLastControlEnrolled, "", "");
      break;
    case EventType::kCanvasEntered:
      sink.fact(FactKind::kCanvasEntered, "", "");
      sink.fact(FactKind::kCanvasEntered, "", e.variation);
      if (entered_control(e, catalog)) sink.summary(SummaryKind::kLastControlEnrolled, "", "");
      break;
    case EventType::kCanvasExited:
      sink.fact(FactKind::kCanvasExited, "", "");
      break;
    case EventType::kHardBounce:
      sink.summary(SummaryKind::kFlag, "hard_bounced", "");
      break;
    case EventType::kSpamReport:
      sink.summary(SummaryKind::kFlag, "marked_spam", "");
      break;
    case EventType::kInvalidPhone:
      sink.summary(SummaryKind::kFlag, "invalid_phone", "");
      break;
    case EventType::kNewsFeedView:
      sink.summary(SummaryKind::kLastNewsFeedView, "", "");
      break;
    case EventType::kSmsInbound:
      sink.summary(SummaryKind::kLastSmsInbound, e.subscription_group, e.keyword_category);
      break;
    case EventType::kFeatureFlag:
    case EventType::kAttributes:
      break;
  }
}

}  // namespace retarget
