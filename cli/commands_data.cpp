// catalog, ingest, rules, campaign|canvas|card: commands that change what is
// stored (and the listings of the catalog and the rules).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli.hpp"
#include "interrupt.hpp"
#include "progress.hpp"

namespace retarget::cli {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

void add_catalog(CLI::App& app, Cli& cli) {
  auto* catalog = app.add_subcommand("catalog", "the catalog: campaigns, Canvases, Content Cards");
  catalog->require_subcommand(1);

  auto* apply = catalog->add_subcommand("apply", "upsert campaigns, Canvases and Content Cards");
  auto& file = cli.keep<std::string>();
  apply->add_option("file", file, "catalog YAML")->required();
  add_examples(apply, {"retarget --data-dir /var/lib/retarget catalog apply catalog.yaml"});
  apply->callback([&] {
    cli.code = cli.run(Access::kWrite, [&](Engine& e) {
      Diagnostics d;
      Status s = e.apply_catalog_file(file, d);
      print_diagnostics(d);
      if (s.ok()) std::cout << "applied " << file << "\n";
      return report(s);
    });
  });

  auto* list = catalog->add_subcommand("list", "campaigns, Canvases and Content Cards, with status, tags and tier");
  struct Args {
    std::vector<std::string> kinds, tags, statuses, tiers;
    std::string format = "text";
  };
  auto& a = cli.keep<Args>();
  list->add_option("--kind", a.kinds, "campaign, canvas or card (repeatable)")
      ->check(CLI::IsMember({"campaign", "canvas", "card"}));
  list->add_option("--tag", a.tags, "only those carrying the tag (repeatable: any of them)");
  list->add_option("--status", a.statuses, "draft, active, stopped or archived (repeatable)")
      ->check(CLI::IsMember({"draft", "active", "stopped", "archived"}));
  list->add_option("--tier", a.tiers, "live, expired, restoring or deleted (repeatable; cards have none)")
      ->check(CLI::IsMember({"live", "expired", "restoring", "deleted"}));
  add_format(list, a.format, {"text", "json"});
  add_examples(list, {"retarget catalog list", "retarget catalog list --tag promo --tier expired",
                      "retarget catalog list --kind campaign --status active --format json"});
  list->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      json arr = json::array();
      for (const auto& c : e.catalog_entries()) {
        const std::string kind(to_string(c.kind)), status(to_string(c.status));
        const std::string tier = c.tier ? std::string(tier_label(*c.tier, c.restoring)) : "";
        if (!a.kinds.empty() && !contains(a.kinds, kind)) continue;
        if (!a.statuses.empty() && !contains(a.statuses, status)) continue;
        if (!a.tiers.empty() && !contains(a.tiers, tier)) continue;
        if (!a.tags.empty() &&
            std::none_of(a.tags.begin(), a.tags.end(), [&](const std::string& t) { return contains(c.tags, t); }))
          continue;
        if (a.format == "json") {
          json o{{"kind", kind}, {"id", c.id}, {"name", c.name}, {"status", status}, {"tags", c.tags}};
          o["tier"] = tier.empty() ? json(nullptr) : json(tier);
          arr.push_back(std::move(o));
        } else {
          std::cout << c.kind << ":" << c.id << "\t" << c.status << "\t" << (tier.empty() ? "-" : tier) << "\t"
                    << (c.tags.empty() ? "-" : join(c.tags, ",")) << "\t" << c.name << "\n";
        }
      }
      if (a.format == "json") std::cout << dump(arr) << "\n";
      return kOk;
    });
  });
}

// "0.42 s (1,234,567 lines/s)".
std::string rate_text(std::uint64_t lines, double seconds) {
  char text[64];
  std::snprintf(text, sizeof text, "%.3f s", seconds);
  std::string out = text;
  if (seconds > 0) out += " (" + with_thousands(static_cast<std::uint64_t>(lines / seconds)) + " lines/s)";
  return out;
}

