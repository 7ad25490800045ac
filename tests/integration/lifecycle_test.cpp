// Scenario tests for every rule of lifecycle.md, driven with a fixed clock.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <set>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "retarget/format.hpp"
#include "test_support.hpp"

namespace retarget {
namespace {

constexpr std::int64_t kDay = 86400000;
std::int64_t at(const char* t) { return *parse_time_ms(t); }
const std::int64_t kStopped = at("2026-01-01T00:00:00Z");  // old_promo and other_promo stopped then

const char* kCatalog = R"(version: 1
campaigns:
  - id: old_promo
    tags: [seasonal]
    status: stopped
    stopped_at: 2026-01-01T00:00:00Z
  - id: other_promo
    status: stopped
    stopped_at: 2026-01-01T00:00:00Z
  - id: fresh
    status: active
canvases:
  - id: journey
    steps: [{id: s1}]
    variations: [{id: v1}]
    status: draft
    audience: {segments: [outer]}
content_cards:
  - id: tag_card
    status: draft
    audience: {match: {received_tagged: {tag: seasonal}}}
)";

const char* kRules = R"(version: 1
segments:
  - id: inner
    match: {received_campaign: {campaign: old_promo}}
  - id: outer
    match: {segment: {id: inner}}
  - id: others
    match: {received_campaign: {campaign: other_promo}}
  - id: emailed
    match: {last_received_email: {blank: false}}
  - id: never_got_old
    match: {received_campaign: {campaign: old_promo, have: false}}
)";

const char* kEvents = R"({"time":"2025-12-20T10:00:00Z","user":"u1","type":"received","campaign":"old_promo","channel":"email"}
{"time":"2025-12-20T11:00:00Z","user":"u1","type":"interaction","campaign":"old_promo","action":"opened_email"}
{"time":"2025-12-15T10:00:00Z","user":"u2","type":"received","campaign":"other_promo","channel":"email"}
{"time":"2025-12-16T10:00:00Z","user":"u3","type":"received","campaign":"fresh","channel":"push"}
)";

class Lifecycle : public ::testing::Test {
 protected:
  void open(const std::string& config_yaml = "version: 1\n") {
    testing::write_file(tmp_ / "retarget.yaml", config_yaml);
    EngineOptions o = testing::test_options("2026-02-01T00:00:00Z");
    o.config_path = (tmp_ / "retarget.yaml").string();
    auto e = Engine::Open(o);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();
    Diagnostics d;
    ASSERT_TRUE(engine_->apply_catalog_text(kCatalog, "catalog.yaml", d).ok()) << d.to_string();
    ASSERT_TRUE(engine_->ingest_text(kEvents).ok());
    ASSERT_TRUE(engine_->load_rules_text(kRules, "rules.yaml", d).ok()) << d.to_string();
  }
  void now(std::int64_t t) { engine_->set_now_ms(t); }
  std::string tier(const std::string& id) {
    for (const auto& s : engine_->lifecycle_status({id})) return std::string(tier_label(s.tier, s.restoring));
    return "?";
  }
  std::vector<std::string> members(const std::string& segment) {
    auto r = engine_->evaluate(segment);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->members : std::vector<std::string>{};
  }
  SweepReport sweep() {
    auto r = engine_->sweep();
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : SweepReport{};
  }
  Status apply(const std::string& yaml) {
    Diagnostics d;
    return engine_->apply_catalog_text(yaml, "change.yaml", d);
  }
  testing::TempDir tmp_;
  std::unique_ptr<Engine> engine_;
};

using Strings = std::vector<std::string>;

TEST_F(Lifecycle, AStoppedCampaignIsLiveAtDay89AndExpiredAfterTheSweepPastDay90) {
  open();
  now(kStopped + 89 * kDay);
  EXPECT_TRUE(sweep().expired.empty());
  EXPECT_EQ(tier("old_promo"), "live");
  EXPECT_EQ(members("inner"), Strings{"u1"});

  now(kStopped + 90 * kDay);
  SweepReport r = sweep();
  EXPECT_EQ(r.expired, (Strings{"campaign:old_promo", "campaign:other_promo"}));
  EXPECT_EQ(r.records_moved, 3u);
  EXPECT_EQ(tier("old_promo"), "expired");
  // Interaction-dependent results exclude expired data, and say so.
  auto result = engine_->evaluate("inner");
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->members.empty());
  ASSERT_FALSE(result->warnings.empty());
  EXPECT_NE(result->warnings[0].find("campaign:old_promo"), std::string::npos);
  EXPECT_EQ(members("never_got_old"), (Strings{"u1", "u2", "u3"}));
  // Profile-level filters are unaffected: u1's and u2's email receipts still count.
  EXPECT_EQ(members("emailed"), (Strings{"u1", "u2"}));
  EXPECT_TRUE(engine_->evaluate("emailed")->warnings.empty());
  // The active campaign never expires; counts are unchanged by the move.
  EXPECT_EQ(tier("fresh"), "live");
  for (const auto& s : engine_->lifecycle_status({"old_promo"})) EXPECT_EQ(s.records, 2u);
}

