// custom_attribute `op: matches` (docs/rules.md): RE2 syntax, an unanchored
// search, patterns validated when the rules are compiled (a located error),
// values longer than kMatchesMaxValueBytes never run the pattern (they do not
// match) and are counted through EvalContext::count_skipped_values.
//
// Regressions of the hardening issue: with std::regex a 50 KB value crashed
// every evaluation (the matcher recursed once per character) and `(a+)+$`
// against 29 characters took 18.5 s (backtracking).
#include <gtest/gtest.h>
#include <simdjson.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <string>

#include "eval/evaluator.hpp"
#include "index/index_builder.hpp"
#include "ingest/event_parser.hpp"
#include "plugin/plugin_host.hpp"
#include "rules/rules.hpp"
#include "retarget/sdk/filter.hpp"
#include "test_support.hpp"

namespace retarget {
namespace {

using Clock = std::chrono::steady_clock;

std::string attributes_event(const std::string& user, const std::string& name, const std::string& value) {
  return R"({"time":"2026-01-01T00:00:00Z","user":")" + user + R"(","type":"attributes","attributes":{")" + name +
         R"(":")" + value + "\"}}\n";
}

// An engine with `bio` set for a few users (their values given).
std::unique_ptr<Engine> engine_with(const std::vector<std::pair<std::string, std::string>>& bios) {
  auto opened = Engine::Open(testing::test_options());
  EXPECT_TRUE(opened.ok()) << opened.status().message();
  auto e = std::move(opened).value();
  Diagnostics d;
  EXPECT_TRUE(e->apply_catalog_text("version: 1\nattributes: {bio: string}\n", "catalog.yaml", d).ok()) << d.to_string();
  std::string jsonl;
  for (const auto& [user, bio] : bios) jsonl += attributes_event(user, "bio", bio);
  auto r = e->ingest_text(jsonl);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return e;
}

std::string segment_matching(const std::string& pattern_yaml) {
  return "version: 1\nsegments:\n  - id: s\n    match:\n      custom_attribute: {name: bio, op: matches, value: " +
         pattern_yaml + "}\n";
}

// Loads the segment and evaluates it; fails the test on any error.
std::vector<std::string> members(Engine& e, const std::string& pattern_yaml) {
  Diagnostics d;
  auto loaded = e.load_rules_text(segment_matching(pattern_yaml), "rules.yaml", d);
  EXPECT_TRUE(loaded.ok()) << d.to_string();
  if (!loaded.ok()) return {};
  auto r = e.evaluate("s");
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r->members : std::vector<std::string>{};
}

TEST(CustomAttributeMatches, A50KBValueEvaluatesWithoutCrashing) {
  std::string big(50 * 1000, 'a');
  auto e = engine_with({{"long", big + "END"}, {"short", "aaEND"}, {"other", "abc"}});
  // std::regex recursed once per character here and overflowed the stack.
  EXPECT_EQ(members(*e, "\"^(a|b)*END$\""), (std::vector<std::string>{"long", "short"}));
  EXPECT_EQ(members(*e, "\"(a|b)*END\""), (std::vector<std::string>{"long", "short"}));
  EXPECT_EQ(members(*e, "\"^a*$\""), (std::vector<std::string>{}));
  // Point evaluation runs the same matcher.
  auto x = e->explain("s", "long");
  ASSERT_TRUE(x.ok()) << x.status().message();
  EXPECT_FALSE(x->member);
  // The explanation does not repeat the whole 50 KB value.
  EXPECT_LT(x->match.because.size(), 1000u) << x->match.because.size();
}

TEST(CustomAttributeMatches, NestedQuantifiersRunInLinearTime) {
  std::string a28(28, 'a');
  auto e = engine_with({{"evil", a28 + "!"}, {"good", a28}, {"tail", "!" + a28}, {"empty", ""}});
  auto start = Clock::now();
  // Backtracking took 18.5 s on the first value; RE2 takes microseconds. The
  // bound is generous (sanitizer builds, a shared machine): it only catches
  // exponential behaviour, it is not a benchmark.
  EXPECT_EQ(members(*e, "\"(a+)+$\""), (std::vector<std::string>{"good", "tail"}));
  EXPECT_EQ(members(*e, "\"^(a+)+$\""), (std::vector<std::string>{"good"}));
  EXPECT_EQ(members(*e, "\"^(a|aa)+$\""), (std::vector<std::string>{"good"}));
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_LT(seconds, 5.0);
}

TEST(CustomAttributeMatches, IsAnUnanchoredRe2Search) {
  auto e = engine_with({{"a", "ann@example.com"}, {"b", "bob@EXAMPLE.com"}, {"c", "line1\\nline2"}, {"d", "Zoë"}});
  EXPECT_EQ(members(*e, R"~("@example\\.com$")~"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(members(*e, R"~("(?i)@example\\.com$")~"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(members(*e, R"~("example")~"), (std::vector<std::string>{"a"}));   // anywhere in the value
  EXPECT_EQ(members(*e, R"~("^line2")~"), (std::vector<std::string>{}));       // ^ is the start of the value
  EXPECT_EQ(members(*e, R"~("(?m)^line2$")~"), (std::vector<std::string>{"c"}));
  EXPECT_EQ(members(*e, R"~("^Zo.$")~"), (std::vector<std::string>{"d"}));     // . is one UTF-8 character
  EXPECT_EQ(members(*e, R"~("\\pL\\x{eb}")~"), (std::vector<std::string>{"d"}));
  EXPECT_EQ(members(*e, R"~("")~"), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(CustomAttributeMatches, ABadPatternIsALocatedErrorAtCompileTime) {
  auto e = engine_with({{"a", "x"}});
  struct Case {
    const char* yaml;
    const char* says;
  } cases[] = {
      {R"~("(a")~", "missing )"},
      {R"~("a(?=b)")~", "(?="},       // lookahead: not RE2
      {R"~("(a)\\1")~", "\\1"},       // backreference: not RE2
      {R"~("a{2,1}")~", "{2,1}"},
      {R"~("[z-a]")~", "z-a"},
      {R"~("\\pL{1000}")~", "pattern too large"},  // over RE2's 8 MiB program budget
      {R"~("((a{30}){30}){30}")~", "repetition"},
  };
  for (const auto& c : cases) {
    Diagnostics d;
    auto loaded = e->load_rules_text(segment_matching(c.yaml), "rules.yaml", d);
    EXPECT_FALSE(loaded.ok()) << c.yaml;
    std::string text = d.to_string();
    // rules.yaml, line 5, the column of the value.
    EXPECT_NE(text.find("rules.yaml:5:"), std::string::npos) << text;
    EXPECT_NE(text.find("not a valid RE2 regular expression"), std::string::npos) << text;
    EXPECT_NE(text.find(c.says), std::string::npos) << c.yaml << ": " << text;
  }
}

TEST(CustomAttributeMatches, ValuesOverTheBoundDoNotMatch) {
  std::string over(70 * 1024, 'x');
  std::string at_bound(64 * 1024, 'x');
  auto e = engine_with({{"over", over}, {"at", at_bound}, {"small", "x"}});
  EXPECT_EQ(members(*e, "x"), (std::vector<std::string>{"at", "small"}));
  // A negated match is the complement: the skipped value is "does not match".
  Diagnostics d;
  ASSERT_TRUE(e->load_rules_text("version: 1\nsegments:\n  - id: n\n    match:\n      not:\n        custom_attribute: "
                                 "{name: bio, op: matches, value: x}\n",
                                 "rules.yaml", d)
                  .ok())
      << d.to_string();
  auto r = e->evaluate("n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->members, (std::vector<std::string>{"over"}));
  auto x = e->explain("s", "over");
  ASSERT_TRUE(x.ok());
  EXPECT_FALSE(x->member);
  EXPECT_NE(x->match.because.find("longer than"), std::string::npos) << x->match.because;
}

// --- The skipped-values counter, on the filter itself -------------------------

struct OneColumn final : sdk::ProfileView {
  const sdk::UserAttributes* column = nullptr;
  const sdk::UserTimes* times(sdk::SummaryKind, std::string_view, std::string_view) const override { return nullptr; }
  const sdk::UserCounts* news_feed_views() const override { return nullptr; }
  const sdk::UserAttributes* attribute(std::string_view name) const override { return name == "bio" ? column : nullptr; }
  std::span<const std::uint16_t> user_buckets(std::uint32_t) const override { return {}; }
};

class NoCatalog final : public sdk::CompileContext {
 public:
  const sdk::CampaignInfo* campaign(std::string_view) const override { return nullptr; }
  const sdk::CanvasInfo* canvas(std::string_view) const override { return nullptr; }
  std::vector<sdk::SourceRef> sources_with_tag(std::string_view) const override { return {}; }
  std::optional<std::string> declared_attribute_type(std::string_view) const override { return "string"; }
  std::optional<sdk::TimePredicate> compile_time_predicate(std::string_view, std::string_view, std::string_view) override {
    return std::nullopt;
  }
  void error(std::string_view, std::string m) override { errors += m + "\n"; }
  void warning(std::string_view, std::string) override {}
  std::string errors;
};

// A chunk whose values are all in its delta (no encoded block): users 0..n-1.
std::shared_ptr<const sdk::AttributeChunk> delta_chunk(const std::vector<std::string>& values) {
  std::vector<std::uint16_t> offsets;
  std::vector<sdk::AttributeEntry> entries;
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) {
    offsets.push_back(static_cast<std::uint16_t>(i));
    sdk::AttributeEntry e{};
    e.type = static_cast<std::uint8_t>(sdk::AttributeRef::Type::kString);
    e.text_offset = text.size();
    e.text_length = static_cast<std::uint32_t>(values[i].size());
    e.time = sdk::kNoTime;
    entries.push_back(e);
    text += values[i];
  }
  return std::make_shared<sdk::AttributeChunk>(nullptr, sdk::AttributeBlock(), std::move(offsets), std::move(entries),
                                               std::move(text), static_cast<std::uint32_t>(values.size()));
}

TEST(CustomAttributeMatches, CountsTheValuesItSkipsPerEvaluation) {
  FilterRegistry registry;
  load_plugins({{RETARGET_PLUGIN_DIR}, {}}, registry);
  const RegisteredFilter* def = registry.find("custom_attribute");
  ASSERT_NE(def, nullptr);
  sdk::Params params;
  sdk::ParamValue name, op, value;
  name.text = "bio";
  op.text = "matches";
  value.type = sdk::ParamType::kValue;
  value.text = "x";
  params.set("name", name);
  params.set("op", op);
  params.set("value", value);
  NoCatalog compile;
  auto filter = def->factory->create(params, compile);
  ASSERT_NE(filter, nullptr) << compile.errors;

  std::string over(64 * 1024 + 1, 'x');  // kMatchesMaxValueBytes + 1
  sdk::UserAttributes column({delta_chunk({over, "x", over, "y"})});
  OneColumn profiles;
  profiles.column = &column;
  std::atomic<std::uint64_t> skipped{0};
  sdk::EvalContext ctx(4, nullptr, profiles, nullptr, 0, &skipped);

  sdk::ChunkBits bits;
  bits.clear();
  filter->evaluate_chunk(ctx, 0, bits);
  EXPECT_EQ(bits.count(), 1u);  // only "x"
  EXPECT_EQ(skipped.load(), 2u);
  EXPECT_FALSE(filter->evaluate_user(ctx, 0).match);
  EXPECT_TRUE(filter->evaluate_user(ctx, 1).match);
  EXPECT_EQ(skipped.load(), 3u);
  // Without a counter (a host that does not collect them) nothing breaks.
  sdk::EvalContext uncounted(4, nullptr, profiles, nullptr, 0);
  bits.clear();
  filter->evaluate_chunk(uncounted, 0, bits);
  EXPECT_EQ(bits.count(), 1u);
}

// The host side: evaluate_bulk / evaluate_point sum what the leaves report,
// for the engine to turn into a warning (skipped_values_warning).
TEST(CustomAttributeMatches, TheEvaluatorSumsTheSkippedValuesOfOneEvaluation) {
  FilterRegistry registry;
  load_plugins({{RETARGET_PLUGIN_DIR}, {}}, registry);
  Catalog catalog;
  Diagnostics d;
  catalog.apply_text("version: 1\nattributes: {bio: string}\n", "catalog.yaml", d);
  IndexBuilder builder;
  EventParser parser(catalog);
  std::string over(64 * 1024 + 1, 'x');
  for (const auto& [user, bio] : std::vector<std::pair<std::string, std::string>>{
           {"a", over}, {"b", "x"}, {"c", over}, {"d", "y"}}) {
    simdjson::padded_string line(attributes_event(user, "bio", bio));
    Event ev;
    std::string error;
    ASSERT_TRUE(parser.parse(std::string_view(line.data(), line.size()), ev, error)) << error;
    builder.add(ev, catalog);
  }
  auto index = builder.snapshot();
  RuleSet rules;
  Limits limits;
  rules.add_text(segment_matching("x"), "rules.yaml", limits, d);
  TimeZone utc = TimeZone::Utc();
  Compiler compiler(registry, catalog, rules, {&utc, &limits, nullptr});
  auto compiled = compiler.compile(*rules.find("s"), d);
  ASSERT_TRUE(compiled) << d.to_string();
  tbb::task_arena arena(2);
  auto bulk = evaluate_bulk(*compiled, *index, arena, 0);
  ASSERT_TRUE(bulk.ok());
  EXPECT_EQ(bulk->count, 1u);
  EXPECT_EQ(bulk->skipped_values, 2u);
  auto point = evaluate_point(*compiled, *index, *index->find_user("a"), 0);
  ASSERT_TRUE(point.ok());
  EXPECT_EQ(point->skipped_values, 1u);
  EXPECT_EQ(evaluate_point(*compiled, *index, *index->find_user("b"), 0)->skipped_values, 0u);
  EXPECT_NE(skipped_values_warning(2).find("2 values were not evaluated"), std::string::npos);
}

}  // namespace
}  // namespace retarget
