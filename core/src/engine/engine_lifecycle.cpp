// The lifecycle half of the engine: the dependency graph kept in line with the
// catalog and rules, expiry sweeps, the legacy policy, the resume guard and
// restore jobs (lifecycle.md).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <tuple>


#include "common/text.hpp"
#include "engine/engine_impl.hpp"
#include "lifecycle/notifier.hpp"
#include "store/event_codec.hpp"
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

}  // namespace

Engine::Impl::~Impl() {
  {
    std::unique_lock lock(mu);
    // Jobs already accepted finish: a restore is never dropped half-way.
    jobs_changed.wait(lock, [&] { return job_queue.empty(); });
    stopping = true;
  }
  jobs_changed.notify_all();
  if (worker.joinable()) worker.join();
  if (scheduler.joinable()) scheduler.join();
}

std::set<std::string> Engine::Impl::deleted_sources() const {
  std::set<std::string> out;
  for (const auto& [key, s] : lifecycle)
    if (s.tier == Tier::kDeleted) out.insert(key);
  return out;
}

std::set<std::string> Engine::Impl::expired_sources() const {
  std::set<std::string> out;
  for (const auto& [key, s] : lifecycle)
    if (s.tier == Tier::kExpired) out.insert(key);
  return out;
}

std::optional<CompiledSegment> Engine::Impl::compile(const std::string& id, Diagnostics& diags) const {
  const SegmentDefinition* def = rules.find(id);
  if (!def) return std::nullopt;
  std::set<std::string> deleted = deleted_sources();
  Compiler compiler(registry, catalog, rules, compile_options(deleted));
  return compiler.compile(*def, diags);
}

References Engine::Impl::consumer_references(const Audience& audience, const std::string& file,
                                             Diagnostics* diags) const {
  References refs;
  for (const auto& s : audience.segments) refs.segments.insert(s);
  if (audience.match) {
    std::set<std::string> deleted = deleted_sources();
    Compiler compiler(registry, catalog, rules, compile_options(deleted));
    Diagnostics local;
    compiler.compile_tree(*audience.match, file, refs, local);
    if (diags) diags->append(local);
  }
  return refs;
}

void Engine::Impl::sync_graph(Diagnostics* diags) {
  auto edges_of = [](const References& r) {
    DependencyGraph::Edges e;
    e.segments = r.segments;
    for (const auto& c : r.campaigns) e.sources.insert("campaign:" + c);
    for (const auto& c : r.canvases) e.sources.insert("canvas:" + c);
    e.tags = r.tags;
    return e;
  };
  auto consumer = [&](const std::string& key, LifecycleStatus status, const Audience& audience,
                      const SourceLocation& where) {
    if (audience.empty()) {
      graph.remove_consumer(key);
      return;
    }
    // Validated before the change was applied (Impl::validate): no diagnostics here.
    References refs = consumer_references(audience, where.file, nullptr);
    graph.set_consumer(key, status == LifecycleStatus::kActive, edges_of(refs));
  };
  for (const auto& [id, c] : catalog.campaigns()) {
    consumer("campaign:" + id, c.status, c.audience, c.where);
    graph.set_source_tags("campaign:" + id, {c.tags.begin(), c.tags.end()});
  }
  for (const auto& [id, c] : catalog.canvases()) {
    consumer("canvas:" + id, c.status, c.audience, c.where);
    graph.set_source_tags("canvas:" + id, {c.tags.begin(), c.tags.end()});
  }
  for (const auto& [id, c] : catalog.content_cards()) consumer("card:" + id, c.status, c.audience, c.where);
  for (const auto& [id, refs] : segment_refs) graph.set_segment(id, edges_of(refs), config.segments_pin);
  for (const auto& id : rules.ids())
    if (!segment_refs.count(id)) graph.set_segment(id, {}, config.segments_pin);
  // The clock of a source restarts when its last pin is released.
  sdk::Timestamp t = now();
  for (const auto& key : graph.take_released()) {
    lifecycle[key].pin_released_at = t;
    Status s = save_state(key);
    if (!s.ok() && diags) diags->error({}, s.message());
  }
}

// --- durability -------------------------------------------------------------------

Status Engine::Impl::log(const json& op) {
  if (!durable) return Status::Ok();
  return durable->append_log(op);
}

