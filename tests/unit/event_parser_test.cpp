// EventParser (ingest/event_parser.hpp): every event type of formats.md and
// the rejections, each naming its field.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <string>

#include "catalog/catalog.hpp"
#include "common/time.hpp"
#include "ingest/event_parser.hpp"

namespace retarget {
namespace {

const char* kCatalog = R"(version: 1
campaigns:
  - id: spring_sale
    multivariate: true
    variants: [{id: a}, {id: b}]
    aliases: [cta, footer]
  - id: plain
canvases:
  - id: onboarding
    variations: [{id: v1}, {id: ctl, control: true}]
    steps: [{id: welcome}, {id: day3}]
)";

class EventParserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Diagnostics d;
    catalog_.apply_text(kCatalog, "catalog.yaml", d);
    ASSERT_FALSE(d.has_errors()) << d.to_string();
  }

  // Parses one line from a padded buffer, as the parser requires.
  bool parse(const std::string& line, Event& ev, std::string& error) {
    simdjson::padded_string padded(line);
    return parser_.parse(std::string_view(padded.data(), padded.size()), ev, error);
  }

  Event accept(const std::string& line) {
    Event ev;
    std::string error;
    EXPECT_TRUE(parse(line, ev, error)) << line << "\n  rejected: " << error;
    return ev;
  }

  // Expects a rejection whose reason names `field` (as 'field').
  void reject(const std::string& line, const std::string& field) {
    Event ev;
    std::string error;
    bool ok = parse(line, ev, error);
    EXPECT_FALSE(ok) << line << "\n  was accepted";
    if (ok) return;
    EXPECT_FALSE(error.empty()) << line;
    // A field written "~name" need only be mentioned (e.g. 'attributes.tags').
    if (!field.empty() && field[0] == '~') {
      EXPECT_NE(error.find(field.substr(1)), std::string::npos)
          << line << "\n  reason does not mention " << field.substr(1) << ": " << error;
    } else if (!field.empty()) {
      EXPECT_NE(error.find("'" + field + "'"), std::string::npos)
          << line << "\n  reason does not name '" << field << "': " << error;
    }
  }

  static std::string ev(const std::string& fields, const std::string& user = "u42",
                        const std::string& time = "2026-03-01T09:00:00Z") {
    return R"({"time":")" + time + R"(","user":")" + user + "\"" + (fields.empty() ? "" : "," + fields) + "}";
  }

  Catalog catalog_;
  EventParser parser_{catalog_};
};

Timestamp at(const char* rfc3339) { return parse_time(rfc3339).value(); }

// ------------------------------------------------------------------ accepted

TEST_F(EventParserTest, FormatsExampleLines) {
  Event e1 = accept(
      R"({"time":"2026-03-01T09:00:00Z","user":"u42","type":"received","campaign":"spring_sale","variant":"b","channel":"email"})");
  EXPECT_EQ(e1.type, EventType::kReceived);
  EXPECT_EQ(e1.time, at("2026-03-01T09:00:00Z"));
  EXPECT_EQ(e1.user, "u42");
  EXPECT_EQ(e1.source_kind, sdk::SourceKind::kCampaign);
  EXPECT_EQ(e1.source, "spring_sale");
  EXPECT_EQ(e1.variant, "b");
  EXPECT_EQ(e1.channel, "email");
  EXPECT_EQ(e1.step, "");

  Event e2 = accept(
      R"({"time":"2026-03-01T09:05:10Z","user":"u42","type":"interaction","campaign":"spring_sale","action":"clicked_email","alias":"cta"})");
  EXPECT_EQ(e2.type, EventType::kInteraction);
  EXPECT_EQ(e2.time, at("2026-03-01T09:05:10Z"));
  EXPECT_EQ(e2.action, "clicked_email");
  EXPECT_EQ(e2.alias, "cta");
  EXPECT_EQ(e2.source, "spring_sale");

  Event e3 = accept(
      R"({"time":"2026-03-02T11:00:00Z","user":"u42","type":"received","canvas":"onboarding","step":"day3","channel":"push"})");
  EXPECT_EQ(e3.type, EventType::kReceived);
  EXPECT_EQ(e3.source_kind, sdk::SourceKind::kCanvas);
  EXPECT_EQ(e3.source, "onboarding");
  EXPECT_EQ(e3.step, "day3");
  EXPECT_EQ(e3.channel, "push");
}

