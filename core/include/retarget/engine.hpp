// Retarget's embedding API: open an engine, give it a catalog, events and
// segments, ask who is in a segment and why.
//
//   retarget::EngineOptions options;
//   options.config_path = "config/retarget.yaml";
//   auto engine = retarget::Engine::Open(options);
//   if (!engine.ok()) { report(engine.status()); return; }
//   retarget::Diagnostics diags;
//   (*engine)->apply_catalog_file("catalog.yaml", diags);
//   auto report = (*engine)->ingest_file("events.jsonl");
//   (*engine)->load_rules({"segments.yaml"}, diags);
//   auto result = (*engine)->evaluate("win_back");   // result->members, ->count
//
// Thread safety: every method may be called from any thread. Changes
// (catalog, ingest, rules) are serialised; an evaluation works on the
// snapshot that was current when it started and never blocks ingest while it
// runs over the index.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "retarget/config.hpp"
#include "retarget/diagnostics.hpp"
#include "retarget/exports.hpp"
#include "retarget/identity.hpp"
#include "retarget/status.hpp"

namespace retarget {

namespace storage {
class Env;  // the file-system seam (core/src/storage/env.hpp)
}

// Where opening a data directory is (EngineOptions::on_open_progress):
// log records replayed so far and the events they held.
struct OpenProgress {
  std::uint64_t records = 0;
  std::uint64_t events = 0;
};

struct EngineOptions {
  std::string config_path;                    // "" = built-in defaults (config/retarget.yaml)
  std::optional<std::string> data_dir;        // overrides the config's data_dir
  std::vector<std::string> extra_plugin_dirs; // searched after the config's plugin_dirs
  bool default_plugin_dirs = true;            // also search the default directories
  std::optional<std::int64_t> now_ms;         // a fixed clock (ms since epoch), for tests and what-ifs
  std::optional<unsigned> threads;            // overrides the config's thread count
  // Run the embedded scheduler: a sweep at every `sweep_schedule` instant
  // (long-running hosts; the command line sweeps on demand instead).
  bool scheduler = false;
  // Open the data directory only to read: no lock is taken, so this works
  // while another process writes to it; every change is refused. What is
  // read is the last checkpoint and the log as they are (as_of_ms()).
  bool read_only = false;
  // The file-system seam under the data directory (tests inject faults);
  // nullptr: the operating system's.
  storage::Env* env = nullptr;
  // Background work: checkpoints when due and the tier mover. Off, they run
  // only when asked (Engine::checkpoint, Engine::settle) and at close.
  bool background = true;
  // Called on the opening thread while the log (all of it, for RebuildStore
  // and RepairStore) is replayed, after each record (a progress display).
  std::function<void(const OpenProgress&)> on_open_progress;
};

struct ParamDescription {
  std::string name, type, description, default_value;
  bool required = true;
  std::vector<std::string> allowed;
};

struct FilterDescription {
  std::string name, description, version, example;
  std::string plugin, library;
  bool interaction_dependent = false;
  std::vector<ParamDescription> params;
};

struct PluginDescription {
  std::string name, version, library;
  std::vector<std::string> filters;
};

struct RefusedPluginDescription {
  std::string library, reason;
};

struct IngestReport {
  std::uint64_t lines = 0;       // non-blank lines read
  std::uint64_t accepted = 0;    // new events stored
  std::uint64_t duplicates = 0;  // valid events already stored (idempotent re-ingest)
  std::uint64_t rejected = 0;
  struct Rejection {
    std::uint64_t line;
    std::string reason;
  };
  std::vector<Rejection> rejections;  // the first 1,000
  double seconds = 0;
  // The last input line handled (blank lines count): every event on it and
  // before it is stored or was rejected. Ingesting the input from the next
  // line on completes it exactly (IngestOptions::stop).
  std::uint64_t durable_line = 0;
  bool interrupted = false;  // IngestOptions::stop ended it before the end of the input
};

// What a rules apply changed: segment ids new to the engine and ids replaced.
struct RulesChange {
  std::vector<std::string> added, updated;
};

struct EvaluateOptions {
  bool with_members = true;
  // Stops the evaluation past this long; nullopt = limits.max_evaluation_time.
  std::optional<std::chrono::milliseconds> timeout;
  // Another thread sets it to stop the evaluation. Must outlive the call.
  const std::atomic<bool>* cancel = nullptr;
  // Members one page at a time (with_members): those sorting after
  // `members_after` (exclusive; "" = from the first), at most `members_limit`
  // of them (0 = every one). Pass the last page's next_after to get the next.
  std::string members_after;
  std::size_t members_limit = 0;
  // The members as one text, each id followed by '\n' (SegmentResult::
  // member_lines; `members` stays empty): what `--format ids` prints, with
  // no string per member. For long lists it is several times faster.
  bool members_as_lines = false;
};

struct SegmentResult {
  std::string id, name;
  std::uint64_t count = 0;
  std::vector<std::string> members;  // external ids, sorted (byte order); one page when paged
  std::string member_lines;          // EvaluateOptions::members_as_lines: the same, one per line
  // Paged (EvaluateOptions::members_limit): the members_after of the next
  // page, or "" when this page holds the last member.
  std::string next_after;
  std::vector<std::string> warnings;
  double evaluate_ms = 0;  // the plan run over the index
  double compile_ms = 0;
};

// What evaluating a segment reads (Engine::footprint): the index columns its
// leaves open, each read whole, and the chunk bitsets its nodes compute. The
// column bytes over the machine's memory bandwidth bound the evaluation time
// from below.
struct EvaluationFootprint {
  std::uint64_t columns = 0;
  std::uint64_t column_bytes = 0;   // the bytes a scan of those columns reads
  std::uint64_t bitset_writes = 0;  // one per node and chunk of 65,536 users
  std::uint64_t bitset_bytes = 0;   // bitset_writes x 8 KiB (cache-resident)
};

// The resident size of the published index (Engine::memory_stats).
struct MemoryStats {
  std::uint64_t users = 0;
  std::uint64_t interaction_events = 0;   // interaction events stored (every tier)
  std::uint64_t interaction_entries = 0;  // (user, fact) entries in the interaction columns
  std::uint64_t interaction_bytes = 0;    // interaction columns (their encoded blocks)
  std::uint64_t profile_entries = 0;      // (user, value) entries of profile summaries, counts, attributes
  std::uint64_t profile_bytes = 0;        // their encoded blocks
  std::uint64_t user_directory_bytes = 0; // external ids, random buckets and the id lookup
  std::uint64_t overhead_bytes = 0;       // column and chunk bookkeeping
  std::uint64_t dedup_bytes = 0;          // content hashes of stored events (writer state)
};

struct ExplainNode {
  std::string label;    // "all", "any", "not", or the leaf as written
  bool value = false;
  std::string because;  // leaves: the fact that decided
  std::vector<ExplainNode> children;
};

struct Explanation {
  std::string segment, user;
  bool known_user = false;  // false: no event names this user (not in U)
  bool member = false;
  ExplainNode match;
  std::vector<ExplainNode> exclude;
  std::vector<std::string> warnings;
};

// Parses an RFC 3339 time (as events and --now are written) to ms since the epoch.
std::optional<std::int64_t> parse_time_ms(std::string_view text);
// Formats ms since the epoch as RFC 3339 UTC with milliseconds.
std::string format_time_ms(std::int64_t ms);
// One CSV field as the exports write it: RFC 4180 quoting, and a leading
// = + - @ tab or CR neutralised with an apostrophe (no spreadsheet formulas).
std::string csv_cell(const std::string& value);

// --- Lifecycle (lifecycle.md) -------------------------------------------------

struct PinDescription {
  std::string pinner;             // "consumer:campaign:summer_launch" or "segment:s" (segments_pin)
  std::vector<std::string> path;  // node keys from the pinner to the source
};

struct SourceStatus {
  std::string key;              // "campaign:<id>" or "canvas:<id>"
  SourceKind kind = SourceKind::kCampaign;
  std::string id, name;
  CatalogStatus status = CatalogStatus::kDraft;
  Tier tier = Tier::kLive;
  bool restoring = false;       // a restore job is making it queryable (tier_label: "restoring")
  std::vector<std::string> tags;
  bool pinned = false;
  std::vector<PinDescription> pinned_by;
  std::optional<std::int64_t> last_activity_ms;
  std::string last_activity_reason;
  std::optional<std::int64_t> due_ms;         // when it becomes due (none: never)
  std::optional<std::int64_t> expires_at_ms;  // the sweep that will move (tiered) or delete (legacy) it
  // What the sweep of expires_at_ms does: expire (tiered policy) or delete (legacy).
  SweepAction action = SweepAction::kExpire;
  // Legacy policy: the instant the 25 months count from (the last send, or
  // the stop when it never sent).
  std::optional<std::int64_t> deletion_basis_ms;
  std::optional<std::int64_t> tier_changed_at_ms;  // when it expired / was deleted
  std::uint64_t records = 0;    // interaction events stored (both tiers)
};

// One catalog item (`catalog list`).
struct CatalogEntry {
  CatalogKind kind = CatalogKind::kCampaign;
  std::string id, name;
  CatalogStatus status = CatalogStatus::kDraft;
  std::vector<std::string> tags;
  // Campaigns and Canvases: their tier (and whether a restore job is on it).
  // Content Cards own no interaction data: nullopt.
  std::optional<Tier> tier;
  bool restoring = false;
};

// One stored segment (`rules list`).
struct SegmentSummary {
  std::string id, name;
  SourceLocation where;               // where it was defined
  std::vector<std::string> used_by;   // audiences ("campaign:x", "canvas:y", "card:z") and segments ("segment:s") naming it
  std::vector<std::string> reads;     // source keys it reads, through nested segments and tags too
};

struct SweepReport {
  std::vector<std::string> expired;  // source keys moved to long-term storage
  std::vector<std::string> deleted;  // legacy policy: deleted
  std::uint64_t records_moved = 0;
};

struct PlanEntry {
  std::string source;  // source key
  SweepAction action = SweepAction::kExpire;
  std::int64_t at_ms = 0;  // the sweep that would do it
};

struct RestoreRequest {
  std::vector<std::string> campaigns, canvases, tags;
};

// A restore job (lifecycle.md's job table). Durable: it survives a crash
// (an unfinished job resumes when the directory is opened).
struct RestoreJobInfo {
  std::uint64_t id = 0;
  std::vector<std::string> sources;  // source keys
  JobState state = JobState::kQueued;
  std::uint64_t moved = 0, total = 0;  // records made queryable / to make queryable
  std::string error;
  std::vector<std::string> not_restored;  // failed: the sources it did not restore
  std::optional<std::int64_t> created_at_ms, started_at_ms, completed_at_ms;
  // After `done`: the bytes being copied back from long-term storage in the
  // background (nothing waits for it). moving_total = 0: nothing to copy.
  std::uint64_t moving_done = 0, moving_total = 0;
};
using RestoreCallback = std::function<void(const RestoreJobInfo&)>;

// Where an ingest is (IngestOptions::on_progress): running totals of the
// call (for ingest_file, of the whole file so far).
struct IngestProgress {
  std::uint64_t lines = 0;  // lines read, every event on them durable (or rejected)
  std::uint64_t bytes = 0;  // input bytes consumed
  std::uint64_t accepted = 0, duplicates = 0, rejected = 0;
};

struct IngestOptions {
  // Events per group commit: one synced write acknowledges a whole batch.
  std::size_t batch = 65536;
  // Called after each batch is durable with the number of lines read so far:
  // every event on those lines is stored (or was rejected).
  std::function<void(std::uint64_t lines)> on_durable;
  // Called at the same points with the running totals (a progress display).
  std::function<void(const IngestProgress&)> on_progress;
  // ingest_file reads the file in blocks of whole lines of at most this many
  // bytes (memory stays bounded whatever the file's size); each block is
  // durable and visible to evaluations before the next is read. A line longer
  // than a block is rejected.
  std::size_t read_block_bytes = std::size_t{256} << 20;
  // ingest_text of a share of a larger input (retarget-mpi): the input line
  // number of each line of the text, which rejections and the dead-letter
  // file then name. nullptr: the text's own line numbers. Must outlive the call.
  const std::vector<std::uint64_t>* line_numbers = nullptr;
  // Another thread (or a signal handler) sets it to stop the ingest: the
  // events read so far are made durable (one more group commit) and the call
  // returns with IngestReport::interrupted and durable_line. Checked between
  // lines. Must outlive the call.
  const std::atomic<bool>* stop = nullptr;
};

// What `store rebuild` did (Engine::RebuildStore).
struct StoreRebuildReport {
  bool migrated = false;      // the directory was an earlier release's (RocksDB) and was converted
  std::string backup_dir;     // migrated: where the earlier release's files were moved (kept, not deleted)
  std::uint64_t changes = 0;  // catalog, rules and status changes replayed
  std::uint64_t events = 0;   // events replayed
  std::uint64_t sources = 0;  // sources with a lifecycle state
  double seconds = 0;
};

// What `store repair` dropped (Engine::RepairStore): each damaged range of a
// log file or raw-event block, with the records lost there.
struct StoreRepairReport {
  struct Dropped {
    std::string file;
    std::uint64_t offset = 0, length = 0;  // bytes
  };
  std::vector<Dropped> dropped;
  std::uint64_t records_kept = 0;
  bool rebuilt = false;  // the index was rebuilt from the raw events afterwards
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  // Rebuilds the index of options' data directory from the raw events it
  // keeps (every event and change, in order), or converts a directory an
  // earlier release wrote (its files are kept beside it as <dir>.v1-backup).
  // Nothing else may use the directory meanwhile.
  static Result<StoreRebuildReport> RebuildStore(const EngineOptions& options);
  // Drops the damaged parts of the log and the raw-event blocks (listing
  // exactly what), then rebuilds the index from what is left.
  static Result<StoreRepairReport> RepairStore(const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Config& config() const;
  // The evaluation clock: the fixed `now` when one was given, else the wall clock.
  std::int64_t now_ms() const;
  // Fixes the clock (nullopt: the wall clock again). For simulations and tests
  // of time rules: every later call sees this time.
  void set_now_ms(std::optional<std::int64_t> now_ms);

  std::vector<FilterDescription> filters() const;
  std::vector<PluginDescription> plugins() const;
  std::vector<RefusedPluginDescription> refused_plugins() const;

  // Upserts campaigns, Canvases and Content Cards. All or nothing: with any
  // error in `diags`, nothing changes.
  Status apply_catalog_file(const std::string& path, Diagnostics& diags);
  Status apply_catalog_text(const std::string& yaml, const std::string& name, Diagnostics& diags);

  // Ingests JSON Lines ("-" = standard input). Bad lines are rejected with
  // their line number and reason (and written to the dead-letter file when
  // configured); the good lines are kept. Fails only when the file cannot be read.
  Result<IngestReport> ingest_file(const std::string& path, const IngestOptions& options = {});
  Result<IngestReport> ingest_text(std::string_view jsonl, const IngestOptions& options = {});

  // Checks rule files against the catalog and loaded filters without
  // changing anything. Every problem lands in `diags`.
  Status validate_rules(const std::vector<std::string>& paths, Diagnostics& diags) const;
  // Validates and adds segments (upsert by id). With `store` (rules apply)
  // they are kept in the data directory; without, only for this engine's life
  // (evaluate --rules).
  // `change` (optional) receives the ids added and updated.
  Status load_rules(const std::vector<std::string>& paths, Diagnostics& diags, bool store = true,
                    RulesChange* change = nullptr);
  Status load_rules_text(const std::string& yaml, const std::string& name, Diagnostics& diags, bool store = true,
                         RulesChange* change = nullptr);
  std::vector<std::string> segment_ids() const;
  // The segments loaded (stored ones and --rules), sorted by id.
  std::vector<SegmentSummary> segments() const;
  // Removes a stored segment; refused (naming them) while an active consumer
  // or another segment uses it.
  Status remove_segment(const std::string& id);

  // Evaluates a stored segment over the published index (no engine lock:
  // any number at once, while writers and tier moves run).
  Result<SegmentResult> evaluate(const std::string& segment_id, bool with_members = true) const;
  // The same, stoppable: Status::kTimedOut past options.timeout (default the
  // config's limits.max_evaluation_time) or once *options.cancel is true.
  Result<SegmentResult> evaluate(const std::string& segment_id, const EvaluateOptions& options) const;
  Result<Explanation> explain(const std::string& segment_id, const std::string& user) const;
  // Evaluates the segment once more, recording what it reads (benchmarks).
  Result<EvaluationFootprint> footprint(const std::string& segment_id) const;
  MemoryStats memory_stats() const;

  // --- Lifecycle ---------------------------------------------------------------
  // Status changes of consumers (NotFound for an unknown id). Activating a
  // consumer whose audience needs expired data is refused naming the sources,
  // unless `restore_first` (then they are restored, waiting for the restore,
  // and it is activated).
  Status set_status(CatalogKind kind, const std::string& id, CatalogStatus status, bool restore_first = false);
  // Expires (or, under the legacy policy, deletes) what is due now.
  Result<SweepReport> sweep();
  // Sweeps the embedded scheduler has run (EngineOptions::scheduler).
  std::uint64_t scheduled_sweeps() const;
  std::vector<SourceStatus> lifecycle_status(const std::vector<std::string>& ids = {}) const;
  // Every campaign, Canvas and Content Card of the catalog, in that order, each sorted by id.
  std::vector<CatalogEntry> catalog_entries() const;
  // What would expire (or be deleted) by `until_ms`, assuming nothing changes.
  std::vector<PlanEntry> lifecycle_plan(std::int64_t until_ms) const;
  // Starts (or joins) restore jobs; restoring a live source is a no-op. The
  // callback runs on the engine's worker thread when the job ends.
  Result<RestoreJobInfo> restore(const RestoreRequest& request, RestoreCallback on_done = {});
  RestoreJobInfo wait_restore(std::uint64_t job_id);
  std::vector<RestoreJobInfo> restore_jobs() const;
  // One job by id (NotFound for an unknown one).
  Result<RestoreJobInfo> restore_job(std::uint64_t job_id) const;
  // --- Partitioned deployments (retarget-mpi: each engine owns a partition
  // of the users). Expiry depends on each source's last send, which is split
  // across the partitions: they share it before any lifecycle decision.
  // Each campaign's and Canvas's latest send among this engine's events
  // (source key, ms since the epoch); sources that never sent are absent.
  std::vector<std::pair<std::string, std::int64_t>> last_sends() const;
  // The latest sends of the other partitions: lifecycle decisions (status,
  // plan, sweep, the legacy 25 months) use the later of this engine's and
  // these. In memory only, replacing what was shared before.
  void share_last_sends(const std::vector<std::pair<std::string, std::int64_t>>& sends);

  // Writes a checkpoint now (the engine also does when one is due and on
  // close): what follows opens from it, replaying only later log records.
  Status checkpoint();
  // Blocks until the tier mover has moved every pending source's bytes (an
  // expired source's to long-term storage, a restored one's back); with
  // background work off, moves them on the calling thread. Returns the first
  // failure (the data then stays safe where it was). Queries never need it:
  // a source is hidden or queryable before its bytes move.
  Status settle();
  // The same, calling `on_progress(sources_moved, sources_total)` on this
  // thread about every 100 ms while it waits, and once at the end.
  Status settle(const std::function<void(std::uint64_t moved, std::uint64_t total)>& on_progress);
  // When the state this engine reads was written, ms since the epoch (a
  // read-only open reads the last checkpoint and log as they were).
  std::int64_t as_of_ms() const;
  bool read_only() const;
  // Consistency of the data directory: per source, its tier, records and
  // where its columns are, and problems (damaged files, records in the wrong
  // tier). to_json (retarget/format.hpp) gives what `store check` prints.
  StoreCheck check_store() const;
  // The same, calling `on_progress(bytes_checked, bytes_total)` on this
  // thread about every 100 ms while the files are read, and once at the end.
  StoreCheck check_store(const std::function<void(std::uint64_t checked, std::uint64_t total)>& on_progress) const;
  // The dependency graph: "text", "json" or "dot".
  std::string dependency_graph(const std::string& format) const;

  // --- Interaction-data surfaces (formats.md "Exports"); expired data is absent.
  // The typed results below print as formats.md gives them through
  // retarget/format.hpp (to_json, to_csv).
  // A user's profile lists and attributes. NotFound for an unknown user.
  Result<UserProfile> profile(const std::string& user) const;
  // The users export, in the order asked; ids no event names are listed as
  // invalid. InvalidInput for more ids than limits.max_users_per_request.
  Result<UsersExport> export_users(const std::vector<std::string>& ids) const;
  // The User Data rows of a campaign or a Canvas (optionally one step: ""
  // for all). NotFound for an unknown campaign, Canvas or step; an expired
  // source exports no rows and says so in warnings.
  Result<RecipientsExport> export_recipients(SourceKind kind, const std::string& id,
                                             const std::string& step = "") const;
  // Counted at ingest, never affected by expiry. NotFound for an unknown id.
  Result<AnalyticsReport> analytics(SourceKind kind, const std::string& id) const;

  // A JSON Schema (draft-07) for rule files, from the loaded filters'
  // metadata and the ids of the current catalog and rules.
  std::string rules_json_schema() const;

  // Every known user's external id, in dense-index order (tests, exports).
  std::vector<std::string> users() const;

  struct Impl;

 private:
  friend struct EngineTestAccess;  // tests reach the writer path's lock (core/src/engine/engine_impl.hpp)
  explicit Engine(std::unique_ptr<Impl> impl);
  static Result<std::unique_ptr<Engine>> OpenImpl(const EngineOptions& options, bool rebuild);
  std::unique_ptr<Impl> impl_;
};

}  // namespace retarget
