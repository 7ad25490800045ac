// mpi_partitions.hpp: every merge is gather on rank 0, merge there, and one
// shared verdict (ok, or the first failing rank's error) broadcast back, so
// that all processes take the same path out of each merge.
#include "mpi_partitions.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "partition.hpp"
#include "result_codec.hpp"
#include "scatter_ingest.hpp"

namespace retarget::mpi {

namespace {

std::string prefixed(int rank, const std::string& message) { return "rank " + std::to_string(rank) + ": " + message; }

// Appends `from`'s items not in `into` (warnings: the same on most ranks).
void add_new(std::vector<std::string>& into, const std::vector<std::string>& from) {
  for (const auto& w : from)
    if (std::find(into.begin(), into.end(), w) == into.end()) into.push_back(w);
}

// Sorted lists merged into one sorted list.
std::vector<std::string> merge_sorted(std::vector<std::vector<std::string>> lists) {
  std::vector<std::string> out;
  std::size_t total = 0;
  for (const auto& l : lists) total += l.size();
  out.reserve(total);
  std::vector<std::size_t> bounds{0};
  for (auto& l : lists) {
    std::move(l.begin(), l.end(), std::back_inserter(out));
    bounds.push_back(out.size());
  }
  // Pairwise: log P rounds of linear merges.
  for (std::size_t width = 1; width + 1 < bounds.size(); width *= 2)
    for (std::size_t i = 0; i + width + 1 < bounds.size(); i += 2 * width) {
      std::size_t mid = bounds[i + width], last = bounds[std::min(i + 2 * width, bounds.size() - 1)];
      std::inplace_merge(out.begin() + static_cast<std::ptrdiff_t>(bounds[i]),
                         out.begin() + static_cast<std::ptrdiff_t>(mid),
                         out.begin() + static_cast<std::ptrdiff_t>(last));
    }
  return out;
}

// The ids of SegmentResult::member_lines.
std::vector<std::string> split_lines(const std::string& lines) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at < lines.size();) {
    std::size_t nl = lines.find('\n', at);
    if (nl == std::string::npos) nl = lines.size();
    out.emplace_back(lines, at, nl - at);
    at = nl + 1;
  }
  return out;
}

int state_rank(JobState s) {
  switch (s) {
    case JobState::kQueued: return 0;
    case JobState::kRunning: return 1;
    case JobState::kDone: return 2;
    case JobState::kFailed: return 3;
  }
  return 0;
}

// One job as every rank's part of it: done when every part is done.
RestoreJobInfo merge_job(const std::vector<RestoreJobInfo>& parts) {
  RestoreJobInfo out = parts.front();
  out.moved = out.total = 0;
  out.error.clear();
  bool any_failed = false, all_done = true;
  JobState least = JobState::kDone;
  for (std::size_t r = 0; r < parts.size(); ++r) {
    const RestoreJobInfo& p = parts[r];
    // Records add up; the bytes moving back count sources, moved once every rank moved its part.
    out.moved += p.moved, out.total += p.total;
    out.moving_done = std::min(out.moving_done, p.moving_done);
    out.moving_total = std::max(out.moving_total, p.moving_total);
    if (p.state == JobState::kFailed) any_failed = true;
    if (p.state != JobState::kDone) all_done = false;
    if (p.state != JobState::kFailed && state_rank(p.state) < state_rank(least)) least = p.state;
    if (!p.error.empty()) out.error += (out.error.empty() ? "" : "; ") + prefixed(static_cast<int>(r), p.error);
    add_new(out.not_restored, p.not_restored);
    if (p.created_at_ms && (!out.created_at_ms || *p.created_at_ms < *out.created_at_ms)) out.created_at_ms = p.created_at_ms;
    if (p.started_at_ms && (!out.started_at_ms || *p.started_at_ms < *out.started_at_ms)) out.started_at_ms = p.started_at_ms;
    if (p.completed_at_ms && (!out.completed_at_ms || *p.completed_at_ms > *out.completed_at_ms))
      out.completed_at_ms = p.completed_at_ms;
  }
  out.state = any_failed ? JobState::kFailed : all_done ? JobState::kDone : least;
  if (!finished(out.state)) out.completed_at_ms.reset();
  return out;
}

