// lifecycle sweep|status|plan and restore: expiry and long-term storage.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include "cli.hpp"
#include "progress.hpp"

namespace retarget::cli {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// restore --wait: polls the job (ten times a second) for the progress line on
// a terminal, until it is done or failed. The line appears only for a job that
// takes over half a second (most are one manifest edit: milliseconds).
RestoreJobInfo wait_with_progress(Engine& e, const RestoreJobInfo& started) {
  if (!Progress::enabled()) return e.wait_restore(started.id);
  Progress progress("restore job " + std::to_string(started.id), "records", started.total,
                    std::chrono::milliseconds(500));
  RestoreJobInfo info = started;
  while (!finished(info.state)) {
    progress.update(info.moved, info.moved, info.state == JobState::kQueued ? "queued" : "running");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto now = e.restore_job(started.id);
    if (!now.ok()) break;
    info = *now;
  }
  progress.finish();
  return finished(info.state) ? info : e.wait_restore(started.id);
}

void add_sweep(CLI::App* lifecycle, Cli& cli) {
  auto* cmd = lifecycle->add_subcommand("sweep", "expire what is due now");
  auto& format = cli.keep<std::string>() = "text";
  add_format(cmd, format, {"text", "json"});
  add_examples(cmd, {"retarget --data-dir /var/lib/retarget lifecycle sweep"});
  cmd->callback([&] {
    cli.code = cli.run(Access::kWrite, [&](Engine& e) {
      if (Status agreed = cli.partitions->check_agreement(e); !agreed.ok()) return report(agreed);
      auto r = e.sweep();
      if (!r.ok()) return report(r.status());
      *r = cli.partitions->merge(std::move(*r));
      // The sources are hidden already; their bytes move to long-term storage
      // now (the command would otherwise wait for that silently at exit).
      if (!r->expired.empty() || !r->deleted.empty()) {
        Progress progress("moving to long-term storage", "sources", std::nullopt, std::chrono::milliseconds(500));
        Status moved = e.settle([&](std::uint64_t done, std::uint64_t total) {
          progress.set_total(total);
          progress.update(done, done, "");
        });
        progress.finish();
        // The sweep itself is done and durable; a failed move is tried again at the next open.
        if (!moved.ok())
          std::cerr << "warning: " << moved.message() << " (the data is safe where it is; the move is tried again "
                    << "at the next open)\n";
      }
      if (format == "json") {
        std::cout << dump(json{{"expired", r->expired}, {"deleted", r->deleted}, {"records_moved", r->records_moved}})
                  << "\n";
        return kOk;
      }
      for (const auto& s : r->expired) std::cout << "expired " << s << " (moved to long-term storage)\n";
      for (const auto& s : r->deleted) std::cout << "deleted " << s << " (legacy policy)\n";
      if (r->expired.empty() && r->deleted.empty()) std::cout << "nothing is due\n";
      return kOk;
    });
  });
}

json status_json(const SourceStatus& s, const std::optional<std::string>& as_of) {
  const std::string tier(tier_label(s.tier, s.restoring)), action(to_string(s.action));
  json pins = json::array();
  for (const auto& p : s.pinned_by) pins.push_back({{"pinner", p.pinner}, {"path", p.path}});
  json j{{"source", s.key},    {"name", s.name},       {"status", to_string(s.status)},
         {"tier", tier},       {"tags", s.tags},       {"pinned", s.pinned},
         {"pinned_by", pins},  {"records", s.records}, {"last_activity_reason", s.last_activity_reason},
         {"action", action}};
  j["last_activity"] = s.last_activity_ms ? json(time_text(s.last_activity_ms)) : json(nullptr);
  j["due"] = s.due_ms ? json(time_text(s.due_ms)) : json(nullptr);
  j[s.action == SweepAction::kDelete ? "deleted_at" : "expires_at"] =
      s.expires_at_ms ? json(time_text(s.expires_at_ms)) : json(nullptr);
  if (tier == "deleted" || tier == "expired")
    j[tier == "deleted" ? "was_deleted_at" : "expired_at"] =
        s.tier_changed_at_ms ? json(time_text(s.tier_changed_at_ms)) : json(nullptr);
  if (s.deletion_basis_ms) j["last_sent_or_stopped"] = time_text(s.deletion_basis_ms);
  if (as_of) j["as_of"] = *as_of;
  return j;
}

void status_text(const SourceStatus& s, std::ostream& out) {
  const std::string tier(tier_label(s.tier, s.restoring));
  out << s.key << " (" << s.status << "): " << tier << ", " << s.records << " records";
  if (tier == "deleted") {
    out << ", interaction data deleted at " << time_text(s.tier_changed_at_ms) << " (legacy policy)";
  } else if (tier == "expired") {
    out << ", expired at " << time_text(s.tier_changed_at_ms) << " (in long-term storage; "
        << "retarget restore --" << s.kind << " " << s.id << ")";
  } else if (s.pinned) {
    out << ", pinned by";
    for (const auto& p : s.pinned_by) out << " [" << join(p.path, " -> ") << "]";
  } else if (s.expires_at_ms && s.action == SweepAction::kDelete) {
    out << ", deleted at the sweep of " << time_text(s.expires_at_ms) << " (legacy policy: 25 calendar months after "
        << time_text(s.deletion_basis_ms) << ")";
  } else if (s.expires_at_ms) {
    out << ", expires at the sweep of " << time_text(s.expires_at_ms) << " (last activity: "
        << s.last_activity_reason << " " << time_text(s.last_activity_ms) << ")";
  }
  out << "\n";
}

void add_status(CLI::App* lifecycle, Cli& cli) {
  auto* cmd = lifecycle->add_subcommand("status", "per campaign/Canvas: live, expired, restoring; pins; expiry date");
  struct Args {
    std::vector<std::string> ids, tiers, tags, statuses;
    std::string format = "text";
  };
  auto& a = cli.keep<Args>();
  cmd->add_option("ids", a.ids, "campaign or Canvas ids (default: all)");
  cmd->add_option("--tier", a.tiers, "live, expired, restoring or deleted (repeatable)")
      ->check(CLI::IsMember({"live", "expired", "restoring", "deleted"}));
  cmd->add_option("--tag", a.tags, "only sources carrying the tag (repeatable: any of them)");
  cmd->add_option("--status", a.statuses, "draft, active, stopped or archived (repeatable)")
      ->check(CLI::IsMember({"draft", "active", "stopped", "archived"}));
  add_format(cmd, a.format, {"text", "json"});
  add_examples(cmd, {"retarget lifecycle status", "retarget lifecycle status spring_sale --format json",
                     "retarget lifecycle status --tier expired --tag promo"});
  cmd->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      auto list = cli.partitions->merge(e.lifecycle_status(a.ids));
      // Every id asked for must exist: an unknown one is exit 1, with a suggestion.
      std::vector<std::string> known;
      for (const auto& s : e.lifecycle_status()) known.push_back(s.id), known.push_back(s.key);
      for (const auto& id : a.ids)
        if (!contains(known, id))
          return report(Status::NotFound("unknown campaign or Canvas '" + id + "'" + did_you_mean(id, known)));
      json arr = json::array();
      for (const auto& s : list) {
        if (!a.tiers.empty() && !contains(a.tiers, std::string(tier_label(s.tier, s.restoring)))) continue;
        if (!a.statuses.empty() && !contains(a.statuses, std::string(to_string(s.status)))) continue;
        if (!a.tags.empty() &&
            std::none_of(a.tags.begin(), a.tags.end(), [&](const std::string& t) { return contains(s.tags, t); }))
          continue;
        if (a.format == "json") arr.push_back(status_json(s, cli.as_of));
        else status_text(s, std::cout);
      }
      if (a.format == "json") std::cout << dump(arr) << "\n";
      return kOk;
    });
  });
}