Status Engine::Impl::save_state(const std::string& key, const char* moving) {
  if (!durable) return Status::Ok();
  const SourceLifecycle& st = lifecycle[key];
  json j{{"tier", to_string(st.tier)}, {"restored_at", st.restored_at}, {"pin_released_at", st.pin_released_at},
         {"tier_changed_at", st.tier_changed_at}};
  if (moving) j["moving"] = moving;
  return durable->put_state(key, j);
}

Result<std::uint64_t> Engine::Impl::expire_source(const std::string& key) {
  SourceLifecycle& st = lifecycle[key];
  st.tier = Tier::kExpired;
  st.tier_changed_at = now();
  builder.set_archived(key, true);  // leaves the index at the next publish
  if (!durable) return builder.source_stats(key).records;
  // Record the move first: a crash mid-way is finished by the next open.
  Status s = save_state(key, "to_archive");
  if (!s.ok()) return s;
  auto moved = durable->move_source(key, DurableStore::Family::kLive, DurableStore::Family::kArchive, 10000);
  if (!moved.ok()) return moved.status();
  s = save_state(key);
  if (!s.ok()) return s;
  return moved;
}

Result<std::uint64_t> Engine::Impl::restore_source(const std::string& key,
                                                   const std::function<void(std::uint64_t)>& progress) {
  std::uint64_t moved = builder.source_stats(key).records;
  if (durable) {
    Status s = save_state(key, "to_live");
    if (!s.ok()) return s;
    auto m = durable->move_source(key, DurableStore::Family::kArchive, DurableStore::Family::kLive, 10000, progress);
    if (!m.ok()) return m.status();
    moved = *m;
  }
  SourceLifecycle& st = lifecycle[key];
  st.tier = Tier::kLive;
  st.restored_at = now();
  st.tier_changed_at = st.restored_at;
  builder.set_archived(key, false);
  Status s = save_state(key);
  if (!s.ok()) return s;
  return moved;
}

Status Engine::Impl::replay() {
  // 1. Per-source lifecycle state.
  auto states = durable->read_states();
  if (!states.ok()) return states.status();
  std::map<std::string, std::string> interrupted;
  for (const auto& [key, j] : *states) {
    SourceLifecycle st;
    std::string tier = j.value("tier", "live");
    st.tier = tier == "expired" ? Tier::kExpired : tier == "deleted" ? Tier::kDeleted : Tier::kLive;
    st.restored_at = j.value("restored_at", sdk::kNoTime);
    st.pin_released_at = j.value("pin_released_at", sdk::kNoTime);
    st.tier_changed_at = j.value("tier_changed_at", sdk::kNoTime);
    if (j.contains("moving")) interrupted[key] = j["moving"].get<std::string>();
    lifecycle[key] = st;
  }
  // 2. The change log: catalog, rules, statuses, in order.
  auto ops = durable->read_log();
  if (!ops.ok()) return ops.status();
  for (const auto& op : *ops) {
    std::string kind = op.value("op", "");
    Diagnostics d;
    if (kind == "catalog") {
      catalog.apply_text(op.value("text", ""), op.value("name", "catalog"), d);
    } else if (kind == "rules") {
      RuleSet added;
      added.add_text(op.value("text", ""), op.value("name", "rules"), config.limits, d);
      rules.upsert(added);
    } else if (kind == "status") {
      static const std::vector<std::string> kStatuses = {"draft", "active", "stopped", "archived"};
      auto it = std::find(kStatuses.begin(), kStatuses.end(), op.value("status", ""));
      if (it != kStatuses.end())
        catalog.set_status(op.value("kind", ""), op.value("id", ""),
                           static_cast<LifecycleStatus>(it - kStatuses.begin()), op.value("at", sdk::kNoTime));
    } else if (kind == "remove_segment") {
      rules.remove(op.value("id", ""));
    }
    if (d.has_errors()) return Status::IoError("the stored change log does not replay: " + d.to_string());
  }
  // 3. Events: which tier a source's data is in decides whether it is published.
  for (const auto& [key, st] : lifecycle)
    if (st.tier == Tier::kExpired) builder.set_archived(key, true);
  Event e;
  std::uint64_t corrupt = 0;
  auto load = [&](std::string_view key, std::string_view value) {
    if (key.size() < 16 || !decode_event(value, e)) {
      ++corrupt;
      return;
    }
    next_seq = std::max(next_seq, e.seq + 1);
    // Every event key ends with the event's content hash (computed at ingest): no need to hash again.
    builder.add(e, catalog, IndexBuilder::hash_in_key(key));
  };
  for (auto family : {DurableStore::Family::kProfile, DurableStore::Family::kLive, DurableStore::Family::kArchive}) {
    Status s = durable->scan(family, load);
    if (!s.ok()) return s;
  }
  if (corrupt) return Status::IoError(std::to_string(corrupt) + " stored events do not decode: the data directory is damaged");
  // 4. Finish tier moves a crash interrupted.
  for (const auto& [key, moving] : interrupted) {
    if (moving == "to_archive") {
      auto r = expire_source(key);
      if (!r.ok()) return r.status();
    } else {
      auto r = restore_source(key, {});
      if (!r.ok()) return r.status();
    }
  }
  // 5. Segments' references, the graph, the index (its deltas merged: the
  // smallest form for reading).
  builder.compact();
  std::map<std::string, References> refs;
  Diagnostics d;
  validate(catalog, rules, d, &refs);
  segment_refs = std::move(refs);
  sync_graph(nullptr);
  publish();
  return Status::Ok();
}