// Every rank's `local` on rank 0 (a merge step): the first failure, named by
// its rank, or every rank's value in `parts` (in rank order).
template <typename T>
Status gather_results(Comm& comm, Result<T>& local, T (*get)(Reader&), std::vector<T>& parts) {
  comm.step(Step::kMerge, true);
  Writer w;
  put(w, local.ok() ? Status::Ok() : local.status());
  if (local.ok()) put(w, *local);
  std::vector<std::string> all = comm.gather(w.bytes());
  Status failed = Status::Ok();
  for (std::size_t r = 0; r < all.size(); ++r) {
    Reader rd(all[r]);
    Status s = get_status(rd);
    if (s.ok()) parts.push_back(get(rd));
    else if (failed.ok()) failed = from_rank(r, s);
  }
  return failed;
}

}  // namespace

Result<std::string> MpiPartitions::data_directory(const std::string& configured, bool writes) {
  return partition_directory(configured, comm_.rank(), comm_.size(), writes);
}

bool MpiPartitions::all_ok(bool ok) {
  bool all = comm_.step(Step::kOpened, ok);
  if (ok && !all) {
    std::cerr << "retarget-mpi: another process failed (its message follows)\n";
    stopped_for_another_ = true;
  }
  return all;
}

Status MpiPartitions::shared_status(const Status& local) {
  Writer w;
  put(w, local);
  std::vector<std::string> all = comm_.gather(w.bytes());
  Writer verdict;
  if (comm_.root()) {
    Status first = Status::Ok();
    for (std::size_t r = 0; r < all.size() && first.ok(); ++r) {
      Reader rd(all[r]);
      Status s = get_status(rd);
      if (!s.ok()) first = from_rank(r, s);
    }
    put(verdict, first);
  }
  std::string bytes = comm_.broadcast(verdict.bytes());
  Reader rd(bytes);
  return get_status(rd);
}

Status MpiPartitions::prepare(Engine& engine) {
  comm_.step(Step::kPrepare, true);
  // Each source's last send is the latest of any rank's users.
  Writer w;
  auto mine = engine.last_sends();
  w.u64(mine.size());
  for (const auto& [key, t] : mine) w.str(key).i64(t);
  std::vector<std::string> all = comm_.gather(w.bytes());
  Writer merged;
  if (comm_.root()) {
    std::map<std::string, std::int64_t> latest;
    for (const auto& bytes : all) {
      Reader r(bytes);
      for (std::uint64_t n = r.u64(); n; --n) {
        std::string key = r.str();
        std::int64_t t = r.i64();
        auto [it, added] = latest.emplace(key, t);
        if (!added && t > it->second) it->second = t;
      }
    }
    merged.u64(latest.size());
    for (const auto& [key, t] : latest) merged.str(key).i64(t);
  }
  std::string bytes = comm_.broadcast(merged.bytes());
  Reader r(bytes);
  std::vector<std::pair<std::string, std::int64_t>> sends;
  for (std::uint64_t n = r.u64(); n; --n) {
    std::string key = r.str();
    sends.emplace_back(std::move(key), r.i64());
  }
  engine.share_last_sends(sends);
  return Status::Ok();
}

Status MpiPartitions::check_agreement(Engine& engine) {
  comm_.step(Step::kAgreement, true);
  // One instant for every rank (clocks differ by milliseconds, or more across
  // hosts): a source due in between would otherwise expire on some ranks only.
  const std::string now = comm_.broadcast(Writer().i64(engine.now_ms()).take());
  Reader clock(now);
  engine.set_now_ms(clock.i64());
  // What decides a sweep or a restore: tiers, pins and expiry, per source.
  std::string digest;
  for (const auto& s : engine.lifecycle_status()) {
    digest += s.key + ' ' + std::string(tier_label(s.tier, s.restoring)) + ' ' + (s.pinned ? "pinned " : "free ");
    for (const auto& p : s.pinned_by) digest += p.pinner + ' ';
    digest += std::to_string(s.due_ms.value_or(-1)) + ' ' + std::to_string(s.expires_at_ms.value_or(-1)) + ' ' +
              std::string(to_string(s.action)) + '\n';
  }
  std::vector<std::string> all = comm_.gather(digest);
  Status verdict = Status::Ok();
  if (comm_.root())
    for (std::size_t r = 1; r < all.size(); ++r)
      if (all[r] != all[0]) {
        verdict = Status::Failed("rank " + std::to_string(r) + " computed other pins or expiry decisions than rank 0 "
                                 "(the catalog or rules differ between the partitions: apply them again with "
                                 "retarget-mpi); nothing was changed");
        break;
      }
  return shared_status(verdict);
}

Result<IngestReport> MpiPartitions::ingest(Engine& engine, const std::string& path, const IngestOptions& options) {
  comm_.step(Step::kIngest, true);
  return scatter_ingest(comm_, engine, path, options);
}

void MpiPartitions::answer_for_user(const std::string& user) {
  answering_rank_ = owner_of(user, comm_.size());
  asked_about_user_ = true;
}

