// Engine::Impl: the engine's state, in three parts that never mix.
//
//  1. Fixed at open: configuration, the time zone, the frozen filter
//     registry, the task arena, the policy. Read from any thread.
//  2. What readers see: the current Version (version.hpp), swapped
//     atomically. Evaluation, explanation, profiles and exports load it and
//     take no engine lock, so no writer ever makes them wait.
//  3. The writer path: everything that changes (the index builder, catalog,
//     rules, the dependency graph, lifecycle states, restore jobs, the data
//     directory's log), guarded by writer_mu. Ingest, catalog and rules
//     changes, sweeps, restores and checkpoints take it one at a time and
//     hold it only while they change memory and append to the log: the slow
//     parts (parsing, writing checkpoints and archives, reading an archive
//     back) run outside it.
//
// Files: engine.cpp (the facade: catalog, rules, ingest, evaluation,
// surfaces), engine_lifecycle.cpp (pins, statuses, sweeps, restore jobs),
// engine_recovery.cpp (what the log and checkpoints hold, and replaying
// them), engine_background.cpp (the checkpointer and the tier mover).
#pragma once

#include <tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "common/mutex.hpp"
#include "common/published.hpp"
#include "common/time.hpp"
#include "deps/dependency_graph.hpp"
#include "engine/version.hpp"
#include "index/id_order.hpp"
#include "index/index_builder.hpp"
#include "lifecycle/lifecycle.hpp"
#include "plugin/registry.hpp"
#include "retarget/engine.hpp"
#include "rules/rules.hpp"
#include "store/data_dir.hpp"

namespace retarget {

// "retarget restore --campaign X" / "--canvas X" for a source key.
inline std::string restore_command(const std::string& source_key) {
  auto colon = source_key.find(':');
  return "retarget restore --" + source_key.substr(0, colon) + " " + source_key.substr(colon + 1);
}

struct RestoreJob {
  RestoreJobInfo info;
  std::vector<RestoreCallback> callbacks;  // not durable: they live with the process
};

struct Engine::Impl {
  // --- 1. fixed at open -------------------------------------------------------
  Config config;
  EngineOptions options;
  TimeZone zone = TimeZone::Utc();
  FilterRegistry registry;
  std::unique_ptr<tbb::task_arena> arena;
  std::unique_ptr<LifecyclePolicy> policy;
  bool read_only = false;
  bool rebuild = false;  // RebuildStore: replay every record, ignore the checkpoint
  std::function<void(const OpenProgress&)> on_open_progress;  // EngineOptions'; only while opening
  std::atomic<std::int64_t> fixed_now{kWallClock};  // set_now_ms; kWallClock = the wall clock
  static constexpr std::int64_t kWallClock = INT64_MIN;

