// Ingest on several threads while other threads evaluate: every evaluation
// sees a consistent snapshot (never half of an ingested batch), counts never go
// backwards, and the end state is exact. Meant to run under ThreadSanitizer too.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "test_support.hpp"

namespace retarget {
namespace {

TEST(Concurrency, IngestOnSeveralThreadsWhileEvaluating) {
  auto opened = Engine::Open(testing::test_options("2026-06-15T12:00:00Z", 2));
  ASSERT_TRUE(opened.ok());
  Engine& e = **opened;
  Diagnostics d;
  ASSERT_TRUE(e.apply_catalog_text("version: 1\ncampaigns:\n  - {id: c, status: active}\n", "c", d).ok());
  // Each batch gives every one of its users a receipt AND a click: a snapshot
  // holding the click but not the receipt would be torn.
  ASSERT_TRUE(e.load_rules_text(R"(version: 1
segments:
  - id: torn
    match:
      all:
        - clicked_opened_campaign: {campaign: c, action: clicked_email}
        - received_campaign: {campaign: c, have: false}
  - id: clicked
    match: {clicked_opened_campaign: {campaign: c, action: clicked_email}}
)", "r", d).ok()) << d.to_string();

  constexpr int kWriters = 3, kBatches = 40, kUsersPerBatch = 50;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, backwards{0}, evaluations{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w)
    threads.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        std::string jsonl;
        for (int i = 0; i < kUsersPerBatch; ++i) {
          std::string user = "w" + std::to_string(w) + "b" + std::to_string(b) + "u" + std::to_string(i);
          jsonl += R"({"time":"2026-06-01T00:00:00Z","user":")" + user + R"(","type":"interaction","campaign":"c","action":"clicked_email"})" "\n";
          jsonl += R"({"time":"2026-06-01T00:00:00Z","user":")" + user + R"(","type":"received","campaign":"c","channel":"email"})" "\n";
        }
        auto r = e.ingest_text(jsonl);
        EXPECT_TRUE(r.ok());
      }
    });
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&] {
      std::uint64_t last = 0;
      while (!done.load()) {
        auto t = e.evaluate("torn", false);
        auto c = e.evaluate("clicked", false);
        if (!t.ok() || !c.ok()) continue;
        if (t->count != 0) ++torn;
        if (c->count < last) ++backwards;
        last = c->count;
        ++evaluations;
      }
    });
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  done = true;
  for (std::size_t i = kWriters; i < threads.size(); ++i) threads[i].join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_GT(evaluations.load(), 0);
  EXPECT_EQ(e.evaluate("clicked", false)->count, static_cast<std::uint64_t>(kWriters * kBatches * kUsersPerBatch));
}

}  // namespace
}  // namespace retarget
