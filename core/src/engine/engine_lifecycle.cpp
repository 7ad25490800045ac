// The lifecycle half of the engine: the dependency graph kept in line with the
// catalog and rules, status changes and the resume guard, expiry sweeps, the
// legacy policy and restore jobs (lifecycle.md). Every change is a log record
// before it is applied; expiring and restoring change what readers see in
// one step (a new Version), and the tier mover moves the bytes afterwards
// (engine_background.cpp).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <tuple>

#include "common/text.hpp"
#include "retarget/identity.hpp"
#include "engine/engine_impl.hpp"
#include "lifecycle/notifier.hpp"
#include "retarget/sdk/helpers.hpp"

namespace retarget {

using nlohmann::json;

namespace {

std::string kind_of(const std::string& key) { return key.substr(0, key.find(':')); }
std::string id_of(const std::string& key) { return key.substr(key.find(':') + 1); }

std::optional<std::int64_t> opt(sdk::Timestamp t) {
  if (t == sdk::kNoTime) return std::nullopt;
  return t;
}

bool finished(const RestoreJobInfo& j) { return retarget::finished(j.state); }

}  // namespace

Engine::Impl::~Impl() {
  {
    MutexLock lock(writer_mu);
    // Jobs already accepted finish: a restore is never dropped half-way
    // (and one interrupted by a crash resumes at the next open).
    if (!read_only) changed.wait(writer_mu, [&]() NO_THREAD_SAFETY_ANALYSIS { return job_queue.empty() || !worker.joinable(); });
    stopping = true;
  }
  changed.notify_all();
  for (std::thread* t : {&worker, &scheduler, &mover, &checkpointer})
    if (t->joinable()) t->join();
  // A clean close writes a checkpoint, so the next open replays nothing.
  if (data && !read_only && data->log_open()) {
    // Without a mover thread, pending moves happen now (a failure leaves the
    // data where it is; the next open tries again).
    if (!options.background) {
      Status moved = settle_moves();
      if (!moved.ok()) std::cerr << "retarget: a tier move failed at close (the next open retries it): " << moved.message() << "\n";
    }
    Status s = checkpoint_now(/*full=*/false);
    if (!s.ok()) std::cerr << "retarget: the closing checkpoint failed (the log keeps everything): " << s.message() << "\n";
  }
}

// --- the graph --------------------------------------------------------------------

References Engine::Impl::consumer_references(const Audience& audience, const std::string& file) const {
  References refs;
  for (const auto& s : audience.segments) refs.segments.insert(s);
  if (audience.match) {
    std::set<std::string> deleted = deleted_sources();
    Compiler compiler(registry, catalog, rules, compile_options(deleted));
    Diagnostics local;  // validated before the change was applied (Impl::validate)
    compiler.compile_tree(*audience.match, file, refs, local);
  }
  return refs;
}

void Engine::Impl::sync_graph(Diagnostics* diags) {
  auto edges_of = [](const References& r) {
    DependencyGraph::Edges e;
    e.segments = r.segments;
    for (const auto& c : r.campaigns) e.sources.insert(source_key(SourceKind::kCampaign, c));
    for (const auto& c : r.canvases) e.sources.insert(source_key(SourceKind::kCanvas, c));
    e.tags = r.tags;
    return e;
  };
  auto consumer = [&](const std::string& key, LifecycleStatus status, const Audience& audience,
                      const SourceLocation& where) REQUIRES(writer_mu) {
    if (audience.empty()) {
      graph.remove_consumer(key);
      return;
    }
    graph.set_consumer(key, status == LifecycleStatus::kActive, edges_of(consumer_references(audience, where.file)));
  };
  for (const auto& [id, c] : catalog.campaigns()) {
    consumer(source_key(SourceKind::kCampaign, id), c.status, c.audience, c.where);
    graph.set_source_tags(source_key(SourceKind::kCampaign, id), {c.tags.begin(), c.tags.end()});
  }
  for (const auto& [id, c] : catalog.canvases()) {
    consumer(source_key(SourceKind::kCanvas, id), c.status, c.audience, c.where);
    graph.set_source_tags(source_key(SourceKind::kCanvas, id), {c.tags.begin(), c.tags.end()});
  }
  for (const auto& [id, c] : catalog.content_cards()) consumer("card:" + id, c.status, c.audience, c.where);
  for (const auto& [id, refs] : segment_refs) graph.set_segment(id, edges_of(refs), config.segments_pin);
  for (const auto& id : rules.ids())
    if (!segment_refs.count(id)) graph.set_segment(id, {}, config.segments_pin);
  // The clock of a source restarts when its last pin is released (a log record:
  // replay restores it).
  if (!diags) return;  // the resume guard's trial run, or recovery: nothing to record
  sdk::Timestamp t = now();
  for (const auto& key : graph.take_released()) {
    lifecycle[key].pin_released_at = t;
    Status s = log_lifecycle(key);
    if (!s.ok()) diags->error({}, s.message());
  }
  if (data && !read_only) {
    Status s = data->sync();
    if (!s.ok()) diags->error({}, s.message());
  }
}

SourceFacts Engine::Impl::source_facts(const std::string& key) const {
  SourceFacts f;
  std::string id = id_of(key);
  if (kind_of(key) == "campaign") {
    if (const Campaign* c = catalog.campaign(id)) f.status = c->status, f.stopped_at = c->stopped_at;
  } else if (const Canvas* c = catalog.canvas(id)) {
    f.status = c->status, f.stopped_at = c->stopped_at;
  }
  f.last_sent = builder.source_stats(key).last_sent;
  // A partitioned deployment: the other partitions' users may have received later.
  if (auto it = shared_last_sent.find(key); it != shared_last_sent.end() && it->second > f.last_sent)
    f.last_sent = it->second;
  f.pinned = graph.pinned(key);
  return f;
}

std::vector<std::string> Engine::Impl::expired_needs(const std::string& consumer_key) const {
  std::vector<std::string> out;
  std::set<std::string> expired = expired_sources();
  for (const auto& s : graph.reach_of_consumer(consumer_key))
    if (expired.count(s)) out.push_back(s);
  return out;
}

std::vector<std::string> Engine::Impl::activation_needs(const std::string& key) const {
  std::vector<std::string> out = expired_needs(key);
  if (kind_of(key) == "campaign" || kind_of(key) == "canvas") {
    auto it = lifecycle.find(key);
    if (it != lifecycle.end() && it->second.tier == Tier::kExpired &&
        std::find(out.begin(), out.end(), key) == out.end())
      out.insert(out.begin(), key);
  }
  return out;
}

std::set<std::string> Engine::Impl::pinned_expired() const {
  std::set<std::string> out;
  for (const auto& key : expired_sources())
    if (graph.pinned(key)) out.insert(key);
  return out;
}

void Engine::Impl::report_newly_pinned(const std::set<std::string>& before, Diagnostics& diags) {
  std::vector<std::string> to_restore;
  for (const auto& key : pinned_expired()) {
    if (before.count(key)) continue;
    std::string by;
    for (const auto& pin : graph.pins_of(key)) by += (by.empty() ? "" : "; ") + join(pin.path, " -> ");
    diags.warning({}, key + " is expired but is now needed by an active consumer (" + by +
                          "): its interaction data counts as absent there until it is restored" +
                          (config.restore_when_pinned ? "; restoring it now (restore_when_pinned: true)"
                                                      : "; run `" + restore_command(key) + "`"));
    to_restore.push_back(key);
  }
  if (config.restore_when_pinned && !to_restore.empty()) {
    auto r = enqueue_restore(to_restore, {});
    if (!r.ok()) diags.error({}, r.status().message());
  }
}

// --- restore jobs -------------------------------------------------------------------

Result<RestoreJobInfo> Engine::Impl::enqueue_restore(const std::vector<std::string>& sources, RestoreCallback cb) {
  // Coalesce: a source already in a queued or running job joins that job.
  std::vector<std::string> fresh;
  std::uint64_t joined = 0;
  for (const auto& s : sources) {
    bool pending = false;
    for (auto& [id, job] : jobs)
      if ((job.info.state == JobState::kQueued || job.info.state == JobState::kRunning) &&
          std::find(job.info.sources.begin(), job.info.sources.end(), s) != job.info.sources.end())
        pending = true, joined = id;
    if (!pending) fresh.push_back(s);
  }
  if (fresh.empty() && joined) {
    if (cb) jobs[joined].callbacks.push_back(std::move(cb));
    return jobs[joined].info;
  }
  RestoreJob job;
  job.info.id = next_job_id++;
  job.info.sources = fresh;
  job.info.state = JobState::kQueued;
  job.info.created_at_ms = now();
  for (const auto& s : fresh) job.info.total += builder.source_stats(s).records;
  // Durable before it is acknowledged: a crash from here on resumes it.
  Status s = log_job(job.info, /*sync=*/true);
  if (!s.ok()) return s;
  if (cb) job.callbacks.push_back(std::move(cb));
  std::uint64_t id = job.info.id;
  jobs.emplace(id, std::move(job));
  job_queue.push_back(id);
  if (!worker.joinable()) worker = std::thread([this] { run_worker(); });
  changed.notify_all();
  return jobs[id].info;
}

void Engine::Impl::run_worker() {
  MutexLock lock(writer_mu);
  for (;;) {
    changed.wait(writer_mu, [&]() NO_THREAD_SAFETY_ANALYSIS { return stopping || !job_queue.empty(); });
    if (job_queue.empty()) return;  // stopping
    std::uint64_t id = job_queue.front();
    RestoreJobInfo& info = jobs[id].info;
    info.state = JobState::kRunning;
    info.started_at_ms = now();
    Status s = log_job(info, /*sync=*/true);
    publish(true);  // the sources show as restoring
    std::vector<std::string> sources = info.sources;
    std::uint64_t moved = 0, physical = 0;
    for (const auto& key : sources) {
      if (!s.ok()) break;
      auto it = lifecycle.find(key);
      if (it == lifecycle.end() || it->second.tier != Tier::kExpired) continue;  // restored meanwhile, or deleted
      // Queryable first: install the source's columns (read back from its
      // archive file outside the lock when its bytes were moved there).
      if (!builder.source_columns_resident(key) && data) {
        ++physical;
        writer_mu.unlock();
        auto columns = data->load_archive(key);
        writer_mu.lock();
        if (!columns.ok()) {
          s = columns.status();
          break;
        }
        builder.install_restored(key, *columns);
      } else {
        builder.install_restored(key, {});
      }
      SourceLifecycle& st = lifecycle[key];
      st.tier = Tier::kLive;
      st.restored_at = now();
      st.tier_changed_at = st.restored_at;
      builder.set_archived(key, false);
      s = log_lifecycle(key);
      if (data) to_move.insert(key);  // its bytes go back to the live tables
      moved += builder.source_stats(key).records;
      jobs[id].info.moved = moved;
    }
    RestoreJobInfo& done = jobs[id].info;
    if (!s.ok()) {
      done.state = JobState::kFailed;
      done.error = s.message();
      for (const auto& key : sources)
        if (lifecycle[key].tier == Tier::kExpired) done.not_restored.push_back(key);
    } else {
      done.state = JobState::kDone;
    }
    done.completed_at_ms = now();
    done.moving_total = physical;
    done.moving_done = 0;
    Status logged = log_job(done, /*sync=*/true);
    if (!logged.ok() && done.state == JobState::kDone) {
      done.state = JobState::kFailed;
      done.error = logged.message();
    }
    publish(true);
    RestoreJobInfo copy = done;
    std::vector<RestoreCallback> callbacks = std::move(jobs[id].callbacks);
    job_queue.pop_front();
    changed.notify_all();
    writer_mu.unlock();
    notify(copy);
    for (auto& cb : callbacks) cb(copy);
    writer_mu.lock();
  }
}

void Engine::Impl::notify(const RestoreJobInfo& info) {
  json j{{"event", "restore_completed"}, {"job", info.id}, {"sources", info.sources}, {"state", to_string(info.state)},
         {"records", info.moved}};
  if (info.completed_at_ms) j["completed_at"] = sdk::format_time(*info.completed_at_ms);
  if (!info.not_restored.empty()) j["not_restored"] = info.not_restored;
  std::string summary = "restore job " + std::to_string(info.id) + " " + std::string(to_string(info.state)) + ": " + join(info.sources, ", ") +
                        " (" + std::to_string(info.moved) + " records)";
  std::string failures = deliver_notification(config.notifications, summary, j.dump());
  if (!failures.empty()) std::cerr << "retarget: notification problems:\n" << failures;
}

// --- Engine lifecycle API -------------------------------------------------------------

Status Engine::set_status(CatalogKind catalog_kind, const std::string& id, CatalogStatus next, bool restore_first) {
  Status w = impl_->require_writable();
  if (!w.ok()) return w;
  const std::string kind(to_string(catalog_kind));
  const std::string status(to_string(next));
  std::string key = kind + ":" + id;
  std::uint64_t wait_for = 0;
  {
    MutexLock lock(impl_->writer_mu);
    Catalog& cat = impl_->catalog;
    LifecycleStatus current;
    if (kind == "campaign" && cat.campaign(id)) current = cat.campaign(id)->status;
    else if (kind == "canvas" && cat.canvas(id)) current = cat.canvas(id)->status;
    else if (kind == "card" && cat.content_card(id)) current = cat.content_card(id)->status;
    else return Status::NotFound("unknown " + kind + " '" + id + "'");
    if (next == LifecycleStatus::kActive && current != LifecycleStatus::kActive) {
      auto needs = impl_->activation_needs(key);
      if (!needs.empty()) {
        std::vector<std::string> commands;
        for (const auto& n : needs) commands.push_back(restore_command(n));
        bool own = needs.front() == key;
        if (!restore_first)
          return Status::Failed("refused: " + key + (own ? " needs its own expired data" : "'s audience needs expired data") +
                                " (" + join(needs, ", ") + "); restore it first (" + join(commands, "; ") +
                                ") or resume with --restore");
        auto job = impl_->enqueue_restore(needs, {});
        if (!job.ok()) return job.status();
        wait_for = job->id;
      }
    }
  }
  if (wait_for) {
    RestoreJobInfo done = wait_restore(wait_for);
    if (done.state != JobState::kDone) return Status::Failed("restore before activating " + key + " failed: " + done.error);
  }
  MutexLock lock(impl_->writer_mu);
  Status logged = impl_->log_meta({{"op", "status"}, {"kind", kind}, {"id", id}, {"status", status}, {"at", impl_->now()}});
  if (!logged.ok()) return logged;
  Diagnostics d;
  impl_->sync_graph(&d);
  impl_->publish(true);
  return Status::Ok();
}

Status Engine::remove_segment(const std::string& id) {
  Status w = impl_->require_writable();
  if (!w.ok()) return w;
  Engine::Impl& im = *impl_;
  MutexLock lock(im.writer_mu);
  if (!im.rules.find(id)) return Status::NotFound("unknown segment '" + id + "'");
  std::vector<std::string> users;
  for (const auto& [other, refs] : im.segment_refs)
    if (other != id && refs.segments.count(id)) users.push_back("segment:" + other);
  auto consumer = [&](const std::string& key, LifecycleStatus status, const Audience& a) REQUIRES(im.writer_mu) {
    if (status != LifecycleStatus::kActive) return;
    References refs = im.consumer_references(a, "");
    if (refs.segments.count(id)) users.push_back(key + " (active)");
  };
  for (const auto& [cid, c] : im.catalog.campaigns()) consumer(source_key(SourceKind::kCampaign, cid), c.status, c.audience);
  for (const auto& [cid, c] : im.catalog.canvases()) consumer(source_key(SourceKind::kCanvas, cid), c.status, c.audience);
  for (const auto& [cid, c] : im.catalog.content_cards()) consumer("card:" + cid, c.status, c.audience);
  if (!users.empty()) return Status::Failed("segment '" + id + "' is in use by " + join(users, ", "));
  Status logged = im.log_meta({{"op", "remove_segment"}, {"id", id}});
  if (!logged.ok()) return logged;
  im.segment_refs.erase(id);
  im.graph.remove_segment(id);
  Diagnostics d;
  im.sync_graph(&d);
  im.publish(true);
  return Status::Ok();
}

std::uint64_t Engine::scheduled_sweeps() const {
  MutexLock lock(impl_->writer_mu);
  return impl_->scheduled_sweeps;
}

Result<SweepReport> Engine::sweep() {
  Status w = impl_->require_writable();
  if (!w.ok()) return w;
  MutexLock lock(impl_->writer_mu);
  return impl_->sweep_at(impl_->now());
}

void Engine::Impl::run_scheduler() {
  MutexLock lock(writer_mu);
  while (!stopping) {
    sdk::Timestamp t = now();
    sdk::Timestamp next = policy->next_sweep(t + 1);
    if (next == sdk::kNoTime) next = t + 60000;
    // Sleep in real time until the scheduled instant (re-checked every minute,
    // so clock changes are noticed); with a fixed clock, sleep the same span.
    auto wait = std::chrono::milliseconds(std::min<std::int64_t>(next - t, 60000));
    bool woken = changed.wait_for(writer_mu, wait, [&]() NO_THREAD_SAFETY_ANALYSIS { return stopping; });
    if (woken) return;
    sdk::Timestamp after = fixed_now.load() != kWallClock ? t + wait.count() : now();
    if (after < next) continue;
    auto report = sweep_at(next);
    if (report.ok() && (!report->expired.empty() || !report->deleted.empty()))
      std::cerr << "retarget: scheduled sweep at " << sdk::format_time(next) << ": " << report->expired.size()
                << " expired, " << report->deleted.size() << " deleted\n";
    if (!report.ok()) std::cerr << "retarget: the scheduled sweep failed: " << report.status().message() << "\n";
    ++scheduled_sweeps;
  }
}

Status Engine::Impl::expire_source(const std::string& key, sdk::Timestamp at) {
  SourceLifecycle& st = lifecycle[key];
  st.tier = Tier::kExpired;
  st.tier_changed_at = at;
  Status s = log_lifecycle(key);
  if (!s.ok()) return s;
  builder.set_archived(key, true);  // hidden from the next Version on
  if (data) to_move.insert(key);    // the bytes go to long-term storage after
  return Status::Ok();
}

Result<SweepReport> Engine::Impl::sweep_at(sdk::Timestamp at) {
  SweepReport report;
  std::vector<std::string> keys;
  for (const auto& [id, c] : catalog.campaigns()) keys.push_back(source_key(SourceKind::kCampaign, id));
  for (const auto& [id, c] : catalog.canvases()) keys.push_back(source_key(SourceKind::kCanvas, id));
  Status s;
  for (const auto& key : keys) {
    SourceLifecycle& state = lifecycle[key];
    if (state.tier == Tier::kDeleted) continue;
    ExpiryInfo e = policy->expiry(source_facts(key), state);
    if (e.due == sdk::kNoTime || e.due > at) continue;
    if (policy->legacy()) {
      // Only interaction data goes: profile summaries, users and analytics stay.
      state.tier = Tier::kDeleted;
      state.tier_changed_at = at;
      s = log_lifecycle(key);
      if (!s.ok()) break;
      builder.erase_source(key);
      if (data) to_move.insert(key);  // its archive file, if any, is deleted
      report.deleted.push_back(key);
      continue;
    }
    if (state.tier == Tier::kExpired) continue;
    s = expire_source(key, at);
    if (!s.ok()) break;
    report.expired.push_back(key);
    report.records_moved += builder.source_stats(key).records;
  }
  if (data) {
    Status synced = data->sync();
    if (s.ok()) s = synced;
  }
  publish(true);
  changed.notify_all();  // the tier mover has work
  if (!s.ok()) return s;
  return report;
}

SourceStatus Engine::Impl::status_of(const std::string& key, const std::string& name, LifecycleStatus status,
                                     const std::vector<std::string>& tags,
                                     const std::set<std::string>& restoring) const {
  SourceStatus s;
  s.key = key;
  s.kind = kind_of(key) == "canvas" ? SourceKind::kCanvas : SourceKind::kCampaign;
  s.id = id_of(key);
  s.name = name;
  s.status = status;
  s.tags = tags;
  auto it = lifecycle.find(key);
  SourceLifecycle state = it == lifecycle.end() ? SourceLifecycle{} : it->second;
  s.tier = state.tier;
  s.restoring = restoring.count(key) > 0;
  SourceFacts facts = source_facts(key);
  s.pinned = facts.pinned;
  for (const auto& pin : graph.pins_of(key)) s.pinned_by.push_back({pin.pinner, pin.path});
  ExpiryInfo e = policy->expiry(facts, state);
  s.last_activity_ms = opt(e.last_activity);
  s.last_activity_reason = e.last_activity_reason;
  if (state.tier == Tier::kLive) {
    s.due_ms = opt(e.due);
    s.expires_at_ms = opt(e.next_sweep);
  }
  if (policy->legacy()) {
    s.action = SweepAction::kDelete;
    s.deletion_basis_ms = opt(facts.last_sent != sdk::kNoTime ? facts.last_sent : facts.stopped_at);
  }
  s.tier_changed_at_ms = opt(state.tier_changed_at);
  s.records = builder.source_stats(key).records;
  return s;
}

std::set<std::string> Engine::Impl::restoring_sources() const {
  std::set<std::string> restoring;
  for (const auto& [jid, job] : jobs)
    if (job.info.state == JobState::kQueued || job.info.state == JobState::kRunning)
      restoring.insert(job.info.sources.begin(), job.info.sources.end());
  return restoring;
}

std::vector<SourceStatus> Engine::lifecycle_status(const std::vector<std::string>& ids) const {
  const Engine::Impl& im = *impl_;
  MutexLock lock(im.writer_mu);
  std::set<std::string> restoring = im.restoring_sources();
  std::vector<SourceStatus> out;
  auto add = [&](const std::string& key, const auto& source) REQUIRES(im.writer_mu) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), id_of(key)) == ids.end() &&
        std::find(ids.begin(), ids.end(), key) == ids.end())
      return;
    out.push_back(im.status_of(key, source.name, source.status, source.tags, restoring));
  };
  for (const auto& [id, c] : im.catalog.campaigns()) add(source_key(SourceKind::kCampaign, id), c);
  for (const auto& [id, c] : im.catalog.canvases()) add(source_key(SourceKind::kCanvas, id), c);
  return out;
}

