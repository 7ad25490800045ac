// The storage core (issue "Storage core"): checkpoints and the log tail, a
// damaged log (torn tail dropped, damage elsewhere refused and repaired),
// faults of the disk (power loss, failed syncs, a full disk) through the
// file-system seam, the migration of an earlier release's directory, derived
// facts that do not change on restart or rebuild, read-only opens beside a
// writer, the legacy deletion in the new layout, and readers that never wait.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "retarget/format.hpp"
#include "engine/engine_impl.hpp"
#include "storage/fault_env.hpp"
#include "storage/record_log.hpp"
#include "store/event_codec.hpp"
#include "store/wal.hpp"
#include "storage/table_file.hpp"
#include "test_support.hpp"

namespace retarget {

struct EngineTestAccess {
  static Engine::Impl& impl(Engine& e) { return *e.impl_; }
};

namespace {

namespace fs = std::filesystem;
using Strings = std::vector<std::string>;
constexpr std::int64_t kDay = 86400000;

const char* kCatalog = R"(version: 1
campaigns:
  - {id: promo, status: stopped, stopped_at: 2026-01-01T00:00:00Z, tags: [t]}
  - {id: live_one, status: active}
canvases:
  - id: journey
    steps: [{id: s1}]
    variations: [{id: v1}, {id: ctl}]
    status: active
)";
const char* kRules = R"(version: 1
segments:
  - id: got_promo
    match: {received_campaign: {campaign: promo}}
  - id: got_live
    match: {received_campaign: {campaign: live_one}}
  - id: control_recent
    match: {last_enrolled_control_group: {blank: false}}
  - id: sms_ever
    match: {last_received_sms: {blank: false}}
)";

std::string received(int i, const std::string& campaign, const std::string& channel = "email") {
  return R"({"time":"2025-12-)" + std::string(i % 28 + 1 < 10 ? "0" : "") + std::to_string(i % 28 + 1) +
         R"(T10:00:00Z","user":"u)" + std::to_string(i) + R"(","type":"received","campaign":")" + campaign +
         R"(","channel":")" + channel + "\"}\n";
}

class Storage : public ::testing::Test {
 protected:
  EngineOptions options(const std::string& now = "2026-02-01T00:00:00Z") {
    EngineOptions o = testing::test_options(now);
    o.data_dir = dir();
    o.env = env_;
    return o;
  }
  std::unique_ptr<Engine> open(EngineOptions o) {
    auto e = Engine::Open(o);
    EXPECT_TRUE(e.ok()) << e.status().message();
    return e.ok() ? std::move(e).value() : nullptr;
  }
  std::unique_ptr<Engine> open(const std::string& now = "2026-02-01T00:00:00Z") { return open(options(now)); }
  void populate(Engine& e, int events = 100) {
    Diagnostics d;
    ASSERT_TRUE(e.apply_catalog_text(kCatalog, "catalog.yaml", d).ok()) << d.to_string();
    std::string text;
    for (int i = 0; i < events; ++i) text += received(i, i % 2 ? "promo" : "live_one");
    ASSERT_TRUE(e.ingest_text(text).ok());
    ASSERT_TRUE(e.load_rules_text(kRules, "rules.yaml", d).ok()) << d.to_string();
  }
  std::string dir() const { return (tmp_ / "data").string(); }
  std::vector<std::string> wal_paths() {
    std::vector<std::string> out;
    auto files = store::wal_files(*storage::Env::Default(), dir() + "/wal");
    EXPECT_TRUE(files.ok());
    if (files.ok())
      for (auto n : *files) out.push_back(dir() + "/wal/" + store::wal_file_name(n));
    return out;
  }
  static std::uint64_t count(Engine& e, const std::string& segment) {
    auto r = e.evaluate(segment, false);
    EXPECT_TRUE(r.ok()) << segment << ": " << r.status().message();
    return r.ok() ? r->count : ~0ull;
  }
  testing::TempDir tmp_;
  storage::Env* env_ = nullptr;
};

// --- checkpoints and the log tail -----------------------------------------------------

