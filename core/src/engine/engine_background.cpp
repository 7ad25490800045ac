// Work the engine does beside its callers: checkpoints (the index written to
// the data directory, so that opening replays only the log after it) and the
// tier mover (an expired source's bytes to long-term storage, a restored
// one's back to the live tables). Both take the writer lock only to capture
// what they write and to record that it is done; the writing itself runs
// without it, at a low CPU priority, so that neither readers nor ingest wait.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <iostream>

#include <filesystem>

#include "engine/engine_impl.hpp"
#include "store/migrate_v1.hpp"

namespace retarget {

using nlohmann::json;

namespace {

// Background threads yield the CPU to evaluations and ingest.
void lower_priority() {
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
}

}  // namespace

void Engine::Impl::start_background() {
  if (read_only) return;
  MutexLock lock(writer_mu);
  if (options.scheduler) scheduler = std::thread([this] { run_scheduler(); });
  if (!data || !options.background) return;
  checkpointer = std::thread([this] { run_checkpointer(); });
  mover = std::thread([this] { run_mover(); });
}

void Engine::Impl::want_checkpoint_if_due() {
  if (!data || read_only) return;
  if (data->log_bytes_since_checkpoint() >= config.checkpoint_bytes) {
    checkpoint_wanted = true;
    changed.notify_all();
  }
}

Status Engine::Impl::checkpoint_now(bool full) {
  if (!data || read_only) return Status::Ok();
  BuilderImage image;
  json state;
  store::LogPosition covered;
  std::map<std::string, std::uint64_t> purges;
  {
    MutexLock lock(writer_mu);
    // One at a time (the checkpointer thread and a caller may both ask).
    changed.wait(writer_mu, [&]() NO_THREAD_SAFETY_ANALYSIS { return !checkpoint_running; });
    checkpoint_running = true;
    full = full || data->full_checkpoint_due();
    auto pos = data->prepare_checkpoint();
    if (!pos.ok()) {
      checkpoint_running = false;
      changed.notify_all();
      return pos.status();
    }
    covered = *pos;
    image = builder.capture(full);
    state = checkpoint_state();
    purges = builder.unpurged_sources();
    checkpoint_wanted = false;
  }
  // The slow part, outside the lock: ingest and readers go on.
  Status s = data->write_checkpoint(image, state, covered, full);
  // Deleted sources' events leave the blocks this checkpoint sealed.
  if (s.ok()) s = purge_deleted(purges, covered);
  MutexLock lock(writer_mu);
  checkpoint_running = false;
  if (s.ok()) ++checkpoints;
  else builder.mark_all_dirty(), background_error = "checkpoint: " + s.message();
  changed.notify_all();
  return s;
}

void Engine::Impl::run_checkpointer() {
  lower_priority();
  auto last = std::chrono::steady_clock::now();
  MutexLock lock(writer_mu);
  while (!stopping) {
    auto interval = std::chrono::milliseconds(config.checkpoint_interval_ms);
    changed.wait_for(writer_mu, std::chrono::milliseconds(1000),
                     [&]() NO_THREAD_SAFETY_ANALYSIS { return stopping || checkpoint_wanted; });
    if (stopping) return;
    bool timed = std::chrono::steady_clock::now() - last >= interval && data->log_bytes_since_checkpoint() > 64;
    if (!checkpoint_wanted && !timed) continue;
    writer_mu.unlock();
    Status s = checkpoint_now(false);
    if (!s.ok()) std::cerr << "retarget: checkpoint failed (the log keeps everything): " << s.message() << "\n";
    writer_mu.lock();
    last = std::chrono::steady_clock::now();
  }
}

Status Engine::Impl::move_bytes(const std::string& key) {
  enum class Move { kNone, kArchive, kUnarchive, kDrop } what = Move::kNone;
  std::vector<ColumnImage> columns;
  Roaring users;
  {
    MutexLock lock(writer_mu);
    auto it = lifecycle.find(key);
    Tier tier = it == lifecycle.end() ? Tier::kLive : it->second.tier;
    bool archived = data->archived(key);
    bool resident = builder.source_columns_resident(key);
    if (tier == Tier::kExpired && resident) {
      what = Move::kArchive;
      users = builder.source_users(key);
      columns = builder.begin_archive(key);  // new events go to its late part from here
    } else if (tier == Tier::kLive && archived) {
      what = Move::kUnarchive;
      columns = builder.source_columns(key);
    } else if (tier == Tier::kDeleted && archived) {
      what = Move::kDrop;
    }
  }
  Status s;
  if (what == Move::kArchive) {
    s = data->archive_source(key, columns, users);
    MutexLock lock(writer_mu);
    auto it = lifecycle.find(key);
    if (!s.ok()) {
      builder.abort_archive(key);
    } else if (it != lifecycle.end() && it->second.tier == Tier::kExpired) {
      builder.finish_archive(key, std::make_shared<const Roaring>(std::move(users)));
      publish(false);
    } else {
      builder.abort_archive(key);  // restored meanwhile: it stays in memory; the mover brings it back
      to_move.insert(key);
    }
  } else if (what == Move::kUnarchive) {
    s = data->unarchive_source(key, columns);
    MutexLock lock(writer_mu);
    for (auto& [id, job] : jobs)
      if (job.info.state == JobState::kDone && job.info.moving_done < job.info.moving_total &&
          std::find(job.info.sources.begin(), job.info.sources.end(), key) != job.info.sources.end()) {
        ++job.info.moving_done;
        // The move itself is durable already; a failure to log its progress
        // only leaves the job's counter behind, and the mover's status reports it.
        Status logged = log_job(job.info, /*sync=*/false);
        if (s.ok() && !logged.ok()) s = logged;
      }
  } else if (what == Move::kDrop) {
    s = data->drop_archive(key);
  }
  return s;
}

void Engine::Impl::run_mover() {
  lower_priority();
  MutexLock lock(writer_mu);
  while (true) {
    changed.wait(writer_mu, [&]() NO_THREAD_SAFETY_ANALYSIS { return stopping || !to_move.empty(); });
    if (to_move.empty()) return;  // stopping, nothing left
    std::string key = *to_move.begin();
    to_move.erase(to_move.begin());
    moving_now = key;
    writer_mu.unlock();
    Status s = move_bytes(key);
    writer_mu.lock();
    moving_now.clear();
    if (!s.ok()) {
      background_error = "moving " + key + ": " + s.message();
      move_error = background_error;
      std::cerr << "retarget: moving the bytes of " << key << " failed (its data is safe where it is; it will be "
                << "tried again at the next open): " << s.message() << "\n";
    }
    changed.notify_all();
  }
}

Status Engine::Impl::settle_moves(const SettleCallback& on_progress) {
  if (!data) return Status::Ok();
  MutexLock lock(writer_mu);
  // Progress counts sources: those waiting and the one moving.
  auto left = [&]() REQUIRES(writer_mu) -> std::uint64_t { return to_move.size() + (moving_now.empty() ? 0 : 1); };
  const std::uint64_t total = left();
  auto report = [&]() REQUIRES(writer_mu) {
    if (!on_progress) return;
    std::uint64_t moved = total - std::min<std::uint64_t>(total, left());
    writer_mu.unlock();  // the callback draws; the mover must not wait for it
    on_progress(moved, total);
    writer_mu.lock();
  };
  if (mover.joinable()) {
    auto settled = [&]() NO_THREAD_SAFETY_ANALYSIS { return left() == 0; };
    if (!on_progress) changed.wait(writer_mu, settled);
    while (on_progress && !changed.wait_for(writer_mu, std::chrono::milliseconds(100), settled)) report();
    report();
    std::string error = std::exchange(move_error, std::string());
    return error.empty() ? Status::Ok() : Status::IoError(error);
  }
  Status first;
  // Each source is taken off the set before it moves; a failure puts it back
  // for the next try (the next settle or open).
  std::set<std::string> failed;
  while (!to_move.empty()) {
    std::string key = *to_move.begin();
    to_move.erase(to_move.begin());
    writer_mu.unlock();
    Status s = move_bytes(key);
    writer_mu.lock();
    if (!s.ok()) {
      failed.insert(key);
      if (first.ok()) first = s;
    }
    report();
  }
  to_move.insert(failed.begin(), failed.end());
  return first;
}

// --- inspection -------------------------------------------------------------------

StoreCheck Engine::check_store() const { return check_store({}); }

StoreCheck Engine::check_store(const std::function<void(std::uint64_t, std::uint64_t)>& on_progress) const {
  StoreCheck out;
  out.durable = impl_->data != nullptr;
  std::vector<std::string> archived;
  if (out.durable) {
    for (const auto& p : impl_->data->check(on_progress)) out.problems.push_back({p.file, p.offset, p.message});
    archived = impl_->data->archived_sources();
  }
  Engine::Impl& im = *impl_;
  MutexLock lock(im.writer_mu);
  out.events = im.builder.event_count();
  for (const auto& key : im.builder.source_keys()) {
    auto it = im.lifecycle.find(key);
    Tier tier = it == im.lifecycle.end() ? Tier::kLive : it->second.tier;
    bool in_archive = std::find(archived.begin(), archived.end(), key) != archived.end();
    // Where the source's columns are: the manifest names exactly one place
    // (lifecycle.md). A tier that differs from the place is a move not done
    // yet: expired with its bytes still live, or restored with its bytes
    // still in long-term storage (then read from there).
    std::string place = !out.durable ? "memory" : in_archive ? "long-term storage" : "live tables";
    bool pending = out.durable && ((tier == Tier::kExpired && !in_archive) || (tier == Tier::kLive && in_archive));
    out.sources.push_back({key, tier, im.builder.source_stats(key).records, std::move(place), pending});
  }
  if (out.durable) {
    auto z = im.data->sizes();
    out.bytes = StoreCheck::Bytes{z.tables, z.archive, z.events, z.wal};
  }
  return out;
}

}  // namespace retarget

