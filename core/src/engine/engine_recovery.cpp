// What the log and the checkpoints hold, and how opening puts it back: the
// appliers here change memory for one record each, and both the live path
// (after logging the record) and replay call them, so a restart derives
// exactly what the running engine had. In particular each event is applied
// with the catalog of its place in the log (catalog changes are records of
// the same log), so a later catalog change never rewrites earlier facts.
#include <nlohmann/json.hpp>

#include <cstring>
#include <iostream>

#include "engine/engine_impl.hpp"
#include "index/index.hpp"
#include "store/event_codec.hpp"

namespace retarget {

using nlohmann::json;

namespace {

Tier tier_of(const std::string& s) { return parse_tier(s).value_or(Tier::kLive); }

}  // namespace

json Engine::Impl::job_json(const RestoreJobInfo& i) {
  json j{{"id", i.id},          {"sources", i.sources}, {"state", to_string(i.state)},       {"moved", i.moved},
         {"total", i.total},    {"error", i.error},     {"not_restored", i.not_restored},
         {"moving_done", i.moving_done}, {"moving_total", i.moving_total}};
  if (i.created_at_ms) j["created_at"] = *i.created_at_ms;
  if (i.started_at_ms) j["started_at"] = *i.started_at_ms;
  if (i.completed_at_ms) j["completed_at"] = *i.completed_at_ms;
  return j;
}

RestoreJobInfo Engine::Impl::job_from_json(const json& j) {
  RestoreJobInfo i;
  i.id = j.value("id", std::uint64_t{0});
  i.sources = j.value("sources", std::vector<std::string>{});
  i.state = parse_job_state(j.value("state", std::string("queued"))).value_or(JobState::kQueued);
  i.moved = j.value("moved", std::uint64_t{0});
  i.total = j.value("total", std::uint64_t{0});
  i.error = j.value("error", std::string());
  i.not_restored = j.value("not_restored", std::vector<std::string>{});
  i.moving_done = j.value("moving_done", std::uint64_t{0});
  i.moving_total = j.value("moving_total", std::uint64_t{0});
  if (j.contains("created_at")) i.created_at_ms = j["created_at"].get<std::int64_t>();
  if (j.contains("started_at")) i.started_at_ms = j["started_at"].get<std::int64_t>();
  if (j.contains("completed_at")) i.completed_at_ms = j["completed_at"].get<std::int64_t>();
  return i;
}

bool apply_catalog_change(Catalog& catalog, const json& op, Diagnostics& d) {
  std::string kind = op.value("op", "");
  if (kind == "catalog") {
    catalog.apply_text(op.value("text", ""), op.value("name", "catalog"), d);
    return true;
  }
  if (kind == "status") {
    if (auto status = parse_catalog_status(op.value("status", "")))
      catalog.set_status(op.value("kind", ""), op.value("id", ""), *status, op.value("at", sdk::kNoTime));
    return true;
  }
  return false;
}

Status Engine::Impl::apply_meta(const json& op, Diagnostics* diags) {
  std::string kind = op.value("op", "");
  Diagnostics local;
  Diagnostics& d = diags ? *diags : local;
  std::size_t before = d.error_count();
  if (apply_catalog_change(catalog, op, d)) {
  } else if (kind == "rules") {
    RuleSet added;
    added.add_text(op.value("text", ""), op.value("name", "rules"), config.limits, d);
    added.clear_duplicates();
    rules.upsert(added);
  } else if (kind == "remove_segment") {
    rules.remove(op.value("id", ""));
  } else {
    return Status::IoError("an unknown change in the log: '" + kind + "'");
  }
  if (d.error_count() > before) return Status::IoError("a logged change does not apply: " + d.to_string());
  return Status::Ok();
}

void Engine::Impl::apply_lifecycle(const json& j) {
  std::string key = j.value("source", "");
  SourceLifecycle& st = lifecycle[key];
  Tier before = st.tier;
  st.tier = tier_of(j.value("tier", "live"));
  st.restored_at = j.value("restored_at", sdk::kNoTime);
  st.pin_released_at = j.value("pin_released_at", sdk::kNoTime);
  st.tier_changed_at = j.value("tier_changed_at", sdk::kNoTime);
  if (st.tier == Tier::kDeleted && before != Tier::kDeleted) builder.erase_source(key);
  if (st.tier != Tier::kDeleted && before == Tier::kDeleted) builder.revive_source(key);
  builder.set_archived(key, st.tier == Tier::kExpired);
}

void Engine::Impl::apply_job(const json& j) {
  RestoreJobInfo info = job_from_json(j);
  next_job_id = std::max(next_job_id, info.id + 1);
  jobs[info.id].info = std::move(info);
}

Status Engine::Impl::apply_events(std::string_view in) {
  std::int64_t at = 0;
  bool ok = decode_event_batch(in, at, [&](const Event& e, const HashSet128::Key& h) REQUIRES(writer_mu) {
    next_seq = std::max(next_seq, e.seq + 1);
    builder.add_replayed(e, catalog, h);
  });
  if (!ok) return Status::IoError("an events record in the log does not decode");
  as_of_ms = std::max(as_of_ms, at);
  return Status::Ok();
}

json Engine::Impl::checkpoint_state() const {
  json j;
  j["next_seq"] = next_seq;
  j["next_job_id"] = next_job_id;
  j["meta_ops"] = meta_ops;
  j["lifecycle"] = json::object();
  for (const auto& [key, st] : lifecycle)
    j["lifecycle"][key] = {{"tier", to_string(st.tier)},
                           {"restored_at", st.restored_at},
                           {"pin_released_at", st.pin_released_at},
                           {"tier_changed_at", st.tier_changed_at}};
  // The recent jobs (their records), newest last.
  j["jobs"] = json::array();
  std::size_t skip = jobs.size() > 1000 ? jobs.size() - 1000 : 0;
  for (const auto& [id, job] : jobs) {
    if (skip > 0 && (--skip, job.info.state == JobState::kDone || job.info.state == JobState::kFailed)) continue;
    j["jobs"].push_back(job_json(job.info));
  }
  return j;
}

namespace {

// Hands the data directory's content to the engine's memory.
class EngineLoader final : public store::Loader {
 public:
  explicit EngineLoader(Engine::Impl& impl) : impl_(impl) {}