// Every file must be readable before the first is ingested: a missing one
// is exit 2 with nothing applied.
int check_readable(const std::vector<std::string>& files) {
  int stdin_count = 0;
  for (const auto& f : files) {
    if (f == "-") {
      if (++stdin_count > 1) {
        std::cerr << "retarget: '-' (standard input) can be given once\n";
        return kBadInput;
      }
      continue;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(f, ec)) {
      std::cerr << "retarget: cannot read '" << f << "': it is a directory\n";
      return kBadInput;
    }
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::cerr << "retarget: cannot read '" << f << "': " << std::strerror(errno) << "\n";
      return kBadInput;
    }
  }
  return kOk;
}

void add_ingest(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("ingest", "ingest JSON Lines events from files (- = standard input)");
  struct Args {
    std::vector<std::string> files;
    std::string format = "text";
    IngestOptions options;
    bool ack = false;
  };
  auto& a = cli.keep<Args>();
  cmd->add_option("files", a.files, "events files, or - for standard input")->required();
  add_format(cmd, a.format, {"text", "json"});
  cmd->add_option("--batch", a.options.batch, "events per group commit (default 65536)");
  cmd->add_flag("--ack", a.ack, "print 'durable LINE' on stderr after each group commit");
  add_examples(cmd, {"retarget --data-dir /var/lib/retarget ingest events.jsonl",
                     "retarget ingest day1.jsonl day2.jsonl --format json",
                     "zcat events.jsonl.gz | retarget ingest -"});
  cmd->footer(std::string(cmd->get_footer()) +
              "\nExits 3 when some lines were rejected (each is listed with its line number; the others are durable).\n"
              "Ctrl-C or SIGTERM stops it: what was read is committed, and it exits 1 naming the last durable line\n"
              "and how to ingest the rest (a second Ctrl-C ends it at once; nothing acknowledged is lost either way).\n");
  cmd->callback([&] {
    // Every file must be readable before the first is ingested (where the input is read).
    const int readable = cli.partitions->reads_input() ? check_readable(a.files) : kOk;
    if (!cli.partitions->all_ok(readable == kOk)) {
      cli.code = readable != kOk ? readable : kFailed;
      return;
    }
    cli.code = cli.run(Access::kWrite, [&](Engine& e) {
      json files = json::array(), rejections = json::array();
      IngestReport total;
      // Ctrl-C / SIGTERM: commit what was read, say where to resume.
      StopOnSignal stop;
      std::optional<std::string> interrupted_in;  // the file it stopped in
      for (const auto& file : a.files) {
        std::string name = file == "-" ? "(stdin)" : file;
        if (interrupted_in) {
          std::cerr << "retarget: not ingested (interrupted before it): " << name << "\n";
          continue;
        }
        IngestOptions options = a.options;
        options.stop = stop.flag();
        // Straight to the file descriptor (as the progress line): retarget-mpi holds std::cerr until the
        // command ends, and an acknowledgement is worth something only when it is live.
        if (a.ack)
          options.on_durable = [](std::uint64_t line) {
            std::fprintf(stderr, "durable %llu\n", static_cast<unsigned long long>(line));
            std::fflush(stderr);
          };
        std::optional<std::uint64_t> size;
        std::error_code ec;
        if (file != "-")
          if (auto bytes = std::filesystem::file_size(file, ec); !ec) size = bytes;
        Progress progress(name, "lines", size);
        options.on_progress = [&](const IngestProgress& p) {
          progress.update(p.lines, p.bytes, with_thousands(p.rejected) + " rejected");
        };
        auto r = cli.partitions->ingest(e, file, options);
        progress.finish();
        if (!r.ok()) return report(r.status());
        total.lines += r->lines, total.accepted += r->accepted, total.duplicates += r->duplicates;
        total.rejected += r->rejected, total.seconds += r->seconds;
        json rej = json::array();
        for (const auto& x : r->rejections) {
          rej.push_back({{"line", x.line}, {"reason", x.reason}});
          rejections.push_back({{"file", name}, {"line", x.line}, {"reason", x.reason}});
        }
        json one{{"file", name}, {"lines", r->lines}, {"accepted", r->accepted}, {"duplicates", r->duplicates},
                 {"rejected", r->rejected}, {"rejections", rej}, {"seconds", r->seconds}};
        if (r->interrupted) {
          interrupted_in = name;
          one["interrupted"] = true;
          one["durable_line"] = r->durable_line;
          std::cerr << "retarget: interrupted: every event up to line " << r->durable_line << " of " << name
                    << " is durable (stored or rejected); the rest is not ingested. To finish, ingest from line "
                    << r->durable_line + 1
                    << (file == "-" ? " of the same input" : ": tail -n +" + std::to_string(r->durable_line + 1) +
                                                                 " " + file + " | retarget ingest -")
                    << "\n";
        }
        files.push_back(std::move(one));
        if (a.format != "json") {
          for (const auto& x : r->rejections) std::cerr << name << ":" << x.line << ": rejected: " << x.reason << "\n";
          if (r->rejected > r->rejections.size())
            std::cerr << name << ": " << (r->rejected - r->rejections.size()) << " more rejected line(s) not listed\n";
          if (a.files.size() > 1)
            std::cout << name << ": " << r->accepted << " accepted, " << r->duplicates << " duplicates, "
                      << r->rejected << " rejected\n";
        }
      }
      if (a.format == "json") {
        // The totals at the top (one shape for one file or several); per file under "files".
        json summary{{"lines", total.lines}, {"accepted", total.accepted}, {"duplicates", total.duplicates},
                     {"rejected", total.rejected}, {"rejections", rejections}, {"seconds", total.seconds},
                     {"files", files}};
        if (interrupted_in) summary["interrupted"] = true;
        std::cout << dump(summary) << "\n";
      } else {
        std::cout << (a.files.size() > 1 ? "total: " : "") << total.accepted << " accepted, " << total.duplicates
                  << " duplicates, " << total.rejected << " rejected; " << with_thousands(total.lines) << " lines in "
                  << rate_text(total.lines, total.seconds) << "\n";
      }
      if (interrupted_in) return kFailed;  // not done: the request did not complete
      return total.rejected ? kSomeRejected : kOk;
    });
  });
}

