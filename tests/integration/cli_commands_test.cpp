// The command line as a new user meets it (issue 14): --version, "did you
// mean" for commands, several files and ids per command, the listings and
// their filters, one phrasing and exit 2 for every missing file, where
// configuration and data are found, no data directory made by a command that
// only reads, examples in --help, and the bash completion.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "retarget/version.hpp"
#include "test_support.hpp"

namespace retarget {
namespace {

using nlohmann::json;
using testing::run_command;

const std::string kBin = std::string(RETARGET_CLI) + " --plugins " + RETARGET_PLUGIN_DIR;
const std::string kCase = std::string(RETARGET_SOURCE_DIR) + "/tests/integration/cases/boolean_logic_and_rejected_lines";

// A durable store holding the case's catalog, events and rules, plus a
// Canvas-free consumer whose audience names a segment (for `rules list`).
class CliCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_file(tmp_ / "consumers.yaml", R"(version: 1
content_cards:
  - id: card_promo
    name: Promo card
    status: active
    audience: {segments: [not_received_promo_a]}
)");
    ASSERT_EQ(run(" catalog apply " + kCase + "/catalog.yaml").exit_code, 0);
    ASSERT_EQ(run(" rules apply " + kCase + "/rules.yaml").exit_code, 0);
    ASSERT_EQ(run(" catalog apply " + (tmp_ / "consumers.yaml").string()).exit_code, 0);
  }
  testing::CommandResult run(const std::string& args) const { return run_command(cli() + args); }
  std::string cli() const { return kBin + " --now 2026-06-15T12:00:00Z --data-dir " + dir(); }
  std::string dir() const { return (tmp_ / "data").string(); }
  std::string events() const { return kCase + "/events.jsonl"; }
  testing::TempDir tmp_;
};

// `n` users p0..p<n-1> who received promo_a by email: enough lines for a progress line.
std::string received_promo_a(int n) {
  std::string lines;
  for (int i = 0; i < n; ++i)
    lines += R"({"time":"2026-03-01T00:00:00Z","user":"p)" + std::to_string(i) +
             R"(","type":"received","campaign":"promo_a","channel":"email"})" + "\n";
  return lines;
}

TEST(CliVersion, VersionFlagAndCommand) {
  auto flag = run_command(kBin + " --version");
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_EQ(flag.out, std::string("retarget ") + RETARGET_VERSION_STRING + "\n");
  EXPECT_STREQ(version(), RETARGET_VERSION_STRING);
  auto j = json::parse(run_command(kBin + " version --format json").out);
  EXPECT_EQ(j["version"], RETARGET_VERSION_STRING);
  EXPECT_TRUE(j["abi_version"].is_number_unsigned());
  EXPECT_TRUE(j["build_type"].is_string());
  EXPECT_TRUE(j["libraries"].contains("rocksdb"));
  EXPECT_TRUE(j["libraries"].contains("tbb"));
}

TEST(CliHelp, MistypedCommandsGetTheNearestName) {
  auto top = run_command(kBin + " --data-dir :memory: evalute --segment x");
  EXPECT_EQ(top.exit_code, 2);
  EXPECT_NE(top.err.find("'evalute' is not a command of retarget (did you mean 'evaluate'?)"), std::string::npos)
      << top.err;
  auto sub = run_command(kBin + " catalog lsit");
  EXPECT_EQ(sub.exit_code, 2);
  EXPECT_NE(sub.err.find("(did you mean 'list'?)"), std::string::npos) << sub.err;
}

TEST(CliHelp, HelpHasExamplesAndTheExitCodes) {
  auto top = run_command(kBin + " --help");
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("Exit codes:"), std::string::npos);
  EXPECT_NE(top.out.find("RETARGET_DATA_DIR"), std::string::npos);
  for (const char* cmd : {"evaluate", "ingest", "catalog list", "rules list", "lifecycle status", "restore",
                          "campaign stop", "store check"}) {
    auto r = run_command(kBin + " " + cmd + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("Examples:\n  retarget"), std::string::npos) << cmd << "\n" << r.out;
  }
}

