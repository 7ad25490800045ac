// The `retarget` command line: formats and exit codes (0 ok, 1 failed, 2 bad
// usage or input, 3 done with rejected lines), per formats.md.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "test_support.hpp"

namespace retarget {
namespace {

using testing::run_command;

const std::string kCli = std::string(RETARGET_CLI) + " --data-dir :memory: --plugins " + RETARGET_PLUGIN_DIR;
const std::string kCase = std::string(RETARGET_SOURCE_DIR) + "/tests/integration/cases/boolean_logic_and_rejected_lines";
const std::string kOneProcess = kCli + " --now 2026-06-15T12:00:00Z --catalog " + kCase + "/catalog.yaml --events " +
                                kCase + "/events.jsonl";

TEST(Cli, PluginsJsonListsEveryFilterWithItsTag) {
  auto r = run_command(kCli + " plugins --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  std::map<std::string, bool> tags;
  for (const auto& f : j["filters"]) {
    EXPECT_TRUE(f.contains("version"));
    EXPECT_TRUE(f["params"].is_array());
    tags[f["name"]] = f["interaction_dependent"];
  }
  // filters.md: exactly these 17 are interaction-dependent; the 18 profile-level
  // filters and the 3 general ones are not.
  const std::set<std::string> interaction = {
      "clicked_alias_in_campaign", "clicked_alias_in_canvas_step", "clicked_opened_campaign", "clicked_opened_step",
      "converted_campaign",        "converted_canvas",             "entered_canvas_variation", "in_campaign_control_group",
      "in_canvas_control_group",   "last_received_campaign",       "last_received_canvas_step", "received_campaign_variant",
      "received_campaign",         "received_canvas_step",         "received_tagged",          "clicked_opened_tagged",
      "last_received_tagged"};
  const std::set<std::string> profile = {
      "clicked_alias_any", "feature_flag", "hard_bounced", "marked_spam", "never_received", "invalid_phone",
      "last_engaged", "last_enrolled_control_group", "last_in_app_impression", "last_received_any",
      "last_received_email", "last_received_push", "last_received_sms", "last_received_webhook",
      "last_received_whatsapp", "last_sms_inbound_keyword", "last_viewed_news_feed", "news_feed_view_count",
      "custom_attribute", "segment", "random_bucket"};
  EXPECT_EQ(interaction.size(), 17u);
  EXPECT_EQ(profile.size(), 21u);
  EXPECT_EQ(tags.size(), interaction.size() + profile.size());
  for (const auto& [name, dependent] : tags) {
    EXPECT_EQ(dependent, interaction.count(name) == 1) << name;
    EXPECT_TRUE(interaction.count(name) || profile.count(name)) << "unexpected filter " << name;
  }
}

TEST(Cli, EvaluateFormats) {
  std::string eval = kOneProcess + " evaluate --rules " + kCase + "/rules.yaml --segment nested_tree";
  auto ids = run_command(eval + " --format ids");
  ASSERT_EQ(ids.exit_code, 3) << ids.err;  // the case's events file has rejected lines
  EXPECT_EQ(ids.out, "u03\nu05\nu09\n");
  auto count = run_command(eval + " --format count");
  EXPECT_EQ(count.out, "3\n");
  auto csv = run_command(eval + " --format csv");
  EXPECT_EQ(csv.out, "external_id\nu03\nu05\nu09\n");
  auto json = run_command(eval + " --format json");
  auto j = nlohmann::json::parse(json.out)[0];
  EXPECT_EQ(j["segment"], "nested_tree");
  EXPECT_EQ(j["count"], 3);
  EXPECT_EQ(j["members"], nlohmann::json::array({"u03", "u05", "u09"}));
  EXPECT_TRUE(j["warnings"].is_array());
  EXPECT_TRUE(j["timing"]["evaluate_ms"].is_number());
}

TEST(Cli, ExplainShowsEveryNodeAndTheDecidingFact) {
  auto r = run_command(kOneProcess + " explain --rules " + kCase + "/rules.yaml --segment nested_tree --user u03 --format json");
  ASSERT_EQ(r.exit_code, 3) << r.err;  // the case's events file has rejected lines
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["member"], true);
  EXPECT_TRUE(j["match"].contains("children"));
  auto text = run_command(kOneProcess + " explain --rules " + kCase + "/rules.yaml --segment nested_tree --user u03");
  EXPECT_NE(text.out.find("MEMBER"), std::string::npos);
  EXPECT_NE(text.out.find("[yes]"), std::string::npos);
}

TEST(Cli, ValidateReportsEveryProblemWithLocationAndExitsTwo) {
  testing::TempDir tmp;
  testing::write_file(tmp / "bad.yaml", R"(version: 1
segments:
  - id: a
    match:
      recieved_campaign: {campaign: promo_a}
  - id: b
    match:
      all:
        - received_campaign: {campaign: promo_z}
        - hard_bounced: {iz: true}
)");
  auto r = run_command(kCli + " --catalog " + kCase + "/catalog.yaml validate " + (tmp / "bad.yaml").string());
  EXPECT_EQ(r.exit_code, 2);
  std::string f = (tmp / "bad.yaml").string();
  EXPECT_NE(r.err.find(f + ":5:7: error: unknown filter 'recieved_campaign' (did you mean 'received_campaign'?)"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find(f + ":9:41: error: unknown campaign 'promo_z'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(f + ":10:26: error: unknown parameter 'iz'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'is'?"), std::string::npos) << r.err;
}

TEST(Cli, ExitCodes) {
  EXPECT_EQ(run_command(kCli + " no-such-command").exit_code, 2);
  EXPECT_EQ(run_command(kCli + " --now yesterday plugins").exit_code, 2);
  // A missing file is bad input (2); an unknown id is a failed request (1).
  EXPECT_EQ(run_command(kCli + " ingest /nonexistent/events.jsonl").exit_code, 2);
  EXPECT_EQ(run_command(kOneProcess + " evaluate --rules " + kCase + "/rules.yaml --segment nope").exit_code, 1);
  // A data directory that cannot be created is a failed request (1), not bad
  // usage; a command that only reads never creates one.
  EXPECT_EQ(run_command(std::string(RETARGET_CLI) + " --plugins " + RETARGET_PLUGIN_DIR +
                        " --data-dir /proc/retarget-cannot-be-created catalog apply " + kCase + "/catalog.yaml").exit_code, 1);
  EXPECT_EQ(run_command(std::string(RETARGET_CLI) + " --plugins " + RETARGET_PLUGIN_DIR +
                        " --data-dir /proc/retarget-cannot-be-created plugins").exit_code, 0);
  EXPECT_EQ(run_command(kCli + " plugins").exit_code, 0);
}

TEST(Cli, IngestReportsCountsAndRejectedLines) {
  auto r = run_command(kCli + " --catalog " + kCase + "/catalog.yaml ingest " + kCase + "/events.jsonl --format json");
  ASSERT_EQ(r.exit_code, 3) << r.err;  // done, some lines rejected
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["rejected"], 7);
  EXPECT_EQ(j["rejections"][0]["line"], 7);
}

}  // namespace
}  // namespace retarget
