// The smallest embedding of the engine: an in-memory engine, a catalog, a few
// events, one segment, its members. Prints "members: a" and exits 0; any
// failure is printed with its location and exits 1.
//   segment_count [PLUGIN_DIR]   (default: the installed filter plugins)
#include <iostream>

#include <retarget/engine.hpp>
#include <retarget/version.hpp>

int main(int argc, char** argv) {
  retarget::EngineOptions options;
  if (argc > 1) options.extra_plugin_dirs.push_back(argv[1]);
  options.data_dir = ":memory:";
  options.now_ms = retarget::parse_time_ms("2026-03-01T00:00:00Z");
  auto opened = retarget::Engine::Open(options);
  if (!opened.ok()) {
    std::cerr << "open: " << opened.status().message() << "\n";
    return 1;
  }
  retarget::Engine& engine = **opened;
  retarget::Diagnostics diags;
  retarget::Status s = engine.apply_catalog_text(
      "version: 1\ncampaigns:\n  - {id: spring_sale, status: active, tags: [promo]}\n", "catalog", diags);
  if (!s.ok()) {
    std::cerr << "catalog: " << diags.to_string() << s.message() << "\n";
    return 1;
  }
  auto ingested = engine.ingest_text(
      R"({"time":"2026-02-01T10:00:00Z","user":"a","type":"interaction","campaign":"spring_sale","action":"clicked_email"})"
      "\n"
      R"({"time":"2026-02-01T10:00:00Z","user":"b","type":"received","campaign":"spring_sale","channel":"email"})"
      "\n");
  if (!ingested.ok() || ingested->rejected != 0) {
    std::cerr << "ingest: " << (ingested.ok() ? "a line was rejected" : ingested.status().message()) << "\n";
    return 1;
  }
  s = engine.load_rules_text(
      "version: 1\nsegments:\n  - id: clickers\n    match: {clicked_opened_campaign: {campaign: spring_sale, action: clicked_email}}\n", "rules",
      diags);
  if (!s.ok()) {
    std::cerr << "rules: " << diags.to_string() << s.message() << "\n";
    return 1;
  }
  auto result = engine.evaluate("clickers");
  if (!result.ok()) {
    std::cerr << "evaluate: " << result.status().message() << "\n";
    return 1;
  }
  std::cout << "retarget " << retarget::version() << "\nmembers:";
  for (const auto& id : result->members) std::cout << " " << id;
  std::cout << "\n";
  return 0;
}