TEST(CliHelp, ValidatingAgainstAnEmptyCatalogSaysSo) {
  auto r = run_command(kBin + " --data-dir :memory: validate " + kCase + "/rules.yaml");
  EXPECT_EQ(r.exit_code, 2);  // the rules name campaigns the empty catalog does not have
  EXPECT_NE(r.err.find("note: the catalog is empty"), std::string::npos) << r.err;
  auto with = run_command(kBin + " --data-dir :memory: --catalog " + kCase + "/catalog.yaml validate " + kCase +
                          "/rules.yaml");
  EXPECT_EQ(with.exit_code, 0) << with.err;
  EXPECT_EQ(with.err.find("note: the catalog is empty"), std::string::npos);
}

TEST_F(CliCommands, IngestTakesSeveralFilesAndStandardInput) {
  auto r = run(" ingest " + events() + " " + events() + " --format json");
  EXPECT_EQ(r.exit_code, 3) << r.err;  // the case's file has rejected lines
  auto j = json::parse(r.out);
  ASSERT_EQ(j["files"].size(), 2u);
  EXPECT_EQ(j["files"][0]["accepted"], 19);
  EXPECT_EQ(j["files"][1]["accepted"], 0);
  EXPECT_EQ(j["files"][1]["duplicates"], 19);  // the same events again: idempotent
  EXPECT_EQ(j["accepted"], 19);
  EXPECT_EQ(j["rejected"], 14);
  EXPECT_EQ(j["rejections"][0]["file"], events());
  EXPECT_EQ(j["rejections"][0]["line"], 7);
  // Standard input, as '-'.
  auto in = run_command("sh -c '" + cli() + " ingest --format json - < " + events() + "'");
  EXPECT_EQ(in.exit_code, 3) << in.err;
  EXPECT_EQ(json::parse(in.out)["duplicates"], 19);
  EXPECT_EQ(json::parse(in.out)["files"][0]["file"], "(stdin)");
}

TEST_F(CliCommands, IngestShowsProgressOnATerminalOnly) {
  const std::string lines = received_promo_a(3000);
  testing::write_file(tmp_ / "many.jsonl", lines);
  std::string ingest = cli() + " ingest --batch 100 " + (tmp_ / "many.jsonl").string();
  // On a pseudo-terminal (util-linux `script`): the line redrawn in place, with the rate and the share done.
  auto tty = run_command("script -qec '" + ingest + "' /dev/null");
  EXPECT_EQ(tty.exit_code, 0) << tty.err;
  std::string drawn = "\r" + (tmp_ / "many.jsonl").string() + ": ";
  EXPECT_NE(tty.out.find(drawn), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find(" lines/s, 0 rejected, "), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("%"), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("\033[K"), std::string::npos);
  // Not a terminal: no progress at all, and the summary gives the rate.
  testing::write_file(tmp_ / "more.jsonl", lines);  // the same events: duplicates, still 3,000 lines read
  auto piped = run(" ingest --batch 100 " + (tmp_ / "more.jsonl").string());
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err.find('\r'), std::string::npos) << piped.err;
  EXPECT_EQ(piped.err.find("lines/s"), std::string::npos) << piped.err;
  EXPECT_EQ(piped.out.rfind("0 accepted, 3000 duplicates, 0 rejected; 3,000 lines in ", 0), 0u) << piped.out;
  EXPECT_NE(piped.out.find(" lines/s)\n"), std::string::npos) << piped.out;
}

// Every long command draws its progress line on a terminal and nothing when
// its output goes elsewhere: store check, store rebuild, export recipients.
TEST_F(CliCommands, LongCommandsShowProgressOnATerminalOnly) {
  const std::string lines = received_promo_a(3000);
  testing::write_file(tmp_ / "many.jsonl", lines);
  ASSERT_EQ(run(" ingest " + (tmp_ / "many.jsonl").string()).exit_code, 0);
  struct Case {
    std::string args, drawn;
  };
  std::string csv = (tmp_ / "out.csv").string();
  for (const Case& c : {Case{" store check > /dev/null", "\rchecking the data directory: "},
                        Case{" store rebuild", "\rrebuilding the index: "},
                        Case{" export recipients --campaign promo_a > " + csv, "\rexport: "}}) {
    auto tty = run_command("script -qec '" + cli() + c.args + "' /dev/null");
    EXPECT_EQ(tty.exit_code, 0) << c.args << ": " << tty.err;
    EXPECT_NE(tty.out.find(c.drawn), std::string::npos) << c.args << ": " << tty.out;
    EXPECT_NE(tty.out.find("\033[K"), std::string::npos) << c.args;
    if (c.args.find(csv) != std::string::npos) {
      // On a terminal the export still wrote the whole CSV: the header and one row per recipient.
      std::string written = testing::read_file(csv);
      EXPECT_EQ(std::count(written.begin(), written.end(), '\n'), 1 + 3000) << written.substr(0, 200);
    }
    auto piped = run(c.args);
    EXPECT_EQ(piped.exit_code, 0) << c.args << ": " << piped.err;
    EXPECT_EQ(piped.err.find('\r'), std::string::npos) << c.args << ": " << piped.err;
  }
}