TEST_F(EventParserTest, ReceivedOnEveryChannel) {
  for (const char* ch : {"email", "push", "sms", "whatsapp", "webhook", "in_app", "content_card"}) {
    Event e = accept(ev(std::string(R"("type":"received","campaign":"plain","channel":")") + ch + "\""));
    EXPECT_EQ(e.channel, ch);
    EXPECT_EQ(e.variant, "");
  }
}

TEST_F(EventParserTest, InteractionEveryAction) {
  for (const char* a : {"opened_email", "opened_email_machine", "clicked_email", "opened_push", "viewed_in_app",
                        "clicked_in_app", "clicked_sms", "read_whatsapp", "clicked_content_card"}) {
    Event e = accept(ev(std::string(R"("type":"interaction","campaign":"plain","action":")") + a + "\""));
    EXPECT_EQ(e.type, EventType::kInteraction);
    EXPECT_EQ(e.action, a);
    EXPECT_EQ(e.alias, "");
    Event k = accept(
        ev(std::string(R"("type":"interaction","canvas":"onboarding","step":"welcome","action":")") + a + "\""));
    EXPECT_EQ(k.source_kind, sdk::SourceKind::kCanvas);
    EXPECT_EQ(k.step, "welcome");
    EXPECT_EQ(k.action, a);
  }
  Event alias = accept(
      ev(R"("type":"interaction","canvas":"onboarding","step":"day3","action":"clicked_email","alias":"footer")"));
  EXPECT_EQ(alias.alias, "footer");
}

TEST_F(EventParserTest, Converted) {
  Event e = accept(ev(R"("type":"converted","campaign":"spring_sale")"));
  EXPECT_EQ(e.type, EventType::kConverted);
  EXPECT_EQ(e.source_kind, sdk::SourceKind::kCampaign);
  EXPECT_EQ(e.conversion_event, 0);  // default = primary
  Event e2 = accept(ev(R"("type":"converted","campaign":"spring_sale","conversion_event":3)"));
  EXPECT_EQ(e2.conversion_event, 3);
  Event e3 = accept(ev(R"("type":"converted","canvas":"onboarding","conversion_event":0)"));
  EXPECT_EQ(e3.source_kind, sdk::SourceKind::kCanvas);
  EXPECT_EQ(e3.source, "onboarding");
  EXPECT_EQ(e3.conversion_event, 0);
}

TEST_F(EventParserTest, ControlCanvasEnteredExited) {
  Event c = accept(ev(R"("type":"control","campaign":"spring_sale")"));
  EXPECT_EQ(c.type, EventType::kControl);
  EXPECT_EQ(c.source, "spring_sale");
  Event en = accept(ev(R"("type":"canvas_entered","canvas":"onboarding","variation":"ctl")"));
  EXPECT_EQ(en.type, EventType::kCanvasEntered);
  EXPECT_EQ(en.source_kind, sdk::SourceKind::kCanvas);
  EXPECT_EQ(en.source, "onboarding");
  EXPECT_EQ(en.variation, "ctl");
  Event ex = accept(ev(R"("type":"canvas_exited","canvas":"onboarding")"));
  EXPECT_EQ(ex.type, EventType::kCanvasExited);
  EXPECT_EQ(ex.source, "onboarding");
}

TEST_F(EventParserTest, ProfileFlags) {
  EXPECT_EQ(accept(ev(R"("type":"hard_bounce")")).type, EventType::kHardBounce);
  EXPECT_EQ(accept(ev(R"("type":"spam_report")")).type, EventType::kSpamReport);
  EXPECT_EQ(accept(ev(R"("type":"invalid_phone")")).type, EventType::kInvalidPhone);
  EXPECT_EQ(accept(ev(R"("type":"news_feed_view")")).type, EventType::kNewsFeedView);
}

