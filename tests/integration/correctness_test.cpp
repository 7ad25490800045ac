// Regression tests for what the lifecycle, catalog and outputs got wrong
// (issue "Correctness"), each written from the spec: lifecycle.md, formats.md.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace retarget {
namespace {

using testing::run_command;
using Strings = std::vector<std::string>;

const char* kCatalog = R"(version: 1
campaigns:
  - id: old_promo
    tags: [seasonal]
    status: stopped
    stopped_at: 2026-01-01T00:00:00Z
  - id: fresh
    status: active
canvases:
  - id: journey
    steps: [{id: s1}]
    variations: [{id: v1}]
    status: stopped
    stopped_at: 2026-01-01T00:00:00Z
content_cards:
  - id: card
    status: draft
    audience: {match: {received_campaign: {campaign: fresh}}}
)";

const char* kEvents = R"({"time":"2025-12-20T10:00:00Z","user":"u1","type":"received","campaign":"old_promo","channel":"email"}
{"time":"2025-12-21T10:00:00Z","user":"u2","type":"received","canvas":"journey","step":"s1","channel":"push"}
{"time":"2025-12-22T10:00:00Z","user":"u3","type":"received","campaign":"fresh","channel":"push"}
)";

const char* kRules = R"(version: 1
segments:
  - id: got_old
    match: {received_campaign: {campaign: old_promo}}
  - id: in_journey
    match: {received_canvas_step: {canvas: journey, step: s1}}
  - id: got_fresh
    match: {received_campaign: {campaign: fresh}}
)";

// A durable data directory driven through the command line, as a user does.
class CliStore : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(cli("catalog apply " + write("catalog.yaml", kCatalog)).exit_code, 0);
    ASSERT_EQ(cli("ingest " + write("events.jsonl", kEvents)).exit_code, 0);
    ASSERT_EQ(cli("rules apply " + write("rules.yaml", kRules)).exit_code, 0);
  }
  std::string write(const std::string& name, const std::string& text) {
    testing::write_file(tmp_ / name, text);
    return (tmp_ / name).string();
  }
  testing::CommandResult cli(const std::string& args, const std::string& now = "2026-02-01T00:00:00Z",
                             const std::string& extra = "") {
    return run_command(std::string(RETARGET_CLI) + " --plugins " + RETARGET_PLUGIN_DIR + " --data-dir " +
                       (tmp_ / "data").string() + " --now " + now + " " + extra + args);
  }
  // Expires old_promo and journey (stopped 2026-01-01, 90 days).
  void expire_all() { ASSERT_EQ(cli("lifecycle sweep", "2026-05-01T00:00:00Z").exit_code, 0); }
  testing::TempDir tmp_;
};

// --- 1. Resuming or launching an expired source ----------------------------------

TEST_F(CliStore, ResumingAnExpiredSourceIsRefusedNamingTheRestoreCommand) {
  expire_all();
  auto r = cli("canvas resume journey", "2026-05-01T00:00:00Z");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("retarget restore --canvas journey"), std::string::npos) << r.err;
  auto status = cli("lifecycle status journey --format json", "2026-05-01T00:00:00Z");
  auto j = nlohmann::json::parse(status.out);
  EXPECT_EQ(j[0]["status"], "stopped");  // nothing changed
  EXPECT_EQ(j[0]["tier"], "expired");
}

TEST_F(CliStore, ResumeWithRestoreRestoresFirstSoNewDataIsVisibleAtOnce) {
  expire_all();
  auto r = cli("canvas resume journey --restore", "2026-05-01T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(cli("ingest " + write("late.jsonl",
                                  R"({"time":"2026-05-01T00:00:00Z","user":"u9","type":"received","canvas":"journey","step":"s1","channel":"push"})"
                                  "\n"),
                "2026-05-01T00:00:00Z")
                .exit_code,
            0);
  auto e = cli("evaluate --segment in_journey --format json", "2026-05-01T00:00:00Z");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  auto j = nlohmann::json::parse(e.out);
  EXPECT_EQ(j[0]["members"], nlohmann::json::array({"u2", "u9"}));
  EXPECT_TRUE(j[0]["warnings"].empty()) << j.dump();
  auto s = nlohmann::json::parse(cli("lifecycle status journey --format json", "2026-05-01T00:00:00Z").out);
  EXPECT_EQ(s[0]["status"], "active");
  EXPECT_EQ(s[0]["tier"], "live");
}

