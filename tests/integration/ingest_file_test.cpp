// ingest_file reads a file block by block (IngestOptions::read_block_bytes):
// whatever the block size, the result is the one of ingesting the whole text.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_support.hpp"

namespace retarget {
namespace {

const char* kCatalog = "version: 1\ncampaigns:\n  - {id: c1, status: active}\n  - {id: c2, status: active}\n";
const char* kRules =
    "version: 1\nsegments:\n  - {id: got_c1, match: {received_campaign: {campaign: c1}}}\n"
    "  - {id: views, match: {news_feed_view_count: {op: more_than, value: 1}}}\n";

std::unique_ptr<Engine> open_engine() {
  auto e = Engine::Open(testing::test_options());
  EXPECT_TRUE(e.ok()) << e.status().message();
  Diagnostics d;
  EXPECT_TRUE((*e)->apply_catalog_text(kCatalog, "catalog", d).ok()) << d.to_string();
  EXPECT_TRUE((*e)->load_rules_text(kRules, "rules", d, false).ok()) << d.to_string();
  return std::move(e).value();
}

// 303 physical lines: 300 events of two shapes, a blank line, a bad line, a
// duplicate; no final newline.
std::string events() {
  std::string text;
  for (int i = 0; i < 300; ++i) {
    if (i == 7) text += "\n";
    if (i == 11) text += "{\"time\":\"not a time\",\"user\":\"x\",\"type\":\"news_feed_view\"}\n";
    if (i == 13) text += "{\"time\":\"2026-03-01T09:00:00Z\",\"user\":\"u1\",\"type\":\"received\",\"campaign\":\"c1\",\"channel\":\"email\"}\n";
    std::string t = "2026-03-0" + std::to_string(1 + i % 9) + "T09:00:" + (i % 60 < 10 ? "0" : "") + std::to_string(i % 60) + "Z";
    if (i % 3 == 0)
      text += "{\"time\":\"" + t + "\",\"user\":\"u" + std::to_string(i % 50) + "\",\"type\":\"news_feed_view\"}";
    else
      text += "{\"time\":\"" + t + "\",\"user\":\"u" + std::to_string(i % 70) + "\",\"type\":\"received\",\"campaign\":\"c" +
              std::to_string(1 + i % 2) + "\",\"channel\":\"email\"}";
    if (i != 299) text += "\n";
  }
  return text;
}

TEST(IngestFile, SmallBlocksGiveTheResultOfTheWholeText) {
  testing::TempDir tmp;
  std::string text = events();
  testing::write_file(tmp / "events.jsonl", text);
  auto whole = open_engine();
  auto expected = whole->ingest_text(text);
  ASSERT_TRUE(expected.ok());
  ASSERT_EQ(expected->rejected, 1u);
  for (std::size_t block : {std::size_t{130}, std::size_t{257}, std::size_t{4096}, std::size_t{1} << 20}) {
    auto engine = open_engine();
    IngestOptions o;
    o.read_block_bytes = block;
    std::vector<std::uint64_t> durable;
    o.on_durable = [&](std::uint64_t lines) { durable.push_back(lines); };
    auto r = engine->ingest_file((tmp / "events.jsonl").string(), o);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->lines, expected->lines) << block;
    EXPECT_EQ(r->accepted, expected->accepted) << block;
    EXPECT_EQ(r->duplicates, expected->duplicates) << block;
    ASSERT_EQ(r->rejections.size(), 1u) << block;
    EXPECT_EQ(r->rejections[0].line, expected->rejections[0].line) << block;  // physical line numbers carry over
    ASSERT_FALSE(durable.empty());
    EXPECT_EQ(durable.back(), 303u) << "every physical line is acknowledged";
    for (const char* s : {"got_c1", "views"}) EXPECT_EQ(engine->evaluate(s)->members, whole->evaluate(s)->members) << s;
  }
}

TEST(IngestFile, ALineLongerThanABlockIsRejectedAndTheRestIngested) {
  testing::TempDir tmp;
  std::string long_line = "{\"time\":\"2026-03-01T09:00:00Z\",\"user\":\"" + std::string(600, 'z') +
                          "\",\"type\":\"news_feed_view\"}";
  std::string text = "{\"time\":\"2026-03-01T09:00:00Z\",\"user\":\"a\",\"type\":\"received\",\"campaign\":\"c1\",\"channel\":\"email\"}\n" +
                     long_line + "\n" +
                     "{\"time\":\"2026-03-01T09:00:00Z\",\"user\":\"b\",\"type\":\"received\",\"campaign\":\"c1\",\"channel\":\"email\"}\n";
  testing::write_file(tmp / "events.jsonl", text);
  auto engine = open_engine();
  IngestOptions o;
  o.read_block_bytes = 200;
  auto r = engine->ingest_file((tmp / "events.jsonl").string(), o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->accepted, 2u);
  EXPECT_EQ(r->rejected, 1u);
  ASSERT_EQ(r->rejections.size(), 1u);
  EXPECT_EQ(r->rejections[0].line, 2u);
  EXPECT_EQ(engine->evaluate("got_c1")->members, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace retarget