  Status engine_state(const json& j) override NO_THREAD_SAFETY_ANALYSIS {
    if (j.is_null() || j.empty()) return Status::Ok();
    try {
      impl_.next_seq = j.value("next_seq", std::uint64_t{1});
      impl_.next_job_id = j.value("next_job_id", std::uint64_t{1});
      for (const auto& op : j["meta_ops"]) {
        Status s = impl_.apply_meta(op, nullptr);
        if (!s.ok()) return s;
        impl_.meta_ops.push_back(op);
      }
      for (const auto& [key, st] : j["lifecycle"].items()) {
        json rec = st;
        rec["source"] = key;
        impl_.apply_lifecycle(rec);
      }
      for (const auto& job : j["jobs"]) impl_.apply_job(job);
    } catch (const json::exception& e) {
      return Status::IoError(std::string("the checkpoint's engine state does not read: ") + e.what());
    }
    return Status::Ok();
  }
  void user(std::shared_ptr<const void> owner, std::string_view id, std::uint16_t bucket) override
      NO_THREAD_SAFETY_ANALYSIS {
    impl_.builder.install_user(std::move(owner), id, bucket);
  }
  Status column(const ColumnImage& c) override NO_THREAD_SAFETY_ANALYSIS {
    impl_.builder.install_column(c);
    return Status::Ok();
  }
  void source(const SourceImage& s) override NO_THREAD_SAFETY_ANALYSIS { impl_.builder.install_source(s); }
  void analytics(const std::string& key, SourceAnalytics a) override NO_THREAD_SAFETY_ANALYSIS {
    impl_.builder.install_analytics(key, std::move(a));
  }
  Status record(store::RecordType type, std::string_view payload, store::LogPosition end) override
      NO_THREAD_SAFETY_ANALYSIS {
    Status s = apply(type, payload, end);
    if (s.ok() && impl_.on_open_progress) impl_.on_open_progress({++records_, impl_.builder.event_count()});
    return s;
  }