TEST_F(CliStore, ActivatingAnExpiredSourceThroughTheCatalogIsRefusedToo) {
  expire_all();
  auto r = cli("catalog apply " + write("activate.yaml", "version: 1\ncampaigns:\n  - id: old_promo\n    status: active\n"),
               "2026-05-01T00:00:00Z");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("campaign:old_promo"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was applied"), std::string::npos) << r.err;
  auto s = nlohmann::json::parse(cli("lifecycle status old_promo --format json", "2026-05-01T00:00:00Z").out);
  EXPECT_EQ(s[0]["status"], "stopped");
}

// --- 2. A change that makes an active consumer depend on an expired source ----------

TEST_F(CliStore, TaggingAnExpiredSourceThatAnActiveConsumerRetargetsWarns) {
  expire_all();
  // An active card retargets tag "winback"; then the expired old_promo gets the tag.
  ASSERT_EQ(cli("catalog apply " + write("card.yaml", R"(version: 1
campaigns:
  - id: fresh
    tags: [winback]
    status: active
content_cards:
  - id: winback_card
    status: active
    audience: {match: {received_tagged: {tag: winback}}}
)"),
                "2026-05-01T00:00:00Z")
                .exit_code,
            0);
  auto r = cli("catalog apply " + write("tag.yaml", R"(version: 1
campaigns:
  - id: old_promo
    tags: [seasonal, winback]
    status: stopped
    stopped_at: 2026-01-01T00:00:00Z
)"),
               "2026-05-01T00:00:00Z");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("campaign:old_promo"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("card:winback_card"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("retarget restore --campaign old_promo"), std::string::npos) << r.err;
}

TEST_F(CliStore, RestoreWhenPinnedRestoresSuchSources) {
  expire_all();
  write("retarget.yaml", "version: 1\nrestore_when_pinned: true\n");
  std::string config = "--config " + (tmp_ / "retarget.yaml").string() + " ";
  ASSERT_EQ(cli("catalog apply " + write("card.yaml", R"(version: 1
content_cards:
  - id: seasonal_card
    status: active
    audience: {match: {received_campaign: {campaign: fresh}}}
)"),
                "2026-05-01T00:00:00Z", config)
                .exit_code,
            0);
  auto r = cli("catalog apply " + write("retarget_old.yaml", R"(version: 1
content_cards:
  - id: seasonal_card
    status: active
    audience: {match: {received_tagged: {tag: seasonal}}}
)"),
               "2026-05-01T00:00:00Z", config);
  // Activating a consumer that needs expired data is refused (the guard) even so;
  // here the card was already active and its audience changed: a warning and a restore.
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("restore_when_pinned"), std::string::npos) << r.err;
  auto s = nlohmann::json::parse(cli("lifecycle status old_promo --format json", "2026-05-01T00:00:00Z", config).out);
  EXPECT_EQ(s[0]["tier"], "live");
}

// --- 5. Errors are errors: nothing applied, exit 2 ----------------------------------

TEST_F(CliStore, CatalogWithABadAudienceIsNotApplied) {
  auto r = cli("catalog apply " + write("bad.yaml", R"(version: 1
campaigns:
  - id: brand_new
    status: draft
    audience: {match: {all: [{received_campaign: {campaign: no_such}}, {no_such_filter: {}}]}}
)"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown campaign 'no_such'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown filter 'no_such_filter'"), std::string::npos) << r.err;
  auto s = cli("lifecycle status brand_new");
  EXPECT_EQ(s.exit_code, 1) << "the campaign must not have been stored: " << s.out;
}

TEST_F(CliStore, CatalogChangeThatBreaksAStoredSegmentIsNotApplied) {
  // Removing the only step a stored segment names: that segment no longer validates.
  auto r = cli("catalog apply " + write("steps.yaml", R"(version: 1
canvases:
  - id: journey
    steps: [{id: s2}]
    variations: [{id: v1}]
    status: stopped
    stopped_at: 2026-01-01T00:00:00Z
)"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("s1"), std::string::npos) << r.err;
}

TEST_F(CliStore, RulesApplyWithAnUnknownTagFails) {
  auto r = cli("rules apply " + write("tag_rules.yaml", R"(version: 1
segments:
  - id: tagged
    match: {received_tagged: {tag: no_such_tag}}
)"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no_such_tag"), std::string::npos) << r.err;
  EXPECT_EQ(cli("evaluate --segment tagged").exit_code, 1) << "nothing was stored";
}