std::vector<std::pair<std::string, std::int64_t>> Engine::last_sends() const {
  const Engine::Impl& im = *impl_;
  MutexLock lock(im.writer_mu);
  std::vector<std::pair<std::string, std::int64_t>> out;
  auto add = [&](const std::string& key) REQUIRES(im.writer_mu) {
    sdk::Timestamp t = im.builder.source_stats(key).last_sent;
    if (t != sdk::kNoTime) out.emplace_back(key, t);
  };
  for (const auto& entry : im.catalog.campaigns()) add(source_key(SourceKind::kCampaign, entry.first));
  for (const auto& entry : im.catalog.canvases()) add(source_key(SourceKind::kCanvas, entry.first));
  return out;
}

void Engine::share_last_sends(const std::vector<std::pair<std::string, std::int64_t>>& sends) {
  MutexLock lock(impl_->writer_mu);
  impl_->shared_last_sent.clear();
  for (const auto& [key, t] : sends) impl_->shared_last_sent[key] = t;
}

std::vector<CatalogEntry> Engine::catalog_entries() const {
  const Engine::Impl& im = *impl_;
  MutexLock lock(im.writer_mu);
  std::set<std::string> restoring = im.restoring_sources();
  std::vector<CatalogEntry> out;
  auto tier_of = [&](const std::string& key) REQUIRES(im.writer_mu) {
    auto it = im.lifecycle.find(key);
    return it == im.lifecycle.end() ? Tier::kLive : it->second.tier;
  };
  for (const auto& [id, c] : im.catalog.campaigns()) {
    std::string key = source_key(SourceKind::kCampaign, id);
    out.push_back({CatalogKind::kCampaign, id, c.name, c.status, c.tags, tier_of(key), restoring.count(key) > 0});
  }
  for (const auto& [id, c] : im.catalog.canvases()) {
    std::string key = source_key(SourceKind::kCanvas, id);
    out.push_back({CatalogKind::kCanvas, id, c.name, c.status, c.tags, tier_of(key), restoring.count(key) > 0});
  }
  for (const auto& [id, c] : im.catalog.content_cards())
    out.push_back({CatalogKind::kCard, id, c.name, c.status, {}, std::nullopt, false});
  return out;
}