TEST_F(CliCommands, AMissingFileAmongSeveralIngestsNothing) {
  std::string missing = (tmp_ / "missing.jsonl").string();
  auto r = run(" ingest " + events() + " " + missing);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot read '" + missing + "': No such file or directory"), std::string::npos) << r.err;
  auto after = json::parse(run(" ingest --format json " + events()).out);
  EXPECT_EQ(after["accepted"], 19);  // the first file was not ingested before the refusal
}

TEST(CliExitCodes, EveryMissingFileIsOnePhrasingAndExitTwo) {
  testing::TempDir tmp;
  std::string m = (tmp / "missing.yaml").string();
  const std::string mem = kBin + " --data-dir :memory: ";
  for (const std::string& args :
       {"validate " + m, "catalog apply " + m, "rules apply " + m, "ingest " + m, "--events " + m + " plugins",
        "--catalog " + m + " plugins", "--rules " + m + " plugins", "evaluate --rules " + m, "--config " + m + " plugins",
        "schema --rules " + m}) {
    auto r = run_command(mem + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("cannot read '" + m + "'"), std::string::npos) << args << "\n" << r.err;
  }
}

TEST_F(CliCommands, StatusChangesTakeSeveralIdsAndCheckThemAllFirst) {
  auto unknown = run(" campaign stop promo_a promo_c");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("unknown campaign 'promo_c' (did you mean"), std::string::npos) << unknown.err;
  auto active = json::parse(run(" catalog list --kind campaign --status active --format json").out);
  EXPECT_EQ(active.size(), 2u);  // promo_a was not stopped: nothing changed
  auto both = run(" campaign stop promo_a promo_b");
  EXPECT_EQ(both.exit_code, 0) << both.err;
  EXPECT_EQ(both.out, "campaign promo_a: stopped\ncampaign promo_b: stopped\n");
  auto stopped = json::parse(run(" catalog list --status stopped --format json").out);
  std::set<std::string> ids;
  for (const auto& c : stopped) ids.insert(c["id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"newsletter", "promo_a", "promo_b"}));
}

TEST_F(CliCommands, CatalogListFilters) {
  auto all = json::parse(run(" catalog list --format json").out);
  ASSERT_EQ(all.size(), 4u);  // three campaigns, one Content Card
  EXPECT_EQ(all[0]["kind"], "campaign");
  EXPECT_EQ(all[0]["id"], "newsletter");
  EXPECT_EQ(all[0]["tier"], "live");
  EXPECT_EQ(all[0]["tags"], json::array({"news"}));
  EXPECT_EQ(all[3]["kind"], "card");
  EXPECT_TRUE(all[3]["tier"].is_null());  // cards own no interaction data
  auto promo = json::parse(run(" catalog list --tag promo --format json").out);
  ASSERT_EQ(promo.size(), 2u);
  EXPECT_EQ(promo[0]["id"], "promo_a");
  EXPECT_EQ(promo[1]["id"], "promo_b");
  EXPECT_EQ(json::parse(run(" catalog list --tier expired --format json").out).size(), 0u);
  EXPECT_EQ(json::parse(run(" catalog list --kind card --format json").out).size(), 1u);
  auto text = run(" catalog list --tag news");
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, "campaign:newsletter\tstopped\tlive\tnews\tNewsletter\n");
  EXPECT_EQ(run(" catalog list --tier frozen").exit_code, 2);  // not a tier
}

