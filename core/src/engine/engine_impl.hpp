// Engine::Impl: the engine's state, shared by engine.cpp (catalog, ingest,
// rules, evaluation) and engine_lifecycle.cpp (pins, expiry, restore).
#pragma once

#include <tbb/task_arena.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "common/time.hpp"
#include "deps/dependency_graph.hpp"
#include "index/index.hpp"
#include "lifecycle/lifecycle.hpp"
#include "plugin/registry.hpp"
#include "retarget/engine.hpp"
#include "rules/rules.hpp"
#include "store/durable_store.hpp"
#include "index/index_builder.hpp"

namespace retarget {

// "retarget restore --campaign X" / "--canvas X" for a source key.
inline std::string restore_command(const std::string& source_key) {
  auto colon = source_key.find(':');
  return "retarget restore --" + source_key.substr(0, colon) + " " + source_key.substr(colon + 1);
}

struct RestoreJob {
  RestoreJobInfo info;
  std::vector<RestoreCallback> callbacks;
};

struct Engine::Impl {
  Config config;
  EngineOptions options;
  TimeZone zone = TimeZone::Utc();
  FilterRegistry registry;
  std::unique_ptr<tbb::task_arena> arena;
  std::unique_ptr<LifecyclePolicy> policy;

  mutable std::mutex mu;  // guards everything below
  Catalog catalog;
  RuleSet rules;
  std::map<std::string, References> segment_refs;  // own references of each stored segment
  IndexBuilder builder;
  std::shared_ptr<const Index> index = std::make_shared<Index>();
  DependencyGraph graph;
  std::map<std::string, SourceLifecycle> lifecycle;  // by source key
  std::unique_ptr<DurableStore> durable;  // null for ":memory:"
  std::uint64_t next_seq = 1;             // ingestion order of the next event

  // Restore jobs, run one at a time on `worker`.
  std::map<std::uint64_t, RestoreJob> jobs;
  std::deque<std::uint64_t> job_queue;
  std::uint64_t next_job_id = 1;
  std::condition_variable jobs_changed;
  bool stopping = false;
  std::thread worker;
  std::thread scheduler;  // the embedded daily sweep (EngineOptions::scheduler)
  std::uint64_t scheduled_sweeps = 0;

  ~Impl();

  sdk::Timestamp now() const {
    if (options.now_ms) return *options.now_ms;
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // --- everything below REQUIRES mu held ---
  CompileOptions compile_options(const std::set<std::string>& deleted) const {
    return CompileOptions{&zone, &config.limits, &deleted};
  }
  std::set<std::string> deleted_sources() const;
  std::set<std::string> expired_sources() const;  // expired or restoring
  std::optional<CompiledSegment> compile(const std::string& id, Diagnostics& diags) const;
  // Checks a candidate state: every segment of `candidate` (its duplicates
  // too, for their diagnostics), every consumer's audience, cycles, all
  // against `cat`. Errors always land in `diags`; warnings only those located
  // in `warn_files` (empty: all), so that a change warns about what it touched.
  Status validate(const Catalog& cat, const RuleSet& candidate, Diagnostics& diags,
                  std::map<std::string, References>* refs, const std::set<std::string>& warn_files = {},
                  bool warn_expired_reads = true) const;
  // Reads, validates and (with `commit`) applies rule texts (name, text): all
  // or nothing; every problem of every file reported, in line order.
  Status apply_rules(const std::vector<std::pair<std::string, std::string>>& texts, Diagnostics& diags, bool commit,
                     bool store, RulesChange* change);
  // REQUIRES: SIMDJSON_PADDING readable bytes after data + size. Line numbers
  // in rejections start after `line_base` (a file ingested block by block).
  Result<IngestReport> ingest(const char* data, std::size_t size, const IngestOptions& options,
                              std::uint64_t line_base = 0);
  // Durability (no-ops for ":memory:").
  Status log(const nlohmann::json& op);
  Status save_state(const std::string& source_key, const char* moving = nullptr);
  Status replay();  // rebuilds everything from the data directory
  // Moves a source between tiers (store + lifecycle state), resumable.
  Result<std::uint64_t> expire_source(const std::string& key);
  Result<std::uint64_t> restore_source(const std::string& key, const std::function<void(std::uint64_t)>& progress);
  // Brings the dependency graph in line with the catalog and the stored
  // segments (incrementally: unchanged nodes cost nothing) and restarts the
  // clock of sources whose last pin was released.
  void sync_graph(Diagnostics* diags);
  References consumer_references(const Audience& audience, const std::string& file, Diagnostics* diags) const;
  SourceFacts source_facts(const std::string& key) const;
  void publish() { index = builder.snapshot(); }
  // Expired sources a consumer's audience reads (the resume guard).
  std::vector<std::string> expired_needs(const std::string& consumer_key) const;
  // What activating `key` needs restored first: the expired sources its
  // audience reads and, for a campaign or Canvas, its own data when expired
  // (an active source's data is always available).
  std::vector<std::string> activation_needs(const std::string& key) const;
  // Expired sources an active consumer (or, with segments_pin, a segment) pins.
  std::set<std::string> pinned_expired() const;
  // Warns about every source pinned now while expired that was not in
  // `before`, naming the pinner, the path and the restore command; restores
  // them when restore_when_pinned is set.
  void report_newly_pinned(const std::set<std::string>& before, Diagnostics& diags);

  // Restore machinery (engine_lifecycle.cpp).
  RestoreJobInfo enqueue_restore(const std::vector<std::string>& sources, RestoreCallback cb);
  void run_worker();
  void run_scheduler();
  Result<SweepReport> sweep_at(sdk::Timestamp at);
  void notify(const RestoreJobInfo& info);
};

}  // namespace retarget