  sdk::Timestamp now() const {
    std::int64_t f = fixed_now.load(std::memory_order_relaxed);
    if (f != kWallClock) return f;
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // --- 2. what readers see ----------------------------------------------------
  Published<Version> version;
  std::shared_ptr<const Version> current() const { return version.load(); }

  // The id order member lists are printed in (index/id_order.hpp), built on
  // the second long listing (a one-shot command does not pay for it) and
  // again when many users arrived since; readers share it.
  mutable Mutex order_mu;
  mutable std::shared_ptr<const IdOrder> id_order GUARDED_BY(order_mu);
  mutable std::uint32_t long_listings GUARDED_BY(order_mu) = 0;
  // The order to list `members` members of `index` with (null: sort them).
  std::shared_ptr<const IdOrder> order_for(const Index& index, std::uint64_t members) const EXCLUDES(order_mu);

  // --- 3. the writer path -----------------------------------------------------
  mutable Mutex writer_mu;
  CondVar changed;  // jobs, stopping: waited on with writer_mu held
  IndexBuilder builder GUARDED_BY(writer_mu);
  Catalog catalog GUARDED_BY(writer_mu);
  RuleSet rules GUARDED_BY(writer_mu);
  std::map<std::string, References> segment_refs GUARDED_BY(writer_mu);  // each stored segment's own references
  DependencyGraph graph GUARDED_BY(writer_mu);
  // The latest send of each source among the other partitions' users
  // (Engine::share_last_sends; retarget-mpi). In memory only.
  std::map<std::string, sdk::Timestamp> shared_last_sent GUARDED_BY(writer_mu);
  std::map<std::string, SourceLifecycle> lifecycle GUARDED_BY(writer_mu);  // by source key
  std::vector<nlohmann::json> meta_ops GUARDED_BY(writer_mu);  // catalog, rules, status changes since the start
  std::uint64_t next_seq GUARDED_BY(writer_mu) = 1;           // ingestion order of the next event
  std::uint64_t schema_id GUARDED_BY(writer_mu) = 0;
  std::shared_ptr<const Schema> schema GUARDED_BY(writer_mu);
  std::unique_ptr<store::DataDir> data;  // null for ":memory:"; its log is appended under writer_mu
  std::int64_t as_of_ms GUARDED_BY(writer_mu) = 0;

  // Restore jobs: durable (each state change is a log record), run one at a
  // time by `worker`.
  std::map<std::uint64_t, RestoreJob> jobs GUARDED_BY(writer_mu);
  std::deque<std::uint64_t> job_queue GUARDED_BY(writer_mu);
  std::uint64_t next_job_id GUARDED_BY(writer_mu) = 1;
  bool stopping GUARDED_BY(writer_mu) = false;
  std::uint64_t scheduled_sweeps GUARDED_BY(writer_mu) = 0;
  // Background work: the tier mover's queue and the checkpointer's trigger.
  std::set<std::string> to_move GUARDED_BY(writer_mu);
  std::string move_error GUARDED_BY(writer_mu);  // the mover's last failure, until settle() reports it  // sources whose bytes must move
  std::string moving_now GUARDED_BY(writer_mu);         // the one the mover is moving
  bool checkpoint_wanted GUARDED_BY(writer_mu) = false;
  bool checkpoint_running GUARDED_BY(writer_mu) = false;
  std::uint64_t checkpoints GUARDED_BY(writer_mu) = 0;
  std::string background_error GUARDED_BY(writer_mu);  // the last failure of background work
  std::thread worker, scheduler, mover, checkpointer;

  ~Impl();

  // --- the writer path's helpers (engine.cpp unless said otherwise) ---
  // Publishes a new Version: the index as the builder has it, and a new
  // Schema when the catalog, rules or tiers changed.
  void publish(bool schema_changed) REQUIRES(writer_mu);
  CompileOptions compile_options(const std::set<std::string>& deleted) const {
    return CompileOptions{&zone, &config.limits, &deleted};
  }
  std::set<std::string> deleted_sources() const REQUIRES(writer_mu);
  std::set<std::string> expired_sources() const REQUIRES(writer_mu);
  // The compiled plan of a segment in a Schema (cached there).
  std::shared_ptr<const CompiledPlan> plan(const Schema& schema, const std::string& id) const;
  Status validate(const Catalog& cat, const RuleSet& candidate, Diagnostics& diags,
                  std::map<std::string, References>* refs, const std::set<std::string>& warn_files = {},
                  bool warn_expired_reads = true) const REQUIRES(writer_mu);
  Status apply_rules(const std::vector<std::pair<std::string, std::string>>& texts, Diagnostics& diags, bool commit,
                     bool store, RulesChange* change) REQUIRES(writer_mu);
  // REQUIRES: SIMDJSON_PADDING readable bytes after data + size. Line numbers
  // in rejections start after `line_base` (a file ingested block by block).
  // `base`: where this block starts in a larger input (ingest_file's blocks):
  // its line numbers count from base.lines, and on_progress adds base's totals.
  Result<IngestReport> ingest(const char* data, std::size_t size, const IngestOptions& options,
                              const IngestProgress& base = {}) EXCLUDES(writer_mu);
  // Appends a record to the log (no-op for ":memory:"); `sync` makes it durable.
  Status log(store::RecordType type, std::string_view payload, bool sync) REQUIRES(writer_mu);
  Status log_meta(nlohmann::json op) REQUIRES(writer_mu);
  Status log_lifecycle(const std::string& key) REQUIRES(writer_mu);
  Status log_job(const RestoreJobInfo& info, bool sync) REQUIRES(writer_mu);
  Status require_writable() const;

  // --- engine_lifecycle.cpp ---
  void sync_graph(Diagnostics* diags) REQUIRES(writer_mu);
  References consumer_references(const Audience& audience, const std::string& file) const REQUIRES(writer_mu);
  SourceFacts source_facts(const std::string& key) const REQUIRES(writer_mu);
  std::vector<std::string> expired_needs(const std::string& consumer_key) const REQUIRES(writer_mu);
  std::vector<std::string> activation_needs(const std::string& key) const REQUIRES(writer_mu);
  std::set<std::string> pinned_expired() const REQUIRES(writer_mu);
  void report_newly_pinned(const std::set<std::string>& before, Diagnostics& diags) REQUIRES(writer_mu);
  Result<SweepReport> sweep_at(sdk::Timestamp at) REQUIRES(writer_mu);
  // Hides a source's data at once (one log record); the tier mover moves its bytes.
  Status expire_source(const std::string& key, sdk::Timestamp at) REQUIRES(writer_mu);
  Result<RestoreJobInfo> enqueue_restore(const std::vector<std::string>& sources, RestoreCallback cb)
      REQUIRES(writer_mu);
  void run_worker() EXCLUDES(writer_mu);
  void run_scheduler() EXCLUDES(writer_mu);
  void notify(const RestoreJobInfo& info);
  SourceStatus status_of(const std::string& key, const std::string& name, LifecycleStatus status,
                         const std::vector<std::string>& tags, const std::set<std::string>& restoring) const
      REQUIRES(writer_mu);
  // Sources of queued or running restore jobs (their tier reads "restoring").
  std::set<std::string> restoring_sources() const REQUIRES(writer_mu);

  // --- engine_recovery.cpp ---
  // The op appliers shared by the live path and replay: each changes memory
  // only (the caller logged the record).
  Status apply_meta(const nlohmann::json& op, Diagnostics* diags) REQUIRES(writer_mu);
  void apply_lifecycle(const nlohmann::json& record) REQUIRES(writer_mu);
  void apply_job(const nlohmann::json& record) REQUIRES(writer_mu);
  Status apply_events(std::string_view payload) REQUIRES(writer_mu);
  // Opens the data directory's content into memory (checkpoint, then log).
  Status recover(bool rebuild) REQUIRES(writer_mu);
  // The engine's part of a checkpoint's state.
  nlohmann::json checkpoint_state() const REQUIRES(writer_mu);
  static nlohmann::json job_json(const RestoreJobInfo& info);
  static RestoreJobInfo job_from_json(const nlohmann::json& j);

  // --- engine_background.cpp ---
  void run_checkpointer() EXCLUDES(writer_mu);
  void run_mover() EXCLUDES(writer_mu);
  // Takes a checkpoint now (clean close, tests, `store checkpoint`).
  Status checkpoint_now(bool full) EXCLUDES(writer_mu);
  // Moves the bytes of one source (archive after expiry, live table after a restore).
  Status move_bytes(const std::string& key) EXCLUDES(writer_mu);
  // Engine::settle: waits for the mover, or moves in line without one.
  using SettleCallback = std::function<void(std::uint64_t moved, std::uint64_t total)>;
  Status settle_moves(const SettleCallback& on_progress = {}) EXCLUDES(writer_mu);
  void start_background() EXCLUDES(writer_mu);
  void want_checkpoint_if_due() REQUIRES(writer_mu);

  // --- engine_purge.cpp ---
  // The legacy purge: rewrites the raw-event blocks before `covered` without
  // the events of the deleted sources (with how many of their events the
  // checkpoint at `covered` counted as unpurged).
  Status purge_deleted(const std::map<std::string, std::uint64_t>& unpurged, store::LogPosition covered)
      EXCLUDES(writer_mu);
};

// A logged catalog change (a "catalog" or "status" op) applied to `catalog`;
// false for any other op. Recovery and the purge (which replays the catalog
// the blocks' events were ingested under) share it.
bool apply_catalog_change(Catalog& catalog, const nlohmann::json& op, Diagnostics& d);

}  // namespace retarget