void add_rules(CLI::App& app, Cli& cli) {
  auto* rules = app.add_subcommand("rules", "stored segments");
  rules->require_subcommand(1);

  auto* apply = rules->add_subcommand("apply", "validate and store segments (upsert by id)");
  auto& files = cli.keep<std::vector<std::string>>();
  apply->add_option("files", files, "rule files")->required();
  add_examples(apply, {"retarget --data-dir /var/lib/retarget rules apply rules/*.yaml"});
  apply->callback([&] {
    cli.code = cli.run(Access::kWrite, [&](Engine& e) {
      Diagnostics d;
      RulesChange change;
      Status s = e.load_rules(files, d, /*store=*/true, &change);
      print_diagnostics(d);
      if (s.ok()) {
        std::cout << "stored " << change.added.size() + change.updated.size() << " segment(s) from "
                  << join(files, ", ") << ": " << change.added.size() << " new";
        if (!change.added.empty()) std::cout << " (" << join(change.added, ", ") << ")";
        std::cout << ", " << change.updated.size() << " updated";
        if (!change.updated.empty()) std::cout << " (" << join(change.updated, ", ") << ")";
        std::cout << "; " << e.segment_ids().size() << " stored in total\n";
      }
      return report(s);
    });
  });

  auto* list = rules->add_subcommand("list", "stored segments: id, name, who uses each, what each reads");
  auto& format = cli.keep<std::string>() = "text";
  add_format(list, format, {"text", "json"});
  add_examples(list, {"retarget rules list", "retarget rules list --format json"});
  list->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      json arr = json::array();
      for (const auto& s : e.segments()) {
        if (format == "json") {
          arr.push_back({{"id", s.id}, {"name", s.name}, {"defined_at", s.where.to_string()},
                         {"used_by", s.used_by}, {"reads", s.reads}});
          continue;
        }
        std::cout << s.id << "\t" << s.name << "\n    used by: " << (s.used_by.empty() ? "-" : join(s.used_by, ", "))
                  << "\n    reads: " << (s.reads.empty() ? "-" : join(s.reads, ", ")) << "\n";
      }
      if (format == "json") std::cout << dump(arr) << "\n";
      return kOk;
    });
  });

  auto* remove = rules->add_subcommand("remove", "remove stored segments");
  auto& ids = cli.keep<std::vector<std::string>>();
  remove->add_option("ids", ids, "segment ids")->required();
  add_examples(remove, {"retarget rules remove old_segment"});
  remove->callback([&] {
    cli.code = cli.run(Access::kWrite, [&](Engine& e) {
      std::vector<std::string> known = e.segment_ids();
      for (const auto& id : ids)
        if (!contains(known, id))
          return report(Status::NotFound("unknown segment '" + id + "'" + did_you_mean(id, known)));
      for (const auto& id : ids) {
        Status s = e.remove_segment(id);
        if (!s.ok()) return report(s);
        std::cout << "removed " << id << "\n";
      }
      return kOk;
    });
  });
}

