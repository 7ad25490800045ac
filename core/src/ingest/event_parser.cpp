#include "ingest/event_parser.hpp"

#include <array>
#include <cmath>

#include "common/text.hpp"
#include "common/time.hpp"

namespace retarget {
namespace {

struct TypeName {
  std::string_view name;
  EventType type;
};
constexpr std::array<TypeName, 13> kTypes = {{
    {"received", EventType::kReceived},
    {"interaction", EventType::kInteraction},
    {"converted", EventType::kConverted},
    {"control", EventType::kControl},
    {"canvas_entered", EventType::kCanvasEntered},
    {"canvas_exited", EventType::kCanvasExited},
    {"hard_bounce", EventType::kHardBounce},
    {"spam_report", EventType::kSpamReport},
    {"invalid_phone", EventType::kInvalidPhone},
    {"feature_flag", EventType::kFeatureFlag},
    {"news_feed_view", EventType::kNewsFeedView},
    {"sms_inbound", EventType::kSmsInbound},
    {"attributes", EventType::kAttributes},
}};

const std::vector<std::string> kChannels = {"email", "push", "sms", "whatsapp", "webhook", "in_app", "content_card"};
const std::vector<std::string> kActions = {"opened_email", "opened_email_machine", "clicked_email",
                                           "opened_push", "viewed_in_app", "clicked_in_app",
                                           "clicked_sms", "read_whatsapp", "clicked_content_card"};

bool one_of(std::string_view v, const std::vector<std::string>& set) {
  for (const auto& s : set)
    if (s == v) return true;
  return false;
}

std::vector<std::string> type_names() {
  std::vector<std::string> v;
  for (const auto& t : kTypes) v.emplace_back(t.name);
  return v;
}

// Reads an optional string field. Returns false (with error) when present but not a string.
bool get_string(simdjson::dom::object obj, std::string_view key, std::string& out, bool& present,
                std::string& error) {
  simdjson::dom::element e;
  present = false;
  if (obj[key].get(e) != simdjson::SUCCESS) return true;
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) {
    error = "field '" + std::string(key) + "': expected a string";
    return false;
  }
  out.assign(s);
  present = true;
  return true;
}

bool require_string(simdjson::dom::object obj, std::string_view key, std::string& out, std::string& error,
                    const char* why = "required for this event type") {
  bool present;
  if (!get_string(obj, key, out, present, error)) return false;
  if (!present || out.empty()) {
    error = "field '" + std::string(key) + "': missing (" + why + ")";
    return false;
  }
  return true;
}

}  // namespace