TEST_F(Lifecycle, ExpiryDateIsTheSweepAfterTheClockRunsOut) {
  open("version: 1\nsweep_schedule: \"daily 03:00\"\n");
  auto s = engine_->lifecycle_status({"old_promo"});
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].last_activity_reason, "stopped");
  EXPECT_EQ(*s[0].due_ms, kStopped + 90 * kDay);
  EXPECT_EQ(*s[0].expires_at_ms, kStopped + 90 * kDay + 3 * 3600000);
  now(kStopped + 200 * kDay);
  auto plan = engine_->lifecycle_plan(kStopped + 90 * kDay + 3 * 3600000);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].action, SweepAction::kExpire);
}

TEST_F(Lifecycle, PinnedThroughAnActiveCanvasAudienceViaANestedSegment) {
  open();
  ASSERT_TRUE(engine_->set_status(CatalogKind::kCanvas, "journey", CatalogStatus::kActive).ok());
  now(kStopped + 120 * kDay);
  SweepReport r = sweep();
  EXPECT_EQ(r.expired, Strings{"campaign:other_promo"});
  EXPECT_EQ(tier("old_promo"), "live");
  auto s = engine_->lifecycle_status({"old_promo"});
  ASSERT_TRUE(s[0].pinned);
  ASSERT_EQ(s[0].pinned_by.size(), 1u);
  EXPECT_EQ(s[0].pinned_by[0].path, (Strings{"consumer:canvas:journey", "segment:outer", "segment:inner",
                                             "source:campaign:old_promo"}));
  EXPECT_EQ(members("outer"), Strings{"u1"});
  auto deps = nlohmann::json::parse(engine_->dependency_graph("json"));
  EXPECT_FALSE(deps["edges"].empty());
  EXPECT_NE(engine_->dependency_graph("dot").find("\"segment:outer\" -> \"segment:inner\""), std::string::npos);
}

TEST_F(Lifecycle, PinnedByTagIncludingASourceTaggedAfterTheSegmentWasWritten) {
  open();
  ASSERT_TRUE(engine_->set_status(CatalogKind::kCard, "tag_card", CatalogStatus::kActive).ok());
  EXPECT_TRUE(engine_->lifecycle_status({"old_promo"})[0].pinned);
  EXPECT_FALSE(engine_->lifecycle_status({"other_promo"})[0].pinned);
  // Tag other_promo later: it is pinned at once.
  ASSERT_TRUE(apply("version: 1\ncampaigns:\n  - {id: other_promo, tags: [seasonal], status: stopped, "
                    "stopped_at: 2026-01-01T00:00:00Z}\n").ok());
  EXPECT_TRUE(engine_->lifecycle_status({"other_promo"})[0].pinned);
  now(kStopped + 150 * kDay);
  EXPECT_TRUE(sweep().expired.empty());
}

TEST_F(Lifecycle, PinByTagFalseDoesNotPinThroughTags) {
  open("version: 1\npin_by_tag: false\n");
  ASSERT_TRUE(engine_->set_status(CatalogKind::kCard, "tag_card", CatalogStatus::kActive).ok());
  EXPECT_FALSE(engine_->lifecycle_status({"old_promo"})[0].pinned);
}

TEST_F(Lifecycle, SegmentsPinOnTheirOwnWithSegmentsPin) {
  open("version: 1\nsegments_pin: true\n");
  EXPECT_TRUE(engine_->lifecycle_status({"old_promo"})[0].pinned);
  EXPECT_TRUE(engine_->lifecycle_status({"other_promo"})[0].pinned);
}

TEST_F(Lifecycle, TheClockRestartsWhenTheLastPinIsReleased) {
  open();
  ASSERT_TRUE(engine_->set_status(CatalogKind::kCanvas, "journey", CatalogStatus::kActive).ok());
  now(kStopped + 85 * kDay);
  ASSERT_TRUE(engine_->set_status(CatalogKind::kCanvas, "journey", CatalogStatus::kStopped).ok());
  auto s = engine_->lifecycle_status({"old_promo"})[0];
  EXPECT_FALSE(s.pinned);
  EXPECT_EQ(s.last_activity_reason, "last pin released");
  EXPECT_EQ(*s.due_ms, kStopped + 175 * kDay);
  now(kStopped + 100 * kDay);
  EXPECT_EQ(sweep().expired, Strings{"campaign:other_promo"});
  now(kStopped + 175 * kDay);
  // The Canvas itself stopped at day 85 too, so its (empty) data is due at the same sweep.
  EXPECT_EQ(sweep().expired, (Strings{"campaign:old_promo", "canvas:journey"}));
}