TEST_F(Storage, AReopenLoadsTheCheckpointAndReplaysOnlyTheTail) {
  {
    auto e = open();
    populate(*e, 200);
    ASSERT_TRUE(e->checkpoint().ok());
    ASSERT_TRUE(e->ingest_text(received(500, "promo") + received(501, "live_one")).ok());
    // The tail after the checkpoint is one small log file.
    auto files = wal_paths();
    ASSERT_FALSE(files.empty());
    EXPECT_LT(fs::file_size(files.back()), 4u << 20);
  }
  auto e = open();
  EXPECT_EQ(count(*e, "got_promo"), 101u);
  EXPECT_EQ(count(*e, "got_live"), 101u);
  // The raw events are kept, compressed in blocks (store rebuild reads them).
  EXPECT_FALSE(fs::is_empty(dir() + "/events"));
  auto c = nlohmann::json::parse(to_json(e->check_store()));
  EXPECT_TRUE(c["ok"].get<bool>()) << c.dump(2);
  EXPECT_EQ(c["events"], 202);
}

// --- a damaged log -----------------------------------------------------------------------

TEST_F(Storage, ATornFinalRecordIsDroppedAndNothingAcknowledgedIsLost) {
  {
    EngineOptions o = options();
    o.background = false;
    auto e = open(o);
    populate(*e, 50);
  }
  // A crash while appending: a partial record after the last good one.
  std::string wal = wal_paths().back();
  auto size = fs::file_size(wal);
  {
    std::ofstream f(wal, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(size));
    f << std::string("\x12\x34\x56\x78\xff\x00\x00\x00\x01partial", 16);
  }
  auto e = open();
  ASSERT_TRUE(e);
  EXPECT_EQ(count(*e, "got_promo"), 25u);
  EXPECT_EQ(count(*e, "got_live"), 25u);
}

TEST_F(Storage, DamageInTheMiddleOfTheLogFailsTheOpenNamingTheFileAndOffsetAndRepairDropsOnlyIt) {
  {
    EngineOptions o = options();
    o.background = false;
    auto e = open(o);
    Diagnostics d;
    ASSERT_TRUE(e->apply_catalog_text(kCatalog, "catalog.yaml", d).ok());
    ASSERT_TRUE(e->load_rules_text(kRules, "rules.yaml", d).ok());
    ASSERT_TRUE(e->checkpoint().ok());
    // Twenty acknowledged batches of ten events: twenty log records after the checkpoint.
    for (int b = 0; b < 20; ++b) {
      std::string text;
      for (int i = 0; i < 10; ++i) text += received(b * 10 + i, "promo");
      ASSERT_TRUE(e->ingest_text(text).ok());
    }
    // The process dies without its closing checkpoint: the directory as it is now.
    fs::copy(dir(), (tmp_ / "crashed").string(), fs::copy_options::recursive);
  }
  fs::remove_all(dir());
  fs::rename((tmp_ / "crashed").string(), dir());
  std::string wal = wal_paths().back();
  // Flip 16 bytes inside the 8th record (good records follow it).
  auto bytes = storage::Env::Default()->read_file(wal);
  ASSERT_TRUE(bytes.ok());
  auto parsed = storage::parse_log((*bytes)->view(), wal, true);
  ASSERT_GE(parsed.records.size(), 20u);
  std::uint64_t damaged_at = parsed.records[7].offset + 20;
  {
    std::fstream f(wal, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(damaged_at));
    f << std::string(16, '\xa5');
  }
  auto e = Engine::Open(options());
  ASSERT_FALSE(e.ok()) << "a damaged log must not open silently";
  EXPECT_NE(e.status().message().find(wal), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find("byte " + std::to_string(parsed.records[7].offset)), std::string::npos)
      << e.status().message();
  // store check says the same.
  auto check = testing::run_command(std::string(RETARGET_CLI) + " --plugins " + RETARGET_PLUGIN_DIR + " --data-dir " +
                                    dir() + " store check");
  EXPECT_NE(check.exit_code, 0);
  EXPECT_NE(check.err.find(wal), std::string::npos) << check.err;
  // store repair drops only the damaged record and lists it.
  auto repaired = Engine::RepairStore(options());
  ASSERT_TRUE(repaired.ok()) << repaired.status().message();
  ASSERT_EQ(repaired->dropped.size(), 1u);
  EXPECT_EQ(repaired->dropped[0].file, wal);
  EXPECT_EQ(repaired->dropped[0].offset, parsed.records[7].offset);
  EXPECT_EQ(repaired->dropped[0].length, parsed.records[7].end - parsed.records[7].offset);
  auto after = open();
  ASSERT_TRUE(after);
  EXPECT_EQ(count(*after, "got_promo"), 190u) << "exactly the damaged batch is gone";
  EXPECT_TRUE(nlohmann::json::parse(to_json(after->check_store()))["ok"].get<bool>());
}