std::vector<PlanEntry> Engine::lifecycle_plan(std::int64_t until_ms) const {
  std::vector<PlanEntry> out;
  bool legacy = impl_->policy->legacy();
  for (const auto& s : lifecycle_status()) {
    if (s.tier != Tier::kLive || s.restoring || !s.expires_at_ms || *s.expires_at_ms > until_ms) continue;
    out.push_back({s.key, legacy ? SweepAction::kDelete : SweepAction::kExpire, *s.expires_at_ms});
  }
  std::sort(out.begin(), out.end(), [](const PlanEntry& a, const PlanEntry& b) {
    return std::tie(a.at_ms, a.source) < std::tie(b.at_ms, b.source);
  });
  return out;
}

Result<RestoreJobInfo> Engine::restore(const RestoreRequest& request, RestoreCallback on_done) {
  Status w = impl_->require_writable();
  if (!w.ok()) return w;
  Engine::Impl& im = *impl_;
  MutexLock lock(im.writer_mu);
  std::set<std::string> expired = im.expired_sources();
  std::vector<std::string> wanted;
  for (const auto& c : request.campaigns) {
    if (!im.catalog.campaign(c))
      return Status::NotFound("unknown campaign '" + c + "'" + did_you_mean(c, im.catalog.campaign_ids()));
    wanted.push_back(source_key(SourceKind::kCampaign, c));
  }
  for (const auto& c : request.canvases) {
    if (!im.catalog.canvas(c))
      return Status::NotFound("unknown Canvas '" + c + "'" + did_you_mean(c, im.catalog.canvas_ids()));
    wanted.push_back(source_key(SourceKind::kCanvas, c));
  }
  for (const auto& t : request.tags) {
    // By tag: every expired source carrying it.
    auto tagged = im.catalog.sources_with_tag(t);
    if (tagged.empty())
      return Status::NotFound("unknown tag '" + t + "': no campaign or Canvas carries it" + did_you_mean(t, im.catalog.tags()));
    for (const auto& key : tagged)
      if (expired.count(key)) wanted.push_back(key);
  }
  for (const auto& key : wanted)
    if (im.lifecycle[key].tier == Tier::kDeleted)
      return Status::Failed(key + " cannot be restored: its interaction data was deleted under the legacy policy");
  std::vector<std::string> sources;
  for (const auto& key : wanted)
    if (expired.count(key) && std::find(sources.begin(), sources.end(), key) == sources.end()) sources.push_back(key);
  if (sources.empty()) {
    // Idempotent: restoring live data is a no-op, reported as a finished job.
    RestoreJobInfo info;
    info.state = JobState::kDone;
    info.completed_at_ms = im.now();
    if (on_done) on_done(info);
    return info;
  }
  return im.enqueue_restore(sources, std::move(on_done));
}

