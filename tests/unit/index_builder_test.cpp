// IndexBuilder (index/index_builder.hpp): idempotence by content, latest-time-wins
// state, counts, and immutable snapshots that share untouched columns.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <string>

#include "catalog/catalog.hpp"
#include "common/time.hpp"
#include "ingest/event_parser.hpp"
#include "index/index_builder.hpp"

namespace retarget {
namespace {

using sdk::FactKey;
using sdk::FactKind;
using sdk::kNoTime;
using sdk::SourceKind;
using sdk::SummaryKind;

const char* kCatalog = R"(version: 1
campaigns:
  - id: spring_sale
    multivariate: true
    variants: [a, b]
  - id: plain
canvases:
  - id: onboarding
    variations: [{id: v1}, {id: ctl, control: true}]
    steps: [welcome, day3]
)";

Timestamp at(const char* t) { return parse_time(t).value(); }

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Diagnostics d;
    catalog_.apply_text(kCatalog, "catalog.yaml", d);
    ASSERT_FALSE(d.has_errors()) << d.to_string();
  }

  // Parses and adds one event line; returns whether the store took it as new.
  bool add(const std::string& line) {
    simdjson::padded_string padded(line);
    Event ev;
    std::string error;
    bool parsed = parser_.parse(std::string_view(padded.data(), padded.size()), ev, error);
    EXPECT_TRUE(parsed) << line << ": " << error;
    if (!parsed) return false;
    return store_.add(ev, catalog_);
  }

  static std::string line(const std::string& time, const std::string& user, const std::string& rest) {
    return R"({"time":")" + time + R"(","user":")" + user + "\"," + rest + "}";
  }
  bool attrs(const std::string& time, const std::string& user, const std::string& object) {
    return add(line(time, user, R"("type":"attributes","attributes":)" + object));
  }
  bool flag(const std::string& time, const std::string& user, const std::string& name, bool enabled) {
    return add(line(time, user,
                    R"("type":"feature_flag","flag":")" + name + R"(","enabled":)" + (enabled ? "true" : "false")));
  }

  static std::optional<UserIndex> user(const Index& idx, const std::string& id) { return idx.find_user(id); }

  // The attribute of a user in a snapshot, or nullptr when unset.
  static std::unique_ptr<AttributeValue> attr(const Index& idx, const std::string& name, const std::string& id) {
    auto u = user(idx, id);
    if (!u) return nullptr;
    const sdk::UserAttributes* col = idx.profiles().attribute(name);
    auto v = col ? col->find(*u) : std::nullopt;
    return v ? std::make_unique<AttributeValue>(AttributeValue::from(*v)) : nullptr;
  }
  static Timestamp summary(const Index& idx, SummaryKind kind, const std::string& id, std::string_view a = {},
                           std::string_view b = {}) {
    auto u = user(idx, id);
    const sdk::UserTimes* col = idx.profiles().times(kind, a, b);
    if (!u || !col) return kNoTime;
    return col->find(*u).value_or(kNoTime);
  }
  static std::int64_t news_views(const Index& idx, const std::string& id) {
    auto u = user(idx, id);
    const sdk::UserCounts* col = idx.profiles().news_feed_views();
    if (!u || !col) return 0;
    return col->find(*u).value_or(0);
  }
  static bool flag_enabled(const Index& idx, const std::string& name, const std::string& id) {
    return summary(idx, SummaryKind::kFeatureFlagEnabled, id, name) != kNoTime;
  }

  Catalog catalog_;
  EventParser parser_{catalog_};
  IndexBuilder store_;
};

// ------------------------------------------------------------- idempotence