TEST_F(EventParserTest, FeatureFlag) {
  Event on = accept(ev(R"("type":"feature_flag","flag":"new_checkout","enabled":true)"));
  EXPECT_EQ(on.type, EventType::kFeatureFlag);
  EXPECT_EQ(on.flag, "new_checkout");
  EXPECT_TRUE(on.enabled);
  Event off = accept(ev(R"("type":"feature_flag","flag":"new_checkout","enabled":false)"));
  EXPECT_FALSE(off.enabled);
}

TEST_F(EventParserTest, SmsInbound) {
  Event e = accept(ev(R"("type":"sms_inbound","subscription_group":"marketing","keyword_category":"STOP")"));
  EXPECT_EQ(e.type, EventType::kSmsInbound);
  EXPECT_EQ(e.subscription_group, "marketing");
  EXPECT_EQ(e.keyword_category, "STOP");
}

TEST_F(EventParserTest, AttributesOfEveryKind) {
  Event e = accept(ev(
      R"("type":"attributes","attributes":{"gone":null,"vip":true,"churned":false,"ltv":12.5,"visits":42,"debt":-3,"country":"DE","signup":"2026-01-15T10:00:00+01:00","almost":"2026-02-30T00:00:00Z"})"));
  EXPECT_EQ(e.type, EventType::kAttributes);
  ASSERT_EQ(e.attributes.size(), 9u);
  auto get = [&](const std::string& name) -> const std::optional<AttributeValue>* {
    for (const auto& [n, v] : e.attributes)
      if (n == name) return &v;
    ADD_FAILURE() << "attribute " << name << " missing";
    return nullptr;
  };
  auto* gone = get("gone");
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->has_value());  // null unsets

  auto* vip = get("vip");
  ASSERT_TRUE(vip && vip->has_value());
  EXPECT_EQ((*vip)->type, AttributeValue::Type::kBool);
  EXPECT_TRUE((*vip)->boolean);
  auto* churned = get("churned");
  ASSERT_TRUE(churned && churned->has_value());
  EXPECT_EQ((*churned)->type, AttributeValue::Type::kBool);
  EXPECT_FALSE((*churned)->boolean);

  auto* ltv = get("ltv");
  ASSERT_TRUE(ltv && ltv->has_value());
  EXPECT_EQ((*ltv)->type, AttributeValue::Type::kNumber);
  EXPECT_DOUBLE_EQ((*ltv)->number, 12.5);
  auto* visits = get("visits");
  ASSERT_TRUE(visits && visits->has_value());
  EXPECT_EQ((*visits)->type, AttributeValue::Type::kNumber);
  EXPECT_DOUBLE_EQ((*visits)->number, 42);
  auto* debt = get("debt");
  ASSERT_TRUE(debt && debt->has_value());
  EXPECT_DOUBLE_EQ((*debt)->number, -3);

  auto* country = get("country");
  ASSERT_TRUE(country && country->has_value());
  EXPECT_EQ((*country)->type, AttributeValue::Type::kString);
  EXPECT_EQ((*country)->text, "DE");
  EXPECT_EQ((*country)->time, sdk::kNoTime);

  // A string that is an RFC 3339 time also carries the time.
  auto* signup = get("signup");
  ASSERT_TRUE(signup && signup->has_value());
  EXPECT_EQ((*signup)->type, AttributeValue::Type::kString);
  EXPECT_EQ((*signup)->text, "2026-01-15T10:00:00+01:00");
  EXPECT_EQ((*signup)->time, at("2026-01-15T09:00:00Z"));
  // A time-like string that is not a valid time is only a string.
  auto* almost = get("almost");
  ASSERT_TRUE(almost && almost->has_value());
  EXPECT_EQ((*almost)->type, AttributeValue::Type::kString);
  EXPECT_EQ((*almost)->time, sdk::kNoTime);
}