TEST_F(Lifecycle, RestoreByIdSeveralIdsAndTagThenExpireAgainAfterAnotherWindow) {
  open();
  now(kStopped + 91 * kDay);
  sweep();
  // Events that arrive for an expired source are kept in long-term storage.
  ASSERT_EQ(engine_->ingest_text(R"({"time":"2026-03-01T00:00:00Z","user":"u4","type":"received","campaign":"old_promo","channel":"sms"})" "\n")->accepted, 1u);
  EXPECT_TRUE(members("inner").empty());

  // The callback runs on the engine's worker thread.
  std::mutex m;
  std::condition_variable cv;
  std::vector<RestoreJobInfo> done;
  auto job = engine_->restore({{"old_promo"}, {}, {}}, [&](const RestoreJobInfo& i) {
    std::lock_guard lock(m);
    done.push_back(i);
    cv.notify_all();
  });
  ASSERT_TRUE(job.ok());
  auto finished = engine_->wait_restore(job->id);
  EXPECT_EQ(finished.state, JobState::kDone);
  EXPECT_EQ(finished.moved, 3u);
  EXPECT_EQ(finished.total, 3u);
  EXPECT_EQ(tier("old_promo"), "live");
  EXPECT_EQ(members("inner"), (Strings{"u1", "u4"}));
  EXPECT_TRUE(engine_->evaluate("inner")->warnings.empty());
  {
    std::unique_lock lock(m);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return !done.empty(); });
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].state, JobState::kDone);
    EXPECT_EQ(done[0].id, job->id);
  }

  // Idempotent: restoring live data does nothing.
  auto again = engine_->restore({{"old_promo"}, {}, {}});
  EXPECT_EQ(again->state, JobState::kDone);
  EXPECT_TRUE(again->sources.empty());

  // Expires again after another window from the restore.
  std::int64_t restored = kStopped + 91 * kDay;
  now(restored + 89 * kDay);
  EXPECT_TRUE(sweep().expired.empty());
  now(restored + 90 * kDay);
  EXPECT_EQ(sweep().expired, Strings{"campaign:old_promo"});

  // Several ids at once, then by tag.
  auto both = engine_->restore({{"old_promo", "other_promo"}, {}, {}});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->sources, (Strings{"campaign:old_promo", "campaign:other_promo"}));
  engine_->wait_restore(both->id);
  EXPECT_EQ(members("others"), Strings{"u2"});
  now(restored + 200 * kDay);
  sweep();
  auto by_tag = engine_->restore({{}, {}, {"seasonal"}});
  ASSERT_TRUE(by_tag.ok());
  EXPECT_EQ(by_tag->sources, Strings{"campaign:old_promo"});
  engine_->wait_restore(by_tag->id);
  EXPECT_EQ(tier("old_promo"), "live");
  EXPECT_EQ(tier("other_promo"), "expired");
  EXPECT_FALSE(engine_->restore({{"nope"}, {}, {}}).ok());
}

TEST_F(Lifecycle, ResumingAConsumerThatNeedsExpiredDataIsRefusedUnlessRestoreFirst) {
  open();
  now(kStopped + 91 * kDay);
  sweep();
  Status refused = engine_->set_status(CatalogKind::kCanvas, "journey", CatalogStatus::kActive);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("campaign:old_promo"), std::string::npos) << refused.message();
  EXPECT_EQ(engine_->lifecycle_status({"journey"})[0].status, CatalogStatus::kDraft);
  // The catalog route is guarded too.
  EXPECT_FALSE(apply("version: 1\ncanvases:\n  - {id: journey, steps: [{id: s1}], variations: [{id: v1}], "
                     "status: active, audience: {segments: [outer]}}\n").ok());
  ASSERT_TRUE(engine_->set_status(CatalogKind::kCanvas, "journey", CatalogStatus::kActive, /*restore_first=*/true).ok());
  EXPECT_EQ(tier("old_promo"), "live");
  EXPECT_EQ(engine_->lifecycle_status({"journey"})[0].status, CatalogStatus::kActive);
}