TEST_F(StoreTest, TheSameEventTwiceAddsNothing) {
  std::string e = line("2026-03-01T09:00:00Z", "u1", R"("type":"received","campaign":"spring_sale","variant":"b","channel":"email")");
  EXPECT_TRUE(add(e));
  EXPECT_EQ(store_.event_count(), 1u);
  auto before = store_.snapshot();
  EXPECT_FALSE(add(e));
  EXPECT_EQ(store_.event_count(), 1u);
  EXPECT_EQ(store_.user_count(), 1u);
  auto after = store_.snapshot();
  EXPECT_EQ(after->user_count(), 1u);
  EXPECT_EQ(summary(*after, SummaryKind::kLastReceived, "u1", "email"), at("2026-03-01T09:00:00Z"));
}

TEST_F(StoreTest, CountsDoNotDoubleOnReingest) {
  std::vector<std::string> file = {
      line("2026-03-01T09:00:00Z", "u1", R"("type":"news_feed_view")"),
      line("2026-03-02T09:00:00Z", "u1", R"("type":"news_feed_view")"),
      line("2026-03-03T09:00:00Z", "u1", R"("type":"news_feed_view")"),
      line("2026-03-01T09:00:00Z", "u2", R"("type":"news_feed_view")"),
      line("2026-03-01T09:00:00Z", "u1", R"("type":"received","campaign":"plain","channel":"push")"),
  };
  for (const auto& l : file) EXPECT_TRUE(add(l)) << l;
  auto first = store_.snapshot();
  EXPECT_EQ(news_views(*first, "u1"), 3);
  EXPECT_EQ(news_views(*first, "u2"), 1);
  for (const auto& l : file) EXPECT_FALSE(add(l)) << l;  // the same file again
  EXPECT_EQ(store_.event_count(), 5u);
  auto second = store_.snapshot();
  EXPECT_EQ(news_views(*second, "u1"), 3);
  EXPECT_EQ(news_views(*second, "u2"), 1);
  EXPECT_EQ(second->user_count(), 2u);
}

TEST_F(StoreTest, TheSameInstantWithADifferentOffsetIsTheSameEvent) {
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"news_feed_view")")));
  EXPECT_FALSE(add(line("2026-03-01T10:00:00+01:00", "u1", R"("type":"news_feed_view")")));
  EXPECT_FALSE(add(line("2026-03-01T04:00:00.000-05:00", "u1", R"("type":"news_feed_view")")));
  // Stored to the millisecond: digits beyond it do not make a new event.
  EXPECT_TRUE(add(line("2026-03-01T09:00:00.123Z", "u1", R"("type":"news_feed_view")")));
  EXPECT_FALSE(add(line("2026-03-01T09:00:00.123999Z", "u1", R"("type":"news_feed_view")")));
  auto snap = store_.snapshot();
  EXPECT_EQ(news_views(*snap, "u1"), 2);
}

TEST_F(StoreTest, ContentIsTheNormalisedFields) {
  std::string base = R"({"time":"2026-03-01T09:00:00Z","user":"u1","type":"received","campaign":"plain","channel":"email"})";
  EXPECT_TRUE(add(base));
  // Field order, whitespace and unknown extra fields are not content.
  EXPECT_FALSE(add(R"({"channel":"email","campaign":"plain","type":"received","user":"u1","time":"2026-03-01T09:00:00Z"})"));
  EXPECT_FALSE(add(R"({ "time" : "2026-03-01T09:00:00Z", "user" : "u1", "type" : "received", "campaign" : "plain", "channel" : "email" })"));
  EXPECT_FALSE(add(R"({"time":"2026-03-01T09:00:00Z","user":"u1","type":"received","campaign":"plain","channel":"email","ingest_id":"x17"})"));
  // Any real difference is a new event.
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"received","campaign":"plain","channel":"push")")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u2", R"("type":"received","campaign":"plain","channel":"email")")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00.001Z", "u1", R"("type":"received","campaign":"plain","channel":"email")")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"received","campaign":"spring_sale","channel":"email")")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"converted","campaign":"plain")")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"converted","campaign":"plain","conversion_event":1)")));
  // conversion_event defaults to 0: writing it out is the same event.
  EXPECT_FALSE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"converted","campaign":"plain","conversion_event":0)")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"attributes","attributes":{"a":1})")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"attributes","attributes":{"a":2})")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"attributes","attributes":{"a":"2"})")));
  EXPECT_FALSE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"attributes","attributes":{"a":1})")));
  EXPECT_EQ(store_.event_count(), 10u);
}

