// Evaluation over several 65,536-user chunks: generated users whose expected
// membership follows from the spec directly; bulk, point and thread counts agree.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "retarget/sdk/helpers.hpp"
#include "test_support.hpp"

namespace retarget {
namespace {

constexpr int kUsers = 150000;  // three chunks, the last one partial

std::string user(int i) { return "user" + std::to_string(i); }

// User i received c1 by email when i % 3 == 0 (at day i % 20 before now),
// clicked c1 when i % 5 == 0 (and received), hard bounced when i % 7 == 0,
// otherwise only has an `attributes` event (so every user is in U).
std::string events() {
  std::string s;
  const std::int64_t now = *parse_time_ms("2026-06-15T12:00:00Z");
  auto time = [&](std::int64_t ms) {
    // RFC 3339 from ms, via days arithmetic (UTC).
    std::int64_t secs = ms / 1000;
    std::int64_t days = secs / 86400, rem = secs % 86400;
    int y;
    unsigned m, d;
    sdk::civil_from_days(days, y, m, d);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, m, d, int(rem / 3600), int(rem / 60 % 60),
                  int(rem % 60));
    return std::string(buf);
  };
  for (int i = 0; i < kUsers; ++i) {
    std::string u = user(i);
    s += R"({"time":"2026-01-01T00:00:00Z","user":")" + u + R"(","type":"attributes","attributes":{"n":)" +
         std::to_string(i % 10) + "}}\n";
    if (i % 3 == 0) {
      std::int64_t t = now - (i % 20) * sdk::kMillisPerDay - 1000;
      s += R"({"time":")" + time(t) + R"(","user":")" + u +
           R"(","type":"received","campaign":"c1","channel":"email"})" "\n";
      if (i % 5 == 0)
        s += R"({"time":")" + time(t + 1000) + R"(","user":")" + u +
             R"(","type":"interaction","campaign":"c1","action":"clicked_email"})" "\n";
    }
    if (i % 7 == 0) s += R"({"time":"2026-01-01T00:00:00Z","user":")" + u + R"(","type":"hard_bounce"})" "\n";
  }
  return s;
}

bool expected_member(int i) {
  // all: received c1, last received email less than 10 days ago; not clicked; exclude hard bounced.
  bool received = i % 3 == 0;
  bool recent = received && (i % 20) < 10;
  bool clicked = received && i % 5 == 0;
  bool bounced = i % 7 == 0;
  return received && recent && !clicked && !bounced;
}

const char* kRules = R"(version: 1
segments:
  - id: s
    match:
      all:
        - received_campaign: {campaign: c1}
        - last_received_email: {less_than_days_ago: 10}
        - not: {clicked_opened_campaign: {campaign: c1, action: clicked_email}}
    exclude:
      - hard_bounced: {is: true}
)";

std::unique_ptr<Engine> open(unsigned threads, const std::string& jsonl) {
  auto e = Engine::Open(testing::test_options("2026-06-15T12:00:00Z", threads));
  EXPECT_TRUE(e.ok());
  Diagnostics d;
  EXPECT_TRUE((*e)->apply_catalog_text("version: 1\ncampaigns:\n  - {id: c1, status: active}\n", "c.yaml", d).ok());
  auto r = (*e)->ingest_text(jsonl);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r->rejected, 0u);
  EXPECT_TRUE((*e)->load_rules_text(kRules, "r.yaml", d).ok()) << d.to_string();
  return std::move(e).value();
}

TEST(ChunkedEvaluation, BulkMatchesTheSpecAcrossChunksWithOneAndTwoThreads) {
  std::string jsonl = events();
  auto one = open(1, jsonl);
  auto two = open(2, jsonl);
  std::vector<std::string> expected;
  for (int i = 0; i < kUsers; ++i)
    if (expected_member(i)) expected.push_back(user(i));
  std::sort(expected.begin(), expected.end());
  auto a = one->evaluate("s");
  auto b = two->evaluate("s");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->members, expected);
  EXPECT_EQ(b->members, expected);

  // Point evaluation agrees, sampled across every chunk and at chunk edges.
  std::set<std::string> members(expected.begin(), expected.end());
  for (int i : {0, 1, 65535, 65536, 65537, 131071, 131072, kUsers - 1})
    EXPECT_EQ(two->explain("s", user(i))->member, members.count(user(i)) == 1) << i;
  for (int i = 0; i < kUsers; i += 997)
    EXPECT_EQ(two->explain("s", user(i))->member, members.count(user(i)) == 1) << i;
}

// Members page by page (EvaluateOptions::members_after / members_limit): the
// pages, joined, are exactly the whole sorted member list, each page sorted
// and of the size asked, the last one without a next_after.
TEST(ChunkedEvaluation, MemberPagesJoinToTheWholeSortedList) {
  auto e = open(2, events());
  auto whole = e->evaluate("s");
  ASSERT_TRUE(whole.ok());
  ASSERT_GT(whole->members.size(), 1000u);
  EXPECT_TRUE(whole->next_after.empty());
  for (std::size_t limit : {std::size_t{1}, std::size_t{997}, whole->members.size() - 1, whole->members.size()}) {
    std::vector<std::string> joined;
    EvaluateOptions options;
    options.members_limit = limit;
    int pages = 0;
    for (;;) {
      auto page = e->evaluate("s", options);
      ASSERT_TRUE(page.ok());
      EXPECT_EQ(page->count, whole->count);  // the count is the segment's, not the page's
      ASSERT_LE(page->members.size(), limit);
      EXPECT_TRUE(std::is_sorted(page->members.begin(), page->members.end()));
      joined.insert(joined.end(), page->members.begin(), page->members.end());
      ++pages;
      if (page->next_after.empty()) break;
      EXPECT_EQ(page->members.size(), limit);
      EXPECT_EQ(page->next_after, page->members.back());
      options.members_after = page->next_after;
      if (limit == 1 && pages == 50) {  // one-member pages: check the first 50, then jump to the end
        std::size_t at = joined.size();
        joined.insert(joined.end(), whole->members.begin() + static_cast<std::ptrdiff_t>(at), whole->members.end() - 1);
        options.members_after = joined.back();
      }
    }
    EXPECT_EQ(joined, whole->members) << "limit " << limit;
  }
  // A cursor past every member: an empty last page.
  EvaluateOptions past;
  past.members_after = "~";
  past.members_limit = 10;
  auto none = e->evaluate("s", past);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->members.empty());
  EXPECT_TRUE(none->next_after.empty());
}

}  // namespace
}  // namespace retarget
