// Lifecycle benchmark: durable ingest rate; for one source with N records,
// the time until it is hidden by expiry and until it is queryable again by a
// restore (each a log record; the bytes then move in the background, timed
// separately); open time of the data directory; and incremental pin time on
// a large dependency graph.
//
//   build/release/bin/retarget_lifecycle_bench [--records N] [--dir DIR]
//                                              [--pin-sources S] [--pin-edges E]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <algorithm>

#include "deps/dependency_graph.hpp"
#include "retarget/engine.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// A benchmark over a failed step measures nothing: stop with the reason.
void must(const retarget::Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "lifecycle bench: %s: %s\n", what, s.message().c_str());
  std::exit(1);
}

retarget::EngineOptions options(const std::string& dir, std::int64_t now) {
  retarget::EngineOptions o;
  o.data_dir = dir;
  // The plugins beside the binary (<bin>/../lib/retarget/plugins), as for `retarget`.
  o.default_plugin_dirs = true;
  o.now_ms = now;
  return o;
}

void pin_bench(std::size_t sources, std::size_t edges) {
  // Consumers -> segments -> sources: each segment references `per` sources,
  // each consumer targets one segment; one consumer is toggled repeatedly.
  retarget::DependencyGraph g;
  std::mt19937 rng(7);
  std::size_t segments = sources / 10;
  std::size_t per = std::max<std::size_t>(1, edges / segments);
  auto t0 = Clock::now();
  for (std::size_t s = 0; s < segments; ++s) {
    retarget::DependencyGraph::Edges e;
    for (std::size_t k = 0; k < per; ++k) e.sources.insert("campaign:c" + std::to_string(rng() % sources));
    g.set_segment("s" + std::to_string(s), e, false);
  }
  for (std::size_t c = 0; c < segments; ++c) {
    retarget::DependencyGraph::Edges e;
    e.segments.insert("s" + std::to_string(c));
    g.set_consumer("campaign:k" + std::to_string(c), c % 2 == 0, e);
  }
  double build_ms = ms_since(t0);
  std::vector<double> times;
  for (int i = 0; i < 200; ++i) {
    retarget::DependencyGraph::Edges e;
    e.segments.insert("s1");
    auto t = Clock::now();
    g.set_consumer("campaign:k1", i % 2 == 0, e);  // a status change
    g.take_released();
    times.push_back(ms_since(t));
  }
  std::sort(times.begin(), times.end());
  std::printf("pins: %zu sources, %zu edges (built in %.0f ms): one status change median %.4f ms, p99 %.4f ms\n",
              sources, g.edge_count(), build_ms, times[times.size() / 2], times[times.size() * 99 / 100]);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t records = 1000000;
  std::string dir;
  std::size_t pin_sources = 100000, pin_edges = 1000000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--records") records = std::stoull(argv[i + 1]);
    else if (a == "--dir") dir = argv[i + 1];
    else if (a == "--pin-sources") pin_sources = std::stoull(argv[i + 1]);
    else if (a == "--pin-edges") pin_edges = std::stoull(argv[i + 1]);
  }
  bool own_dir = dir.empty();
  if (own_dir) dir = (std::filesystem::temp_directory_path() / ("retarget-bench-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);

  std::int64_t stopped = *retarget::parse_time_ms("2026-01-01T00:00:00Z");
  std::int64_t day = 86400000;
  std::string events;
  events.reserve(records * 110);
  char line[256];
  for (std::size_t i = 0; i < records; ++i) {
    std::size_t secs = i % (30 * 86400);
    std::snprintf(line, sizeof line,
                  "{\"time\":\"2025-11-%02zuT%02zu:%02zu:%02zuZ\",\"user\":\"user%zu\",\"type\":\"received\","
                  "\"campaign\":\"big\",\"channel\":\"email\"}\n",
                  1 + secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60, i);
    events += line;
  }
  std::printf("machine: %u hardware threads; data dir %s\n", std::thread::hardware_concurrency(), dir.c_str());
  {
    auto engine = retarget::Engine::Open(options(dir, stopped + 10 * day));
    if (!engine.ok()) {
      std::cerr << engine.status().message() << "\n";
      return 1;
    }
    retarget::Diagnostics d;
    must((*engine)->apply_catalog_text(
             "version: 1\ncampaigns:\n  - {id: big, status: stopped, stopped_at: 2026-01-01T00:00:00Z}\n", "catalog", d),
         "catalog");
    auto t = Clock::now();
    auto r = (*engine)->ingest_text(events);
    double ingest_ms = ms_since(t);
    must(r.status(), "ingest");
    std::printf("ingest (durable, group commit): %zu events in %.0f ms = %.0f events/s\n", records, ingest_ms,
                records / (ingest_ms / 1000));
    retarget::Diagnostics rd;
    must((*engine)->load_rules_text("version: 1\nsegments:\n  - {id: s, match: {received_campaign: {campaign: big}}}\n",
                                    "r", rd, false),
         "rules");
    auto members = [&]() {
      auto r = (*engine)->evaluate("s", false);
      return r.ok() ? r->count : ~0ull;
    };
    must((*engine)->checkpoint(), "checkpoint");  // the records in the live tables, as in a running service
    // Expire: one log record; the source is hidden when sweep() returns (the
    // bytes move to long-term storage after, in the background).
    (*engine)->set_now_ms(stopped + 91 * day);
    t = Clock::now();
    auto sweep = (*engine)->sweep();
    double expire_ms = ms_since(t);
    must(sweep.status(), "sweep");
    std::uint64_t hidden = members();
    std::printf("expire %zu records until hidden: %.1f ms (members now %llu)\n",
                static_cast<std::size_t>(sweep->records_moved), expire_ms, static_cast<unsigned long long>(hidden));
    t = Clock::now();
    retarget::Status moved = (*engine)->settle();
    std::printf("  then the bytes to long-term storage (background): %.0f ms%s\n", ms_since(t),
                moved.ok() ? "" : (" FAILED: " + moved.message()).c_str());
    // Restore: queryable when the job is done; the bytes move back after.
    t = Clock::now();
    auto job = (*engine)->restore({{"big"}, {}, {}});
    must(job.status(), "restore");
    auto done = (*engine)->wait_restore(job->id);
    double restore_ms = ms_since(t);
    std::uint64_t back = members();
    std::printf("restore %zu records until queryable: %.1f ms (members now %llu)\n", static_cast<std::size_t>(done.moved),
                restore_ms, static_cast<unsigned long long>(back));
    t = Clock::now();
    moved = (*engine)->settle();
    std::printf("  then the bytes back to the live tables (background): %.0f ms%s\n", ms_since(t),
                moved.ok() ? "" : (" FAILED: " + moved.message()).c_str());
    if (hidden != 0 || back != records) {
      std::fprintf(stderr, "lifecycle bench: wrong members (hidden %llu, restored %llu of %zu)\n",
                   static_cast<unsigned long long>(hidden), static_cast<unsigned long long>(back), records);
      return 1;
    }
  }
  auto t = Clock::now();
  auto reopened = retarget::Engine::Open(options(dir, stopped + 92 * day));
  double open_ms = ms_since(t);
  must(reopened.status(), "reopen");
  retarget::Diagnostics d;
  must((*reopened)->load_rules_text("version: 1\nsegments:\n  - {id: s, match: {received_campaign: {campaign: big}}}\n",
                                    "r", d, false),
       "rules");
  auto first = (*reopened)->evaluate("s", false);
  must(first.status(), "evaluate");
  std::printf("open the data directory (%zu events) and answer the first query: %.0f ms (+%.1f ms evaluate, %llu members)\n",
              records, open_ms, first->evaluate_ms, static_cast<unsigned long long>(first->count));
  reopened.value().reset();
  if (own_dir) std::filesystem::remove_all(dir);
  pin_bench(pin_sources, pin_edges);
  return 0;
}
