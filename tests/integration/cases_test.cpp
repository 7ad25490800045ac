// Runs every hand-worked case of tests/integration/cases/<name>/: a catalog,
// events, rules and case.yaml with `now`, `timezone`, the exact member set of
// every segment (worked out by hand from filters.md) and the rejected lines.
//
// For each case it also checks that point evaluation (explain) agrees with
// bulk evaluation for every user, that 1 and 2 threads give identical
// results, and that ingesting the events a second time changes nothing.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <set>

#include "test_support.hpp"

namespace retarget {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

struct Case {
  std::string name;
  fs::path dir;
  std::string now, timezone;
  std::map<std::string, std::vector<std::string>> expected;
  std::set<std::uint64_t> rejected_lines;
  // bad_rules.yaml (optional): validation errors it must produce, each
  // "LINE:COLUMN: text that appears in the message".
  std::vector<std::string> expected_errors;
};

// gtest prints the parameter of a failing test: the case's name says it all.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> load_cases() {
  std::vector<Case> cases;
  fs::path root = fs::path(RETARGET_SOURCE_DIR) / "tests/integration/cases";
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    Case c;
    c.name = entry.path().filename().string();
    c.dir = entry.path();
    YAML::Node y = YAML::LoadFile((c.dir / "case.yaml").string());
    c.now = y["now"].as<std::string>();
    c.timezone = y["timezone"] ? y["timezone"].as<std::string>() : "UTC";
    for (const auto& kv : y["expected"])
      c.expected[kv.first.as<std::string>()] = kv.second.as<std::vector<std::string>>();
    if (y["rejected_lines"])
      for (const auto& l : y["rejected_lines"]) c.rejected_lines.insert(l.as<std::uint64_t>());
    if (y["expected_errors"])
      for (const auto& e : y["expected_errors"]) c.expected_errors.push_back(e.as<std::string>());
    cases.push_back(std::move(c));
  }
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.name < b.name; });
  return cases;
}

class CaseTest : public ::testing::TestWithParam<Case> {
 protected:
  std::unique_ptr<Engine> open(unsigned threads, IngestReport* report = nullptr) {
    const Case& c = GetParam();
    testing::write_file(tmp_ / "retarget.yaml", "version: 1\ntimezone: " + c.timezone + "\n");
    EngineOptions o = testing::test_options(c.now, threads);
    o.config_path = (tmp_ / "retarget.yaml").string();
    auto engine = Engine::Open(o);
    EXPECT_TRUE(engine.ok()) << engine.status().message();
    if (!engine.ok()) return nullptr;
    Diagnostics d;
    Status s = (*engine)->apply_catalog_file((c.dir / "catalog.yaml").string(), d);
    EXPECT_TRUE(s.ok()) << d.to_string();
    auto r = (*engine)->ingest_file((c.dir / "events.jsonl").string());
    EXPECT_TRUE(r.ok());
    if (report && r.ok()) *report = r.value();
    d = Diagnostics();
    s = (*engine)->load_rules({(c.dir / "rules.yaml").string()}, d);
    EXPECT_TRUE(s.ok()) << s.message() << "\n" << d.to_string();
    return std::move(engine).value();
  }
  TempDir tmp_;
};

TEST_P(CaseTest, MembersAreExactlyTheHandWorkedSets) {
  const Case& c = GetParam();
  auto engine = open(2);
  ASSERT_TRUE(engine);
  auto ids = engine->segment_ids();
  std::set<std::string> expected_ids;
  for (const auto& [id, m] : c.expected) expected_ids.insert(id);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), expected_ids) << "case.yaml must cover every segment";
  for (const auto& [id, members] : c.expected) {
    auto r = engine->evaluate(id);
    ASSERT_TRUE(r.ok()) << id << ": " << r.status().message();
    std::vector<std::string> sorted = members;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(r->members, sorted) << "segment " << id;
    EXPECT_EQ(r->count, sorted.size()) << "segment " << id;
  }
}

TEST_P(CaseTest, RejectsExactlyTheBadLinesAndKeepsTheGoodOnes) {
  const Case& c = GetParam();
  IngestReport report;
  auto engine = open(1, &report);
  ASSERT_TRUE(engine);
  std::set<std::uint64_t> rejected;
  for (const auto& r : report.rejections) {
    rejected.insert(r.line);
    EXPECT_FALSE(r.reason.empty());
  }
  EXPECT_EQ(rejected, c.rejected_lines);
  EXPECT_EQ(report.rejected, c.rejected_lines.size());
  EXPECT_EQ(report.accepted + report.duplicates + report.rejected, report.lines);
}

TEST_P(CaseTest, PointEvaluationAgreesWithBulkForEveryUser) {
  const Case& c = GetParam();
  auto engine = open(2);
  ASSERT_TRUE(engine);
  std::vector<std::string> users = engine->users();
  ASSERT_FALSE(users.empty());
  for (const auto& [id, expected] : c.expected) {
    auto bulk = engine->evaluate(id);
    ASSERT_TRUE(bulk.ok());
    std::set<std::string> members(bulk->members.begin(), bulk->members.end());
    for (const auto& u : users) {
      auto point = engine->explain(id, u);
      ASSERT_TRUE(point.ok()) << point.status().message();
      EXPECT_TRUE(point->known_user);
      EXPECT_EQ(point->member, members.count(u) == 1) << "segment " << id << ", user " << u;
    }
  }
}

TEST_P(CaseTest, OneAndTwoThreadsGiveIdenticalResults) {
  const Case& c = GetParam();
  auto one = open(1);
  auto two = open(2);
  ASSERT_TRUE(one && two);
  for (const auto& [id, m] : c.expected) {
    auto a = one->evaluate(id);
    auto b = two->evaluate(id);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->members, b->members) << id;
  }
}

TEST_P(CaseTest, IngestingTheSameFileTwiceChangesNothing) {
  const Case& c = GetParam();
  auto engine = open(2);
  ASSERT_TRUE(engine);
  std::map<std::string, std::vector<std::string>> before;
  for (const auto& [id, m] : c.expected) before[id] = engine->evaluate(id)->members;
  auto again = engine->ingest_file((c.dir / "events.jsonl").string());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->accepted, 0u) << "every valid event is a duplicate the second time";
  for (const auto& [id, m] : c.expected) EXPECT_EQ(engine->evaluate(id)->members, before[id]) << id;
}

TEST_P(CaseTest, BadRulesGiveEveryExpectedErrorAtItsLocation) {
  const Case& c = GetParam();
  fs::path bad = c.dir / "bad_rules.yaml";
  if (!fs::exists(bad)) GTEST_SKIP() << "no bad_rules.yaml in this case";
  auto engine = open(1);
  ASSERT_TRUE(engine);
  Diagnostics d;
  Status s = engine->validate_rules({bad.string()}, d);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.exit_code(), 2);
  std::string all = d.to_string();
  for (const auto& expected : c.expected_errors) {
    auto colon = expected.find(':', expected.find(':') + 1);
    std::string where = bad.string() + ":" + expected.substr(0, colon) + ": error: ";
    std::string text = expected.substr(colon + 1);
    while (!text.empty() && text[0] == ' ') text.erase(0, 1);
    bool found = false;
    for (const auto& item : d.items()) {
      std::string line = item.to_string();
      found |= line.rfind(where, 0) == 0 && line.find(text) != std::string::npos;
    }
    EXPECT_TRUE(found) << "expected " << where << "..." << text << "\ngot:\n" << all;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, CaseTest, ::testing::ValuesIn(load_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace retarget