RestoreJobInfo Engine::wait_restore(std::uint64_t job_id) {
  MutexLock lock(impl_->writer_mu);
  auto it = impl_->jobs.find(job_id);
  if (it == impl_->jobs.end()) {
    RestoreJobInfo none;
    none.state = JobState::kDone;
    return none;
  }
  impl_->changed.wait(impl_->writer_mu, [&] { return finished(it->second.info); });
  return it->second.info;
}

std::vector<RestoreJobInfo> Engine::restore_jobs() const {
  MutexLock lock(impl_->writer_mu);
  std::vector<RestoreJobInfo> out;
  for (const auto& [id, job] : impl_->jobs) out.push_back(job.info);
  return out;
}

Result<RestoreJobInfo> Engine::restore_job(std::uint64_t job_id) const {
  MutexLock lock(impl_->writer_mu);
  auto it = impl_->jobs.find(job_id);
  if (it == impl_->jobs.end()) return Status::NotFound("unknown restore job " + std::to_string(job_id));
  return it->second.info;
}

namespace {

// A tag whose sources are more than this many is folded: its pinned and
// expired sources keep their own edges (they are what an operator looks
// for), the rest become one "+N more" node, so a graph of thousands of
// tagged sources still renders as a readable picture.
constexpr std::size_t kFoldTagFanOut = 8;

std::string dot_id(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// The DOT form of `deps`: shapes by node kind, pinned sources red, expired
// and deleted ones grey and dashed, tag fan-out folded, and a legend.
void write_dot(const DependencyGraph& g, const std::vector<SourceStatus>& statuses, std::ostream& out) {
  std::map<std::string, const SourceStatus*> source_of;  // "source:campaign:x" -> status
  for (const auto& s : statuses) source_of["source:" + s.key] = &s;
  std::set<std::string> pinners;
  for (const auto& p : g.pinners()) pinners.insert(p);
  auto edges = g.edges();
  std::map<std::string, std::vector<std::string>> tag_targets;
  std::set<std::string> nodes;
  for (const auto& e : edges) {
    nodes.insert(e.from), nodes.insert(e.to);
    if (e.from.rfind("tag:", 0) == 0) tag_targets[e.from].push_back(e.to);
  }
  for (const auto& [key, st] : source_of)
    if (st->pinned || st->tier != Tier::kLive) nodes.insert(key);
  auto notable = [&](const std::string& node) {
    auto it = source_of.find(node);
    return it != source_of.end() && (it->second->pinned || it->second->tier != Tier::kLive);
  };
  // Folded tags: the sources that lose their edge (and their node, unless another edge names them).
  std::map<std::string, std::size_t> folded;  // tag node -> sources folded
  std::set<std::pair<std::string, std::string>> hidden_edges;
  for (const auto& [tag, targets] : tag_targets) {
    if (targets.size() <= kFoldTagFanOut) continue;
    for (const auto& t : targets)
      if (!notable(t)) hidden_edges.insert({tag, t}), ++folded[tag];
  }
  std::set<std::string> still_named;
  for (const auto& e : edges)
    if (!hidden_edges.count({e.from, e.to})) still_named.insert(e.from), still_named.insert(e.to);
  for (const auto& [tag, t] : hidden_edges)
    if (!still_named.count(t) && !notable(t)) nodes.erase(t);

  out << "digraph retarget {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  for (const auto& n : nodes) {
    std::string attrs;
    if (n.rfind("consumer:", 0) == 0) {
      attrs = pinners.count(n) ? "shape=box, style=bold" : "shape=box, color=gray50";
    } else if (n.rfind("segment:", 0) == 0) {
      attrs = pinners.count(n) ? "shape=ellipse, style=bold" : "shape=ellipse";
    } else if (n.rfind("tag:", 0) == 0) {
      attrs = "shape=note";
    } else if (auto it = source_of.find(n); it != source_of.end()) {
      const SourceStatus& st = *it->second;
      if (st.tier != Tier::kLive)  // expired, deleted, or restoring (still expired until done)
        attrs = "shape=cylinder, style=dashed, color=gray50, fontcolor=gray40, label=" +
                dot_id(n + "\n(" + std::string(tier_label(st.tier, st.restoring)) + ")");
      else if (st.pinned)
        attrs = "shape=cylinder, color=red, fontcolor=red";
      else
        attrs = "shape=cylinder";
    } else {
      attrs = "shape=cylinder";
    }
    out << "  " << dot_id(n) << " [" << attrs << "];\n";
  }
  for (const auto& e : edges)
    if (!hidden_edges.count({e.from, e.to})) out << "  " << dot_id(e.from) << " -> " << dot_id(e.to) << ";\n";
  for (const auto& [tag, n] : folded) {
    std::string more = tag + " (folded)";
    out << "  " << dot_id(more) << " [shape=folder, style=dotted, label="
        << dot_id("+" + std::to_string(n) + " more live, unpinned sources") << "];\n";
    out << "  " << dot_id(tag) << " -> " << dot_id(more) << " [style=dotted];\n";
  }
  out << "  subgraph cluster_legend {\n    label=\"legend\"; fontsize=10; color=gray70;\n"
         "    \"legend: active consumer (pins)\" [shape=box, style=bold];\n"
         "    \"legend: segment\" [shape=ellipse];\n"
         "    \"legend: tag\" [shape=note];\n"
         "    \"legend: pinned source\" [shape=cylinder, color=red, fontcolor=red];\n"
         "    \"legend: expired source\" [shape=cylinder, style=dashed, color=gray50, fontcolor=gray40];\n"
         "    \"legend: more sources of a tag\" [shape=folder, style=dotted];\n"
         "  }\n}\n";
}

}  // namespace