TEST_F(CliCommands, RulesListSaysWhoUsesEachSegmentAndWhatItReads) {
  auto r = run(" rules list --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = json::parse(r.out);
  ASSERT_EQ(j.size(), 9u);
  json used;
  for (const auto& s : j)
    if (s["id"] == "not_received_promo_a") used = s;
  ASSERT_FALSE(used.is_null());
  EXPECT_EQ(used["used_by"], json::array({"card:card_promo"}));
  EXPECT_EQ(used["reads"], json::array({"campaign:promo_a"}));
  EXPECT_NE(used["defined_at"].get<std::string>().find("rules.yaml:"), std::string::npos);
  EXPECT_EQ(run(" rules remove not_recieved_promo_a").exit_code, 1);  // unknown: with a suggestion
}

TEST_F(CliCommands, LifecycleStatusFiltersByTierAndTag) {
  auto promo = json::parse(run(" lifecycle status --tag promo --format json").out);
  ASSERT_EQ(promo.size(), 2u);
  EXPECT_EQ(promo[0]["tags"], json::array({"promo"}));
  EXPECT_EQ(json::parse(run(" lifecycle status --tier expired --format json").out).size(), 0u);
  // Past the expiry window of the stopped newsletter: a sweep expires it.
  std::string later = kBin + " --now 2026-12-01T00:00:00Z --data-dir " + dir();
  ASSERT_EQ(run_command(later + " lifecycle sweep").exit_code, 0);
  auto expired = json::parse(run_command(later + " lifecycle status --tier expired --format json").out);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0]["source"], "campaign:newsletter");
  EXPECT_EQ(json::parse(run_command(later + " lifecycle status --tier expired --tag promo --format json").out).size(), 0u);
}