TEST_F(StoreTest, AttributeKeyOrderIsNotContent) {
  // A JSON object is an unordered collection (RFC 8259): the same attributes
  // written in another order are the same event.
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u1", R"({"a":1,"b":"x"})"));
  EXPECT_FALSE(attrs("2026-03-01T09:00:00Z", "u1", R"({"b":"x","a":1})"));
  EXPECT_EQ(store_.event_count(), 1u);
}

TEST_F(StoreTest, DistinctIdsThatCouldCollideWhenConcatenatedStayDistinct) {
  // (user "ab", flag "c") and (user "a", flag "bc") are different events.
  EXPECT_TRUE(flag("2026-03-01T09:00:00Z", "ab", "c", true));
  EXPECT_TRUE(flag("2026-03-01T09:00:00Z", "a", "bc", true));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"sms_inbound","subscription_group":"ab","keyword_category":"c")")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"sms_inbound","subscription_group":"a","keyword_category":"bc")")));
  EXPECT_EQ(store_.event_count(), 4u);
  auto snap = store_.snapshot();
  EXPECT_EQ(summary(*snap, SummaryKind::kLastSmsInbound, "u1", "ab", "c"), at("2026-03-01T09:00:00Z"));
  EXPECT_EQ(summary(*snap, SummaryKind::kLastSmsInbound, "u1", "a", "bc"), at("2026-03-01T09:00:00Z"));
  EXPECT_EQ(summary(*snap, SummaryKind::kLastSmsInbound, "u1", "abc", ""), kNoTime);
  EXPECT_TRUE(flag_enabled(*snap, "c", "ab"));
  EXPECT_FALSE(flag_enabled(*snap, "c", "a"));
  EXPECT_TRUE(flag_enabled(*snap, "bc", "a"));
}

// -------------------------------------------------------------- attributes

TEST_F(StoreTest, AttributeLatestTimeWins) {
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u1", R"({"country":"DE"})"));
  EXPECT_TRUE(attrs("2026-03-02T09:00:00Z", "u1", R"({"country":"FR"})"));
  auto snap = store_.snapshot();
  auto v = attr(*snap, "country", "u1");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, AttributeValue::Type::kString);
  EXPECT_EQ(v->text, "FR");
}

TEST_F(StoreTest, AttributeOutOfOrderArrivalKeepsTheLatestTime) {
  EXPECT_TRUE(attrs("2026-03-02T09:00:00Z", "u1", R"({"country":"FR"})"));
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u1", R"({"country":"DE"})"));  // older, arrives late
  auto snap = store_.snapshot();
  ASSERT_NE(attr(*snap, "country", "u1"), nullptr);
  EXPECT_EQ(attr(*snap, "country", "u1")->text, "FR");
  // Offsets compare as instants: 10:30+02:00 (08:30Z) is older than 09:00Z.
  EXPECT_TRUE(attrs("2026-03-05T09:00:00Z", "u2", R"({"country":"NL"})"));
  EXPECT_TRUE(attrs("2026-03-05T10:30:00+02:00", "u2", R"({"country":"BE"})"));
  snap = store_.snapshot();
  ASSERT_NE(attr(*snap, "country", "u2"), nullptr);
  EXPECT_EQ(attr(*snap, "country", "u2")->text, "NL");
}