std::string Engine::check_store() const {
  std::lock_guard lock(impl_->mu);
  const Engine::Impl& im = *impl_;
  json sources = json::array();
  json problems = json::array();
  std::map<std::string, std::uint64_t> live, archive;
  std::set<std::string> live_keys;
  if (im.durable) {
    im.durable->scan(DurableStore::Family::kLive, [&](std::string_view k, std::string_view) {
      live_keys.emplace(k);
      ++live[std::string(k.substr(0, k.find('\0')))];
    });
    im.durable->scan(DurableStore::Family::kArchive, [&](std::string_view k, std::string_view) {
      if (live_keys.count(std::string(k))) problems.push_back("a record is in both tiers: " + std::string(k.substr(0, k.find('\0'))));
      ++archive[std::string(k.substr(0, k.find('\0')))];
    });
  }
  for (const auto& key : im.builder.source_keys()) {
    auto it = im.lifecycle.find(key);
    Tier tier = it == im.lifecycle.end() ? Tier::kLive : it->second.tier;
    std::uint64_t l = live[key], a = archive[key];
    std::uint64_t records = im.builder.source_stats(key).records;
    if (im.durable) {
      if (tier == Tier::kExpired && l) problems.push_back(key + " is expired but has " + std::to_string(l) + " live records");
      if (tier == Tier::kLive && a) problems.push_back(key + " is live but has " + std::to_string(a) + " archived records");
      if (l + a != records) problems.push_back(key + ": " + std::to_string(l + a) + " stored records, " + std::to_string(records) + " in the index");
    }
    sources.push_back({{"source", key}, {"tier", to_string(tier)}, {"records", records}, {"live", l}, {"archive", a}});
  }
  return json{{"durable", im.durable != nullptr}, {"events", im.builder.event_count()}, {"sources", sources},
              {"problems", problems}, {"ok", problems.empty()}}.dump(2);
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
  if (config.restore_when_pinned && !to_restore.empty()) enqueue_restore(to_restore, {});
}

// --- restore jobs -------------------------------------------------------------