// --- 6. Every problem at once, in line order ----------------------------------------

TEST_F(CliStore, ADuplicateSegmentIdDoesNotHideOtherErrors) {
  std::string f = write("dups.yaml", R"(version: 1
segments:
  - id: a
    match: {received_campaign: {campaign: nope_one}}
  - id: a
    match: {received_campaign: {campaign: nope_two}}
  - id: b
    match: {hard_bounced: {iz: true}}
)");
  auto r = cli("validate " + f);
  EXPECT_EQ(r.exit_code, 2);
  std::size_t one = r.err.find(f + ":4:"), dup = r.err.find(f + ":5:"), two = r.err.find(f + ":6:"),
              three = r.err.find(f + ":8:");
  ASSERT_NE(one, std::string::npos) << r.err;
  ASSERT_NE(dup, std::string::npos) << r.err;
  ASSERT_NE(two, std::string::npos) << r.err;
  ASSERT_NE(three, std::string::npos) << r.err;
  EXPECT_LT(one, dup);
  EXPECT_LT(dup, two);
  EXPECT_LT(two, three);
  EXPECT_NE(r.err.find("duplicate segment id 'a'"), std::string::npos);
}

// --- 7. Invalid UTF-8 is refused at the edge, never an abort ------------------------

TEST_F(CliStore, InvalidUtf8InRulesCatalogArgumentsAndEventsIsALocatedError) {
  auto rules = cli("validate " + write("bad_utf8.yaml", "version: 1\nsegments:\n  - id: \"\xff\xfe\"\n    match: {hard_bounced: {}}\n"));
  EXPECT_EQ(rules.exit_code, 2) << rules.err;
  EXPECT_NE(rules.err.find("bad_utf8.yaml:3:"), std::string::npos) << rules.err;
  EXPECT_NE(rules.err.find("UTF-8"), std::string::npos) << rules.err;

  auto catalog = cli("catalog apply " + write("bad_cat.yaml", "version: 1\ncampaigns:\n  - id: x\n    name: \"a\xc3\x28\"\n"));
  EXPECT_EQ(catalog.exit_code, 2) << catalog.err;
  EXPECT_NE(catalog.err.find("bad_cat.yaml:4:"), std::string::npos) << catalog.err;

  auto arg = cli("evaluate --segment \"$(printf '\\377\\376')\" --format json");
  EXPECT_EQ(arg.exit_code, 2) << arg.err;
  EXPECT_NE(arg.err.find("UTF-8"), std::string::npos) << arg.err;

  auto events = cli("ingest " + write("bad.jsonl", "{\"time\":\"2026-01-01T00:00:00Z\",\"user\":\"u\xff\",\"type\":\"hard_bounce\"}\n"));
  EXPECT_EQ(events.exit_code, 3) << events.err;
  EXPECT_NE(events.err.find(":1: rejected"), std::string::npos) << events.err;
  for (const auto& r : {rules, catalog, arg, events}) EXPECT_NE(r.exit_code, 134);
}

// --- 8. Instants that RFC 3339 cannot write ------------------------------------------

TEST_F(CliStore, InstantsOutsideTheYears0000To9999AreRejectedAndNeverPrinted) {
  auto r = cli("ingest " + write("edge.jsonl",
                                 "{\"time\":\"0000-01-01T00:00:00+01:00\",\"user\":\"e1\",\"type\":\"hard_bounce\"}\n"
                                 "{\"time\":\"9999-12-31T23:30:00-01:00\",\"user\":\"e2\",\"type\":\"hard_bounce\"}\n"
                                 "{\"time\":\"9999-12-31T23:30:00Z\",\"user\":\"e3\",\"type\":\"hard_bounce\"}\n"));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find(":1: rejected"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(":2: rejected"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(":3: rejected"), std::string::npos) << r.err;
  EXPECT_EQ(cli("--now 0000-01-01T00:00:00+01:00 plugins", "2026-01-01T00:00:00Z").exit_code, 2);
  // A clock near the end of year 9999: computed expiry dates stay writable.
  auto s = cli("lifecycle status --format json", "9999-12-30T00:00:00Z");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out.find("10000-"), std::string::npos) << s.out;
  for (const auto& src : nlohmann::json::parse(s.out))
    if (src["expires_at"].is_string()) {
      EXPECT_TRUE(parse_time_ms(src["expires_at"].get<std::string>())) << src.dump();
    }
}