Result<SegmentResult> MpiPartitions::merge(Result<SegmentResult> local, const EvaluateOptions& options) {
  std::vector<SegmentResult> parts;
  Status failed = gather_results(comm_, local, get_segment, parts);
  SegmentResult merged;
  if (comm_.root() && failed.ok()) {
    std::vector<std::vector<std::string>> members;
    bool more = false;
    for (auto& part : parts) {
      if (members.empty()) merged.id = part.id, merged.name = part.name;
      merged.count += part.count;
      add_new(merged.warnings, part.warnings);
      merged.evaluate_ms = std::max(merged.evaluate_ms, part.evaluate_ms);
      merged.compile_ms = std::max(merged.compile_ms, part.compile_ms);
      more = more || !part.next_after.empty();
      if (options.members_as_lines) part.members = split_lines(part.member_lines);
      members.push_back(std::move(part.members));
    }
    merged.members = merge_sorted(std::move(members));
    // A page: the first members_limit of the union; more when any rank had more.
    if (options.members_limit && merged.members.size() > options.members_limit) {
      merged.members.resize(options.members_limit);
      more = true;
    }
    if (more && !merged.members.empty()) merged.next_after = merged.members.back();
    if (options.members_as_lines) {
      for (const auto& id : merged.members) merged.member_lines.append(id).push_back('\n');
      merged.members.clear();
    }
  }
  Status verdict = shared_status(failed);
  if (!verdict.ok()) return verdict;
  if (!comm_.root()) return local;  // only rank 0 prints
  return merged;
}

std::vector<SourceStatus> MpiPartitions::merge(std::vector<SourceStatus> local) {
  comm_.step(Step::kMerge, true);
  Writer w;
  w.u64(local.size());
  for (const auto& s : local) w.str(s.key).u64(s.records);
  std::vector<std::string> all = comm_.gather(w.bytes());
  if (!comm_.root()) return local;
  std::map<std::string, std::uint64_t> records;
  for (std::size_t r = 1; r < all.size(); ++r) {
    Reader rd(all[r]);
    for (std::uint64_t n = rd.u64(); n; --n) {
      std::string key = rd.str();
      records[key] += rd.u64();
    }
  }
  for (auto& s : local) s.records += records[s.key];
  return local;
}

UsersExport MpiPartitions::merge(UsersExport local, const std::vector<std::string>& ids) {
  comm_.step(Step::kMerge, true);
  Writer w;
  w.u64(local.users.size());
  for (const auto& u : local.users) put(w, u);
  w.u64(local.expired_users.size());
  for (const auto& [source, users] : local.expired_users) w.str(source).strings(users);
  std::vector<std::string> all = comm_.gather(w.bytes());
  if (!comm_.root()) return local;
  const int processes = comm_.size();
  std::vector<std::vector<UserProfile>> users(processes);
  std::vector<std::map<std::string, std::vector<std::string>>> expired(processes);
  for (int r = 0; r < processes; ++r) {
    Reader rd(all[r]);
    for (std::uint64_t n = rd.u64(); n; --n) users[r].push_back(get_profile(rd));
    for (std::uint64_t n = rd.u64(); n; --n) {
      std::string source = rd.str();
      expired[r][source] = rd.strings();
    }
  }
  // In the order asked: each id from its owner, which lists its known users
  // in that order (every other rank lists the id as invalid).
  UsersExport out;
  std::vector<std::size_t> next(processes, 0);
  std::vector<std::map<std::string, std::size_t>> next_expired(processes);
  std::set<std::string> sources;
  for (const auto& e : expired)
    for (const auto& entry : e) sources.insert(entry.first);
  for (const auto& id : ids) {
    int r = owner_of(id, processes);
    if (next[r] < users[r].size() && users[r][next[r]].external_id == id) out.users.push_back(std::move(users[r][next[r]++]));
    else out.invalid_user_ids.push_back(id);
    for (const auto& source : sources) {
      auto it = expired[r].find(source);
      if (it == expired[r].end()) continue;
      std::size_t& at = next_expired[r][source];
      if (at < it->second.size() && it->second[at] == id) out.expired_users[source].push_back(id), ++at;
    }
  }
  out.warnings = expired_data_warnings(out.expired_users);
  return out;
}