TEST_F(EventParserTest, TimesWithOffsetsAndFractions) {
  Event e = accept(ev(R"("type":"hard_bounce")", "u1", "2026-03-01T10:00:00.123456+01:00"));
  EXPECT_EQ(e.time, at("2026-03-01T09:00:00.123Z"));
  Event e2 = accept(ev(R"("type":"hard_bounce")", "u1", "1969-12-31T23:59:59.5Z"));
  EXPECT_EQ(e2.time, -500);
}

TEST_F(EventParserTest, UnknownExtraFieldsAreIgnored) {
  Event e = accept(ev(R"("type":"received","campaign":"plain","channel":"sms","extra":{"deep":[1,2,3]},"n":1)"));
  EXPECT_EQ(e.channel, "sms");
  accept(ev(R"("type":"news_feed_view","whatever":"x")"));
}

TEST_F(EventParserTest, UserIdsUpTo512Bytes) {
  Event e = accept(ev(R"("type":"hard_bounce")", std::string(512, 'x')));
  EXPECT_EQ(e.user.size(), 512u);
  // Bytes, not characters: 256 two-byte characters are 512 bytes.
  std::string two_byte;
  for (int i = 0; i < 256; ++i) two_byte += "\xc3\xa9";
  Event e2 = accept(ev(R"("type":"hard_bounce")", two_byte));
  EXPECT_EQ(e2.user, two_byte);
  // Escapes are decoded.
  Event e3 = accept(ev(R"("type":"hard_bounce")", R"(u\u00e9\"q)"));
  EXPECT_EQ(e3.user, "u\xc3\xa9\"q");
  Event e4 = accept(ev(R"("type":"hard_bounce")", "a"));
  EXPECT_EQ(e4.user, "a");
}

TEST_F(EventParserTest, FieldOrderDoesNotMatter) {
  Event e = accept(R"({"channel":"email","campaign":"plain","type":"received","user":"z","time":"2026-03-01T09:00:00Z"})");
  EXPECT_EQ(e.user, "z");
  EXPECT_EQ(e.channel, "email");
}

TEST_F(EventParserTest, ParserStateDoesNotLeakBetweenLines) {
  accept(ev(R"("type":"attributes","attributes":{"a":1})"));
  Event bad;
  std::string error;
  EXPECT_FALSE(parse("{not json", bad, error));
  Event e = accept(ev(R"("type":"received","canvas":"onboarding","step":"welcome","channel":"email")", "u2"));
  EXPECT_TRUE(e.attributes.empty());
  EXPECT_EQ(e.user, "u2");
  Event f = accept(ev(R"("type":"received","campaign":"plain","channel":"push")", "u3"));
  EXPECT_EQ(f.step, "");
  EXPECT_EQ(f.source_kind, sdk::SourceKind::kCampaign);
  EXPECT_EQ(f.variant, "");
}

// ----------------------------------------------------------------- rejected

TEST_F(EventParserTest, RejectsInvalidJson) {
  reject("", "");
  reject("{", "");
  reject(R"({"time":"2026-03-01T09:00:00Z","user":"u1","type":"hard_bounce")", "");
  reject(R"({"time":"2026-03-01T09:00:00Z","user":"u1","type":"hard_bounce"} trailing)", "");
  reject(R"({"time":"2026-03-01T09:00:00Z","user":"u1","type":"hard_bounce"}{"a":1})", "");
  reject(R"({'time':'2026-03-01T09:00:00Z'})", "");
  reject(R"({"time":"2026-03-01T09:00:00Z","user":"u1","type":"hard_bounce",})", "");
}

TEST_F(EventParserTest, RejectsNonObjects) {
  reject("[1,2,3]", "");
  reject(R"("a string")", "");
  reject("42", "");
  reject("null", "");
  reject("true", "");
}

TEST_F(EventParserTest, RejectsMissingRequiredFields) {
  reject(R"({"user":"u1","type":"hard_bounce"})", "time");
  reject(R"({"time":"2026-03-01T09:00:00Z","type":"hard_bounce"})", "user");
  reject(R"({"time":"2026-03-01T09:00:00Z","user":"u1"})", "type");
  reject(R"({})", "time");
}