void add_plan(CLI::App* lifecycle, Cli& cli) {
  auto* cmd = lifecycle->add_subcommand("plan", "what would expire (or, under legacy, be deleted) by a time");
  struct Args {
    std::string until, format = "text";
  };
  auto& a = cli.keep<Args>();
  cmd->add_option("--until", a.until, "RFC 3339 time")->required();
  add_format(cmd, a.format, {"text", "json"});
  add_examples(cmd, {"retarget lifecycle plan --until 2027-01-01T00:00:00Z"});
  cmd->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      auto until = parse_time_ms(a.until);
      if (!until) {
        std::cerr << "retarget: --until '" << a.until << "' is not an RFC 3339 time\n";
        return kBadInput;
      }
      auto entries = e.lifecycle_plan(*until);
      if (a.format == "json") {
        json arr = json::array();
        for (const auto& p : entries) arr.push_back({{"source", p.source}, {"action", to_string(p.action)}, {"at", time_text(p.at_ms)}});
        std::cout << dump(arr) << "\n";
        return kOk;
      }
      for (const auto& p : entries) std::cout << time_text(p.at_ms) << "  " << p.action << "  " << p.source << "\n";
      if (entries.empty()) std::cout << "nothing would expire by " << a.until << "\n";
      return kOk;
    });
  });
}

