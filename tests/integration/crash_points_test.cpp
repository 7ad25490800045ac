// Crash points (lifecycle.md "Durability: nothing is lost"; the in-process
// half of the kill-point harness, crash_test.cpp being the SIGKILL half).
//
// Every change a phase makes to the disk (a file created, a write, a sync, a
// rename, a removal) is, in turn, the instant the machine loses power: the
// file-system seam lets the changes before it through, fails every one after
// it, and then drops what was not synced. The directory is reopened and
// checked: it opens, no acknowledged event is lost, every source's records
// are all there and in exactly one tier, and finishing the interrupted work
// gives the same state as an uninterrupted run. The phases: ingest,
// checkpoint, expire (the logical edit), the move to long-term storage,
// restore (the logical edit) and the move back.
//
// RETARGET_CRASH_POINTS caps the points per phase (default 40, spread evenly
// over the phase's changes; 0 = every change).
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "retarget/format.hpp"
#include "storage/fault_env.hpp"
#include "test_support.hpp"

namespace retarget {
namespace {

namespace fs = std::filesystem;

constexpr int kSources = 4;
constexpr int kBatches = 6;
constexpr int kBatchEvents = 50;
constexpr int kEvents = kBatches * kBatchEvents;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

std::string catalog_text() {
  std::string c = "version: 1\ncampaigns:\n";
  for (int s = 0; s < kSources; ++s)
    c += "  - {id: c" + std::to_string(s) + ", status: stopped, stopped_at: 2026-01-01T00:00:00Z}\n";
  return c;
}

std::string rules_text() {
  std::string r = "version: 1\nsegments:\n";
  for (int s = 0; s < kSources; ++s)
    r += "  - id: got_c" + std::to_string(s) + "\n    match: {received_campaign: {campaign: c" + std::to_string(s) + "}}\n";
  return r;
}

// Batch b's events: distinct users, spread over the sources.
std::string batch(int b) {
  std::string text;
  for (int i = b * kBatchEvents; i < (b + 1) * kBatchEvents; ++i)
    text += R"({"time":"2025-12-)" + std::string(i % 28 + 1 < 10 ? "0" : "") + std::to_string(i % 28 + 1) +
            R"(T10:00:00Z","user":"u)" + std::to_string(i) + R"(","type":"received","campaign":"c)" +
            std::to_string(i % kSources) + R"(","channel":"email"})" "\n";
  return text;
}

RestoreRequest all_sources() {
  RestoreRequest r;
  for (int s = 0; s < kSources; ++s) r.campaigns.push_back("c" + std::to_string(s));
  return r;
}

const char* kBefore = "2026-02-01T00:00:00Z";  // every source live
const char* kAfter = "2026-06-01T00:00:00Z";   // every source due to expire

// A phase: `prepare` brings an engine opened on the base directory to where
// the phase starts (its changes are not crash points); `act` is the phase.
// `act` returns the events it acknowledged (ingest) or 0.
struct Phase {
  std::string name;
  const char* now;
  std::function<void(Engine&)> setup;  // builds the base directory (then closed cleanly)
  std::function<void(Engine&)> prepare;
  std::function<std::uint64_t(Engine&)> act;
  // What the phase leaves when it finishes: every source's tier afterwards.
  std::string tier_after;
};

class CrashPoints : public ::testing::Test {
 protected:
  EngineOptions options(const std::string& dir, const char* now, storage::Env* env) {
    EngineOptions o = testing::test_options(now);
    o.data_dir = dir;
    o.env = env;
    o.background = false;  // moves run where the test says (Engine::settle), in a known order
    return o;
  }

  std::unique_ptr<Engine> open(const std::string& dir, const char* now, storage::Env* env = nullptr) {
    auto e = Engine::Open(options(dir, now, env));
    EXPECT_TRUE(e.ok()) << dir << ": " << e.status().message();
    return e.ok() ? std::move(e).value() : nullptr;
  }