TEST_F(EventParserTest, RejectsBadTime) {
  reject(ev(R"("type":"hard_bounce")", "u1", "2026-02-30T00:00:00Z"), "time");
  reject(ev(R"("type":"hard_bounce")", "u1", "2026-03-01T09:00:00"), "time");
  reject(ev(R"("type":"hard_bounce")", "u1", "2026-03-01"), "time");
  reject(ev(R"("type":"hard_bounce")", "u1", "yesterday"), "time");
  reject(ev(R"("type":"hard_bounce")", "u1", ""), "time");
  reject(R"({"time":1772355600000,"user":"u1","type":"hard_bounce"})", "time");
  reject(R"({"time":null,"user":"u1","type":"hard_bounce"})", "time");
}

TEST_F(EventParserTest, RejectsBadUser) {
  reject(ev(R"("type":"hard_bounce")", std::string(513, 'x')), "user");
  std::string three_byte;  // 171 x 3 = 513 bytes, only 171 characters
  for (int i = 0; i < 171; ++i) three_byte += "\xe2\x82\xac";
  reject(ev(R"("type":"hard_bounce")", three_byte), "user");
  reject(ev(R"("type":"hard_bounce")", ""), "user");  // 1-512 bytes
  reject(R"({"time":"2026-03-01T09:00:00Z","user":42,"type":"hard_bounce"})", "user");
  reject(R"({"time":"2026-03-01T09:00:00Z","user":["u1"],"type":"hard_bounce"})", "user");
}

TEST_F(EventParserTest, RejectsUnknownType) {
  reject(ev(R"("type":"recieved","campaign":"plain","channel":"email")"), "type");
  reject(ev(R"("type":"Received","campaign":"plain","channel":"email")"), "type");
  reject(ev(R"("type":"")"), "type");
  reject(ev(R"("type":7)"), "type");
}

TEST_F(EventParserTest, RejectsUnknownSources) {
  reject(ev(R"("type":"received","campaign":"nope","channel":"email")"), "campaign");
  reject(ev(R"("type":"received","canvas":"nope","step":"welcome","channel":"email")"), "canvas");
  reject(ev(R"("type":"received","canvas":"onboarding","step":"day4","channel":"email")"), "step");
  reject(ev(R"("type":"received","campaign":"spring_sale","variant":"c","channel":"email")"), "variant");
  // plain is not multivariate: it has no variants at all.
  reject(ev(R"("type":"received","campaign":"plain","variant":"a","channel":"email")"), "variant");
  reject(ev(R"("type":"canvas_entered","canvas":"onboarding","variation":"v2")"), "variation");
  // Only campaigns have variants.
  reject(ev(R"("type":"received","canvas":"onboarding","step":"welcome","variant":"a","channel":"email")"), "variant");
  reject(ev(R"("type":"canvas_entered","canvas":"nope","variation":"v1")"), "canvas");
  reject(ev(R"("type":"converted","campaign":"nope")"), "campaign");
  reject(ev(R"("type":"control","campaign":"nope")"), "campaign");
  reject(ev(R"("type":"canvas_exited","canvas":"nope")"), "canvas");
  reject(ev(R"("type":"interaction","campaign":"nope","action":"opened_push")"), "campaign");
  // Ids are case-sensitive.
  reject(ev(R"("type":"received","campaign":"Spring_Sale","channel":"email")"), "campaign");
}

TEST_F(EventParserTest, RejectsMissingOrAmbiguousSource) {
  reject(ev(R"("type":"received","campaign":"plain","canvas":"onboarding","step":"welcome","channel":"email")"),
         "canvas");
  reject(ev(R"("type":"received","campaign":"plain","canvas":"onboarding","step":"welcome","channel":"email")"),
         "campaign");
  reject(ev(R"("type":"received","channel":"email")"), "campaign");
  reject(ev(R"("type":"interaction","action":"opened_push")"), "campaign");
  // A Canvas message names its step.
  reject(ev(R"("type":"received","canvas":"onboarding","channel":"email")"), "step");
  reject(ev(R"("type":"interaction","canvas":"onboarding","action":"opened_push")"), "step");
  // The control group is a campaign's; entering/exiting is a Canvas's.
  reject(ev(R"("type":"control","canvas":"onboarding")"), "campaign");
  reject(ev(R"("type":"canvas_entered","campaign":"plain","variation":"v1")"), "canvas");
  reject(ev(R"("type":"canvas_exited","campaign":"plain")"), "canvas");
  reject(ev(R"("type":"canvas_entered","canvas":"onboarding")"), "variation");
  reject(ev(R"("type":"received","campaign":7,"channel":"email")"), "campaign");
}

