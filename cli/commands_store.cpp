// store check|rebuild|repair|checkpoint: the data directory itself.
#include <iostream>

#include "cli.hpp"
#include "progress.hpp"

namespace retarget::cli {

namespace {

// The replay of `store rebuild` / `repair`: events and log records, with their rate.
void show_replay(EngineOptions& options, Progress& progress) {
  options.on_open_progress = [&progress](const OpenProgress& p) {
    progress.update(p.events, 0, with_thousands(p.records) + " log records");
  };
}

}  // namespace

// rebuild and repair open the directory themselves (Engine::RebuildStore /
// RepairStore), not through Cli::run.
void add_store_commands(CLI::App& app, Cli& cli) {
  auto* store = app.add_subcommand("store", "the data directory");
  store->require_subcommand(1);

  auto* check = store->add_subcommand("check", "verify every checksum and record; where each source's data is (JSON)");
  add_examples(check, {"retarget --data-dir /var/lib/retarget store check"});
  check->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      Progress progress("checking the data directory", "bytes", std::nullopt);
      StoreCheck check = cli.partitions->merge(e.check_store([&](std::uint64_t checked, std::uint64_t total) {
        progress.set_total(total);
        progress.update(checked, checked, "");
      }));
      progress.finish();
      json report_json = json::parse(to_json(check));
      if (cli.as_of) report_json["as_of"] = *cli.as_of;
      std::cout << dump(report_json) << "\n";
      for (const auto& p : check.problems) std::cerr << "retarget: " << p.message << "\n";
      return check.ok() ? kOk : kFailed;
    });
  });

  auto* rebuild = store->add_subcommand(
      "rebuild", "rebuild the index from the raw events kept in the data directory (or convert an earlier release's)");
  add_examples(rebuild, {"retarget --data-dir /var/lib/retarget store rebuild"});
  rebuild->callback([&] {
    EngineOptions options;
    if (!cli.options(options, /*writes=*/true)) {
      cli.code = kBadInput;
      return;
    }
    Progress progress("rebuilding the index", "events", std::nullopt);
    show_replay(options, progress);
    auto r = Engine::RebuildStore(options);
    progress.finish();
    if (!r.ok()) {
      cli.code = report(r.status());
      return;
    }
    if (r->migrated)
      std::cout << "converted the earlier release's data directory; its files are kept in " << r->backup_dir << "\n";
    std::cout << "rebuilt the index from " << r->events << " events, " << r->changes << " catalog and rules changes, "
              << r->sources << " sources' lifecycle states in " << r->seconds << " s\n";
    cli.code = kOk;
  });

  auto* repair = store->add_subcommand(
      "repair", "drop the damaged parts of the log and the raw events (listing exactly what), then rebuild");
  add_examples(repair, {"retarget --data-dir /var/lib/retarget store check   # first: what is damaged",
                        "retarget --data-dir /var/lib/retarget store repair"});
  repair->callback([&] {
    EngineOptions options;
    if (!cli.options(options, /*writes=*/true)) {
      cli.code = kBadInput;
      return;
    }
    Progress progress("rebuilding the index", "events", std::nullopt);
    show_replay(options, progress);
    auto r = Engine::RepairStore(options);
    progress.finish();
    if (!r.ok()) {
      cli.code = report(r.status());
      return;
    }
    for (const auto& d : r->dropped)
      std::cout << "dropped " << d.file << ": bytes " << d.offset << " to " << d.offset + d.length << " (damaged)\n";
    if (r->dropped.empty()) std::cout << "nothing was damaged\n";
    std::cout << r->records_kept << " records kept; the index was rebuilt from them\n";
    cli.code = kOk;
  });

  auto* checkpoint =
      store->add_subcommand("checkpoint", "write a checkpoint now (the next open replays nothing before it)");
  add_examples(checkpoint, {"retarget --data-dir /var/lib/retarget store checkpoint"});
  checkpoint->callback([&] {
    cli.code = cli.run(Access::kWrite, [&](Engine& e) {
      Status s = e.checkpoint();
      if (!s.ok()) return report(s);
      std::cout << "checkpoint written: the next open replays nothing before it\n";
      return kOk;
    });
  });
}

}  // namespace retarget::cli
