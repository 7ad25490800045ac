// Segments nesting segments (the `segment` filter, filters.md): regressions of
// the hardening issue. A chain of 1,000 segments each nesting the next took 19 s
// to validate (each segment compiled its whole chain again) and crashed
// evaluation (an 8 KiB bitset on the machine stack per level); a nested
// segment reached by several paths was evaluated once per path (exponential
// in a lattice).
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "test_support.hpp"

namespace retarget {
namespace {

using testing::TempDir;

std::string attributes_event(const std::string& user, const std::string& plan) {
  return R"({"time":"2026-01-01T00:00:00Z","user":")" + user +
         R"(","type":"attributes","attributes":{"plan":")" + plan + "\"}}\n";
}

std::unique_ptr<Engine> engine(const std::string& config_text = "") {
  EngineOptions o = testing::test_options();
  static TempDir dir;  // outlives every engine of this file
  if (!config_text.empty()) {
    o.config_path = (dir / ("config-" + std::to_string(std::hash<std::string>{}(config_text)) + ".yaml")).string();
    testing::write_file(o.config_path, config_text);
  }
  auto opened = Engine::Open(o);
  EXPECT_TRUE(opened.ok()) << opened.status().message();
  auto e = std::move(opened).value();
  Diagnostics d;
  EXPECT_TRUE(e->apply_catalog_text("version: 1\nattributes: {plan: string}\n", "catalog.yaml", d).ok())
      << d.to_string();
  auto r = e->ingest_text(attributes_event("gold_user", "gold") + attributes_event("free_user", "free") +
                          attributes_event("other_user", "trial"));
  EXPECT_TRUE(r.ok()) << r.status().message();
  return e;
}

// s0 nests s1 nests ... nests s<n-1>, which matches plan = gold. Each segment
// starts on line 3 + 2 * i.
std::string chain(std::size_t n) {
  std::string y = "version: 1\nsegments:\n";
  for (std::size_t i = 0; i + 1 < n; ++i)
    y += "  - id: s" + std::to_string(i) + "\n    match: {segment: {id: s" + std::to_string(i + 1) + "}}\n";
  y += "  - id: s" + std::to_string(n - 1) + "\n    match: {custom_attribute: {name: plan, op: equals, value: gold}}\n";
  return y;
}

TEST(NestedSegments, AChainDeeperThanTheLimitIsOneLocatedValidationError) {
  auto e = engine();
  Diagnostics d;
  EXPECT_FALSE(e->load_rules_text(chain(1000), "chain.yaml", d).ok());
  ASSERT_EQ(d.error_count(), 1u) << d.to_string();
  const Diagnostic& err = d.items().front();
  EXPECT_EQ(err.where.file, "chain.yaml");
  EXPECT_EQ(err.where.line, 3u) << d.to_string();  // s0, the outermost segment
  EXPECT_NE(err.message.find("segment 's0' nests segments 999 levels deep (s0 -> s1 -> s2 -> ... -> s998 -> s999)"),
            std::string::npos)
      << err.message;
  EXPECT_NE(err.message.find("limits.max_segment_depth"), std::string::npos) << err.message;
  // Nothing was applied.
  EXPECT_TRUE(e->segment_ids().empty());
}

TEST(NestedSegments, AChainAtTheLimitValidatesAndEvaluates) {
  // The default limit: 32 levels below the outermost segment.
  auto e = engine();
  Diagnostics d;
  ASSERT_TRUE(e->load_rules_text(chain(33), "chain.yaml", d).ok()) << d.to_string();
  auto r = e->evaluate("s0");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->members, std::vector<std::string>{"gold_user"});
  // One more level is refused.
  Diagnostics d2;
  EXPECT_FALSE(e->load_rules_text(chain(34), "chain.yaml", d2).ok());
  EXPECT_NE(d2.to_string().find("33 levels deep"), std::string::npos) << d2.to_string();
}

TEST(NestedSegments, TheHighestConfigurableLimitEvaluatesOnEveryThread) {
  auto e = engine("version: 1\nlimits:\n  max_segment_depth: 256\n");
  Diagnostics d;
  ASSERT_TRUE(e->load_rules_text(chain(257), "chain.yaml", d).ok()) << d.to_string();
  auto r = e->evaluate("s0");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->members, std::vector<std::string>{"gold_user"});
  auto x = e->explain("s0", "gold_user");
  ASSERT_TRUE(x.ok()) << x.status().message();
  EXPECT_TRUE(x->member);
}