TEST_F(EventParserTest, RejectsBadChannelAndAction) {
  reject(ev(R"("type":"received","campaign":"plain","channel":"fax")"), "channel");
  reject(ev(R"("type":"received","campaign":"plain","channel":"Email")"), "channel");
  reject(ev(R"("type":"received","campaign":"plain")"), "channel");
  reject(ev(R"("type":"interaction","campaign":"plain","action":"clicked")"), "action");
  // Filter-only actions are not event actions.
  reject(ev(R"("type":"interaction","campaign":"plain","action":"any")"), "action");
  reject(ev(R"("type":"interaction","campaign":"plain","action":"opened_email_other")"), "action");
  reject(ev(R"("type":"interaction","campaign":"plain")"), "action");
}

TEST_F(EventParserTest, RejectsAliasOnANonClick) {
  reject(ev(R"("type":"interaction","campaign":"spring_sale","action":"opened_email","alias":"cta")"), "alias");
  reject(ev(R"("type":"interaction","campaign":"spring_sale","action":"clicked_sms","alias":"cta")"), "alias");
  reject(ev(R"("type":"interaction","campaign":"spring_sale","action":"clicked_email","alias":5)"), "alias");
}

TEST_F(EventParserTest, RejectsBadTypedFields) {
  reject(ev(R"("type":"converted","campaign":"plain","conversion_event":"1")"), "conversion_event");
  reject(ev(R"("type":"converted","campaign":"plain","conversion_event":1.5)"), "conversion_event");
  reject(ev(R"("type":"feature_flag","flag":"f")"), "enabled");
  reject(ev(R"("type":"feature_flag","flag":"f","enabled":"true")"), "enabled");
  reject(ev(R"("type":"feature_flag","flag":"f","enabled":1)"), "enabled");
  reject(ev(R"("type":"feature_flag","enabled":true)"), "flag");
  reject(ev(R"("type":"sms_inbound","subscription_group":"g")"), "keyword_category");
  reject(ev(R"("type":"sms_inbound","keyword_category":"k")"), "subscription_group");
}

TEST_F(EventParserTest, RejectsInvalidUtf8InsideAString) {
  reject(ev(R"("type":"hard_bounce")", "u\xff"), "");
  reject(ev(R"("type":"hard_bounce")", "u\xc0\xaf"), "");          // overlong encoding
  reject(ev(R"("type":"hard_bounce")", "u\xed\xa0\x80"), "");      // an encoded surrogate
  reject(ev(R"("type":"hard_bounce")", "u\xe2\x82"), "");          // truncated sequence
  reject(ev(R"("type":"hard_bounce")", R"(a\ud800b)"), "");          // an escaped lone surrogate
  reject(ev(R"("type":"hard_bounce")", R"(\udc00)"), "");
  reject(ev(R"("type":"attributes","attributes":{"name":"x\xfe"})"), "");
}

TEST_F(EventParserTest, RejectsBadAttributes) {
  reject(ev(R"("type":"attributes")"), "attributes");
  reject(ev(R"("type":"attributes","attributes":[1,2])"), "attributes");
  reject(ev(R"("type":"attributes","attributes":"x")"), "attributes");
  reject(ev(R"("type":"attributes","attributes":{"tags":["a","b"]})"), "~attributes");
  reject(ev(R"("type":"attributes","attributes":{"nested":{"a":1}})"), "~attributes");
}

}  // namespace
}  // namespace retarget
