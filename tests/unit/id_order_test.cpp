// Member lists in external-id order (index/id_order.hpp): with an order over
// every user, over only the first users (the rest arrived later), and without
// one, every page of every size must equal the sorted ids of the members.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "index/id_order.hpp"
#include "index/index_builder.hpp"
#include "ingest/event_parser.hpp"

namespace retarget {
namespace {

class IdOrderTest : public ::testing::Test {
 protected:
  // Adds users with ids in a random order (so that user order is not id order).
  void add_users(int n, std::mt19937& rng) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) ids.push_back("user-" + std::to_string(rng() % 1000000) + "-" + std::to_string(next_++));
    for (const auto& id : ids) {
      std::string line = R"({"time":"2026-01-01T00:00:00Z","user":")" + id +
                         R"(","type":"attributes","attributes":{"plan":"gold"}})";
      simdjson::padded_string padded(line);
      Event ev;
      std::string error;
      ASSERT_TRUE(parser_.parse(std::string_view(padded.data(), padded.size()), ev, error)) << error;
      builder_.add(ev, catalog_);
    }
  }

  // The expected list: the members' ids, sorted.
  static std::vector<std::string> sorted_ids(const Index& index, const Roaring& members) {
    std::vector<std::string> ids;
    for (UserIndex u : members) ids.emplace_back(index.user_id(u));
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  // Every way of listing `members` gives `want`: whole, and in pages of several sizes joined.
  static void check_all_pages(const Index& index, const Roaring& members, const IdOrder* order,
                              const std::vector<std::string>& want) {
    ASSERT_EQ(list_members(index, members, order, "", 0).ids, want);
    std::string want_lines;
    for (const auto& id : want) want_lines += id + "\n";
    ASSERT_EQ(list_members(index, members, order, "", 0, /*as_lines=*/true).lines, want_lines);
    for (std::size_t size : {std::size_t{1}, std::size_t{7}, std::size_t{997}, want.size() + 1}) {
      std::vector<std::string> joined;
      std::string after, after_lines, joined_lines;
      for (int pages = 0;; ++pages) {
        ASSERT_LT(pages, 100000);
        MemberPage page = list_members(index, members, order, after, size);
        ASSERT_LE(page.ids.size(), size);
        ASSERT_EQ(page.count, page.ids.size());
        joined.insert(joined.end(), page.ids.begin(), page.ids.end());
        // The same page as one text: the same ids, the same cursor.
        MemberPage text = list_members(index, members, order, after, size, /*as_lines=*/true);
        ASSERT_TRUE(text.ids.empty());
        ASSERT_EQ(text.count, page.ids.size());
        ASSERT_EQ(text.next_after, page.next_after);
        joined_lines += text.lines;
        if (page.next_after.empty()) break;
        ASSERT_EQ(page.next_after, page.ids.back());
        after = page.next_after;
      }
      ASSERT_EQ(joined, want) << "pages of " << size;
      ASSERT_EQ(joined_lines, want_lines) << "pages of " << size;
    }
    // A cursor that is not a member's id starts after it all the same.
    if (want.size() > 2) {
      std::string cursor = want[want.size() / 2] + "!";
      std::vector<std::string> rest(std::upper_bound(want.begin(), want.end(), cursor), want.end());
      ASSERT_EQ(list_members(index, members, order, cursor, 0).ids, rest);
    }
  }

  Catalog catalog_;
  EventParser parser_{catalog_};
  IndexBuilder builder_;
  int next_ = 0;
};

TEST_F(IdOrderTest, EveryPageEqualsTheSortedIdsWithAFullAPartialAndNoOrder) {
  std::mt19937 rng(11);
  tbb::task_arena arena(2);
  add_users(3000, rng);
  auto first = builder_.snapshot();
  auto order = IdOrder::Build(*first, arena);
  ASSERT_EQ(order->size(), 3000u);
  ASSERT_TRUE(order->covers_directory_of(*first));
  for (std::uint32_t r = 1; r < order->size(); ++r)
    ASSERT_LT(first->user_id(order->user_at(r - 1)), first->user_id(order->user_at(r)));
  for (std::uint32_t u = 0; u < order->size(); ++u) ASSERT_EQ(order->user_at(order->rank(u)), u);
  // The copy of the ids in rank order says what the directory says.
  for (std::uint32_t r = 0; r < order->size(); ++r) ASSERT_EQ(order->id_at(*first, r), first->user_id(order->user_at(r)));

  add_users(500, rng);  // arrive after the order was built
  auto later = builder_.snapshot();
  ASSERT_TRUE(order->covers_directory_of(*later));
  // Dense (the bitmap of ranks), sparse (a sort of ranks), only new users, empty.
  for (int every : {1, 2, 50, 400}) {
    Roaring members;
    for (UserIndex u = 0; u < later->user_count(); ++u)
      if (rng() % every == 0) members.add(u);
    auto want = sorted_ids(*later, members);
    check_all_pages(*later, members, order.get(), want);
    check_all_pages(*later, members, nullptr, want);
    auto full = IdOrder::Build(*later, arena);
    check_all_pages(*later, members, full.get(), want);
  }
  Roaring only_new;
  for (UserIndex u = 3000; u < later->user_count(); u += 3) only_new.add(u);
  check_all_pages(*later, only_new, order.get(), sorted_ids(*later, only_new));
  check_all_pages(*later, Roaring{}, order.get(), {});
}

}  // namespace
}  // namespace retarget