TEST_F(Lifecycle, NotificationsReachACommandAndAWebhook) {
  httplib::Server server;
  std::string received;
  std::mutex m;
  server.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(m);
    received = req.body;
    res.status = 204;
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  std::string out = (tmp_ / "notified.json").string();
  open("version: 1\nnotifications:\n  log: false\n  command: \"cat > " + out + "\"\n  webhook: \"http://127.0.0.1:" +
       std::to_string(port) + "/hook\"\n");
  now(kStopped + 91 * kDay);
  sweep();
  auto job = engine_->restore({{"old_promo"}, {}, {}});
  engine_->wait_restore(job->id);
  engine_.reset();  // waits for the worker, so notifications are delivered
  server.stop();
  t.join();
  auto j = nlohmann::json::parse(testing::read_file(out));
  EXPECT_EQ(j["event"], "restore_completed");
  EXPECT_EQ(j["sources"], nlohmann::json::array({"campaign:old_promo"}));
  std::lock_guard lock(m);
  ASSERT_FALSE(received.empty());
  EXPECT_EQ(nlohmann::json::parse(received)["state"], "done");
}

TEST_F(Lifecycle, LegacyPolicyDeletesAfter25MonthsWithoutSendsAndRulesThenFail) {
  open("version: 1\npolicy: legacy\n");
  // old_promo last sent 2025-12-20T10:00Z: deletion due 25 calendar months later.
  std::int64_t due = at("2028-01-20T10:00:00Z");
  auto plan = engine_->lifecycle_plan(due + 7 * kDay);
  bool planned = false;
  for (const auto& p : plan) planned |= (p.source == "campaign:old_promo" && p.action == SweepAction::kDelete);
  EXPECT_TRUE(planned);
  now(due - 1);
  sweep();
  EXPECT_EQ(tier("old_promo"), "live");
  now(due);
  SweepReport r = sweep();
  EXPECT_NE(std::find(r.deleted.begin(), r.deleted.end(), "campaign:old_promo"), r.deleted.end());
  EXPECT_EQ(tier("old_promo"), "deleted");
  Diagnostics d;
  Status s = engine_->load_rules_text("version: 1\nsegments:\n  - id: again\n    match: {received_campaign: {campaign: old_promo}}\n",
                                      "again.yaml", d);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(d.to_string().find("again.yaml:4:43: error: campaign 'old_promo': its interaction data was deleted under the legacy policy"),
            std::string::npos) << d.to_string();
  EXPECT_FALSE(engine_->restore({{"old_promo"}, {}, {}}).ok());
}

TEST_F(Lifecycle, RemovingASegmentInUseIsRefusedNamingTheUsers) {
  open();
  ASSERT_TRUE(engine_->set_status(CatalogKind::kCanvas, "journey", CatalogStatus::kActive).ok());
  Status s = engine_->remove_segment("inner");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("segment:outer"), std::string::npos);
  Status t = engine_->remove_segment("outer");
  EXPECT_NE(t.message().find("canvas:journey"), std::string::npos);
  EXPECT_TRUE(engine_->remove_segment("others").ok());
}

}  // namespace
}  // namespace retarget

namespace retarget {
namespace {

TEST(Scheduler, SweepsAtTheScheduledInstant) {
  // The clock is fixed 200 ms before the 03:00 sweep on the day old_promo is due.
  testing::TempDir tmp;
  testing::write_file(tmp / "retarget.yaml", "version: 1\nsweep_schedule: \"daily 03:00\"\nnotifications: {log: false}\n");
  EngineOptions o = testing::test_options();
  o.config_path = (tmp / "retarget.yaml").string();
  o.now_ms = *parse_time_ms("2026-04-01T02:59:59.800Z");
  o.scheduler = true;
  auto e = Engine::Open(o);
  ASSERT_TRUE(e.ok());
  Diagnostics d;
  ASSERT_TRUE((*e)->apply_catalog_text("version: 1\ncampaigns:\n  - {id: old_promo, status: stopped, stopped_at: 2026-01-01T00:00:00Z}\n", "c", d).ok());
  ASSERT_TRUE((*e)->ingest_text(R"({"time":"2025-12-20T10:00:00Z","user":"u1","type":"received","campaign":"old_promo","channel":"email"})" "\n").ok());
  EXPECT_EQ((*e)->lifecycle_status({"old_promo"})[0].tier, Tier::kLive);
  for (int i = 0; i < 100 && (*e)->scheduled_sweeps() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GE((*e)->scheduled_sweeps(), 1u);
  EXPECT_EQ((*e)->lifecycle_status({"old_promo"})[0].tier, Tier::kExpired);
}

}  // namespace
}  // namespace retarget