json job_json(const RestoreJobInfo& j, const std::optional<std::string>& as_of) {
  json o{{"job", j.id}, {"sources", j.sources}, {"state", to_string(j.state)}, {"moved", j.moved}, {"total", j.total}};
  if (!j.error.empty()) o["error"] = j.error;
  if (!j.not_restored.empty()) o["not_restored"] = j.not_restored;
  if (j.created_at_ms) o["created_at"] = time_text(j.created_at_ms);
  if (j.completed_at_ms) o["completed_at"] = time_text(j.completed_at_ms);
  if (j.moving_total) o["moving"] = {{"moved", j.moving_done}, {"total", j.moving_total}};
  if (as_of) o["as_of"] = *as_of;
  return o;
}

void add_restore(CLI::App& app, Cli& cli) {
  auto* restore = app.add_subcommand("restore", "restore expired data from long-term storage");
  struct Args {
    RestoreRequest request;
    bool wait = false;
    std::string format = "text";
    std::optional<std::uint64_t> job;
  };
  auto& a = cli.keep<Args>();
  restore->add_option("--campaign", a.request.campaigns, "campaign id (repeatable)");
  restore->add_option("--canvas", a.request.canvases, "Canvas id (repeatable)");
  restore->add_option("--tag", a.request.tags, "every expired source carrying the tag (repeatable)");
  restore->add_flag("--wait", a.wait, "wait until the data is live again");
  add_format(restore, a.format, {"text", "json"});
  add_examples(restore, {"retarget restore --campaign spring_sale --wait", "retarget restore --tag promo",
                         "retarget restore status"});

  auto* status = restore->add_subcommand("status", "restore jobs: every recent one, or one by id");
  status->add_option("job", a.job, "job id");
  add_format(status, a.format, {"text", "json"});
  status->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      std::vector<RestoreJobInfo> jobs;
      if (a.job) {
        auto j = e.restore_job(*a.job);
        if (!j.ok()) return report(j.status());
        jobs.push_back(*j);
      } else {
        jobs = e.restore_jobs();
      }
      jobs = cli.partitions->merge(std::move(jobs));
      json arr = json::array();
      for (const auto& j : jobs) {
        arr.push_back(job_json(j, cli.as_of));
        if (a.format == "json") continue;
        std::cout << "restore job " << j.id << " " << j.state << ": " << join(j.sources, ", ") << " (" << j.moved
                  << "/" << j.total << " records)";
        if (j.moving_total && j.moving_done < j.moving_total)
          std::cout << "; bytes moving back: " << j.moving_done << "/" << j.moving_total << " sources";
        if (!j.error.empty()) std::cout << "; " << j.error;
        if (!j.not_restored.empty()) std::cout << "; not restored: " << join(j.not_restored, ", ");
        std::cout << "\n";
      }
      if (a.format == "json") std::cout << dump(a.job ? arr[0] : arr) << "\n";
      else if (jobs.empty()) std::cout << "no restore jobs\n";
      return kOk;
    });
  });

  restore->callback([&, status] {
    if (status->parsed()) return;
    cli.code = cli.run(Access::kWrite, [&](Engine& e) {
      if (a.request.campaigns.empty() && a.request.canvases.empty() && a.request.tags.empty()) {
        std::cerr << "retarget: restore needs --campaign, --canvas or --tag\n";
        return kBadInput;
      }
      if (Status agreed = cli.partitions->check_agreement(e); !agreed.ok()) return report(agreed);
      auto job = cli.partitions->merge(e.restore(a.request));
      if (!job.ok()) return report(job.status());
      RestoreJobInfo info = *job;
      // Every partition's part of the job is done before the job is.
      if (a.wait && info.id) info = *cli.partitions->merge(Result<RestoreJobInfo>(wait_with_progress(e, info)));
      if (a.format == "json") {
        std::cout << dump(json{{"job", info.id}, {"sources", info.sources}, {"state", to_string(info.state)},
                               {"moved", info.moved}, {"total", info.total}})
                  << "\n";
      } else if (info.sources.empty()) {
        std::cout << "nothing to restore: the data is live\n";
      } else {
        std::cout << "restore job " << info.id << " " << info.state << ": " << join(info.sources, ", ") << " ("
                  << info.moved << "/" << info.total << " records)\n";
      }
      return info.state == JobState::kFailed ? kFailed : kOk;
    });
  });
}

}  // namespace

void add_lifecycle_commands(CLI::App& app, Cli& cli) {
  auto* lifecycle = app.add_subcommand("lifecycle", "expiry and long-term storage");
  lifecycle->require_subcommand(1);
  add_sweep(lifecycle, cli);
  add_status(lifecycle, cli);
  add_plan(lifecycle, cli);
  add_restore(app, cli);
}

}  // namespace retarget::cli