  // Checks the reopened directory (failures name the phase and the point).
  void check(const std::string& dir, const Phase& phase, std::uint64_t point, std::uint64_t acked,
             const std::string& tier_before) {
    SCOPED_TRACE(phase.name + ", crash point " + std::to_string(point));
    auto e = open(dir, phase.now);
    ASSERT_TRUE(e) << "the directory does not open after the crash";
    auto c = nlohmann::json::parse(to_json(e->check_store()));
    ASSERT_TRUE(c["ok"].get<bool>()) << c.dump(2);
    std::uint64_t events = c["events"].get<std::uint64_t>();
    EXPECT_GE(events, acked) << "an acknowledged event was lost";
    std::uint64_t records = 0;
    for (const auto& s : c["sources"]) {
      records += s["records"].get<std::uint64_t>();
      std::string tier = s["tier"];
      // Exactly one tier: the one before the phase or the one after it.
      EXPECT_TRUE(tier == tier_before || tier == phase.tier_after) << s.dump();
    }
    EXPECT_EQ(records, events) << "records and events disagree: " << c.dump(2);
    // Finishing the work: the interrupted move completes, the phase redone
    // reaches the state an uninterrupted run reaches.
    ASSERT_TRUE(e->settle().ok());
    phase.act(*e);
    ASSERT_TRUE(e->settle().ok());
    auto done = nlohmann::json::parse(to_json(e->check_store()));
    ASSERT_TRUE(done["ok"].get<bool>()) << done.dump(2);
    for (const auto& s : done["sources"]) {
      EXPECT_EQ(s["tier"], phase.tier_after) << s.dump();
      EXPECT_FALSE(s["move_pending"].get<bool>()) << s.dump();
    }
    std::uint64_t members = 0;
    for (int s = 0; s < kSources; ++s) {
      auto r = e->evaluate("got_c" + std::to_string(s), false);
      ASSERT_TRUE(r.ok()) << r.status().message();
      members += r->count;
    }
    EXPECT_EQ(members, phase.tier_after == "live" ? nlohmann::json::parse(to_json(e->check_store()))["events"].get<std::uint64_t>() : 0u)
        << "members of the per-source segments";
  }

  // Runs the phase once per crash point; returns the number of points.
  int run(const Phase& phase, const std::string& tier_before) {
    std::string base = (tmp_ / (phase.name + "-base")).string();
    {
      auto e = open(base, phase.now);
      if (!e) return 0;
      Diagnostics d;
      EXPECT_TRUE(e->apply_catalog_text(catalog_text(), "catalog.yaml", d).ok()) << d.to_string();
      EXPECT_TRUE(e->load_rules_text(rules_text(), "rules.yaml", d).ok()) << d.to_string();
      phase.setup(*e);
    }
    // The phase's size: its changes to the disk on an uninterrupted run.
    std::uint64_t total = 0;
    {
      std::string dir = (tmp_ / (phase.name + "-sizing")).string();
      fs::copy(base, dir, fs::copy_options::recursive);
      storage::FaultInjectionEnv env(storage::Env::Default());
      auto e = open(dir, phase.now, &env);
      if (!e) return 0;
      phase.prepare(*e);
      std::uint64_t before = env.changes();
      phase.act(*e);
      total = env.changes() - before;
    }
    EXPECT_GT(total, 0u) << phase.name << " changed nothing on disk";
    std::uint64_t cap = static_cast<std::uint64_t>(env_int("RETARGET_CRASH_POINTS", 40));
    std::vector<std::uint64_t> points;
    if (cap == 0 || total + 1 <= cap) {
      for (std::uint64_t p = 0; p <= total; ++p) points.push_back(p);
    } else {
      for (std::uint64_t i = 0; i < cap; ++i) points.push_back(i * total / (cap - 1));
    }
    int n = 0;
    for (std::uint64_t point : points) {
      std::string dir = (tmp_ / (phase.name + "-" + std::to_string(point))).string();
      fs::copy(base, dir, fs::copy_options::recursive);
      std::uint64_t acked = 0;
      {
        storage::FaultInjectionEnv env(storage::Env::Default());
        {
          auto e = open(dir, phase.now, &env);
          if (!e) return n;
          phase.prepare(*e);
          env.crash_after(point);
          acked = phase.act(*e);
        }  // closing fails past the crash point (its moves and checkpoint): nothing may abort
        EXPECT_TRUE(env.crashed() || point == total) << phase.name << ": point " << point << " never reached";
        env.drop_unsynced();
      }
      check(dir, phase, point, acked, tier_before);
      fs::remove_all(dir);
      ++n;
      if (HasFatalFailure()) break;
    }
    return n;
  }

  testing::TempDir tmp_;
};

std::uint64_t ingest_all(Engine& e) {
  std::uint64_t acked = 0;
  for (int b = 0; b < kBatches; ++b) {
    auto r = e.ingest_text(batch(b));
    if (!r.ok()) break;  // nothing of a failed batch is acknowledged
    acked += r->accepted;
  }
  return acked;
}