bool EventParser::parse(std::string_view line, Event& ev, std::string& error) {
  simdjson::dom::element doc;
  auto err = parser_.parse(line.data(), line.size(), false).get(doc);
  if (err != simdjson::SUCCESS) {
    error = std::string("not valid JSON: ") + simdjson::error_message(err);
    return false;
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    error = "not a JSON object";
    return false;
  }
  ev = Event{};
  std::string text;
  bool present;

  if (!require_string(obj, "time", text, error, "every event has one")) return false;
  auto t = parse_time(text);
  if (!t) {
    error = "field 'time': '" + text + "' is not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.fff]Z or with an offset)";
    return false;
  }
  ev.time = *t;
  if (!require_string(obj, "user", ev.user, error, "every event has one")) return false;
  if (ev.user.size() > 512) {
    error = "field 'user': longer than 512 bytes";
    return false;
  }
  if (!require_string(obj, "type", text, error, "every event has one")) return false;
  bool known = false;
  for (const auto& tn : kTypes)
    if (tn.name == text) ev.type = tn.type, known = true;
  if (!known) {
    error = "field 'type': unknown event type '" + text + "'" + did_you_mean(text, type_names());
    return false;
  }

  // The source of interaction events: `campaign`, or `canvas` (+ `step`).
  if (is_interaction_event(ev.type)) {
    std::string campaign, canvas, step;
    bool has_campaign, has_canvas, has_step;
    if (!get_string(obj, "campaign", campaign, has_campaign, error)) return false;
    if (!get_string(obj, "canvas", canvas, has_canvas, error)) return false;
    if (!get_string(obj, "step", step, has_step, error)) return false;
    if (has_campaign == has_canvas) {
      error = has_campaign ? "fields 'campaign' and 'canvas': an event names one source, not both"
                           : "field 'campaign' or 'canvas': missing (the event's source)";
      return false;
    }
    if (ev.type == EventType::kControl && !has_campaign) {
      error = "field 'campaign': missing (control events name a campaign)";
      return false;
    }
    if ((ev.type == EventType::kCanvasEntered || ev.type == EventType::kCanvasExited) && !has_canvas) {
      error = "field 'canvas': missing (required for " + text + ")";
      return false;
    }
    if (has_campaign) {
      const Campaign* c = catalog_.campaign(campaign);
      if (!c) {
        error = "field 'campaign': unknown campaign '" + campaign + "'" + did_you_mean(campaign, catalog_.campaign_ids());
        return false;
      }
      if (has_step) {
        error = "field 'step': only Canvas events have a step";
        return false;
      }
      ev.source_kind = sdk::SourceKind::kCampaign;
      ev.source = campaign;
    } else {
      const Canvas* c = catalog_.canvas(canvas);
      if (!c) {
        error = "field 'canvas': unknown Canvas '" + canvas + "'" + did_you_mean(canvas, catalog_.canvas_ids());
        return false;
      }
      if (has_step) {
        if (!c->step(step)) {
          std::vector<std::string> ids;
          for (const auto& s : c->steps) ids.push_back(s.id);
          error = "field 'step': unknown step '" + step + "' of Canvas '" + canvas + "'" + did_you_mean(step, ids);
          return false;
        }
        ev.step = step;
      } else if (ev.type == EventType::kReceived || ev.type == EventType::kInteraction) {
        error = "field 'step': missing (Canvas messages name their step)";
        return false;
      }
      ev.source_kind = sdk::SourceKind::kCanvas;
      ev.source = canvas;
    }
  }

  switch (ev.type) {
    case EventType::kReceived: {
      if (!require_string(obj, "channel", ev.channel, error)) return false;
      if (!one_of(ev.channel, kChannels)) {
        error = "field 'channel': unknown channel '" + ev.channel + "'" + did_you_mean(ev.channel, kChannels);
        return false;
      }
      if (!get_string(obj, "variant", ev.variant, present, error)) return false;
      if (present) {
        const Campaign* c = catalog_.campaign(ev.source);
        if (!c || !c->variant(ev.variant)) {
          error = "field 'variant': unknown variant '" + ev.variant + "'" +
                  (c ? " of campaign '" + ev.source + "'" : " (only campaigns have variants)");
          return false;
        }
      }
      break;
    }
    case EventType::kInteraction:
      if (!require_string(obj, "action", ev.action, error)) return false;
      if (!one_of(ev.action, kActions)) {
        error = "field 'action': unknown action '" + ev.action + "'" + did_you_mean(ev.action, kActions);
        return false;
      }
      if (!get_string(obj, "alias", ev.alias, present, error)) return false;
      if (present && ev.action != "clicked_email") {
        error = "field 'alias': only clicked_email interactions carry a link alias";
        return false;
      }
      break;
    case EventType::kConverted: {
      simdjson::dom::element e;
      if (obj["conversion_event"].get(e) == simdjson::SUCCESS) {
        int64_t n;
        if (e.get_int64().get(n) != simdjson::SUCCESS || n < 0) {
          error = "field 'conversion_event': expected a non-negative integer";
          return false;
        }
        ev.conversion_event = n;
      }
      break;
    }
    case EventType::kCanvasEntered: {
      if (!require_string(obj, "variation", ev.variation, error)) return false;
      const Canvas* c = catalog_.canvas(ev.source);
      if (!c->variation(ev.variation)) {
        error = "field 'variation': unknown variation '" + ev.variation + "' of Canvas '" + ev.source + "'";
        return false;
      }
      break;
    }
    case EventType::kFeatureFlag: {
      if (!require_string(obj, "flag", ev.flag, error)) return false;
      simdjson::dom::element e;
      if (obj["enabled"].get(e) != simdjson::SUCCESS || e.get_bool().get(ev.enabled) != simdjson::SUCCESS) {
        error = "field 'enabled': expected true or false";
        return false;
      }
      break;
    }
    case EventType::kSmsInbound:
      if (!require_string(obj, "subscription_group", ev.subscription_group, error)) return false;
      if (!require_string(obj, "keyword_category", ev.keyword_category, error)) return false;
      break;
    case EventType::kAttributes: {
      simdjson::dom::object attrs;
      if (obj["attributes"].get_object().get(attrs) != simdjson::SUCCESS) {
        error = "field 'attributes': expected an object";
        return false;
      }
      for (auto [key, value] : attrs) {
        std::string name(key);
        if (name.empty()) {
          error = "field 'attributes': an attribute name is empty";
          return false;
        }
        if (value.is_null()) {
          ev.attributes.emplace_back(std::move(name), std::nullopt);
          continue;
        }
        AttributeValue v;
        std::string_view s;
        bool b;
        double d;
        if (value.get_string().get(s) == simdjson::SUCCESS) {
          v.type = AttributeValue::Type::kString;
          v.text.assign(s);
          if (auto tt = parse_time(s)) v.time = *tt;
        } else if (value.get_bool().get(b) == simdjson::SUCCESS) {
          v.type = AttributeValue::Type::kBool;
          v.boolean = b;
        } else if (value.get_double().get(d) == simdjson::SUCCESS) {
          if (!std::isfinite(d)) {
            error = "field 'attributes." + name + "': not a finite number";
            return false;
          }
          v.type = AttributeValue::Type::kNumber;
          v.number = d;
        } else {
          error = "field 'attributes." + name + "': expected a string, number, bool or null";
          return false;
        }
        ev.attributes.emplace_back(std::move(name), std::move(v));
      }
      break;
    }
    default:
      break;
  }
  return true;
}

}  // namespace retarget
