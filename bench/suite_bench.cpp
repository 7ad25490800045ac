// The engine's side of the peer comparison (bench/run.sh): durable ingest of a
// generated data set, reopening the data directory, the suite's evaluation
// times, what each plan reads against the machine's memory bandwidth, resident
// bytes per interaction fact, and ingest-to-visible latency under load.
//
//   build/release/bin/retarget_suite_bench --data DIR --suite bench/suite.yaml --out OUT
//       [--store DIR] [--reps 7] [--freshness 200] [--load-records 0 --load-seconds 15]
//       [--reuse-store] [--only ID,ID...]
//
// --reuse-store skips the durable ingest when the store already holds a data
// directory from an earlier run on the same data (for iterating on evaluation;
// the ingest figures are then absent from ours.json). --only times just the
// named segments (for profiling one of them).
//
// Writes OUT/ours.json and OUT/ours/<segment>.ids (sorted external ids), which
// bench/peers/compare.mjs checks against the peers' member sets.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "retarget/engine.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using retarget::Engine;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

std::uint64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "retarget_suite_bench: " << what << "\n";
  std::exit(1);
}

template <typename T>
T must(retarget::Result<T> r, const std::string& what) {
  if (!r.ok()) fail(what + ": " + r.status().message());
  return std::move(r.value());
}

std::unique_ptr<Engine> open_engine(const std::string& store, std::int64_t now, unsigned threads) {
  retarget::EngineOptions o;
  o.data_dir = store;
  // The plugins beside the binary (<bin>/../lib/retarget/plugins), as for `retarget`.
  o.default_plugin_dirs = true;
  o.now_ms = now;
  if (threads) o.threads = threads;
  return must(Engine::Open(o), "open " + store);
}

// Streaming read bandwidth of this machine: every thread sums its own slice
// of a buffer far larger than the caches; the best of a few passes.
double memory_bandwidth_gbs(unsigned threads) {
  const std::size_t bytes = std::size_t{1} << 30;
  std::vector<std::uint64_t> buf(bytes / 8);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = i;
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    std::atomic<std::uint64_t> sink{0};
    auto t = Clock::now();
    std::vector<std::thread> pool;
    for (unsigned k = 0; k < threads; ++k)
      pool.emplace_back([&, k] {
        std::size_t n = buf.size() / threads, b = k * n;
        std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (std::size_t i = b; i + 3 < b + n; i += 4) s0 += buf[i], s1 += buf[i + 1], s2 += buf[i + 2], s3 += buf[i + 3];
        sink += s0 + s1 + s2 + s3;
      });
    for (auto& th : pool) th.join();
    best = std::max(best, static_cast<double>(bytes) / (ms_since(t) / 1000) / 1e9);
    if (sink.load() == 42) std::puts("");  // keeps the sums alive
  }
  return best;
}

std::vector<std::string> suite_segments(Engine& engine, const std::string& suite) {
  retarget::Diagnostics diags;
  if (!engine.load_rules({suite}, diags, false).ok()) {
    std::ostringstream s;
    for (const auto& d : diags.items()) s << d.to_string() << "\n";
    fail("the suite does not validate:\n" + s.str());
  }
  // The suite's order, as written (segment_ids() is sorted).
  std::vector<std::string> ids;
  std::ifstream f(suite);
  for (std::string line; std::getline(f, line);) {
    auto p = line.find("- id: ");
    if (p != std::string::npos) ids.push_back(line.substr(p + 6));
  }
  return ids;
}