TEST_F(StoreTest, AttributeEqualTimesTheLaterIngestWins) {
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u1", R"({"country":"DE"})"));
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u1", R"({"country":"FR"})"));
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u2", R"({"country":"FR"})"));
  EXPECT_TRUE(attrs("2026-03-01T10:00:00+01:00", "u2", R"({"country":"DE"})"));  // the same instant
  auto snap = store_.snapshot();
  ASSERT_NE(attr(*snap, "country", "u1"), nullptr);
  EXPECT_EQ(attr(*snap, "country", "u1")->text, "FR");
  ASSERT_NE(attr(*snap, "country", "u2"), nullptr);
  EXPECT_EQ(attr(*snap, "country", "u2")->text, "DE");
}

TEST_F(StoreTest, AttributeNullUnsets) {
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u1", R"({"country":"DE","tier":"gold"})"));
  EXPECT_TRUE(attrs("2026-03-02T09:00:00Z", "u1", R"({"country":null})"));
  auto snap = store_.snapshot();
  EXPECT_EQ(attr(*snap, "country", "u1"), nullptr);  // unset users are absent
  ASSERT_NE(attr(*snap, "tier", "u1"), nullptr);     // other attributes untouched
  EXPECT_EQ(attr(*snap, "tier", "u1")->text, "gold");
  // Set again later.
  EXPECT_TRUE(attrs("2026-03-03T09:00:00Z", "u1", R"({"country":"IT"})"));
  snap = store_.snapshot();
  ASSERT_NE(attr(*snap, "country", "u1"), nullptr);
  EXPECT_EQ(attr(*snap, "country", "u1")->text, "IT");
}

TEST_F(StoreTest, AnOlderNullDoesNotUnsetANewerValue) {
  EXPECT_TRUE(attrs("2026-03-02T09:00:00Z", "u1", R"({"country":"DE"})"));
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u1", R"({"country":null})"));
  auto snap = store_.snapshot();
  ASSERT_NE(attr(*snap, "country", "u1"), nullptr);
  EXPECT_EQ(attr(*snap, "country", "u1")->text, "DE");
}

TEST_F(StoreTest, AnOlderValueDoesNotUndoANewerUnset) {
  EXPECT_TRUE(attrs("2026-03-02T09:00:00Z", "u1", R"({"country":null})"));
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u1", R"({"country":"DE"})"));
  auto snap = store_.snapshot();
  EXPECT_EQ(attr(*snap, "country", "u1"), nullptr);
  // And an unset at equal time, ingested later, wins.
  EXPECT_TRUE(attrs("2026-03-05T09:00:00Z", "u2", R"({"country":"DE"})"));
  EXPECT_TRUE(attrs("2026-03-05T09:00:00Z", "u2", R"({"country":null})"));
  snap = store_.snapshot();
  EXPECT_EQ(attr(*snap, "country", "u2"), nullptr);
}

TEST_F(StoreTest, EachAttributeTakesItsOwnLatestEvent) {
  EXPECT_TRUE(attrs("2026-03-02T09:00:00Z", "u1", R"({"a":1,"b":2})"));
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u1", R"({"a":3,"c":true})"));  // older: only c is new
  EXPECT_TRUE(attrs("2026-03-03T09:00:00Z", "u1", R"({"b":5})"));
  auto snap = store_.snapshot();
  ASSERT_NE(attr(*snap, "a", "u1"), nullptr);
  EXPECT_EQ(attr(*snap, "a", "u1")->type, AttributeValue::Type::kNumber);
  EXPECT_DOUBLE_EQ(attr(*snap, "a", "u1")->number, 1);
  ASSERT_NE(attr(*snap, "b", "u1"), nullptr);
  EXPECT_DOUBLE_EQ(attr(*snap, "b", "u1")->number, 5);
  ASSERT_NE(attr(*snap, "c", "u1"), nullptr);
  EXPECT_EQ(attr(*snap, "c", "u1")->type, AttributeValue::Type::kBool);
  EXPECT_TRUE(attr(*snap, "c", "u1")->boolean);
}

