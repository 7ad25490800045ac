// The durable data directory: everything survives a restart; tiers change
// at once and the bytes follow; interrupted moves are finished on open.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "retarget/format.hpp"
#include "test_support.hpp"

namespace retarget {
namespace {

using Strings = std::vector<std::string>;
constexpr std::int64_t kDay = 86400000;

const char* kCatalog = R"(version: 1
campaigns:
  - {id: promo, status: stopped, stopped_at: 2026-01-01T00:00:00Z}
  - {id: live_one, status: active}
)";
const char* kRules = R"(version: 1
segments:
  - id: got_promo
    match: {received_campaign: {campaign: promo}}
  - id: gold
    match: {custom_attribute: {name: tier, op: equals, value: gold}}
)";
const char* kEvents = R"({"time":"2025-12-01T00:00:00Z","user":"a","type":"received","campaign":"promo","channel":"email"}
{"time":"2025-12-02T00:00:00Z","user":"b","type":"received","campaign":"promo","channel":"email"}
{"time":"2025-12-03T00:00:00Z","user":"c","type":"received","campaign":"live_one","channel":"push"}
{"time":"2025-12-05T00:00:00Z","user":"a","type":"attributes","attributes":{"tier":"silver"}}
{"time":"2025-12-05T00:00:00Z","user":"a","type":"attributes","attributes":{"tier":"gold"}}
)";

class Durable : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> open(const std::string& now = "2026-02-01T00:00:00Z", bool background = true) {
    EngineOptions o = testing::test_options(now);
    o.data_dir = (tmp_ / "data").string();
    o.background = background;
    auto e = Engine::Open(o);
    EXPECT_TRUE(e.ok()) << e.status().message();
    return e.ok() ? std::move(e).value() : nullptr;
  }
  void populate(Engine& e) {
    Diagnostics d;
    ASSERT_TRUE(e.apply_catalog_text(kCatalog, "catalog.yaml", d).ok()) << d.to_string();
    ASSERT_TRUE(e.ingest_text(kEvents).ok());
    ASSERT_TRUE(e.load_rules_text(kRules, "rules.yaml", d).ok()) << d.to_string();
  }
  static nlohmann::json check(const Engine& e) { return nlohmann::json::parse(to_json(e.check_store())); }
  testing::TempDir tmp_;
};

TEST_F(Durable, EverythingSurvivesARestart) {
  {
    auto e = open();
    populate(*e);
    ASSERT_TRUE(e->set_status(CatalogKind::kCampaign, "live_one", CatalogStatus::kStopped).ok());
  }
  auto e = open();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->evaluate("got_promo")->members, (Strings{"a", "b"}));
  // The tie of equal times goes to the later ingest, also after replay.
  EXPECT_EQ(e->evaluate("gold")->members, Strings{"a"});
  EXPECT_EQ(e->lifecycle_status({"live_one"})[0].status, CatalogStatus::kStopped);
  auto again = e->ingest_text(kEvents);
  EXPECT_EQ(again->accepted, 0u);
  EXPECT_EQ(again->duplicates, 5u);
  EXPECT_TRUE(check(*e)["ok"].get<bool>()) << to_json(e->check_store());
}

TEST_F(Durable, ExpiryMovesRecordsToTheArchiveAndRestoreMovesThemBack) {
  {
    auto e = open();
    populate(*e);
    e->set_now_ms(*parse_time_ms("2026-01-01T00:00:00Z") + 91 * kDay);
    auto r = e->sweep();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->expired, Strings{"campaign:promo"});
    EXPECT_EQ(r->records_moved, 2u);
    // A late event for the expired source goes to long-term storage.
    ASSERT_EQ(e->ingest_text(R"({"time":"2026-03-01T00:00:00Z","user":"d","type":"received","campaign":"promo","channel":"sms"})" "\n")->accepted, 1u);
  }
  auto e = open("2026-04-05T00:00:00Z");
  auto c = check(*e);
  ASSERT_TRUE(c["ok"].get<bool>()) << c.dump(2);
  bool seen = false;
  for (const auto& s : c["sources"])
    if (s["source"] == "campaign:promo") {
      seen = true;
      EXPECT_EQ(s["tier"], "expired");
      EXPECT_EQ(s["records"], 3);
      EXPECT_EQ(s["columns_in"], "long-term storage");  // the bytes moved after the sweep
    }
  EXPECT_TRUE(seen) << c.dump(2);
  EXPECT_TRUE(e->evaluate("got_promo")->members.empty());
  auto job = e->restore({{"promo"}, {}, {}});
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(e->wait_restore(job->id).moved, 3u);
  EXPECT_EQ(e->evaluate("got_promo")->members, (Strings{"a", "b", "d"}));
  c = check(*e);
  ASSERT_TRUE(c["ok"].get<bool>()) << c.dump(2);
  e.reset();
  auto reopened = open("2026-04-05T00:00:00Z");
  EXPECT_EQ(reopened->lifecycle_status({"promo"})[0].tier, Tier::kLive);
  EXPECT_EQ(reopened->evaluate("got_promo")->members, (Strings{"a", "b", "d"}));
}

TEST_F(Durable, AnInterruptedMoveIsFinishedWhenTheStoreOpens) {
  {
    // Expired (one log record) but its bytes never moved: no tier mover ran.
    auto e = open("2026-02-01T00:00:00Z", /*background=*/false);
    populate(*e);
    e->set_now_ms(*parse_time_ms("2026-01-01T00:00:00Z") + 91 * kDay);
    ASSERT_TRUE(e->sweep().ok());
  }
  {
    auto e = open("2026-04-05T00:00:00Z", /*background=*/false);
    auto c = check(*e);
    EXPECT_EQ(c["sources"][0]["columns_in"], "live tables") << c.dump(2);
  }
  auto e = open("2026-04-05T00:00:00Z");
  EXPECT_EQ(e->lifecycle_status({"promo"})[0].tier, Tier::kExpired);
  EXPECT_TRUE(e->evaluate("got_promo")->members.empty());
  e.reset();  // the mover finishes before the engine closes
  e = open("2026-04-05T00:00:00Z");
  auto c = check(*e);
  EXPECT_TRUE(c["ok"].get<bool>()) << c.dump(2);
  for (const auto& s : c["sources"])
    if (s["source"] == "campaign:promo") {
      EXPECT_EQ(s["columns_in"], "long-term storage") << c.dump(2);
    }
  auto job = e->restore({{"promo"}, {}, {}});
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(e->wait_restore(job->id).state, JobState::kDone);
  EXPECT_EQ(e->evaluate("got_promo")->members, (Strings{"a", "b"}));
}

TEST_F(Durable, ASecondProcessIsRefusedWithAClearMessage) {
  auto first = open();
  EngineOptions o = testing::test_options();
  o.data_dir = (tmp_ / "data").string();
  auto second = Engine::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use by another retarget process"), std::string::npos)
      << second.status().message();
}

TEST_F(Durable, EvaluateRulesAreNotStoredButRulesApplyIs) {
  {
    auto e = open();
    populate(*e);
    Diagnostics d;
    ASSERT_TRUE(e->load_rules_text("version: 1\nsegments:\n  - id: temp\n    match: {hard_bounced: {}}\n", "t.yaml", d,
                                   /*store=*/false).ok());
  }
  auto e = open();
  EXPECT_EQ(e->segment_ids(), (Strings{"gold", "got_promo"}));
}

}  // namespace
}  // namespace retarget