// Ingest-to-visible latency: while a background thread ingests at a steady
// rate, one event at a time is ingested for a new user and the next
// evaluation that starts after the acknowledgement must already count it.
nlohmann::json freshness(Engine& engine, std::int64_t now, int samples) {
  retarget::Diagnostics diags;
  std::string rules =
      "version: 1\nsegments:\n  - {id: fresh_probe, match: {received_campaign: {campaign: c239}}}\n";
  if (!engine.load_rules_text(rules, "freshness", diags, false).ok()) fail("freshness probe rules");
  std::string when = retarget::format_time_ms(now - 1000);
  // Ids unique to this run, so that a reused store (--reuse-store) gets new users again.
  const std::string run = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> background{0};
  std::thread load([&] {  // ~20k events/s on other sources, 200-event batches
    for (int batch = 0; !stop; ++batch) {
      std::string text;
      for (int i = 0; i < 200; ++i)
        text += "{\"time\":\"" + when + "\",\"user\":\"load" + run + "_" + std::to_string(batch) + "_" + std::to_string(i) +
                "\",\"type\":\"received\",\"campaign\":\"c238\",\"channel\":\"push\"}\n";
      auto r = engine.ingest_text(text);
      if (r.ok()) background += r->accepted;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  std::vector<double> ack_ms, visible_ms;
  int seen_first = 0;
  std::uint64_t before = must(engine.evaluate("fresh_probe", false), "freshness probe").count;
  for (int i = 0; i < samples; ++i) {
    std::string line = "{\"time\":\"" + when + "\",\"user\":\"fresh" + run + "_" + std::to_string(i) +
                       "\",\"type\":\"received\",\"campaign\":\"c239\",\"channel\":\"push\"}\n";
    auto t = Clock::now();
    auto r = must(engine.ingest_text(line), "freshness ingest");
    ack_ms.push_back(ms_since(t));
    auto result = must(engine.evaluate("fresh_probe", false), "freshness probe");
    visible_ms.push_back(ms_since(t));
    if (r.accepted == 1 && result.count == before + 1) ++seen_first;
    before = result.count;
  }
  stop = true;
  load.join();
  std::printf("freshness under a steady load (%llu background events): ingest-to-visible p50 %.2f ms, p99 %.2f ms "
              "(ack p50 %.2f ms); seen by the first evaluation after the ack: %d/%d\n",
              static_cast<unsigned long long>(background.load()), percentile(visible_ms, 0.5),
              percentile(visible_ms, 0.99), percentile(ack_ms, 0.5), seen_first, samples);
  return {{"samples", samples},       {"visible_p50_ms", percentile(visible_ms, 0.5)},
          {"visible_p99_ms", percentile(visible_ms, 0.99)}, {"ack_p50_ms", percentile(ack_ms, 0.5)},
          {"seen_by_next_evaluation", seen_first}, {"background_events", background.load()}};
}

// Readers under writers: the suite's evaluation latency while a restore of a
// source with `records` records, sweeps and a steady ingest of ~20k events/s
// run, against the same suite idle, in the same run. The source is ingested
// and expired first (its bytes in long-term storage); the load phase
// restores it (queryable, then the bytes move back), sweeps every half
// second and ingests 200 events every 10 ms, for at least `seconds`.
nlohmann::json under_load(Engine& engine, const std::vector<std::string>& ids, std::int64_t now, std::size_t records,
                          double seconds) {
  retarget::Diagnostics diags;
  if (!engine.apply_catalog_text("version: 1\ncampaigns:\n"
                                 "  - {id: load_big, status: stopped, stopped_at: 2025-01-01T00:00:00Z}\n"
                                 "  - {id: load_stream, status: active}\n",
                                 "load catalog", diags).ok())
    fail("the load phase's catalog");
  auto t = Clock::now();
  for (std::size_t first = 0; first < records; first += 500000) {
    std::string text;
    char line[200];
    for (std::size_t i = first; i < std::min(records, first + 500000); ++i) {
      std::snprintf(line, sizeof line,
                    "{\"time\":\"2024-12-%02zuT10:00:00Z\",\"user\":\"lb%zu\",\"type\":\"received\","
                    "\"campaign\":\"load_big\",\"channel\":\"email\"}\n",
                    1 + i % 28, i);
      text += line;
    }
    must(engine.ingest_text(text), "load phase ingest");
  }
  if (!engine.checkpoint().ok()) fail("load phase checkpoint");
  auto swept = must(engine.sweep(), "load phase sweep");
  if (!engine.settle().ok()) fail("load phase: moving the expired bytes");
  std::printf("load phase set-up: %zu records of load_big ingested and expired (%zu sources expired) in %.1f s\n",
              records, swept.expired.size(), ms_since(t) / 1000);

  auto pass = [&](std::map<std::string, std::vector<double>>& per, std::vector<double>& all) {
    for (const auto& id : ids) {
      auto t0 = Clock::now();
      must(engine.evaluate(id, false), "evaluate " + id);
      double ms = ms_since(t0);
      per[id].push_back(ms);
      all.push_back(ms);
    }
  };
  std::map<std::string, std::vector<double>> idle, loaded;
  std::vector<double> idle_all, loaded_all;
  auto idle_start = Clock::now();
  while (ms_since(idle_start) < seconds * 1000) pass(idle, idle_all);

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> ingested{0}, sweeps{0};
  std::string when = retarget::format_time_ms(now - 1000);
  std::thread ingest([&] {
    // 200 events every 10 ms on a fixed schedule: 20k events/s however long a batch takes.
    auto next = Clock::now();
    for (int batch = 0; !stop; ++batch) {
      std::string text;
      for (int i = 0; i < 200; ++i)
        text += "{\"time\":\"" + when + "\",\"user\":\"ls" + std::to_string(batch) + "_" + std::to_string(i) +
                "\",\"type\":\"received\",\"campaign\":\"load_stream\",\"channel\":\"push\"}\n";
      auto r = engine.ingest_text(text);
      if (r.ok()) ingested += r->accepted;
      next += std::chrono::milliseconds(10);
      std::this_thread::sleep_until(next);
    }
  });
  std::thread sweeper([&] {
    while (!stop) {
      if (engine.sweep().ok()) ++sweeps;
      for (int i = 0; i < 50 && !stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  double queryable_ms = 0, moved_ms = 0;
  std::atomic<bool> restored{false};
  std::string restore_failure;  // written by the restorer, read after it is joined
  std::thread restorer([&] {
    auto t0 = Clock::now();
    auto job = engine.restore({{"load_big"}, {}, {}});
    if (!job.ok()) {
      restore_failure = job.status().message();
    } else if (auto info = engine.wait_restore(job->id); info.state != retarget::JobState::kDone) {
      restore_failure = "restore job " + std::to_string(info.id) + ": " + info.error;
    }
    queryable_ms = ms_since(t0);
    retarget::Status moved = engine.settle();
    if (!moved.ok() && restore_failure.empty()) restore_failure = "moving the bytes back: " + moved.message();
    moved_ms = ms_since(t0);
    restored = true;
  });
  auto load_start = Clock::now();
  while (!restored || ms_since(load_start) < seconds * 1000) pass(loaded, loaded_all);
  double load_s = ms_since(load_start) / 1000;
  stop = true;
  ingest.join();
  sweeper.join();
  restorer.join();
  if (!restore_failure.empty()) std::fprintf(stderr, "readers under writers: the restore failed: %s\n", restore_failure.c_str());

  double idle_p99 = percentile(idle_all, 0.99), load_p99 = percentile(loaded_all, 0.99);
  double worst = 0;
  std::string worst_id;
  nlohmann::json segments;
  for (const auto& id : ids) {
    double r = percentile(loaded[id], 0.99) / std::max(1e-6, percentile(idle[id], 0.99));
    segments[id] = {{"idle_p99_ms", percentile(idle[id], 0.99)}, {"load_p99_ms", percentile(loaded[id], 0.99)}};
    if (r > worst) worst = r, worst_id = id;
  }
  std::printf("readers under writers (%.0f s: a %zu-record restore, queryable after %.0f ms, bytes moved after %.0f ms; "
              "%llu sweeps; %llu events ingested = %.0f events/s): evaluation p99 idle %.2f ms, under load %.2f ms = "
              "%.2fx idle (%zu and %zu evaluations; the worst segment %s %.2fx)\n",
              load_s, records, queryable_ms, moved_ms, static_cast<unsigned long long>(sweeps.load()),
              static_cast<unsigned long long>(ingested.load()), ingested.load() / load_s, idle_p99, load_p99,
              load_p99 / std::max(1e-6, idle_p99), idle_all.size(), loaded_all.size(), worst_id.c_str(), worst);
  return {{"records", records},
          {"seconds", load_s},
          {"restore_queryable_ms", queryable_ms},
          {"restore_error", restore_failure},
          {"restore_moved_ms", moved_ms},
          {"sweeps", sweeps.load()},
          {"ingested", ingested.load()},
          {"idle_p99_ms", idle_p99},
          {"load_p99_ms", load_p99},
          {"p99_ratio", load_p99 / std::max(1e-6, idle_p99)},
          {"worst_segment", worst_id},
          {"worst_segment_ratio", worst},
          {"segments", segments}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string data, suite = "bench/suite.yaml", out, store, only;
  int reps = 7, fresh_samples = 200;
  unsigned threads = 0;
  std::size_t load_records = 0;
  double load_seconds = 15;
  bool reuse_store = false;
  for (int i = 1; i < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--reuse-store") {
      reuse_store = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) fail("option " + a + " needs a value");
    if (a == "--data") data = argv[i + 1];
    else if (a == "--suite") suite = argv[i + 1];
    else if (a == "--out") out = argv[i + 1];
    else if (a == "--store") store = argv[i + 1];
    else if (a == "--only") only = "," + std::string(argv[i + 1]) + ",";
    else if (a == "--reps") reps = std::stoi(argv[i + 1]);
    else if (a == "--freshness") fresh_samples = std::stoi(argv[i + 1]);
    else if (a == "--load-records") load_records = std::stoull(argv[i + 1]);
    else if (a == "--load-seconds") load_seconds = std::stod(argv[i + 1]);
    else if (a == "--threads") threads = static_cast<unsigned>(std::stoul(argv[i + 1]));
    else fail("unknown option " + a);
  }
  if (data.empty() || out.empty()) fail("usage: --data DIR --out OUT [--suite F] [--store DIR] [--reps N]");
  if (store.empty()) store = (fs::path(out) / "store").string();
  nlohmann::json manifest = nlohmann::json::parse(std::ifstream(fs::path(data) / "manifest.json"));
  std::int64_t now = manifest.at("now_ms");
  reuse_store = reuse_store && fs::exists(fs::path(store));
  if (!reuse_store) fs::remove_all(store);
  fs::create_directories(fs::path(out) / "ours");
  nlohmann::json report;
  report["manifest"] = manifest;
  unsigned hw = std::thread::hardware_concurrency();
  std::printf("machine: %u hardware threads\n", hw);

  // 1. Durable ingest of the JSONL file into a fresh data directory.
  if (reuse_store) {
    std::printf("durable ingest: skipped (--reuse-store %s)\n", store.c_str());
  } else {
    auto engine = open_engine(store, now, threads);
    retarget::Diagnostics diags;
    if (!engine->apply_catalog_file((fs::path(data) / "catalog.yaml").string(), diags).ok()) fail("catalog");
    auto t = Clock::now();
    auto r = must(engine->ingest_file((fs::path(data) / "events.jsonl").string()), "ingest");
    double s = ms_since(t) / 1000;
    if (r.rejected) fail("the engine rejected " + std::to_string(r.rejected) + " generated events: " +
                         (r.rejections.empty() ? "" : r.rejections[0].reason));
    std::printf("durable ingest: %llu events (%llu duplicates) in %.1f s = %.0f events/s\n",
                static_cast<unsigned long long>(r.accepted), static_cast<unsigned long long>(r.duplicates), s,
                r.lines / s);
    report["ingest"] = {{"events", r.accepted}, {"duplicates", r.duplicates}, {"seconds", s}, {"events_per_s", r.lines / s}};
  }

  // 2. Open the data directory and answer the first query.
  std::uint64_t rss_before_open = rss_bytes();
  auto t_open = Clock::now();
  auto engine = open_engine(store, now, threads);
  auto ids = suite_segments(*engine, suite);
  auto first = must(engine->evaluate(ids.front(), false), "first query");
  double open_s = ms_since(t_open) / 1000;
  std::printf("open the data directory and answer the first query: %.1f s (%s: %llu members)\n", open_s,
              ids.front().c_str(), static_cast<unsigned long long>(first.count));
  report["open_first_query_s"] = open_s;

  // 3. Resident size.
  auto mem = engine->memory_stats();
  std::uint64_t rss = rss_bytes();
  double index_bytes = static_cast<double>(mem.interaction_bytes + mem.profile_bytes + mem.user_directory_bytes);
  std::printf("index: %llu users, %llu interaction events, %llu interaction entries; interaction columns %.1f MB = "
              "%.2f bytes per (user, fact) entry = %.2f bytes per interaction event; whole index %.1f MB; process RSS "
              "%.1f MB\n",
              static_cast<unsigned long long>(mem.users), static_cast<unsigned long long>(mem.interaction_events),
              static_cast<unsigned long long>(mem.interaction_entries), mem.interaction_bytes / 1e6,
              static_cast<double>(mem.interaction_bytes) / std::max<std::uint64_t>(1, mem.interaction_entries),
              static_cast<double>(mem.interaction_bytes) / std::max<std::uint64_t>(1, mem.interaction_events),
              index_bytes / 1e6, rss / 1e6);
  report["memory"] = {{"users", mem.users},
                      {"interaction_events", mem.interaction_events},
                      {"interaction_entries", mem.interaction_entries},
                      {"interaction_bytes", mem.interaction_bytes},
                      {"profile_bytes", mem.profile_bytes},
                      {"user_directory_bytes", mem.user_directory_bytes},
                      {"rss_bytes", rss},
                      {"rss_before_open_bytes", rss_before_open}};
  report["users"] = mem.users;

  // 4. The suite: members once (for the comparison), then timed runs.
  double bandwidth = memory_bandwidth_gbs(std::max(1u, hw));
  std::printf("memory bandwidth (streaming read, %u threads): %.1f GB/s\n", std::max(1u, hw), bandwidth);
  report["memory_bandwidth_gbs"] = bandwidth;
  std::printf("%-30s %10s %10s %10s %12s %10s %8s %11s %9s\n", "segment", "members", "median ms", "plan ms",
              "bytes read", "limit ms", "x limit", "members ms", "x budget");
  for (const auto& id : ids) {
    if (!only.empty() && only.find("," + id + ",") == std::string::npos) continue;
    auto full = must(engine->evaluate(id), "evaluate " + id);
    {
      std::ofstream f(fs::path(out) / "ours" / (id + ".ids"));
      for (const auto& m : full.members) f << m << '\n';
    }
    std::vector<double> wall, plan;
    for (int r = 0; r < reps; ++r) {
      auto t = Clock::now();
      auto res = must(engine->evaluate(id, false), "evaluate " + id);
      wall.push_back(ms_since(t));
      plan.push_back(res.evaluate_ms);
    }
    // Members as well as counts: the sorted external ids as a text, one per
    // line, as `evaluate --format ids` prints them (EvaluateOptions::
    // members_as_lines). Their budget: twice the count time plus the ids'
    // bytes at memory speed.
    std::vector<double> listed;
    std::uint64_t id_bytes = 0;
    for (const auto& m : full.members) id_bytes += m.size() + 1;
    // (At most 3 listings per segment; all `reps` with --only, for profiling.)
    const int list_reps = only.empty() ? std::max(1, std::min(reps, 3)) : reps;
    retarget::EvaluateOptions as_lines;
    as_lines.members_as_lines = true;
    for (int r = 0; r < list_reps; ++r) {
      auto t = Clock::now();
      auto res = must(engine->evaluate(id, as_lines), "evaluate " + id);
      listed.push_back(ms_since(t));
      if (res.member_lines.size() != id_bytes)
        throw std::runtime_error(id + ": the member text is not the member list, one per line");
    }
    double members_budget_ms = 2 * median(wall) + static_cast<double>(id_bytes) / (bandwidth * 1e9) * 1000;
    auto fp = must(engine->footprint(id), "footprint " + id);
    double limit_ms = static_cast<double>(fp.column_bytes) / (bandwidth * 1e9) * 1000;
    std::printf("%-30s %10llu %10.2f %10.2f %10.1fM %10.2f %8.1f %11.2f %9.2f\n", id.c_str(),
                static_cast<unsigned long long>(full.count), median(wall), median(plan), fp.column_bytes / 1e6,
                limit_ms, median(wall) / std::max(1e-9, limit_ms), median(listed),
                median(listed) / std::max(1e-9, members_budget_ms));
    report["segments"][id] = {{"count", full.count},           {"median_ms", median(wall)},
                              {"runs_ms", wall},                {"plan_median_ms", median(plan)},
                              {"columns", fp.columns},          {"column_bytes", fp.column_bytes},
                              {"bitset_writes", fp.bitset_writes}, {"bitset_bytes", fp.bitset_bytes},
                              {"bandwidth_limit_ms", limit_ms},
                              {"members_median_ms", median(listed)},
                              {"members_bytes", id_bytes},
                              {"members_budget_ms", members_budget_ms}};
  }

  // 5. Freshness under load, then readers under writers (they change the store: last).
  if (fresh_samples > 0) report["freshness"] = freshness(*engine, now, fresh_samples);
  if (load_records > 0) report["under_load"] = under_load(*engine, ids, now, load_records, load_seconds);

  std::ofstream(fs::path(out) / "ours.json") << report.dump(2) << "\n";
  return 0;
}
