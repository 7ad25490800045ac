// Fuzz target: rules files. RuleSet parsing (shape, limits, duplicate ids),
// then the Compiler against the fuzz catalog and the shipped plugins (param
// binding, references, time predicates, nesting, every plugin's create()),
// and, for a file without errors, bulk and point evaluation of every segment
// over a small index. Every problem is a located diagnostic: no crash, no hang.
#include <simdjson.h>
#include <tbb/task_arena.h>

#include <cstdlib>

#include "catalog/catalog.hpp"
#include "eval/evaluator.hpp"
#include "fuzz_support.hpp"
#include "index/index_builder.hpp"
#include "ingest/event_parser.hpp"
#include "plugin/plugin_host.hpp"
#include "rules/rules.hpp"

using namespace retarget;

namespace {

// A few users with something of every kind the filters read.
const char* const kEvents[] = {
    R"({"time":"2026-03-01T09:00:00Z","user":"u1","type":"received","campaign":"spring_sale","variant":"b","channel":"email"})",
    R"({"time":"2026-03-01T09:05:10Z","user":"u1","type":"interaction","campaign":"spring_sale","action":"clicked_email","alias":"cta"})",
    R"({"time":"2026-03-01T09:04:00Z","user":"u1","type":"interaction","campaign":"spring_sale","action":"opened_email"})",
    R"({"time":"2026-03-02T11:00:00Z","user":"u2","type":"received","canvas":"onboarding","step":"day3","channel":"push"})",
    R"({"time":"2026-03-02T10:00:00Z","user":"u2","type":"canvas_entered","canvas":"onboarding","variation":"v1"})",
    R"({"time":"2026-03-03T10:00:00Z","user":"u3","type":"hard_bounce"})",
    R"({"time":"2026-03-03T10:00:00Z","user":"u3","type":"attributes","attributes":{"country":"DE","lifetime_value":150,"vip":true,"signed_up_at":"2026-01-01T00:00:00Z"}})",
    R"({"time":"2026-03-04T10:00:00Z","user":"u4","type":"converted","campaign":"spring_sale"})",
    R"({"time":"2026-03-04T10:00:00Z","user":"u4","type":"feature_flag","flag":"beta","enabled":true})",
};

struct World {
  FilterRegistry registry;
  Catalog catalog;
  std::shared_ptr<const Index> index;
  TimeZone zone = TimeZone::Utc();
  Limits limits;
  tbb::task_arena arena{1};
  World() {
    load_plugins({{RETARGET_PLUGIN_DIR}, {}}, registry);
    if (!registry.find("custom_attribute") || !registry.find("received_campaign") || !registry.refused().empty()) {
      std::fprintf(stderr, "fuzz_rules: the shipped plugins did not load from %s\n", RETARGET_PLUGIN_DIR);
      for (const auto& r : registry.refused()) std::fprintf(stderr, "  %s: %s\n", r.path.c_str(), r.reason.c_str());
      std::abort();
    }
    Diagnostics d;
    catalog.apply_text(fuzz::kCatalog, "catalog.yaml", d);
    if (d.has_errors()) std::abort();
    EventParser parser(catalog);
    IndexBuilder builder;
    for (const char* line : kEvents) {
      simdjson::padded_string padded{std::string_view(line)};
      Event ev;
      std::string error;
      if (!parser.parse(std::string_view(padded.data(), padded.size()), ev, error)) {
        std::fprintf(stderr, "fuzz_rules: %s: %s\n", line, error.c_str());
        std::abort();
      }
      builder.add(ev, catalog);
    }
    index = builder.snapshot();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* world = new World;
  const sdk::Timestamp now = 1781222400000;  // 2026-06-12T00:00:00Z
  Diagnostics d;
  RuleSet rules;
  rules.add_text(std::string(fuzz::as_text(data, size)), "rules.yaml", world->limits, d);
  bool read_ok = !d.has_errors();
  Compiler compiler(world->registry, world->catalog, rules, {&world->zone, &world->limits, nullptr});
  std::map<std::string, References> refs;
  for (const auto& [id, segment] : rules.segments()) {
    auto compiled = compiler.compile(segment, d);
    if (!compiled) continue;
    refs[id] = compiled->references;
    (void)sources_read(*compiled, world->catalog);
    if (!read_ok) continue;
    auto bulk = evaluate_bulk(*compiled, *world->index, world->arena, now);
    for (sdk::UserIndex u = 0; u < world->index->user_count(); ++u) {
      auto point = evaluate_point(*compiled, *world->index, u, now);
      // Bulk and point evaluation share one semantics (architecture.md).
      if (bulk.ok() && point.ok() && bulk->members.contains(u) != point->member) {
        std::fprintf(stderr, "fuzz_rules: segment %s, user %u: bulk %d, point %d\n", id.c_str(), u,
                     int(bulk->members.contains(u)), int(point->member));
        std::abort();
      }
    }
  }
  (void)compiler.check_nesting(refs, d);
  for (const auto& dup : rules.duplicates()) (void)compiler.compile_own(dup, d);
  (void)d.to_string();
  return 0;
}