// --- faults of the disk (the file-system seam) ---------------------------------------------

TEST_F(Storage, APowerLossKeepsEveryAcknowledgedEvent) {
  storage::FaultInjectionEnv fault(storage::Env::Default());
  env_ = &fault;
  std::uint64_t acknowledged = 0;
  {
    EngineOptions o = options();
    o.background = false;
    auto e = open(o);
    Diagnostics d;
    ASSERT_TRUE(e->apply_catalog_text(kCatalog, "catalog.yaml", d).ok());
    ASSERT_TRUE(e->load_rules_text(kRules, "rules.yaml", d).ok());
    for (int b = 0; b < 30; ++b) {
      std::string text;
      for (int i = 0; i < 10; ++i) text += received(b * 10 + i, "promo");
      auto r = e->ingest_text(text);
      ASSERT_TRUE(r.ok());
      acknowledged += r->accepted;
      if (b == 15) { ASSERT_TRUE(e->checkpoint().ok()); }
    }
    // Power goes: everything not synced vanishes. (The engine object is left to
    // close afterwards on files already cut back; its closing checkpoint then
    // either succeeds or fails, which is what a real power loss cannot do, so
    // the directory is copied now.)
    fault.drop_unsynced();
    fs::copy(dir(), (tmp_ / "after_power_loss").string(), fs::copy_options::recursive);
  }
  env_ = nullptr;
  fs::remove_all(dir());
  fs::rename((tmp_ / "after_power_loss").string(), dir());
  auto e = open();
  ASSERT_TRUE(e);
  EXPECT_EQ(count(*e, "got_promo"), acknowledged);
}