// --- 9. evaluate over several segments -----------------------------------------------

TEST_F(CliStore, SeveralSegmentsAreLabelledAndJsonIsAlwaysAnArray) {
  std::string two = "evaluate --segment got_old --segment got_fresh ";
  EXPECT_EQ(cli(two + "--format ids").out, "got_old\tu1\ngot_fresh\tu3\n");
  EXPECT_EQ(cli(two + "--format count").out, "got_old\t1\ngot_fresh\t1\n");
  EXPECT_EQ(cli(two + "--format csv").out, "segment,external_id\ngot_old,u1\ngot_fresh,u3\n");
  auto all = cli("evaluate --format count");  // none named: every segment, labelled
  EXPECT_EQ(all.out, "got_fresh\t1\ngot_old\t1\nin_journey\t1\n") << all.err;
  // One segment: the plain forms.
  EXPECT_EQ(cli("evaluate --segment got_old --format ids").out, "u1\n");
  EXPECT_EQ(cli("evaluate --segment got_old --format count").out, "1\n");
  auto one = nlohmann::json::parse(cli("evaluate --segment got_old --format json").out);
  ASSERT_TRUE(one.is_array());
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0]["segment"], "got_old");
  auto both = nlohmann::json::parse(cli(two + "--format json").out);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1]["segment"], "got_fresh");
}

// --- 10. Expired-data warnings: the right sources, once, in JSON ------------------------

TEST_F(CliStore, ExpiredWarningsNameOnlyTheSourcesThatAffectedTheResult) {
  expire_all();
  std::string now = "2026-05-01T00:00:00Z";
  // u3 never received an expired source: no warning.
  auto p3 = cli("profile u3", now);
  ASSERT_EQ(p3.exit_code, 0) << p3.err;
  EXPECT_TRUE(nlohmann::json::parse(p3.out)["warnings"].empty()) << p3.out;
  EXPECT_EQ(p3.err.find("expired"), std::string::npos) << p3.err;
  // u1 received old_promo: one warning, naming it (and not journey).
  auto p1 = nlohmann::json::parse(cli("profile u1", now).out);
  ASSERT_EQ(p1["warnings"].size(), 1u) << p1.dump();
  EXPECT_NE(p1["warnings"][0].get<std::string>().find("campaign:old_promo"), std::string::npos);
  auto ex = nlohmann::json::parse(cli("export users --ids u1,u2,u3", now).out);
  ASSERT_EQ(ex["warnings"].size(), 2u) << ex.dump();
  EXPECT_NE(ex["warnings"][0].get<std::string>().find("campaign:old_promo"), std::string::npos);
  EXPECT_NE(ex["warnings"][1].get<std::string>().find("canvas:journey"), std::string::npos);
  // evaluate with --rules: the warning once.
  auto ev = cli("evaluate --rules " + (tmp_ / "rules.yaml").string() + " --segment got_old --format ids", now);
  std::size_t first = ev.err.find("campaign:old_promo");
  ASSERT_NE(first, std::string::npos) << ev.err;
  EXPECT_EQ(ev.err.find("campaign:old_promo", first + 1), std::string::npos) << ev.err;
}

// --- 11. The dead-letter file ----------------------------------------------------------

TEST_F(CliStore, TheDeadLetterFileHoldsTheRejectedLineItself) {
  write("retarget.yaml", "version: 1\ndead_letter: dead.jsonl\n");
  auto r = cli("ingest " + write("bad.jsonl", "not json\n"), "2026-02-01T00:00:00Z",
               "--config " + (tmp_ / "retarget.yaml").string() + " ");
  EXPECT_EQ(r.exit_code, 3);
  auto line = nlohmann::json::parse(testing::read_file(tmp_ / "dead.jsonl"));
  EXPECT_EQ(line["text"], "not json");
  EXPECT_EQ(line["line"], 1);
}

// --- 12. Say what happened, precisely; follow the exit-code table -----------------------