RestoreJobInfo Engine::Impl::enqueue_restore(const std::vector<std::string>& sources, RestoreCallback cb) {
  // Coalesce: a source already in a queued or running job joins that job.
  std::vector<std::string> fresh;
  std::uint64_t joined = 0;
  for (const auto& s : sources) {
    bool pending = false;
    for (auto& [id, job] : jobs)
      if ((job.info.state == "queued" || job.info.state == "running") &&
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
  job.info.state = "queued";
  for (const auto& s : fresh) job.info.total += builder.source_stats(s).records;
  if (cb) job.callbacks.push_back(std::move(cb));
  std::uint64_t id = job.info.id;
  jobs.emplace(id, std::move(job));
  job_queue.push_back(id);
  if (!worker.joinable()) worker = std::thread([this] { run_worker(); });
  jobs_changed.notify_all();
  return jobs[id].info;
}

void Engine::Impl::run_worker() {
  std::unique_lock lock(mu);
  for (;;) {
    jobs_changed.wait(lock, [&] { return stopping || !job_queue.empty(); });
    if (job_queue.empty()) return;  // stopping
    std::uint64_t id = job_queue.front();
    RestoreJob& job = jobs[id];
    job.info.state = "running";
    std::uint64_t before = job.info.moved;
    for (const auto& s : job.info.sources) {
      auto moved = restore_source(s, [&](std::uint64_t m) { job.info.moved = before + m; });
      if (!moved.ok()) {
        job.info.state = "failed";
        job.info.error = moved.status().message();
        break;
      }
      before += *moved;
      job.info.moved = before;
    }
    publish();
    if (job.info.state != "failed") job.info.state = "done";
    job.info.completed_at_ms = now();
    RestoreJobInfo info = job.info;
    std::vector<RestoreCallback> callbacks = std::move(job.callbacks);
    job_queue.pop_front();
    jobs_changed.notify_all();
    lock.unlock();
    notify(info);
    for (auto& cb : callbacks) cb(info);
    lock.lock();
  }
}

void Engine::Impl::notify(const RestoreJobInfo& info) {
  json j{{"event", "restore_completed"}, {"job", info.id}, {"sources", info.sources}, {"state", info.state},
         {"records", info.moved}};
  if (info.completed_at_ms) j["completed_at"] = sdk::format_time(*info.completed_at_ms);
  std::string summary = "restore job " + std::to_string(info.id) + " " + info.state + ": " + join(info.sources, ", ") +
                        " (" + std::to_string(info.moved) + " records)";
  std::string failures = deliver_notification(config.notifications, summary, j.dump());
  if (!failures.empty()) std::cerr << "retarget: notification problems:\n" << failures;
}

// --- Engine lifecycle API -------------------------------------------------------

Status Engine::set_status(const std::string& kind, const std::string& id, const std::string& status,
                          bool restore_first) {
  static const std::vector<std::string> kStatuses = {"draft", "active", "stopped", "archived"};
  auto it = std::find(kStatuses.begin(), kStatuses.end(), status);
  if (it == kStatuses.end()) return Status::InvalidInput("status must be draft, active, stopped or archived");
  auto next = static_cast<LifecycleStatus>(it - kStatuses.begin());
  std::string key = kind + ":" + id;
  std::uint64_t wait_for = 0;
  {
    std::lock_guard lock(impl_->mu);
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
        wait_for = impl_->enqueue_restore(needs, {}).id;
      }
    }
  }
  if (wait_for) {
    RestoreJobInfo done = wait_restore(wait_for);
    if (done.state != "done") return Status::Failed("restore before activating " + key + " failed: " + done.error);
  }
  std::lock_guard lock(impl_->mu);
  sdk::Timestamp t = impl_->now();
  if (!impl_->catalog.set_status(kind, id, next, t)) return Status::NotFound("unknown " + kind + " '" + id + "'");
  Status logged = impl_->log({{"op", "status"}, {"kind", kind}, {"id", id}, {"status", status}, {"at", t}});
  if (!logged.ok()) return logged;
  impl_->sync_graph(nullptr);
  impl_->publish();
  return Status::Ok();
}

Status Engine::remove_segment(const std::string& id) {
  std::lock_guard lock(impl_->mu);
  Engine::Impl& im = *impl_;
  if (!im.rules.find(id)) return Status::NotFound("unknown segment '" + id + "'");
  std::vector<std::string> users;
  for (const auto& [other, refs] : im.segment_refs)
    if (other != id && refs.segments.count(id)) users.push_back("segment:" + other);
  auto consumer = [&](const std::string& key, LifecycleStatus status, const Audience& a) {
    if (status != LifecycleStatus::kActive) return;
    References refs = im.consumer_references(a, "", nullptr);
    if (refs.segments.count(id)) users.push_back(key + " (active)");
  };
  for (const auto& [cid, c] : im.catalog.campaigns()) consumer("campaign:" + cid, c.status, c.audience);
  for (const auto& [cid, c] : im.catalog.canvases()) consumer("canvas:" + cid, c.status, c.audience);
  for (const auto& [cid, c] : im.catalog.content_cards()) consumer("card:" + cid, c.status, c.audience);
  if (!users.empty()) return Status::Failed("segment '" + id + "' is in use by " + join(users, ", "));
  Status logged = im.log({{"op", "remove_segment"}, {"id", id}});
  if (!logged.ok()) return logged;
  im.rules.remove(id);
  im.segment_refs.erase(id);
  im.graph.remove_segment(id);
  im.sync_graph(nullptr);
  return Status::Ok();
}

std::uint64_t Engine::scheduled_sweeps() const {
  std::lock_guard lock(impl_->mu);
  return impl_->scheduled_sweeps;
}