 private:
  Status apply(store::RecordType type, std::string_view payload, store::LogPosition) NO_THREAD_SAFETY_ANALYSIS {
    switch (type) {
      case store::RecordType::kEvents:
        return impl_.apply_events(payload);
      case store::RecordType::kMeta:
      case store::RecordType::kLifecycle:
      case store::RecordType::kJob: {
        auto j = json::parse(payload, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return Status::IoError("a log record is not JSON");
        impl_.as_of_ms = std::max(impl_.as_of_ms, j.value("logged_at", std::int64_t{0}));
        try {
          if (type == store::RecordType::kMeta) {
            Status s = impl_.apply_meta(j, nullptr);
            if (!s.ok()) return s;
            impl_.meta_ops.push_back(j);
          } else if (type == store::RecordType::kLifecycle) {
            impl_.apply_lifecycle(j);
          } else {
            impl_.apply_job(j);
          }
        } catch (const json::exception& e) {
          return Status::IoError(std::string("a log record does not read: ") + e.what());
        }
        return Status::Ok();
      }
      case store::RecordType::kResidue: {
        Residue residue;
        if (!decode_residue(payload, residue)) return Status::IoError("a residue record does not decode");
        impl_.builder.apply_residue(residue);
        return Status::Ok();
      }
    }
    return Status::IoError("a log record of an unknown type " + std::to_string(static_cast<int>(type)));
  }

  Engine::Impl& impl_;
  std::uint64_t records_ = 0;
};

}  // namespace

Status Engine::Impl::recover(bool rebuild_all) {
  EngineLoader loader(*this);
  Status s = data->load(loader, rebuild_all);
  if (!s.ok()) return s;
  as_of_ms = std::max(as_of_ms, data->as_of_ms());
  store::DataDir* dir = data.get();
  builder.set_dedup_loader([dir](HashSet128& set) { return dir->load_hashes(set); }, data->persisted_hashes());
  // Sources whose bytes are in long-term storage: their users (for the
  // expired-data warnings); a source that is live again although its bytes
  // are still archived (a crash after its restore): read it back now.
  for (const auto& key : data->archived_sources()) {
    auto it = lifecycle.find(key);
    Tier tier = it == lifecycle.end() ? Tier::kLive : it->second.tier;
    if (tier == Tier::kLive) {
      auto columns = data->load_archive(key);
      if (!columns.ok()) return columns.status();
      builder.install_restored(key, *columns);
      if (!read_only) to_move.insert(key);
    } else if (tier == Tier::kExpired) {
      auto users = data->archived_users(key);
      if (!users.ok()) return users.status();
      builder.set_archived_users(key, std::make_shared<const Roaring>(std::move(users).value()));
    } else if (!read_only) {
      to_move.insert(key);  // deleted: the archive file goes
    }
  }
  // Expired sources still in memory: their bytes must move.
  if (!read_only)
    for (const auto& [key, st] : lifecycle)
      if (st.tier == Tier::kExpired && builder.source_columns_resident(key)) to_move.insert(key);
  // Segments' references, the graph, the first Version (deltas merged: the
  // smallest form for reading).
  std::map<std::string, References> refs;
  Diagnostics d;
  // Only the references are needed here: the stored rules were valid when they
  // were stored, and a rule that no longer is (a plugin gone) reports its error
  // when it is evaluated.
  (void)validate(catalog, rules, d, &refs);
  segment_refs = std::move(refs);
  sync_graph(nullptr);
  graph.take_released();
  builder.compact();
  publish(true);
  // Jobs a crash interrupted resume (queued or running: restoring is idempotent).
  for (auto& [id, job] : jobs)
    if (job.info.state == JobState::kQueued || job.info.state == JobState::kRunning) {
      job.info.state = JobState::kQueued;
      if (!read_only) job_queue.push_back(id);
    }
  if (!job_queue.empty()) worker = std::thread([this] { run_worker(); });
  return Status::Ok();
}

}  // namespace retarget