TEST_F(CliStore, MessagesAndExitCodesSayWhatHappened) {
  auto unknown = cli("lifecycle status old_prom");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("unknown campaign or Canvas 'old_prom'"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("did you mean 'old_promo'"), std::string::npos) << unknown.err;

  auto apply = cli("rules apply " + write("more.yaml", R"(version: 1
segments:
  - id: got_old
    match: {received_campaign: {campaign: old_promo}}
  - id: brand_new
    match: {hard_bounced: {}}
)"));
  EXPECT_EQ(apply.exit_code, 0) << apply.err;
  EXPECT_NE(apply.out.find("stored 2 segment(s)"), std::string::npos) << apply.out;
  EXPECT_NE(apply.out.find("1 new (brand_new)"), std::string::npos) << apply.out;
  EXPECT_NE(apply.out.find("1 updated (got_old)"), std::string::npos) << apply.out;
  EXPECT_NE(apply.out.find("4 stored in total"), std::string::npos) << apply.out;

  expire_all();
  auto restore = cli("restore --campaign old_promo --canvas journey --wait", "2026-05-01T00:00:00Z");
  EXPECT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_NE(restore.out.find("campaign:old_promo, canvas:journey"), std::string::npos) << restore.out;
  EXPECT_EQ(restore.out.find(" -> "), std::string::npos) << restore.out;

  EXPECT_EQ(cli("evaluate --segment no_such").exit_code, 1);
  EXPECT_NE(cli("evaluate --segment got_ol").err.find("did you mean 'got_old'"), std::string::npos);
  EXPECT_EQ(cli("ingest /nonexistent/events.jsonl").exit_code, 2);
  EXPECT_EQ(cli("catalog apply /nonexistent/catalog.yaml").exit_code, 2);
  EXPECT_EQ(cli("rules apply /nonexistent/rules.yaml").exit_code, 2);
}

// --- 3. The legacy deletion keeps profile data, users and analytics -------------

TEST_F(CliStore, ALegacyDeletionKeepsProfilesUsersAndAnalyticsAndSaysDeletedAt) {
  std::string legacy = "--config " + write("legacy.yaml", "version: 1\npolicy: legacy\n") + " ";
  ASSERT_EQ(cli("rules apply " + write("sms.yaml", "version: 1\nsegments:\n  - id: ever_email\n"
                                                   "    match: {last_received_email: {blank: false}}\n"),
                "2026-02-01T00:00:00Z", legacy)
                .exit_code,
            0);
  // Before: the date is computed from the last send (2025-12-20) + 25 months, not from the stop.
  auto before = cli("lifecycle status old_promo", "2027-06-01T00:00:00Z", legacy);
  EXPECT_EQ(before.exit_code, 0) << before.err;
  EXPECT_NE(before.out.find("deleted at the sweep of 2028-01-21"), std::string::npos) << before.out;
  EXPECT_EQ(before.out.find("expires at"), std::string::npos) << before.out;
  auto swept = cli("lifecycle sweep", "2028-03-01T00:00:00Z", legacy);
  ASSERT_EQ(swept.exit_code, 0) << swept.err;
  EXPECT_NE(swept.out.find("deleted campaign:old_promo"), std::string::npos) << swept.out;
  // Only interaction data is gone: the user, the profile summary and the analytics stay.
  auto profile = cli("profile u1", "2028-03-01T00:00:00Z", legacy);
  EXPECT_EQ(profile.exit_code, 0) << profile.err;
  EXPECT_EQ(profile.err.find("unknown user"), std::string::npos) << profile.err;
  auto members = cli("evaluate --segment ever_email --format count", "2028-03-01T00:00:00Z", legacy);
  EXPECT_EQ(members.exit_code, 0) << members.err;
  EXPECT_EQ(members.out, "1\n");
  auto analytics = cli("analytics --campaign old_promo --format json", "2028-03-01T00:00:00Z", legacy);
  ASSERT_EQ(analytics.exit_code, 0) << analytics.err;
  auto a = nlohmann::json::parse(analytics.out, nullptr, false);
  ASSERT_FALSE(a.is_discarded()) << analytics.out;
  EXPECT_EQ(a["sends"], 1);
  EXPECT_EQ(a["unique_recipients"], 1);
  auto after = cli("lifecycle status old_promo", "2028-03-01T00:00:00Z", legacy);
  EXPECT_NE(after.out.find("deleted at"), std::string::npos) << after.out;
  // And the same after the index is rebuilt from the (purged) raw events.
  ASSERT_EQ(cli("store rebuild", "2028-03-01T00:00:00Z", legacy).exit_code, 0);
  EXPECT_EQ(cli("evaluate --segment ever_email --format count", "2028-03-01T00:00:00Z", legacy).out, "1\n");
  EXPECT_EQ(cli("profile u1", "2028-03-01T00:00:00Z", legacy).exit_code, 0);
}

// --- 4. Restore jobs are durable and can be asked for later ------------------------

TEST_F(CliStore, ARestoreJobCanBeAskedForLaterByItsId) {
  expire_all();
  auto started = cli("restore --campaign old_promo --format json", "2026-05-01T00:00:00Z");
  ASSERT_EQ(started.exit_code, 0) << started.err;
  auto job = nlohmann::json::parse(started.out, nullptr, false);
  ASSERT_FALSE(job.is_discarded()) << started.out;
  std::string id = std::to_string(job["job"].get<std::uint64_t>());
  // Another process, later: the job is recorded with its outcome.
  auto status = cli("restore status " + id + " --format json", "2026-05-02T00:00:00Z");
  ASSERT_EQ(status.exit_code, 0) << status.err;
  auto j = nlohmann::json::parse(status.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << status.out;
  if (j.is_array()) j = j.at(0);
  EXPECT_EQ(j["state"], "done") << status.out;
  EXPECT_EQ(j["sources"], nlohmann::json::array({"campaign:old_promo"})) << status.out;
  EXPECT_EQ(cli("restore status 999").exit_code, 1);
}

// restore --wait on a terminal follows the job with the progress line and still
// ends with the job's outcome, the line cleared (the line itself: the ingest test).
TEST_F(CliStore, RestoreWaitOnATerminalEndsWithTheOutcomeAndNoProgressLeft) {
  expire_all();
  std::string command = std::string(RETARGET_CLI) + " --plugins " + RETARGET_PLUGIN_DIR + " --data-dir " +
                        (tmp_ / "data").string() + " --now 2026-05-01T00:00:00Z restore --campaign old_promo --wait";
  auto tty = run_command("script -qec '" + command + "' /dev/null");
  ASSERT_EQ(tty.exit_code, 0) << tty.out << tty.err;
  std::size_t outcome = tty.out.find(" done: campaign:old_promo (1/1 records)");
  ASSERT_NE(outcome, std::string::npos) << tty.out;
  // Whatever was drawn was erased before the outcome was printed.
  std::size_t last_draw = tty.out.rfind("records/s");
  if (last_draw != std::string::npos) {
    EXPECT_LT(tty.out.rfind("\r\033[K", outcome), outcome) << tty.out;
  }
  auto status = cli("lifecycle status old_promo --format json", "2026-05-01T00:00:00Z");
  EXPECT_EQ(nlohmann::json::parse(status.out)[0]["tier"], "live") << status.out;
}

// --- 13. A filter whose plugin was refused ---------------------------------------------

TEST(Correctness, AFilterOfARefusedPluginSaysThePluginWasRefusedAndWhy) {
  testing::TempDir tmp;
  testing::write_file(tmp / "rules.yaml", "version: 1\nsegments:\n  - id: s\n    match: {sneaky_profile_filter: {}}\n");
  auto r = run_command(std::string(RETARGET_CLI) + " --data-dir :memory: --plugins " + RETARGET_PLUGIN_DIR +
                       " --plugins " + RETARGET_TEST_PLUGIN_DIR + "/bad validate " + (tmp / "rules.yaml").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("filter 'sneaky_profile_filter' is provided by plugin library"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("which was refused"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("reads interaction data"), std::string::npos) << r.err;
}

// --- 14. explain expands nested segments --------------------------------------------------

TEST_F(CliStore, ExplainExpandsANestedSegmentsOwnTree) {
  ASSERT_EQ(cli("rules apply " + write("nest.yaml", R"(version: 1
segments:
  - id: outer
    match: {all: [{segment: {id: got_old}}, {last_received_email: {blank: false}}]}
)")).exit_code,
            0);
  auto j = nlohmann::json::parse(cli("explain --segment outer --user u1 --format json").out);
  EXPECT_EQ(j["member"], true);
  const auto& leaf = j["match"]["children"][0];
  ASSERT_TRUE(leaf.contains("children")) << j.dump(2);
  EXPECT_NE(leaf["children"][0]["node"].get<std::string>().find("segment got_old match: received_campaign"),
            std::string::npos) << j.dump(2);
  EXPECT_EQ(leaf["children"][0]["value"], true);
  EXPECT_NE(leaf["children"][0]["because"].get<std::string>().find("old_promo"), std::string::npos) << j.dump(2);
  auto text = cli("explain --segment outer --user u1");
  EXPECT_NE(text.out.find("segment got_old match: received_campaign"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace retarget