std::string Engine::dependency_graph(const std::string& format) const {
  std::vector<SourceStatus> statuses = lifecycle_status();
  const Engine::Impl& im = *impl_;
  MutexLock lock(im.writer_mu);
  const DependencyGraph& g = im.graph;
  if (format == "json") {
    json edges = json::array();
    for (const auto& e : g.edges()) edges.push_back({{"from", e.from}, {"to", e.to}});
    json sources = json::array();
    for (const auto& s : statuses) {
      json pins = json::array();
      for (const auto& p : s.pinned_by) pins.push_back({{"pinner", p.pinner}, {"path", p.path}});
      sources.push_back({{"source", s.key},
                         {"status", to_string(s.status)},
                         {"tier", tier_label(s.tier, s.restoring)},
                         {"pinned", s.pinned},
                         {"pinned_by", pins}});
    }
    return json{{"pinners", g.pinners()}, {"edges", edges}, {"sources", sources}}.dump(2);
  }
  std::ostringstream out;
  if (format == "dot") {
    write_dot(g, statuses, out);
    return out.str();
  }
  for (const auto& s : statuses) {
    out << s.key << " (" << s.status << ", " << tier_label(s.tier, s.restoring) << "): ";
    if (!s.pinned) {
      out << "not pinned\n";
      continue;
    }
    out << "pinned by\n";
    for (const auto& p : s.pinned_by) out << "    " << join(p.path, " -> ") << "\n";
  }
  return out.str();
}

}  // namespace retarget