TEST_F(StoreTest, AttributeValueTypesAreKept) {
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u1",
                    R"({"n":2.5,"b":false,"s":"x","t":"2026-01-01T00:00:00+01:00"})"));
  auto snap = store_.snapshot();
  ASSERT_NE(attr(*snap, "n", "u1"), nullptr);
  EXPECT_DOUBLE_EQ(attr(*snap, "n", "u1")->number, 2.5);
  ASSERT_NE(attr(*snap, "b", "u1"), nullptr);
  EXPECT_EQ(attr(*snap, "b", "u1")->type, AttributeValue::Type::kBool);
  EXPECT_FALSE(attr(*snap, "b", "u1")->boolean);
  ASSERT_NE(attr(*snap, "s", "u1"), nullptr);
  EXPECT_EQ(attr(*snap, "s", "u1")->time, kNoTime);
  ASSERT_NE(attr(*snap, "t", "u1"), nullptr);
  EXPECT_EQ(attr(*snap, "t", "u1")->time, at("2025-12-31T23:00:00Z"));
  // The type may change with a later event.
  EXPECT_TRUE(attrs("2026-03-02T09:00:00Z", "u1", R"({"n":"many"})"));
  snap = store_.snapshot();
  EXPECT_EQ(attr(*snap, "n", "u1")->type, AttributeValue::Type::kString);
  EXPECT_EQ(attr(*snap, "n", "u1")->text, "many");
}

// ----------------------------------------------------------- feature flags

TEST_F(StoreTest, FeatureFlagLatestStateWins) {
  EXPECT_TRUE(flag("2026-03-01T09:00:00Z", "u1", "beta", true));
  EXPECT_TRUE(flag("2026-03-02T09:00:00Z", "u1", "beta", false));
  // Out of order: the newer state arrives first.
  EXPECT_TRUE(flag("2026-03-02T09:00:00Z", "u2", "beta", false));
  EXPECT_TRUE(flag("2026-03-01T09:00:00Z", "u2", "beta", true));
  EXPECT_TRUE(flag("2026-03-02T09:00:00Z", "u3", "beta", true));
  EXPECT_TRUE(flag("2026-03-01T09:00:00Z", "u3", "beta", false));
  EXPECT_TRUE(flag("2026-03-01T09:00:00Z", "u4", "beta", false));
  EXPECT_TRUE(flag("2026-03-02T09:00:00Z", "u4", "beta", true));
  EXPECT_TRUE(flag("2026-03-01T09:00:00Z", "u5", "other", true));
  auto snap = store_.snapshot();
  EXPECT_FALSE(flag_enabled(*snap, "beta", "u1"));
  EXPECT_FALSE(flag_enabled(*snap, "beta", "u2"));
  EXPECT_TRUE(flag_enabled(*snap, "beta", "u3"));
  EXPECT_TRUE(flag_enabled(*snap, "beta", "u4"));
  EXPECT_FALSE(flag_enabled(*snap, "beta", "u5"));  // never set = disabled
  EXPECT_TRUE(flag_enabled(*snap, "other", "u5"));
  EXPECT_FALSE(flag_enabled(*snap, "nope", "u5"));
  // Flags are independent per name.
  const sdk::UserTimes* beta = snap->profiles().times(SummaryKind::kFeatureFlagEnabled, "beta", "");
  ASSERT_NE(beta, nullptr);
  EXPECT_EQ(beta->size(), 2u);
}

TEST_F(StoreTest, FeatureFlagTurnsOffAcrossSnapshots) {
  EXPECT_TRUE(flag("2026-03-01T09:00:00Z", "u1", "beta", true));
  auto first = store_.snapshot();
  EXPECT_TRUE(flag_enabled(*first, "beta", "u1"));
  EXPECT_TRUE(flag("2026-03-03T09:00:00Z", "u1", "beta", false));
  auto second = store_.snapshot();
  EXPECT_FALSE(flag_enabled(*second, "beta", "u1"));
  EXPECT_TRUE(flag_enabled(*first, "beta", "u1"));  // the old snapshot is unchanged
}