Result<SweepReport> Engine::sweep() {
  std::lock_guard lock(impl_->mu);
  return impl_->sweep_at(impl_->now());
}

void Engine::Impl::run_scheduler() {
  std::unique_lock lock(mu);
  while (!stopping) {
    sdk::Timestamp t = now();
    sdk::Timestamp next = policy->next_sweep(t + 1);
    // Sleep in real time until the scheduled instant (re-checked every minute,
    // so clock changes are noticed); with a fixed clock, sleep the same span.
    auto wait = std::chrono::milliseconds(std::min<std::int64_t>(next - t, 60000));
    bool woken = jobs_changed.wait_for(lock, wait, [&] { return stopping; });
    if (woken) return;
    sdk::Timestamp after = options.now_ms ? t + wait.count() : now();
    if (after < next) continue;
    auto report = sweep_at(next);
    if (report.ok() && (!report->expired.empty() || !report->deleted.empty()))
      std::cerr << "retarget: scheduled sweep at " << sdk::format_time(next) << ": " << report->expired.size()
                << " expired, " << report->deleted.size() << " deleted\n";
    ++scheduled_sweeps;
  }
}

Result<SweepReport> Engine::Impl::sweep_at(sdk::Timestamp now) {
  Engine::Impl& im = *this;
  SweepReport report;
  auto consider = [&](const std::string& key) -> Status {
    SourceLifecycle& state = im.lifecycle[key];
    if (state.tier == Tier::kDeleted) return Status::Ok();
    SourceFacts facts = im.source_facts(key);
    ExpiryInfo e = im.policy->expiry(facts, state);
    if (e.due == sdk::kNoTime || e.due > now) return Status::Ok();
    if (im.policy->legacy()) {
      if (im.durable) {
        Status s = im.durable->delete_source(key);
        if (!s.ok()) return s;
      }
      im.builder.erase_source(key);
      state.tier = Tier::kDeleted;
      state.tier_changed_at = now;
      report.deleted.push_back(key);
      return im.save_state(key);
    }
    if (state.tier == Tier::kExpired) return Status::Ok();
    auto moved = im.expire_source(key);
    if (!moved.ok()) return moved.status();
    report.expired.push_back(key);
    report.records_moved += *moved;
    return Status::Ok();
  };
  for (const auto& [id, c] : im.catalog.campaigns()) {
    Status s = consider("campaign:" + id);
    if (!s.ok()) return s;
  }
  for (const auto& [id, c] : im.catalog.canvases()) {
    Status s = consider("canvas:" + id);
    if (!s.ok()) return s;
  }
  im.publish();
  return report;
}

std::vector<SourceStatus> Engine::lifecycle_status(const std::vector<std::string>& ids) const {
  std::lock_guard lock(impl_->mu);
  const Engine::Impl& im = *impl_;
  std::set<std::string> restoring;
  for (const auto& [jid, job] : im.jobs)
    if (job.info.state == "queued" || job.info.state == "running")
      restoring.insert(job.info.sources.begin(), job.info.sources.end());
  std::vector<SourceStatus> out;
  auto add = [&](const std::string& key, const std::string& name, LifecycleStatus status) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), id_of(key)) == ids.end() &&
        std::find(ids.begin(), ids.end(), key) == ids.end())
      return;
    SourceStatus s;
    s.key = key;
    s.kind = kind_of(key);
    s.id = id_of(key);
    s.name = name;
    s.status = to_string(status);
    auto it = im.lifecycle.find(key);
    SourceLifecycle state = it == im.lifecycle.end() ? SourceLifecycle{} : it->second;
    s.tier = restoring.count(key) ? "restoring" : to_string(state.tier);
    SourceFacts facts = im.source_facts(key);
    s.pinned = facts.pinned;
    for (const auto& pin : im.graph.pins_of(key)) s.pinned_by.push_back({pin.pinner, pin.path});
    ExpiryInfo e = im.policy->expiry(facts, state);
    s.last_activity_ms = opt(e.last_activity);
    s.last_activity_reason = e.last_activity_reason;
    if (state.tier == Tier::kLive) {
      s.due_ms = opt(e.due);
      s.expires_at_ms = opt(e.next_sweep);
    }
    if (im.policy->legacy()) {
      s.action = "delete";
      s.deletion_basis_ms = opt(facts.last_sent != sdk::kNoTime ? facts.last_sent : facts.stopped_at);
    }
    s.tier_changed_at_ms = opt(state.tier_changed_at);
    s.records = im.builder.source_stats(key).records;
    out.push_back(std::move(s));
  };
  for (const auto& [id, c] : im.catalog.campaigns()) add("campaign:" + id, c.name, c.status);
  for (const auto& [id, c] : im.catalog.canvases()) add("canvas:" + id, c.name, c.status);
  return out;
}