TEST_F(CliCommands, TheDotGraphHasALegendMarksExpiredSourcesAndFoldsWideTags) {
  std::string bulk = "version: 1\ncampaigns:\n";
  for (int i = 0; i < 12; ++i)
    bulk += "  - {id: bulk_" + std::to_string(i) + ", name: Bulk, tags: [bulk], status: active}\n";
  testing::write_file(tmp_ / "bulk.yaml", bulk);
  testing::write_file(tmp_ / "bulk_rules.yaml", R"(version: 1
segments:
  - id: bulk_receivers
    match: {received_tagged: {tag: bulk}}
)");
  ASSERT_EQ(run(" catalog apply " + (tmp_ / "bulk.yaml").string()).exit_code, 0);
  ASSERT_EQ(run(" rules apply " + (tmp_ / "bulk_rules.yaml").string()).exit_code, 0);
  std::string later = kBin + " --now 2026-12-01T00:00:00Z --data-dir " + dir();
  ASSERT_EQ(run_command(later + " lifecycle sweep").exit_code, 0);  // the stopped newsletter expires
  auto r = run_command(later + " deps --format dot");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string& dot = r.out;
  EXPECT_EQ(dot.rfind("digraph retarget {", 0), 0u);
  EXPECT_NE(dot.find("subgraph cluster_legend"), std::string::npos);
  // 12 live, unpinned sources of one tag: one folded node instead of 12 edges.
  EXPECT_NE(dot.find("\"tag:bulk\" -> \"tag:bulk (folded)\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("+12 more live, unpinned sources"), std::string::npos) << dot;
  EXPECT_EQ(dot.find("\"source:campaign:bulk_3\""), std::string::npos) << dot;
  // The expired source is drawn, and says so.
  EXPECT_NE(dot.find("\"source:campaign:newsletter\" [shape=cylinder, style=dashed"), std::string::npos) << dot;
  EXPECT_NE(dot.find("(expired)"), std::string::npos);
  // Balanced braces: one graph, one legend.
  EXPECT_EQ(std::count(dot.begin(), dot.end(), '{'), std::count(dot.begin(), dot.end(), '}'));
}

TEST_F(CliCommands, EvaluatePagesMembersWithLimitAndAfter) {
  ASSERT_EQ(run(" ingest " + events()).exit_code, 3);
  // The segment with the most members, whole.
  auto all = json::parse(run(" evaluate --format json").out);
  json widest;
  for (const auto& seg : all)
    if (widest.is_null() || seg["members"].size() > widest["members"].size()) widest = seg;
  ASSERT_GE(widest["members"].size(), 3u) << all.dump();
  const std::string id = widest["segment"];
  // Two per page, following next_after, joins to the same sorted list.
  json joined = json::array();
  std::string after;
  for (int page = 0; page < 100; ++page) {
    auto r = run(" evaluate --segment " + id + " --format json --limit 2" + (after.empty() ? "" : " --after " + after));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = json::parse(r.out)[0];
    EXPECT_EQ(j["count"], widest["count"]);
    ASSERT_LE(j["members"].size(), 2u);
    for (const auto& m : j["members"]) joined.push_back(m);
    if (!j.contains("next_after")) break;
    after = j["next_after"];
  }
  EXPECT_EQ(joined, widest["members"]);
  // The id form says on stderr where the next page starts, and prints only the page.
  auto ids = run(" evaluate --segment " + id + " --format ids --limit 1");
  EXPECT_EQ(ids.exit_code, 0);
  EXPECT_EQ(ids.out, widest["members"][0].get<std::string>() + "\n");
  EXPECT_NE(ids.err.find("--after " + widest["members"][0].get<std::string>()), std::string::npos) << ids.err;
}

TEST_F(CliCommands, DepsJsonSpellsStatusesAndTiersAsWords) {
  std::string later = kBin + " --now 2026-12-01T00:00:00Z --data-dir " + dir();
  ASSERT_EQ(run_command(later + " lifecycle sweep").exit_code, 0);  // the stopped newsletter expires
  auto j = json::parse(run_command(later + " deps --format json").out);
  bool saw_expired = false;
  for (const auto& s : j["sources"]) {
    ASSERT_TRUE(s["tier"].is_string()) << s.dump();
    ASSERT_TRUE(s["status"].is_string()) << s.dump();
    saw_expired |= s["source"] == "campaign:newsletter" && s["tier"] == "expired" && s["status"] == "stopped";
  }
  EXPECT_TRUE(saw_expired) << j.dump();
}

TEST_F(CliCommands, ConfigurationAndDataAreFoundInTheDocumentedOrder) {
  // RETARGET_DATA_DIR when --data-dir is not given; --data-dir wins over it.
  auto env = run_command("RETARGET_DATA_DIR=" + dir() + " " + kBin + " catalog list --kind card");
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_NE(env.out.find("card:card_promo"), std::string::npos);
  EXPECT_NE(env.err.find("(data directory " + dir() + ")"), std::string::npos) << env.err;
  auto flag = run_command("RETARGET_DATA_DIR=/nonexistent/d " + kBin + " --data-dir " + dir() + " catalog list");
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
  // RETARGET_CONFIG when --config is not given (its data_dir); --config wins.
  testing::write_file(tmp_ / "env.yaml", "data_dir: " + dir() + "\n");
  testing::write_file(tmp_ / "other.yaml", "data_dir: " + (tmp_ / "nowhere").string() + "\n");
  auto cfg = run_command("RETARGET_CONFIG=" + (tmp_ / "env.yaml").string() + " " + kBin + " catalog list --kind card");
  EXPECT_EQ(cfg.exit_code, 0) << cfg.err;
  EXPECT_NE(cfg.out.find("card:card_promo"), std::string::npos);
  auto over = run_command("RETARGET_CONFIG=" + (tmp_ / "env.yaml").string() + " " + kBin + " --config " +
                          (tmp_ / "other.yaml").string() + " catalog list");
  EXPECT_EQ(over.exit_code, 2);  // the other config's directory does not exist: refused for a read
  EXPECT_NE(over.err.find("no data directory at '" + (tmp_ / "nowhere").string() + "'"), std::string::npos)
      << over.err;
}

TEST(CliDataDir, CommandsThatOnlyReadCreateNoDataDirectory) {
  testing::TempDir cwd;
  std::string in = "cd " + cwd.path().string() + " && " + kBin;
  EXPECT_EQ(run_command(in + " plugins").exit_code, 0);
  EXPECT_EQ(run_command(in + " version").exit_code, 0);
  EXPECT_EQ(run_command(in + " schema").exit_code, 0);
  EXPECT_EQ(run_command(in + " completion bash").exit_code, 0);
  EXPECT_EQ(run_command(in + " --catalog " + kCase + "/catalog.yaml --data-dir :memory: validate " + kCase +
                        "/rules.yaml").exit_code, 0);
  auto eval = run_command(in + " evaluate --format count");
  EXPECT_EQ(eval.exit_code, 2);  // refused: there is no data directory to read
  EXPECT_NE(eval.err.find("no data directory at 'retarget-data'"), std::string::npos) << eval.err;
  EXPECT_EQ(run_command(in + " catalog list").exit_code, 2);
  EXPECT_TRUE(std::filesystem::is_empty(cwd.path()));
}

TEST(CliCompletion, BashCompletesCommandsSubcommandsAndOptions) {
  testing::TempDir tmp;
  auto script = run_command(kBin + " completion bash");
  ASSERT_EQ(script.exit_code, 0);
  testing::write_file(tmp / "retarget.bash", script.out);
  auto complete = [&](const std::string& words, int cword) {
    std::string probe = "source " + (tmp / "retarget.bash").string() + "; COMP_WORDS=(" + words +
                        "); COMP_CWORD=" + std::to_string(cword) + "; _retarget; printf '%s\\n' \"${COMPREPLY[@]}\"";
    testing::write_file(tmp / "probe.sh", probe);
    return run_command("bash " + (tmp / "probe.sh").string()).out;
  };
  EXPECT_EQ(complete("retarget eva", 1), "evaluate\n");
  EXPECT_EQ(complete("retarget --data-dir /x catalog l", 4), "list\n");  // the value of --data-dir is skipped
  EXPECT_EQ(complete("retarget lifecycle status --ti", 3), "--tier\n");
  EXPECT_EQ(complete("retarget campaign ''", 2), "stop\nresume\n--help\n-h\n");
  std::string top = complete("retarget ''", 1);
  for (const char* cmd : {"version", "plugins", "validate", "catalog", "ingest", "rules", "evaluate", "explain",
                          "deps", "lifecycle", "restore", "profile", "export", "analytics", "store", "completion"})
    EXPECT_NE(top.find(std::string(cmd) + "\n"), std::string::npos) << cmd;
}

// The documented commands no other test runs (tests/integration/documented_commands_test.py
// keeps this list honest): recipients, the plan, a checkpoint, resume of each kind.
TEST_F(CliCommands, RecipientsPlanCheckpointAndResumeDoWhatTheDocsSay) {
  ASSERT_EQ(run(" ingest " + events()).exit_code, 3);  // the case holds rejected lines
  auto recipients = run(" export recipients --campaign promo_a");
  ASSERT_EQ(recipients.exit_code, 0) << recipients.err;
  EXPECT_EQ(recipients.out.rfind("external_id,", 0), 0u) << recipients.out;
  EXPECT_NE(recipients.out.find("\nu01,"), std::string::npos) << recipients.out;
  EXPECT_EQ(run(" export recipients --campaign no_such").exit_code, 1);

  // newsletter stopped 2026-06-01: it expires at the first sweep 90 days later.
  auto plan = run(" lifecycle plan --until 2026-12-31T00:00:00Z");
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("2026-08-30T03:00:00.000Z  expire  campaign:newsletter"), std::string::npos) << plan.out;
  EXPECT_EQ(run(" lifecycle plan --until 2026-07-01T00:00:00Z").out.find("newsletter"), std::string::npos);

  auto checkpoint = run(" store checkpoint");
  ASSERT_EQ(checkpoint.exit_code, 0) << checkpoint.err;
  EXPECT_NE(checkpoint.out.find("checkpoint written"), std::string::npos) << checkpoint.out;
  EXPECT_TRUE(json::parse(run(" store check").out)["ok"].get<bool>());

  auto resumed = run(" campaign resume newsletter");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("campaign newsletter: active"), std::string::npos) << resumed.out;
  ASSERT_EQ(run(" card stop card_promo").exit_code, 0);
  auto card = run(" card resume card_promo");
  ASSERT_EQ(card.exit_code, 0) << card.err;
  auto active = json::parse(run(" catalog list --status active --format json").out);
  std::set<std::string> ids;
  for (const auto& e : active) ids.insert(e["id"].get<std::string>());
  EXPECT_TRUE(ids.count("newsletter") && ids.count("card_promo")) << active.dump();
}

}  // namespace
}  // namespace retarget
