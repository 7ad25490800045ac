// Member lists in external-id order without sorting the members.
//
// A member list is printed sorted by external id (byte order). Sorting the
// ids of every result costs O(m log m) string comparisons: for 4M members that
// is most of what a caller waits for. IdOrder sorts the directory's users once
// (rank of each user, user at each rank); a list is then a pass over the
// members' ranks (a bitmap of ranks, or a sort of integers when the list is
// short), and only the users added since the order was built are sorted.
//
//   auto order = IdOrder::Build(index, arena);          // once; valid while the directory lives
//   MemberPage page = list_members(index, members, order.get(), after, limit);
//
// Thread safety: an IdOrder is immutable; list_members only reads.
#pragma once

#include <roaring/roaring.hh>
#include <tbb/task_arena.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "index/index.hpp"

namespace retarget {

class IdOrder {
 public:
  // Sorts the first index.user_count() users of the index's directory by id.
  static std::shared_ptr<const IdOrder> Build(const Index& index, tbb::task_arena& arena);

  // Users covered: 0 .. size() - 1 (users added later are not ranked).
  std::uint32_t size() const { return static_cast<std::uint32_t>(user_at_.size()); }
  // Whether this order was built over `index`'s user directory (an order
  // stays valid for every later snapshot of it: ids never change).
  bool covers_directory_of(const Index& index) const { return directory_ == index.user_directory(); }
  std::uint32_t rank(UserIndex u) const { return rank_of_[u]; }
  UserIndex user_at(std::uint32_t r) const { return user_at_[r]; }
  // The id at rank r: read from a copy of the ids laid out in rank order, so
  // that a long listing reads memory in order instead of one directory page
  // per member (the copy is skipped past 4 GiB of ids: then the directory).
  std::string_view id_at(const Index& index, std::uint32_t r) const {
    if (id_end_.empty()) return index.user_id(user_at_[r]);
    const std::uint32_t begin = r ? id_end_[r - 1] : 0;
    return std::string_view(ids_.data() + begin, id_end_[r] - begin);
  }
  // The mean size of the ranked ids, rounded up (0 without ranked users).
  std::size_t average_id_bytes() const { return user_at_.empty() ? 0 : (id_bytes_ + user_at_.size() - 1) / user_at_.size(); }
  // The first rank whose id sorts after `after`.
  std::uint32_t first_rank_after(const Index& index, std::string_view after) const;

 private:
  std::shared_ptr<const UserDirectory> directory_;
  std::vector<std::uint32_t> rank_of_;  // by user
  std::vector<UserIndex> user_at_;      // by rank
  std::string ids_;                     // every id, in rank order
  std::uint64_t id_bytes_ = 0;          // the ids' total size
  std::vector<std::uint32_t> id_end_;   // by rank: where its id ends in ids_ (empty: no copy)
};

struct MemberPage {
  std::vector<std::string> ids;  // sorted (as_lines: empty)
  std::string lines;             // as_lines: the same ids, each followed by '\n'
  std::size_t count = 0;         // ids on the page
  std::string next_after;        // set when more members follow the page
};

// The members' external ids, sorted, those after `after` ("" = from the
// first), at most `limit` (0 = all). `order` may be null (then the ids are
// sorted) or cover fewer users than the index (the rest are sorted and merged).
// REQUIRES: members < index.user_count(); order, when given, covers the
// index's directory.
// `as_lines`: the page as one text (MemberPage::lines) instead of a string per id.
MemberPage list_members(const Index& index, const Roaring& members, const IdOrder* order, std::string_view after,
                        std::size_t limit, bool as_lines = false);

}  // namespace retarget