TEST_F(StoreTest, ProfileFlagsKeepTheLatestReport) {
  EXPECT_TRUE(add(line("2026-03-02T09:00:00Z", "u1", R"("type":"hard_bounce")")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"hard_bounce")")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u2", R"("type":"spam_report")")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u3", R"("type":"invalid_phone")")));
  auto snap = store_.snapshot();
  EXPECT_EQ(summary(*snap, SummaryKind::kFlag, "u1", "hard_bounced"), at("2026-03-02T09:00:00Z"));
  EXPECT_EQ(summary(*snap, SummaryKind::kFlag, "u2", "hard_bounced"), kNoTime);
  EXPECT_EQ(summary(*snap, SummaryKind::kFlag, "u2", "marked_spam"), at("2026-03-01T09:00:00Z"));
  EXPECT_EQ(summary(*snap, SummaryKind::kFlag, "u3", "invalid_phone"), at("2026-03-01T09:00:00Z"));
}

// --------------------------------------------------------- receipts, facts

TEST_F(StoreTest, LastReceiptIsTheLatestWhateverTheOrder) {
  EXPECT_TRUE(add(line("2026-03-05T09:00:00Z", "u1", R"("type":"received","campaign":"plain","channel":"email")")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"received","campaign":"plain","channel":"email")")));
  EXPECT_TRUE(add(line("2026-03-03T09:00:00Z", "u1", R"("type":"received","canvas":"onboarding","step":"day3","channel":"push")")));
  auto snap = store_.snapshot();
  EXPECT_EQ(summary(*snap, SummaryKind::kLastReceived, "u1", ""), at("2026-03-05T09:00:00Z"));
  EXPECT_EQ(summary(*snap, SummaryKind::kLastReceived, "u1", "email"), at("2026-03-05T09:00:00Z"));
  EXPECT_EQ(summary(*snap, SummaryKind::kLastReceived, "u1", "push"), at("2026-03-03T09:00:00Z"));
  EXPECT_EQ(summary(*snap, SummaryKind::kLastReceived, "u1", "sms"), kNoTime);

  auto u1 = snap->find_user("u1");
  ASSERT_TRUE(u1);
  const sdk::UserTimes* c = snap->interactions().fact(FactKey{SourceKind::kCampaign, "plain", FactKind::kReceived, "", ""});
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->find(*u1), at("2026-03-05T09:00:00Z"));
  const sdk::UserTimes* step = snap->interactions().fact(FactKey{SourceKind::kCanvas, "onboarding", FactKind::kReceived, "day3", ""});
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->find(*u1), at("2026-03-03T09:00:00Z"));
  EXPECT_EQ(snap->interactions().fact(FactKey{SourceKind::kCanvas, "onboarding", FactKind::kReceived, "welcome", ""}), nullptr);
  // A campaign and a Canvas are different sources.
  EXPECT_EQ(snap->interactions().fact(FactKey{SourceKind::kCanvas, "plain", FactKind::kReceived, "", ""}), nullptr);
}

TEST_F(StoreTest, UsersAreInternedInOrderOfFirstAppearance) {
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "zed", R"("type":"news_feed_view")")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "amy", R"("type":"news_feed_view")")));
  EXPECT_TRUE(add(line("2026-03-02T09:00:00Z", "zed", R"("type":"news_feed_view")")));
  EXPECT_EQ(store_.user_count(), 2u);
  auto snap = store_.snapshot();
  EXPECT_EQ(snap->user_count(), 2u);
  EXPECT_EQ(snap->user_count(), 2u);
  EXPECT_EQ(snap->find_user("zed"), UserIndex{0});
  EXPECT_EQ(snap->find_user("amy"), UserIndex{1});
  EXPECT_EQ(snap->user_id(1), "amy");
  EXPECT_EQ(snap->find_user("bob"), std::nullopt);
  // ProfileView::user_buckets: sdk::user_id_hash of every user mod 10000, by index.
  auto buckets = snap->profiles().user_buckets(0);
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0], sdk::user_id_hash("zed") % 10000);
  EXPECT_EQ(buckets[1], sdk::user_id_hash("amy") % 10000);
}

