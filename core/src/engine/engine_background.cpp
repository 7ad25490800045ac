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

#include "engine/engine_impl.hpp"

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
    checkpoint_wanted = false;
  }
  // The slow part, outside the lock: ingest and readers go on.
  Status s = data->write_checkpoint(image, state, covered, full);
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
      if (job.info.state == "done" && job.info.moving_done < job.info.moving_total &&
          std::find(job.info.sources.begin(), job.info.sources.end(), key) != job.info.sources.end()) {
        ++job.info.moving_done;
        log_job(job.info, /*sync=*/false);
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
      std::cerr << "retarget: moving the bytes of " << key << " failed (its data is safe where it is; it will be "
                << "tried again at the next open): " << s.message() << "\n";
    }
    changed.notify_all();
  }
}

// --- inspection -------------------------------------------------------------------

std::string Engine::check_store() const {
  json sources = json::array();
  json problems = json::array();
  std::uint64_t events = 0;
  bool durable = impl_->data != nullptr;
  std::vector<std::string> archived;
  if (durable) {
    for (const auto& p : impl_->data->check())
      problems.push_back({{"file", p.file}, {"offset", p.offset}, {"message", p.message}});
    archived = impl_->data->archived_sources();
  }
  MutexLock lock(impl_->writer_mu);
  Engine::Impl& im = *impl_;
  events = im.builder.event_count();
  for (const auto& key : im.builder.source_keys()) {
    auto it = im.lifecycle.find(key);
    Tier tier = it == im.lifecycle.end() ? Tier::kLive : it->second.tier;
    bool in_archive = std::find(archived.begin(), archived.end(), key) != archived.end();
    bool resident = im.builder.source_columns_resident(key);
    // Where the source's columns are: exactly one place (lifecycle.md).
    std::string place = !durable ? "memory" : in_archive ? "long-term storage" : "live tables";
    bool moving = im.to_move.count(key) > 0 || im.moving_now == key;
    if (durable && in_archive && resident && tier != Tier::kExpired && !moving)
      problems.push_back({{"file", ""}, {"offset", 0}, {"message", key + " is " + to_string(tier) +
                                                          " but its columns are named in long-term storage"}});
    sources.push_back({{"source", key},
                       {"tier", to_string(tier)},
                       {"records", im.builder.source_stats(key).records},
                       {"columns_in", place},
                       {"moving", moving}});
  }
  json out{{"durable", durable}, {"events", events}, {"sources", sources}, {"problems", problems},
           {"ok", problems.empty()}};
  if (durable) {
    auto z = im.data->sizes();
    out["bytes"] = {{"tables", z.tables}, {"archive", z.archive}, {"events", z.events}, {"wal", z.wal}};
  }
  return out.dump(2);
}

}  // namespace retarget
