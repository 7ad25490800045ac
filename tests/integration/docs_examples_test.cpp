// Every YAML example of docs/rules.md is valid and evaluates, bulk and point
// agreeing for every user; every loaded filter has at least one example.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "test_support.hpp"

namespace retarget {
namespace {

const std::string kRoot = RETARGET_SOURCE_DIR;

std::vector<std::string> yaml_blocks(const std::string& markdown) {
  std::vector<std::string> blocks;
  std::size_t pos = 0;
  while ((pos = markdown.find("```yaml\n", pos)) != std::string::npos) {
    pos += 8;
    std::size_t end = markdown.find("```", pos);
    blocks.push_back(markdown.substr(pos, end - pos));
    pos = end + 3;
  }
  return blocks;
}

std::unique_ptr<Engine> example_engine() {
  auto e = Engine::Open(testing::test_options("2026-06-15T12:00:00Z"));
  EXPECT_TRUE(e.ok());
  Diagnostics d;
  EXPECT_TRUE((*e)->apply_catalog_file(kRoot + "/examples/data/catalog.yaml", d).ok()) << d.to_string();
  EXPECT_TRUE((*e)->ingest_file(kRoot + "/examples/data/events.jsonl").ok());
  EXPECT_TRUE((*e)->load_rules({kRoot + "/rules/examples.yaml"}, d).ok()) << d.to_string();
  return std::move(e).value();
}

void expect_bulk_and_point_agree(const Engine& e, const std::string& id) {
  auto bulk = e.evaluate(id);
  ASSERT_TRUE(bulk.ok()) << id << ": " << bulk.status().message();
  std::set<std::string> members(bulk->members.begin(), bulk->members.end());
  for (const auto& u : e.users()) {
    auto point = e.explain(id, u);
    ASSERT_TRUE(point.ok()) << point.status().message();
    EXPECT_EQ(point->member, members.count(u) == 1) << id << " / " << u;
  }
}

TEST(DocsExamples, EveryRulesExampleIsValidAndEvaluates) {
  auto engine = example_engine();
  std::string doc = testing::read_file(kRoot + "/docs/rules.md");
  auto blocks = yaml_blocks(doc);
  ASSERT_GT(blocks.size(), 5u);
  std::set<std::string> covered;
  int examples = 0;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const std::string& block = blocks[b];
    std::string rules;
    if (block.rfind("version: 1", 0) == 0) {
      rules = block;
    } else {
      // A list of leaves: each becomes a segment of its own.
      rules = "version: 1\nsegments:\n";
      std::istringstream lines(block);
      std::string line;
      int n = 0;
      while (std::getline(lines, line)) {
        if (line.rfind("- ", 0) != 0) continue;
        rules += "  - id: doc_" + std::to_string(b) + "_" + std::to_string(n++) + "\n    match:\n      " + line.substr(2) + "\n";
      }
      if (n == 0) continue;
    }
    Diagnostics d;
    Status s = engine->load_rules_text(rules, "docs/rules.md block " + std::to_string(b), d);
    ASSERT_TRUE(s.ok()) << "block " << b << ":\n" << block << "\n" << d.to_string();
    std::smatch m;
    std::regex leaf("([a-z_]+): \\{");
    for (auto it = std::sregex_iterator(block.begin(), block.end(), leaf); it != std::sregex_iterator(); ++it)
      covered.insert((*it)[1]);
    ++examples;
  }
  EXPECT_GT(examples, 5);
  for (const auto& id : engine->segment_ids()) expect_bulk_and_point_agree(*engine, id);
  for (const auto& f : engine->filters()) EXPECT_TRUE(covered.count(f.name)) << "docs/rules.md has no example of " << f.name;
}

}  // namespace
}  // namespace retarget