TEST(NestedSegments, TheLimitIsBoundedInTheConfig) {
  TempDir dir;
  EngineOptions o = testing::test_options();
  o.config_path = (dir / "c.yaml").string();
  testing::write_file(o.config_path, "version: 1\nlimits:\n  max_segment_depth: 100000\n");
  auto opened = Engine::Open(o);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("from 1 to 256"), std::string::npos) << opened.status().message();
}

// top nests a1 and b1; a<i> and b<i> each nest both a<i+1> and b<i+1>; a12 and
// b12 are leaves. 2^12 paths lead to a12.
std::string lattice() {
  const int levels = 12;
  std::string y = "version: 1\nsegments:\n  - id: top\n    match: {any: [{segment: {id: a1}}, {segment: {id: b1}}]}\n";
  for (int i = 1; i < levels; ++i)
    for (const char* side : {"a", "b"})
      y += "  - id: " + std::string(side) + std::to_string(i) + "\n    match: {any: [{segment: {id: a" +
           std::to_string(i + 1) + "}}, {segment: {id: b" + std::to_string(i + 1) + "}}]}\n";
  y += "  - id: a12\n    match: {custom_attribute: {name: plan, op: equals, value: gold}}\n";
  y += "  - id: b12\n    match: {custom_attribute: {name: plan, op: equals, value: free}}\n";
  return y;
}

std::size_t nodes(const ExplainNode& n) {
  std::size_t total = 1;
  for (const auto& c : n.children) total += nodes(c);
  return total;
}

std::size_t nodes_labelled(const ExplainNode& n, const std::string& part) {
  std::size_t total = n.label.find(part) != std::string::npos;
  for (const auto& c : n.children) total += nodes_labelled(c, part);
  return total;
}

TEST(NestedSegments, EachNestedSegmentIsEvaluatedOncePerEvaluation) {
  auto e = engine();
  Diagnostics d;
  ASSERT_TRUE(e->load_rules_text(lattice(), "lattice.yaml", d).ok()) << d.to_string();
  auto r = e->evaluate("top");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->members, (std::vector<std::string>{"free_user", "gold_user"}));
  // One bitset per plan node and chunk (3 users: one chunk). The plan nodes:
  // top's `any` and its two leaves (3), levels 1..11 two segments of 3 nodes
  // (66), level 12 two leaves (2).
  auto f = e->footprint("top");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->bitset_writes, 71u);

  // explain shows each nested segment's tree once (71 nodes in all), and each
  // later leaf that reaches it points back to it: 46 segment leaves, 24
  // nested segments, so 22 such pointers.
  auto x = e->explain("top", "free_user");
  ASSERT_TRUE(x.ok()) << x.status().message();
  EXPECT_TRUE(x->member);
  EXPECT_EQ(nodes(x->match), 71u + 22u);
  EXPECT_EQ(nodes_labelled(x->match, "its tree is shown above"), 22u);
  auto other = e->explain("top", "other_user");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->member);
  EXPECT_EQ(nodes(other->match), 93u);
}

TEST(NestedSegments, CyclesAreStillReportedWithTheirPath) {
  auto e = engine();
  Diagnostics d;
  EXPECT_FALSE(e->load_rules_text("version: 1\nsegments:\n"
                                  "  - id: x\n    match: {segment: {id: y}}\n"
                                  "  - id: y\n    match: {segment: {id: z}}\n"
                                  "  - id: z\n    match: {segment: {id: x}}\n",
                                  "cycle.yaml", d)
                   .ok());
  EXPECT_NE(d.to_string().find("segment cycle: x -> y -> z -> x"), std::string::npos) << d.to_string();
}

}  // namespace
}  // namespace retarget