// --- rebuild and repair ---------------------------------------------------------------

namespace retarget {

namespace {

std::string data_dir_of(const EngineOptions& options) {
  if (options.data_dir) return *options.data_dir;
  Config c;
  if (!options.config_path.empty()) {
    Diagnostics d;
    c = load_config(options.config_path, d);
  }
  return c.data_dir;
}

}  // namespace

Result<StoreRebuildReport> Engine::RebuildStore(const EngineOptions& options) {
  auto start = std::chrono::steady_clock::now();
  StoreRebuildReport report;
  std::string dir = data_dir_of(options);
  if (dir == ":memory:") return Status::InvalidInput("store rebuild needs a data directory, not :memory:");
  storage::Env& env = options.env ? *options.env : *storage::Env::Default();
  if (!env.exists(dir)) return Status::NotFound("no data directory at '" + dir + "'");
  EngineOptions o = options;
  o.read_only = false;
  o.background = false;
  if (store::is_legacy_layout(env, dir)) {
    // Convert into a new directory beside it, then swap the two.
    std::string fresh = dir + ".rebuild";
    std::error_code ec;
    std::filesystem::remove_all(fresh, ec);
    auto m = store::migrate_v1(dir, fresh, env);
    if (!m.ok()) return m.status();
    report.migrated = true;
    report.changes = m->changes, report.events = m->events, report.sources = m->sources;
    o.data_dir = fresh;
    {
      auto e = Engine::Open(o);  // replays what the migration logged; closing writes a checkpoint
      if (!e.ok()) return e.status();
      Status s = (*e)->impl_->checkpoint_now(/*full=*/true);
      if (!s.ok()) return s;
    }
    report.backup_dir = dir + ".v1-backup";
    Status s = env.rename(dir, report.backup_dir);
    if (s.ok()) s = env.rename(fresh, dir);
    if (!s.ok()) return s;
  } else {
    auto e = Engine::OpenImpl(o, /*rebuild=*/true);
    if (!e.ok()) return e.status();
    {
      MutexLock lock((*e)->impl_->writer_mu);
      report.changes = (*e)->impl_->meta_ops.size();
      report.events = (*e)->impl_->builder.event_count();
      report.sources = (*e)->impl_->lifecycle.size();
    }
    Status s = (*e)->impl_->checkpoint_now(/*full=*/true);
    if (!s.ok()) return s;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

Result<StoreRepairReport> Engine::RepairStore(const EngineOptions& options) {
  StoreRepairReport report;
  std::string dir = data_dir_of(options);
  if (dir == ":memory:") return Status::InvalidInput("store repair needs a data directory, not :memory:");
  storage::Env& env = options.env ? *options.env : *storage::Env::Default();
  if (!env.exists(dir)) return Status::NotFound("no data directory at '" + dir + "'");
  if (store::is_legacy_layout(env, dir))
    return Status::Failed("'" + dir + "' was written by an earlier release: run `retarget store rebuild` first");
  auto lock = env.lock(dir + "/LOCK");
  if (!lock.ok()) return Status::Failed("data directory '" + dir + "' is in use by another retarget process");
  // The log's files: keep every record that checks out, drop the rest.
  auto files = store::wal_files(env, dir + "/wal");
  if (!files.ok()) return files.status();
  for (std::size_t i = 0; i < files->size(); ++i) {
    std::string path = dir + "/wal/" + store::wal_file_name((*files)[i]);
    auto bytes = env.read_file(path);
    if (!bytes.ok()) return bytes.status();
    std::vector<storage::DamagedRange> damaged;
    auto c = storage::parse_log((*bytes)->view(), path, i + 1 == files->size(), /*salvage=*/true, &damaged);
    report.records_kept += c.records.size();
    if (damaged.empty()) continue;
    for (const auto& d : damaged) report.dropped.push_back({path, d.offset, d.length});
    // Rewrite the file with its good records only.
    std::string tmp = path + ".repair";
    auto w = storage::LogWriter::Create(env, tmp, (*files)[i]);
    if (!w.ok()) return w.status();
    for (const auto& r : c.records) {
      Status s = (*w)->add(r.type, r.payload);
      if (!s.ok()) return s;
    }
    Status s = (*w)->finish();
    if (s.ok()) s = env.rename(tmp, path);
    if (s.ok()) s = env.sync_dir(dir + "/wal");
    if (!s.ok()) return s;
  }
  // Raw-event blocks: the same, inside their compressed section.
  auto blocks = env.list(dir + "/events");
  if (!blocks.ok()) return blocks.status();
  for (const auto& name : *blocks) {
    std::string path = dir + "/events/" + name;
    auto table = storage::TableReader::Open(env, path);
    if (!table.ok()) {
      report.dropped.push_back({path, 0, 0});  // unreadable as a whole: its records are lost
      // Set aside (never deleted); if it cannot be, the rebuild would read it again: stop here.
      if (Status moved = env.rename(path, path + ".damaged"); !moved.ok()) return moved;
      continue;
    }
    auto bytes = (*table)->read("log");
    if (!bytes.ok()) {
      report.dropped.push_back({path, 0, 0});
      if (Status moved = env.rename(path, path + ".damaged"); !moved.ok()) return moved;
      continue;
    }
    std::vector<storage::DamagedRange> damaged;
    auto c = storage::parse_log((*bytes)->view(), path, /*last=*/false, /*salvage=*/true, &damaged);
    report.records_kept += c.records.size();
    if (damaged.empty()) continue;
    for (const auto& d : damaged) report.dropped.push_back({path + " (log bytes)", d.offset, d.length});
    std::string tmp = path + ".repair.log";
    auto w = storage::LogWriter::Create(env, tmp, c.number);
    if (!w.ok()) return w.status();
    for (const auto& r : c.records) {
      Status s = (*w)->add(r.type, r.payload);
      if (!s.ok()) return s;
    }
    Status s = (*w)->finish();
    if (!s.ok()) return s;
    auto fixed = env.read_file(tmp);
    if (!fixed.ok()) return fixed.status();
    auto tw = storage::TableWriter::Create(env, path + ".repair");
    if (!tw.ok()) return tw.status();
    s = (*tw)->add("log", (*fixed)->view(), /*compress=*/true);
    if (s.ok()) s = (*tw)->finish();
    if (s.ok()) s = env.rename(path + ".repair", path);
    Status removed = env.remove(tmp);  // the temporary copy: its failure fails the repair only when nothing else did
    if (s.ok()) s = removed;
    if (!s.ok()) return s;
  }
  (*lock).reset();  // the rebuild takes the lock itself
  auto rebuilt = RebuildStore(options);
  if (!rebuilt.ok()) return rebuilt.status();
  report.rebuilt = true;
  return report;
}

}  // namespace retarget
