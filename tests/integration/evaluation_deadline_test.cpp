// Evaluation has a deadline and can be cancelled (the hardening issue: no
// single request may hold a worker forever). The test plugin `slow_everyone`
// (tests/plugins/slow_filter.cpp) takes 100 ms per chunk, so a segment of 40
// of its leaves takes 4 s unless it is stopped.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "test_support.hpp"

namespace retarget {
namespace {

using Clock = std::chrono::steady_clock;
using testing::TempDir;

std::string slow_segment(int leaves) {
  std::string y = "version: 1\nsegments:\n  - id: slow\n    match:\n      all:\n";
  for (int i = 0; i < leaves; ++i) y += "        - slow_everyone: {}\n";
  return y;
}

std::unique_ptr<Engine> engine(const std::string& config_path = "") {
  EngineOptions o = testing::test_options();
  o.extra_plugin_dirs.push_back(std::string(RETARGET_TEST_PLUGIN_DIR) + "/slow");
  o.config_path = config_path;
  auto opened = Engine::Open(o);
  EXPECT_TRUE(opened.ok()) << opened.status().message();
  if (!opened.ok()) return nullptr;
  auto e = std::move(opened).value();
  auto r = e->ingest_text(R"({"time":"2026-01-01T00:00:00Z","user":"a","type":"attributes","attributes":{"x":1}})"
                          "\n"
                          R"({"time":"2026-01-01T00:00:00Z","user":"b","type":"attributes","attributes":{"x":2}})"
                          "\n");
  EXPECT_TRUE(r.ok()) << r.status().message();
  return e;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

TEST(EvaluationDeadline, AnEvaluationPastItsTimeoutIsStopped) {
  auto e = engine();
  ASSERT_TRUE(e);
  Diagnostics d;
  ASSERT_TRUE(e->load_rules_text(slow_segment(40), "slow.yaml", d).ok()) << d.to_string();
  EvaluateOptions o;
  o.timeout = std::chrono::milliseconds(250);
  auto start = Clock::now();
  auto r = e->evaluate("slow", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kTimedOut);
  EXPECT_NE(r.status().message().find("longer than its deadline (250 ms, limits.max_evaluation_time"),
            std::string::npos)
      << r.status().message();
  // Stopped within a leaf's work on one chunk, not after all 40 leaves (4 s).
  EXPECT_LT(seconds_since(start), 2.0);
  // The engine serves the next request as before.
  Diagnostics d2;
  ASSERT_TRUE(e->load_rules_text(slow_segment(2), "slow.yaml", d2).ok()) << d2.to_string();
  auto ok = e->evaluate("slow");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->members, (std::vector<std::string>{"a", "b"}));
}

TEST(EvaluationDeadline, TheConfigSetsTheDefaultDeadline) {
  TempDir dir;
  testing::write_file(dir / "c.yaml", "version: 1\nlimits:\n  max_evaluation_time: 200ms\n");
  auto e = engine((dir / "c.yaml").string());
  ASSERT_TRUE(e);
  Diagnostics d;
  ASSERT_TRUE(e->load_rules_text(slow_segment(40), "slow.yaml", d).ok()) << d.to_string();
  auto start = Clock::now();
  auto r = e->evaluate("slow");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kTimedOut);
  EXPECT_NE(r.status().message().find("(200 ms"), std::string::npos) << r.status().message();
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST(EvaluationDeadline, AnotherThreadCanCancelAnEvaluation) {
  auto e = engine();
  ASSERT_TRUE(e);
  Diagnostics d;
  ASSERT_TRUE(e->load_rules_text(slow_segment(40), "slow.yaml", d).ok()) << d.to_string();
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    cancel = true;
  });
  EvaluateOptions o;
  o.cancel = &cancel;
  auto start = Clock::now();
  auto r = e->evaluate("slow", o);
  canceller.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kTimedOut);
  EXPECT_NE(r.status().message().find("was cancelled"), std::string::npos) << r.status().message();
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST(EvaluationDeadline, ABadDeadlineInTheConfigIsALocatedError) {
  TempDir dir;
  testing::write_file(dir / "c.yaml", "version: 1\nlimits:\n  max_evaluation_time: forever\n");
  Diagnostics d;
  load_config((dir / "c.yaml").string(), d);
  EXPECT_NE(d.to_string().find("c.yaml:3:"), std::string::npos) << d.to_string();
  EXPECT_NE(d.to_string().find("expected a duration such as 60s"), std::string::npos) << d.to_string();
}

}  // namespace
}  // namespace retarget