TEST_F(StoreTest, NewsFeedCountAndLastView) {
  for (const char* t : {"2026-03-01T09:00:00Z", "2026-03-04T09:00:00Z", "2026-03-02T09:00:00Z"})
    EXPECT_TRUE(add(line(t, "u1", R"("type":"news_feed_view")")));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u2", R"("type":"hard_bounce")")));
  auto snap = store_.snapshot();
  EXPECT_EQ(news_views(*snap, "u1"), 3);
  EXPECT_EQ(summary(*snap, SummaryKind::kLastNewsFeedView, "u1"), at("2026-03-04T09:00:00Z"));
  // Users with no views are absent from the count column.
  auto u2 = snap->find_user("u2");
  ASSERT_TRUE(u2);
  ASSERT_NE(snap->profiles().news_feed_views(), nullptr);
  EXPECT_FALSE(snap->profiles().news_feed_views()->find(*u2));
}

// --------------------------------------------------------------- snapshots

TEST_F(StoreTest, EmptySnapshot) {
  auto snap = store_.snapshot();
  EXPECT_EQ(snap->user_count(), 0u);
  EXPECT_EQ(snap->user_count(), 0u);
  EXPECT_EQ(snap->profiles().attribute("country"), nullptr);
  EXPECT_EQ(snap->profiles().times(SummaryKind::kLastReceived, "", ""), nullptr);
}

TEST_F(StoreTest, ASnapshotIsUnchangedByLaterEvents) {
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"received","campaign":"plain","channel":"email")")));
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u1", R"({"country":"DE"})"));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"news_feed_view")")));
  EXPECT_TRUE(flag("2026-03-01T09:00:00Z", "u1", "beta", true));
  auto snap1 = store_.snapshot();

  // More of everything: new users, a newer receipt, a changed attribute, more
  // views, a flag turned off, new columns.
  EXPECT_TRUE(add(line("2026-03-05T09:00:00Z", "u1", R"("type":"received","campaign":"plain","channel":"email")")));
  EXPECT_TRUE(add(line("2026-03-05T09:00:00Z", "u2", R"("type":"received","campaign":"plain","channel":"email")")));
  EXPECT_TRUE(attrs("2026-03-05T09:00:00Z", "u1", R"({"country":"FR","tier":"gold"})"));
  EXPECT_TRUE(attrs("2026-03-05T09:00:00Z", "u3", R"({"country":"IT"})"));
  EXPECT_TRUE(add(line("2026-03-05T09:00:00Z", "u1", R"("type":"news_feed_view")")));
  EXPECT_TRUE(flag("2026-03-05T09:00:00Z", "u1", "beta", false));
  EXPECT_TRUE(add(line("2026-03-05T09:00:00Z", "u4", R"("type":"hard_bounce")")));
  auto snap2 = store_.snapshot();

  // snap1 is exactly as it was.
  EXPECT_EQ(snap1->user_count(), 1u);
  EXPECT_EQ(snap1->user_count(), 1u);
  EXPECT_EQ(snap1->find_user("u2"), std::nullopt);
  EXPECT_EQ(summary(*snap1, SummaryKind::kLastReceived, "u1", "email"), at("2026-03-01T09:00:00Z"));
  ASSERT_NE(snap1->profiles().times(SummaryKind::kLastReceived, "email", ""), nullptr);
  EXPECT_EQ(snap1->profiles().times(SummaryKind::kLastReceived, "email", "")->size(), 1u);
  ASSERT_NE(attr(*snap1, "country", "u1"), nullptr);
  EXPECT_EQ(attr(*snap1, "country", "u1")->text, "DE");
  EXPECT_EQ(snap1->profiles().attribute("country")->size(), 1u);
  EXPECT_EQ(snap1->profiles().attribute("tier"), nullptr);
  EXPECT_EQ(news_views(*snap1, "u1"), 1);
  EXPECT_TRUE(flag_enabled(*snap1, "beta", "u1"));
  EXPECT_EQ(snap1->profiles().times(SummaryKind::kFlag, "hard_bounced", ""), nullptr);

  // snap2 has everything.
  EXPECT_EQ(snap2->user_count(), 4u);
  EXPECT_EQ(summary(*snap2, SummaryKind::kLastReceived, "u1", "email"), at("2026-03-05T09:00:00Z"));
  EXPECT_EQ(snap2->profiles().times(SummaryKind::kLastReceived, "email", "")->size(), 2u);
  EXPECT_EQ(attr(*snap2, "country", "u1")->text, "FR");
  EXPECT_EQ(attr(*snap2, "country", "u3")->text, "IT");
  ASSERT_NE(attr(*snap2, "tier", "u1"), nullptr);
  EXPECT_EQ(news_views(*snap2, "u1"), 2);
  EXPECT_FALSE(flag_enabled(*snap2, "beta", "u1"));
  EXPECT_NE(snap2->profiles().times(SummaryKind::kFlag, "hard_bounced", ""), nullptr);
}