// campaign|canvas|card stop|resume ID...: every id must exist before any
// changes; then each is changed in order, and a refused one (the resume
// guard) is reported while the others still change (exit 1).
void add_status_commands(CLI::App& app, Cli& cli) {
  for (const char* kind_text : {"campaign", "canvas", "card"}) {
    std::string kind = kind_text;
    auto* cmd = app.add_subcommand(kind, "stop or resume " + std::string(kind == "card" ? "Content Cards" : kind == "canvas" ? "Canvases" : "campaigns"));
    cmd->require_subcommand(1);
    for (const char* verb_text : {"stop", "resume"}) {
      std::string verb = verb_text;
      struct Args {
        std::vector<std::string> ids;
        bool restore = false;
      };
      auto& a = cli.keep<Args>();
      auto* sub = cmd->add_subcommand(verb, verb + " them");
      sub->add_option("ids", a.ids, kind + " ids")->required();
      if (verb == "resume")
        sub->add_flag("--restore", a.restore, "restore the expired data each audience needs first");
      add_examples(sub, {"retarget " + kind + " " + verb + " spring_sale" + (verb == "resume" ? " --restore" : ""),
                         "retarget " + kind + " " + verb + " a b c"});
      sub->callback([&cli, &a, kind, verb] {
        cli.code = cli.run(Access::kWrite, [&](Engine& e) {
          const CatalogKind catalog_kind = *parse_catalog_kind(kind);
          std::vector<std::string> known;
          for (const auto& c : e.catalog_entries())
            if (c.kind == catalog_kind) known.push_back(c.id);
          for (const auto& id : a.ids)
            if (!contains(known, id))
              return report(Status::NotFound("unknown " + kind + " '" + id + "'" + did_you_mean(id, known)));
          const CatalogStatus status = verb == "stop" ? CatalogStatus::kStopped : CatalogStatus::kActive;
          int rc = kOk;
          for (const auto& id : a.ids) {
            Status s = e.set_status(catalog_kind, id, status, a.restore);
            if (s.ok()) std::cout << kind << " " << id << ": " << status << "\n";
            else rc = std::max(rc, report(s));
          }
          return rc;
        });
      });
    }
  }
}

}  // namespace

void add_data_commands(CLI::App& app, Cli& cli) {
  add_catalog(app, cli);
  add_ingest(app, cli);
  add_rules(app, cli);
  add_status_commands(app, cli);
}

}  // namespace retarget::cli