RecipientsExport MpiPartitions::merge(RecipientsExport local) {
  comm_.step(Step::kMerge, true);
  Writer w;
  w.u64(local.rows.size());
  for (const auto& row : local.rows) put(w, row);
  std::vector<std::string> all = comm_.gather(w.bytes());
  if (!comm_.root()) return local;
  std::vector<RecipientRow> rows;
  for (const auto& bytes : all) {
    Reader rd(bytes);
    for (std::uint64_t n = rd.u64(); n; --n) rows.push_back(get_row(rd));
  }
  // The single-process order (exports.hpp): by step in catalog order (the
  // catalog is the same on every rank), then by external id.
  std::map<std::string, std::size_t> step_at;
  for (const auto& s : local.steps) step_at.emplace(s, step_at.size());
  std::sort(rows.begin(), rows.end(), [&](const RecipientRow& a, const RecipientRow& b) {
    std::size_t sa = step_at[a.step], sb = step_at[b.step];
    return sa != sb ? sa < sb : a.external_id < b.external_id;
  });
  local.rows = std::move(rows);
  return local;
}

AnalyticsReport MpiPartitions::merge(AnalyticsReport local) {
  comm_.step(Step::kMerge, true);
  Writer w;
  w.u64(local.sends).u64(local.unique_recipients).u64(local.opens).u64(local.clicks).u64(local.conversions);
  w.u64(local.control_size);
  std::vector<std::string> all = comm_.gather(w.bytes());
  if (!comm_.root()) return local;
  AnalyticsReport out;
  out.source = local.source;
  // Every count adds up: each user is counted on one rank only.
  for (const auto& bytes : all) {
    Reader r(bytes);
    out.sends += r.u64(), out.unique_recipients += r.u64(), out.opens += r.u64(), out.clicks += r.u64();
    out.conversions += r.u64(), out.control_size += r.u64();
  }
  return out;
}

SweepReport MpiPartitions::merge(SweepReport local) {
  comm_.step(Step::kMerge, true);
  std::vector<std::string> all = comm_.gather(Writer().u64(local.records_moved).take());
  if (!comm_.root()) return local;
  local.records_moved = 0;
  for (const auto& bytes : all) {
    Reader r(bytes);
    local.records_moved += r.u64();
  }
  return local;
}

Result<RestoreJobInfo> MpiPartitions::merge(Result<RestoreJobInfo> local) {
  std::vector<RestoreJobInfo> parts;
  Status failed = gather_results(comm_, local, get_job, parts);
  RestoreJobInfo merged;
  if (comm_.root() && failed.ok()) merged = merge_job(parts);
  Status verdict = shared_status(failed);
  if (!verdict.ok()) return verdict;
  if (!comm_.root()) return local;
  return merged;
}

std::vector<RestoreJobInfo> MpiPartitions::merge(std::vector<RestoreJobInfo> local) {
  comm_.step(Step::kMerge, true);
  Writer w;
  w.u64(local.size());
  for (const auto& j : local) put(w, j);
  std::vector<std::string> all = comm_.gather(w.bytes());
  if (!comm_.root()) return local;
  std::map<std::uint64_t, std::vector<RestoreJobInfo>> parts;
  for (const auto& bytes : all) {
    Reader r(bytes);
    for (std::uint64_t n = r.u64(); n; --n) {
      RestoreJobInfo j = get_job(r);
      parts[j.id].push_back(std::move(j));
    }
  }
  for (auto& j : local) j = merge_job(parts[j.id]);
  return local;
}

StoreCheck MpiPartitions::merge(StoreCheck local) {
  comm_.step(Step::kMerge, true);
  Writer w;
  put(w, local);
  std::vector<std::string> all = comm_.gather(w.bytes());
  if (!comm_.root()) return local;
  for (std::size_t r = 1; r < all.size(); ++r) {
    Reader rd(all[r]);
    StoreCheck part = get_check(rd);
    local.durable = local.durable && part.durable;
    local.events += part.events;
    for (const auto& s : part.sources) {
      auto it = std::find_if(local.sources.begin(), local.sources.end(),
                             [&](const StoreCheck::Source& x) { return x.key == s.key; });
      if (it == local.sources.end()) {
        local.sources.push_back(s);
        continue;
      }
      it->records += s.records;
      it->move_pending = it->move_pending || s.move_pending;
      if (it->columns_in != s.columns_in) it->columns_in += " (rank 0), " + s.columns_in + " (rank " + std::to_string(r) + ")";
    }
    for (auto p : part.problems) {
      p.message = prefixed(static_cast<int>(r), p.message);
      local.problems.push_back(std::move(p));
    }
    if (part.bytes) {
      StoreCheck::Bytes b = local.bytes.value_or(StoreCheck::Bytes{});
      b.tables += part.bytes->tables, b.archive += part.bytes->archive, b.events += part.bytes->events;
      b.wal += part.bytes->wal;
      local.bytes = b;
    }
  }
  return local;
}

}  // namespace retarget::mpi