TEST_F(CrashPoints, EveryChangeToTheDiskIsACrashPointAndNothingIsLost) {
  auto nothing = [](Engine&) {};
  // The operations under test fail by design at an injected crash: their
  // results are not checked; what the reopened directory holds is.
  auto expire = [](Engine& e) -> std::uint64_t {
    (void)e.sweep();
    return 0;
  };
  auto restore = [](Engine& e) -> std::uint64_t {
    auto job = e.restore(all_sources());
    if (job.ok()) e.wait_restore(job->id);
    return 0;
  };
  auto settle = [](Engine& e) -> std::uint64_t {
    (void)e.settle();
    return 0;
  };
  auto ingested = [](Engine& e) { ingest_all(e); };
  auto expired = [&](Engine& e) {
    ASSERT_TRUE(e.sweep().ok());
    ASSERT_TRUE(e.settle().ok());
  };
  std::vector<std::pair<Phase, std::string>> phases = {
      {{"ingest", kBefore, nothing, nothing, ingest_all, "live"}, "live"},
      {{"checkpoint", kBefore, ingested,
        [](Engine& e) { ASSERT_TRUE(e.ingest_text(batch(kBatches)).ok()); },  // a log tail to cover
        [](Engine& e) -> std::uint64_t {
          (void)e.checkpoint();
          return 0;
        },
        "live"},
       "live"},
      {{"expire", kAfter, ingested, nothing, expire, "expired"}, "live"},
      {{"move-to-long-term", kAfter, ingested, [&](Engine& e) { ASSERT_TRUE(e.sweep().ok()); }, settle, "expired"},
       "expired"},
      {{"restore", kAfter, [&](Engine& e) { ingested(e), expired(e); }, nothing, restore, "live"}, "expired"},
      {{"move-back", kAfter, [&](Engine& e) { ingested(e), expired(e); },
        [&](Engine& e) { restore(e); }, settle, "live"},
       "live"},
  };
  int total = 0;
  for (const auto& [phase, tier_before] : phases) {
    int n = run(phase, tier_before);
    std::cout << "crash points in " << phase.name << ": " << n << "\n";
    total += n;
    if (HasFatalFailure()) return;
  }
  std::cout << "crash points: " << total << "\n";
  EXPECT_GE(total, 6 * 2);
}

// A restore job is durable: after a crash at any point of a restore of
// several sources, either no job was recorded and every source is still
// expired, or the job resumes on open and ends done with every source live;
// never some sources live and the rest silently expired.
TEST_F(CrashPoints, AnInterruptedRestoreJobResumesOnOpenOrWasNeverRecorded) {
  std::string base = (tmp_ / "jobs-base").string();
  {
    auto e = open(base, kAfter);
    ASSERT_TRUE(e);
    Diagnostics d;
    ASSERT_TRUE(e->apply_catalog_text(catalog_text(), "catalog.yaml", d).ok());
    ASSERT_TRUE(e->load_rules_text(rules_text(), "rules.yaml", d).ok());
    ingest_all(*e);
    ASSERT_TRUE(e->sweep().ok());
    ASSERT_TRUE(e->settle().ok());
  }
  std::uint64_t total = 0;
  {
    std::string dir = (tmp_ / "jobs-sizing").string();
    fs::copy(base, dir, fs::copy_options::recursive);
    storage::FaultInjectionEnv env(storage::Env::Default());
    auto e = open(dir, kAfter, &env);
    ASSERT_TRUE(e);
    std::uint64_t before = env.changes();
    auto job = e->restore(all_sources());
    ASSERT_TRUE(job.ok());
    e->wait_restore(job->id);
    total = env.changes() - before;
  }
  int recorded = 0, unrecorded = 0;
  for (std::uint64_t point = 0; point <= total; ++point) {
    SCOPED_TRACE("crash point " + std::to_string(point));
    std::string dir = (tmp_ / ("jobs-" + std::to_string(point))).string();
    fs::copy(base, dir, fs::copy_options::recursive);
    {
      storage::FaultInjectionEnv env(storage::Env::Default());
      {
        auto e = open(dir, kAfter, &env);
        ASSERT_TRUE(e);
        env.crash_after(point);
        auto job = e->restore(all_sources());
        if (job.ok()) e->wait_restore(job->id);
      }
      env.drop_unsynced();
    }
    auto e = open(dir, kAfter);
    ASSERT_TRUE(e);
    auto jobs = e->restore_jobs();
    for (const auto& j : jobs) EXPECT_EQ(e->wait_restore(j.id).state, JobState::kDone) << j.error;
    int live = 0;
    for (const auto& s : e->lifecycle_status()) live += s.tier == Tier::kLive;
    if (jobs.empty()) {
      ++unrecorded;
      EXPECT_EQ(live, 0) << "sources restored by a job that was never recorded";
    } else {
      ++recorded;
      EXPECT_EQ(live, kSources) << "a recorded job left sources expired";
    }
    fs::remove_all(dir);
    if (HasFatalFailure()) return;
  }
  std::cout << "restore crash points: " << recorded << " with the job recorded, " << unrecorded << " before\n";
  EXPECT_GT(recorded, 0);
  EXPECT_GT(unrecorded, 0);
}

}  // namespace
}  // namespace retarget