TEST_F(StoreTest, UntouchedColumnsAreShared) {
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"received","campaign":"plain","channel":"email")")));
  EXPECT_TRUE(attrs("2026-03-01T09:00:00Z", "u1", R"({"country":"DE"})"));
  EXPECT_TRUE(flag("2026-03-01T09:00:00Z", "u1", "beta", true));
  EXPECT_TRUE(add(line("2026-03-01T09:00:00Z", "u1", R"("type":"news_feed_view")")));
  auto snap1 = store_.snapshot();

  // Touch only the news feed.
  EXPECT_TRUE(add(line("2026-03-02T09:00:00Z", "u1", R"("type":"news_feed_view")")));
  auto snap2 = store_.snapshot();
  EXPECT_EQ(snap2->profiles().times(SummaryKind::kLastReceived, "email", ""),
            snap1->profiles().times(SummaryKind::kLastReceived, "email", ""));
  EXPECT_EQ(snap2->profiles().attribute("country"), snap1->profiles().attribute("country"));
  EXPECT_EQ(snap2->profiles().times(SummaryKind::kFeatureFlagEnabled, "beta", ""),
            snap1->profiles().times(SummaryKind::kFeatureFlagEnabled, "beta", ""));
  EXPECT_EQ(snap2->interactions().fact(FactKey{SourceKind::kCampaign, "plain", FactKind::kReceived, "", ""}),
            snap1->interactions().fact(FactKey{SourceKind::kCampaign, "plain", FactKind::kReceived, "", ""}));
  EXPECT_NE(snap2->profiles().news_feed_views(), snap1->profiles().news_feed_views());
  EXPECT_EQ(news_views(*snap1, "u1"), 1);
  EXPECT_EQ(news_views(*snap2, "u1"), 2);

  // A duplicate touches nothing.
  EXPECT_FALSE(add(line("2026-03-02T09:00:00Z", "u1", R"("type":"news_feed_view")")));
  auto snap3 = store_.snapshot();
  EXPECT_EQ(snap3->profiles().news_feed_views(), snap2->profiles().news_feed_views());
  EXPECT_EQ(snap3->profiles().attribute("country"), snap2->profiles().attribute("country"));

  // An older attribute value that loses changes nothing a reader can see.
  EXPECT_TRUE(attrs("2026-02-01T09:00:00Z", "u1", R"({"country":"NL"})"));
  auto snap4 = store_.snapshot();
  ASSERT_NE(attr(*snap4, "country", "u1"), nullptr);
  EXPECT_EQ(attr(*snap4, "country", "u1")->text, "DE");
}

}  // namespace
}  // namespace retarget