std::vector<PlanEntry> Engine::lifecycle_plan(std::int64_t until_ms) const {
  std::vector<PlanEntry> out;
  for (const auto& s : lifecycle_status()) {
    if (s.tier != "live" || !s.expires_at_ms || *s.expires_at_ms > until_ms) continue;
    out.push_back({s.key, impl_->policy->legacy() ? "delete" : "expire", *s.expires_at_ms});
  }
  std::sort(out.begin(), out.end(), [](const PlanEntry& a, const PlanEntry& b) {
    return std::tie(a.at_ms, a.source) < std::tie(b.at_ms, b.source);
  });
  return out;
}

Result<RestoreJobInfo> Engine::restore(const RestoreRequest& request, RestoreCallback on_done) {
  std::lock_guard lock(impl_->mu);
  Engine::Impl& im = *impl_;
  std::set<std::string> expired = im.expired_sources();
  std::vector<std::string> wanted;
  for (const auto& c : request.campaigns) {
    if (!im.catalog.campaign(c)) return Status::NotFound("unknown campaign '" + c + "'");
    wanted.push_back("campaign:" + c);
  }
  for (const auto& c : request.canvases) {
    if (!im.catalog.canvas(c)) return Status::NotFound("unknown Canvas '" + c + "'");
    wanted.push_back("canvas:" + c);
  }
  for (const auto& t : request.tags) {
    // By tag: every expired source carrying it.
    auto tagged = im.catalog.sources_with_tag(t);
    if (tagged.empty()) return Status::NotFound("unknown tag '" + t + "': no campaign or Canvas carries it");
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
    info.state = "done";
    info.completed_at_ms = im.now();
    if (on_done) on_done(info);
    return info;
  }
  return im.enqueue_restore(sources, std::move(on_done));
}

RestoreJobInfo Engine::wait_restore(std::uint64_t job_id) {
  std::unique_lock lock(impl_->mu);
  auto it = impl_->jobs.find(job_id);
  if (it == impl_->jobs.end()) {
    RestoreJobInfo none;
    none.state = "done";
    return none;
  }
  impl_->jobs_changed.wait(lock, [&] { return it->second.info.state == "done" || it->second.info.state == "failed"; });
  return it->second.info;
}

std::vector<RestoreJobInfo> Engine::restore_jobs() const {
  std::lock_guard lock(impl_->mu);
  std::vector<RestoreJobInfo> out;
  for (const auto& [id, job] : impl_->jobs) out.push_back(job.info);
  return out;
}

std::string Engine::dependency_graph(const std::string& format) const {
  std::vector<SourceStatus> statuses = lifecycle_status();
  std::lock_guard lock(impl_->mu);
  const DependencyGraph& g = impl_->graph;
  if (format == "json") {
    json edges = json::array();
    for (const auto& e : g.edges()) edges.push_back({{"from", e.from}, {"to", e.to}});
    json sources = json::array();
    for (const auto& s : statuses) {
      json pins = json::array();
      for (const auto& p : s.pinned_by) pins.push_back({{"pinner", p.pinner}, {"path", p.path}});
      sources.push_back({{"source", s.key}, {"status", s.status}, {"tier", s.tier}, {"pinned", s.pinned}, {"pinned_by", pins}});
    }
    return json{{"pinners", g.pinners()}, {"edges", edges}, {"sources", sources}}.dump(2);
  }
  std::ostringstream out;
  if (format == "dot") {
    out << "digraph retarget {\n  rankdir=LR;\n";
    std::set<std::string> pinned;
    for (const auto& s : statuses)
      if (s.pinned) pinned.insert("source:" + s.key);
    for (const auto& p : g.pinners()) out << "  \"" << p << "\" [shape=box, style=bold];\n";
    for (const auto& p : pinned) out << "  \"" << p << "\" [color=red];\n";
    for (const auto& e : g.edges()) out << "  \"" << e.from << "\" -> \"" << e.to << "\";\n";
    out << "}\n";
    return out.str();
  }
  for (const auto& s : statuses) {
    out << s.key << " (" << s.status << ", " << s.tier << "): ";
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