TEST_F(Storage, AFailedSyncFailsTheIngestAndNothingIsAcknowledged) {
  storage::FaultInjectionEnv fault(storage::Env::Default());
  env_ = &fault;
  EngineOptions o = options();
  o.background = false;
  auto e = open(o);
  populate(*e, 10);
  fault.fail_syncs(true);
  auto r = e->ingest_text(received(100, "promo"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("sync"), std::string::npos) << r.status().message();
  // Not acknowledged, so not visible either.
  EXPECT_EQ(count(*e, "got_promo"), 5u);
  fault.fail_syncs(false);
}

TEST_F(Storage, AFullDiskFailsIngestCheckpointSweepAndRestoreCleanlyAndLosesNothing) {
  storage::FaultInjectionEnv fault(storage::Env::Default());
  env_ = &fault;
  EngineOptions o = options();
  o.background = false;
  auto e = open(o);
  populate(*e, 100);
  ASSERT_TRUE(e->checkpoint().ok());
  fault.set_space_limit(0);
  // Ingest: refused, not acknowledged.
  auto r = e->ingest_text(received(1000, "promo"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("No space left"), std::string::npos) << r.status().message();
  // A checkpoint: refused; the log still holds everything.
  EXPECT_FALSE(e->checkpoint().ok());
  // A sweep: its log record cannot be written: a clear failure.
  e->set_now_ms(*parse_time_ms("2026-01-01T00:00:00Z") + 91 * kDay);
  auto swept = e->sweep();
  EXPECT_FALSE(swept.ok());
  fault.set_space_limit(-1);
  // With room again: the sweep works, the archive move can run, restore works.
  swept = e->sweep();
  ASSERT_TRUE(swept.ok()) << swept.status().message();
  auto& impl = EngineTestAccess::impl(*e);
  fault.set_space_limit(100);  // the archive file does not fit
  EXPECT_FALSE(impl.move_bytes("campaign:promo").ok());
  fault.set_space_limit(-1);
  ASSERT_TRUE(impl.move_bytes("campaign:promo").ok());
  fault.set_space_limit(0);
  auto job = e->restore({{"promo"}, {}, {}});
  EXPECT_FALSE(job.ok()) << "the job cannot be made durable on a full disk";
  fault.set_space_limit(-1);
  job = e->restore({{"promo"}, {}, {}});
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(e->wait_restore(job->id).state, JobState::kDone);
  EXPECT_EQ(count(*e, "got_promo"), 50u);
  e.reset();
  env_ = nullptr;
  auto again = open("2026-04-05T00:00:00Z");
  EXPECT_EQ(count(*again, "got_promo"), 50u);
  EXPECT_EQ(count(*again, "got_live"), 50u);
}

// --- the earlier release's directory -----------------------------------------------------------

TEST_F(Storage, ADirectoryOfTheEarlierReleaseIsRefusedUntilStoreRebuildConvertsIt) {
  fs::copy(std::string(RETARGET_SOURCE_DIR) + "/tests/fixtures/v1-data-dir", dir(), fs::copy_options::recursive);
  EngineOptions o = options("2026-06-15T12:00:00Z");
  auto refused = Engine::Open(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("store rebuild"), std::string::npos) << refused.status().message();
  auto rebuilt = Engine::RebuildStore(o);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().message();
  EXPECT_TRUE(rebuilt->migrated);
  EXPECT_TRUE(fs::exists(rebuilt->backup_dir));
  EXPECT_EQ(rebuilt->events, 24u);
  auto e = open(o);
  ASSERT_TRUE(e);
  // The same answers the earlier release gave (recorded with it in the fixture).
  auto expected = nlohmann::json::parse(testing::read_file(std::string(RETARGET_SOURCE_DIR) + "/tests/fixtures/expected_evaluate.json"));
  for (const auto& seg : expected) {
    auto r = e->evaluate(seg["segment"].get<std::string>());
    ASSERT_TRUE(r.ok()) << seg["segment"];
    EXPECT_EQ(nlohmann::json(r->members), seg["members"]) << seg["segment"];
  }
  auto statuses = nlohmann::json::parse(testing::read_file(std::string(RETARGET_SOURCE_DIR) + "/tests/fixtures/expected_status.json"));
  for (const auto& st : statuses) {
    auto now = e->lifecycle_status({st["source"].get<std::string>()});
    ASSERT_EQ(now.size(), 1u);
    EXPECT_EQ(tier_label(now[0].tier, now[0].restoring), st["tier"].get<std::string>()) << st["source"];
    EXPECT_EQ(now[0].records, st["records"]) << st["source"];
  }
  auto analytics = nlohmann::json::parse(to_json(*e->analytics(SourceKind::kCampaign, "spring_sale")));
  auto old = nlohmann::json::parse(testing::read_file(std::string(RETARGET_SOURCE_DIR) + "/tests/fixtures/expected_analytics.json"));
  EXPECT_EQ(analytics, old);
}

// --- derived facts do not change on restart or rebuild -----------------------------------------

TEST_F(Storage, ACatalogChangeAfterIngestChangesNoFactOnRestartOrRebuild) {
  const std::string enter = R"({"time":"2026-01-10T00:00:00Z","user":"k1","type":"canvas_entered","canvas":"journey","variation":"ctl"})" "\n";
  std::uint64_t before = 0;
  {
    auto e = open();
    populate(*e, 4);
    ASSERT_TRUE(e->ingest_text(enter).ok());
    before = count(*e, "control_recent");
    EXPECT_EQ(before, 0u);  // ctl is not a control variation yet
    // Then the catalog marks `ctl` as the control group: facts derived before stay as they were.
    Diagnostics d;
    ASSERT_TRUE(e->apply_catalog_text(R"(version: 1
canvases:
  - id: journey
    steps: [{id: s1}]
    variations: [{id: v1}, {id: ctl, control: true}]
    status: active
)", "catalog2.yaml", d).ok()) << d.to_string();
    EXPECT_EQ(count(*e, "control_recent"), before);
  }
  {
    // A restart after a checkpoint, and one replaying the log.
    auto e = open();
    EXPECT_EQ(count(*e, "control_recent"), before);
  }
  auto rebuilt = Engine::RebuildStore(options());
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().message();
  EXPECT_FALSE(rebuilt->migrated);
  auto e = open();
  EXPECT_EQ(count(*e, "control_recent"), before);
  // An event ingested after the change is derived with the new catalog.
  ASSERT_TRUE(e->ingest_text(R"({"time":"2026-01-11T00:00:00Z","user":"k2","type":"canvas_entered","canvas":"journey","variation":"ctl"})" "\n").ok());
  EXPECT_EQ(count(*e, "control_recent"), before + 1);
}

// --- read-only opens beside a writer ------------------------------------------------------

TEST_F(Storage, AReaderOpensBesideAWriterAndAWriterIsRefused) {
  auto writer = open();
  populate(*writer, 40);
  ASSERT_TRUE(writer->checkpoint().ok());
  ASSERT_TRUE(writer->ingest_text(received(900, "promo")).ok());  // in the log, after the checkpoint
  EngineOptions ro = options();
  ro.read_only = true;
  auto reader = open(ro);
  ASSERT_TRUE(reader);
  EXPECT_TRUE(reader->read_only());
  EXPECT_EQ(count(*reader, "got_promo"), 21u);  // the checkpoint and the log as they are
  EXPECT_GT(reader->as_of_ms(), 0);
  auto refused = reader->ingest_text(received(901, "promo"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("read-only"), std::string::npos);
  auto second = Engine::Open(options());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use by another retarget process"), std::string::npos);
  EXPECT_EQ(second.status().exit_code(), 1);
  // The command line: a reading command works and says as of when; a writing one exits 1.
  std::string cli = std::string(RETARGET_CLI) + " --plugins " + RETARGET_PLUGIN_DIR + " --data-dir " + dir() +
                    " --now 2026-02-01T00:00:00Z ";
  auto ev = testing::run_command(cli + "evaluate --segment got_promo --format count");
  EXPECT_EQ(ev.exit_code, 0) << ev.err;
  EXPECT_EQ(ev.out, "21\n");
  EXPECT_NE(ev.err.find("as of: "), std::string::npos) << ev.err;
  auto j = nlohmann::json::parse(testing::run_command(cli + "evaluate --segment got_promo --format json").out);
  EXPECT_TRUE(j[0].contains("as_of"));
  // (The file exists: the command line checks its files before it opens the store.)
  testing::write_file(tmp_ / "nothing.jsonl", "");
  auto w = testing::run_command(cli + "ingest " + (tmp_ / "nothing.jsonl").string());
  EXPECT_EQ(w.exit_code, 1) << w.err;
  EXPECT_NE(w.err.find("in use"), std::string::npos) << w.err;
}

TEST_F(Storage, ReadingCommandsNeverCreateADataDirectory) {
  std::string cli = std::string(RETARGET_CLI) + " --plugins " + RETARGET_PLUGIN_DIR + " --data-dir " + dir() + " ";
  EXPECT_EQ(testing::run_command(cli + "plugins").exit_code, 0);
  auto e = testing::run_command(cli + "evaluate --segment x");
  EXPECT_EQ(e.exit_code, 2);
  EXPECT_NE(e.err.find("no data directory at"), std::string::npos) << e.err;
  EXPECT_FALSE(fs::exists(dir()));
}

// --- the legacy policy in the new layout -----------------------------------------------------

TEST_F(Storage, ALegacyDeletionKeepsProfileDataUsersAndAnalyticsAcrossRestartAndRebuild) {
  testing::write_file(tmp_ / "legacy.yaml", "version: 1\npolicy: legacy\n");
  EngineOptions o = options();
  o.config_path = (tmp_ / "legacy.yaml").string();
  {
    auto e = open(o);
    Diagnostics d;
    ASSERT_TRUE(e->apply_catalog_text(kCatalog, "catalog.yaml", d).ok());
    ASSERT_TRUE(e->ingest_text(received(6, "promo", "sms")).ok());
    ASSERT_TRUE(e->load_rules_text(kRules, "rules.yaml", d).ok());
    e->set_now_ms(*parse_time_ms("2028-03-01T00:00:00Z"));  // 25 months after the last send
    auto r = e->sweep();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->deleted, Strings{"campaign:promo"});
    // The interaction data is gone at once: a filter naming the source is now an error.
    auto gone = e->evaluate("got_promo");
    ASSERT_FALSE(gone.ok());
    EXPECT_NE(gone.status().message().find("deleted under the legacy policy"), std::string::npos) << gone.status().message();
    EXPECT_EQ(count(*e, "sms_ever"), 1u);   // the profile summary stays
    EXPECT_TRUE(e->profile("u6").ok());     // so does the user
  }
  auto check = [&](Engine& e) {
    EXPECT_FALSE(e.evaluate("got_promo").ok());
    EXPECT_EQ(count(e, "sms_ever"), 1u);
    EXPECT_TRUE(e.profile("u6").ok());
    auto a = nlohmann::json::parse(to_json(*e.analytics(SourceKind::kCampaign, "promo")));
    EXPECT_EQ(a["sends"], 1);
    EXPECT_EQ(e.lifecycle_status({"promo"})[0].tier, Tier::kDeleted);
  };
  {
    auto e = open(o);
    check(*e);
  }
  ASSERT_TRUE(Engine::RebuildStore(o).ok());
  auto e = open(o);
  check(*e);
}

// The purge: the deleted source's events leave the raw-event blocks for
// good; a rebuild from the blocks gives the same profiles, analytics, users,
// event count and duplicates as the engine had.
TEST_F(Storage, ALegacyPurgeTakesTheDeletedSourcesEventsOutOfTheRawEventBlocks) {
  testing::write_file(tmp_ / "legacy.yaml", "version: 1\npolicy: legacy\n");
  EngineOptions o = options();
  o.config_path = (tmp_ / "legacy.yaml").string();
  std::string promo_events;
  for (int i = 0; i < 40; ++i) promo_events += received(i, "promo", i % 3 ? "email" : "sms");
  promo_events += R"({"time":"2025-12-20T10:00:00Z","user":"u7","type":"interaction","campaign":"promo","action":"clicked_email","alias":"cta"})" "\n";
  // Events of sources in the block that block rewriting must keep.
  std::string others;
  for (int i = 0; i < 30; ++i) others += received(100 + i, "live_one");
  auto blocks_hold = [&](const std::string& campaign) {
    std::uint64_t n = 0, residues = 0;
    for (const auto& f : fs::directory_iterator(dir() + "/events")) {
      auto t = storage::TableReader::Open(*storage::Env::Default(), f.path().string());
      EXPECT_TRUE(t.ok()) << t.status().message();
      if (!t.ok()) continue;
      auto log = (*t)->read("log");
      EXPECT_TRUE(log.ok());
      auto c = storage::parse_log((*log)->view(), f.path().string(), false);
      EXPECT_FALSE(c.corrupt) << c.problem;
      for (const auto& r : c.records) {
        if (r.type == static_cast<std::uint8_t>(store::RecordType::kResidue)) ++residues;
        if (r.type != static_cast<std::uint8_t>(store::RecordType::kEvents)) continue;
        std::int64_t at;
        decode_event_batch(r.payload, at, [&](const Event& e, const HashSet128::Key&) { n += e.source == campaign; });
      }
    }
    return std::make_pair(n, residues);
  };
  struct Seen {
    std::uint64_t sms, users, events;
    std::string analytics, profile;
  };
  auto seen = [&](Engine& e) {
    auto c = nlohmann::json::parse(to_json(e.check_store()));
    return Seen{count(e, "sms_ever"), e.users().size(), c["events"].get<std::uint64_t>(),
                to_json(*e.analytics(SourceKind::kCampaign, "promo")), to_json(*e.profile("u7"))};
  };
  Seen before;
  {
    auto e = open(o);
    Diagnostics d;
    ASSERT_TRUE(e->apply_catalog_text(kCatalog, "catalog.yaml", d).ok());
    ASSERT_TRUE(e->load_rules_text(kRules, "rules.yaml", d).ok());
    ASSERT_TRUE(e->ingest_text(promo_events + others).ok());
    ASSERT_TRUE(e->checkpoint().ok());  // the events are in a sealed block now
    EXPECT_EQ(blocks_hold("promo").first, 41u);
    e->set_now_ms(*parse_time_ms("2028-03-01T00:00:00Z"));
    auto r = e->sweep();
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->deleted, Strings{"campaign:promo"});
    before = seen(*e);
    ASSERT_TRUE(e->checkpoint().ok());  // the purge follows the checkpoint
    auto [left, residues] = blocks_hold("promo");
    EXPECT_EQ(left, 0u) << "the deleted source's events are still in the raw-event blocks";
    EXPECT_GE(residues, 1u);
    EXPECT_EQ(blocks_hold("live_one").first, 30u) << "the purge took other sources' events";
    Seen now = seen(*e);
    EXPECT_EQ(now.analytics, before.analytics);
    EXPECT_EQ(now.profile, before.profile);
  }
  auto same = [&](Engine& e, const char* when) {
    SCOPED_TRACE(when);
    Seen s = seen(e);
    EXPECT_EQ(s.sms, before.sms);
    EXPECT_EQ(s.users, before.users);
    EXPECT_EQ(s.events, before.events);
    EXPECT_EQ(s.analytics, before.analytics);
    EXPECT_EQ(s.profile, before.profile);
    EXPECT_FALSE(e.evaluate("got_promo").ok());
    EXPECT_EQ(count(e, "got_live"), 30u);
  };
  {
    auto e = open(o);
    same(*e, "reopened");
  }
  ASSERT_TRUE(Engine::RebuildStore(o).ok());
  auto e = open(o);
  same(*e, "rebuilt from the purged blocks");
  // A purged event sent again is still a duplicate.
  auto again = e->ingest_text(received(4, "promo"));  // (u4 got it by email)
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->duplicates, 1u);
  EXPECT_EQ(blocks_hold("promo").first, 0u);
  // A deleted source that sends again is revived: its new events are live
  // data, and a later purge keeps them.
  ASSERT_TRUE(e->ingest_text(received(900, "promo")).ok());
  EXPECT_EQ(count(*e, "got_promo"), 1u);
  ASSERT_TRUE(e->checkpoint().ok());
  EXPECT_EQ(blocks_hold("promo").first, 1u);
  e.reset();
  ASSERT_TRUE(Engine::RebuildStore(o).ok());
  e = open(o);
  EXPECT_EQ(count(*e, "got_promo"), 1u);
  EXPECT_EQ(e->lifecycle_status({"promo"})[0].tier, Tier::kLive);
}

// --- readers never wait for writers -------------------------------------------------------------

TEST_F(Storage, EvaluationsGoOnWhileTheWriterPathIsHeld) {
  auto e = open();
  populate(*e, 100);
  Engine::Impl& impl = EngineTestAccess::impl(*e);
  std::atomic<int> done{0};
  {
    MutexLock hold(impl.writer_mu);  // a writer in the middle of a long change
    std::thread reader([&] {
      for (int i = 0; i < 50; ++i) {
        if (count(*e, "got_promo") == 50u) ++done;
        auto p = e->profile("u1");
        if (p.ok()) ++done;
      }
    });
    reader.join();  // would deadlock if a reader took the writer lock
  }
  EXPECT_EQ(done.load(), 100);
}

TEST_F(Storage, EveryAnswerComesFromACompleteVersionWhileRestoresSweepsAndIngestsRun) {
  auto e = open();
  populate(*e, 200);  // 100 promo, 100 live_one
  std::atomic<bool> stop{false};
  std::atomic<int> evaluations{0}, bad{0};
  std::thread reader([&] {
    while (!stop) {
      // got_promo is either every promo recipient (live) or nobody (expired):
      // never a part of them.
      auto n = count(*e, "got_promo");
      if (n != 0 && n != 100) ++bad;
      auto live = count(*e, "got_live");
      if (live < 100) ++bad;  // counts never go backwards
      ++evaluations;
    }
  });
  std::thread writer([&] {
    for (int i = 0; i < 20; ++i) {
      std::string text;
      for (int k = 0; k < 10; ++k) text += received(1000 + i * 10 + k, "live_one");
      EXPECT_TRUE(e->ingest_text(text).ok());
    }
  });
  for (int round = 0; round < 4; ++round) {
    e->set_now_ms(*parse_time_ms("2026-01-01T00:00:00Z") + (91 + round * 200) * kDay);
    ASSERT_TRUE(e->sweep().ok());
    auto job = e->restore({{"promo"}, {}, {}});
    ASSERT_TRUE(job.ok());
    EXPECT_EQ(e->wait_restore(job->id).state, JobState::kDone);
  }
  writer.join();
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(evaluations.load(), 0);
}

}  // namespace
}  // namespace retarget
