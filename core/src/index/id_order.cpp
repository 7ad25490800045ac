#include "index/id_order.hpp"

#include <tbb/parallel_for.h>
#include <tbb/parallel_sort.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace retarget {

std::shared_ptr<const IdOrder> IdOrder::Build(const Index& index, tbb::task_arena& arena) {
  auto order = std::make_shared<IdOrder>();
  const std::uint32_t n = index.user_count();
  order->directory_ = index.user_directory();
  order->user_at_.resize(n);
  order->rank_of_.resize(n);
  arena.execute([&] {
    for (std::uint32_t u = 0; u < n; ++u) order->user_at_[u] = u;
    tbb::parallel_sort(order->user_at_.begin(), order->user_at_.end(),
                       [&](UserIndex a, UserIndex b) { return index.user_id(a) < index.user_id(b); });
    tbb::parallel_for(std::uint32_t{0}, n, [&](std::uint32_t r) { order->rank_of_[order->user_at_[r]] = r; });
    std::uint64_t bytes = 0;
    for (std::uint32_t r = 0; r < n; ++r) bytes += index.user_id(order->user_at_[r]).size();
    order->id_bytes_ = bytes;
    if (bytes >= (std::uint64_t{1} << 32)) return;  // offsets would not fit: ids are read from the directory
    order->id_end_.resize(n);
    std::uint32_t end = 0;
    for (std::uint32_t r = 0; r < n; ++r) order->id_end_[r] = end += static_cast<std::uint32_t>(index.user_id(order->user_at_[r]).size());
    order->ids_.resize(bytes);
    tbb::parallel_for(std::uint32_t{0}, n, [&](std::uint32_t r) {
      std::string_view id = index.user_id(order->user_at_[r]);
      std::copy(id.begin(), id.end(), order->ids_.begin() + (r ? order->id_end_[r - 1] : 0));
    });
  });
  return order;
}

std::uint32_t IdOrder::first_rank_after(const Index& index, std::string_view after) const {
  std::uint32_t lo = 0, hi = size();  // the first rank whose id is > after
  while (lo < hi) {
    std::uint32_t mid = lo + (hi - lo) / 2;
    if (after < id_at(index, mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

namespace {

// Emits ids in order until the page is full: `limit` ids plus one to learn
// that more follow.
class PageWriter {
 public:
  PageWriter(std::size_t limit, bool as_lines, MemberPage& page) : limit_(limit), as_lines_(as_lines), page_(page) {}
  // Trims the text to what was written (call once, when the page is done).
  void finish() {
    if (as_lines_) page_.lines.resize(used_);
  }
  // False once the page is complete (stop producing).
  bool add(std::string_view id) {
    if (limit_ != 0 && page_.count == limit_) {
      page_.next_after = std::string(last_);
      return false;
    }
    if (as_lines_) {
      // One copy into room made in large steps (append per id costs two capacity checks and a call).
      if (used_ + id.size() + 1 > page_.lines.size()) page_.lines.resize(std::max(2 * page_.lines.size(), used_ + id.size() + 4096));
      char* out = page_.lines.data() + used_;
      std::memcpy(out, id.data(), id.size());
      out[id.size()] = '\n';
      used_ += id.size() + 1;
    } else {
      page_.ids.emplace_back(id);
    }
    last_ = id;
    ++page_.count;
    return true;
  }

 private:
  std::size_t limit_;
  bool as_lines_;
  MemberPage& page_;
  std::string_view last_;  // ids outlive the listing (the index's directory, the order's copy)
  std::size_t used_ = 0;   // as_lines: bytes of page_.lines written
};

MemberPage sort_and_page(std::vector<std::string_view>& ids, std::size_t limit, bool as_lines) {
  MemberPage page;
  bool more = false;
  if (limit != 0 && limit < ids.size()) {
    std::nth_element(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(limit), ids.end());
    ids.resize(limit);
    more = true;
  }
  std::sort(ids.begin(), ids.end());
  PageWriter writer(0, as_lines, page);
  for (std::string_view id : ids) writer.add(id);
  writer.finish();
  if (more) page.next_after = std::string(ids.back());
  return page;
}

}  // namespace

MemberPage list_members(const Index& index, const Roaring& members, const IdOrder* order, std::string_view after,
                        std::size_t limit, bool as_lines) {
  const std::uint32_t covered = order ? order->size() : 0;
  // The scratch arrays are kept per thread: fresh megabytes per listing would
  // be page faults and zeroed pages, which cost more than the listing itself.
  thread_local std::vector<std::uint32_t> users, ranks;
  thread_local std::vector<std::uint64_t> rank_bits;
  thread_local std::vector<std::string_view> fresh;
  // One decode of the set: both passes below read the array.
  users.resize(members.cardinality());
  members.toUint32Array(users.data());
  // Ranked members are those below `covered` (users ascend).
  const std::size_t ranked =
      static_cast<std::size_t>(std::lower_bound(users.begin(), users.end(), covered) - users.begin());
  // Users the order does not rank (all of them without an order): sorted here.
  fresh.clear();
  for (std::size_t i = ranked; i < users.size(); ++i) {
    std::string_view id = index.user_id(users[i]);
    if (after.empty() || id > after) fresh.push_back(id);
  }
  if (!order || ranked == 0) return sort_and_page(fresh, limit, as_lines);
  std::sort(fresh.begin(), fresh.end());

  // The ranked members' ranks in order, from the first after `after`: a bitmap
  // of ranks for long lists (one pass, no comparisons), a sort of integers
  // for short ones.
  const std::uint32_t start = after.empty() ? 0 : order->first_rank_after(index, after);
  ranks.clear();
  const bool use_bitmap = ranked * 32 >= covered;
  if (use_bitmap) {
    rank_bits.assign((covered + 63) / 64, 0);
    for (std::size_t i = 0; i < ranked; ++i) {
      std::uint32_t r = order->rank(users[i]);
      rank_bits[r >> 6] |= std::uint64_t{1} << (r & 63);
    }
  } else {
    for (std::size_t i = 0; i < ranked; ++i) {
      std::uint32_t r = order->rank(users[i]);
      if (r >= start) ranks.push_back(r);
    }
    std::sort(ranks.begin(), ranks.end());
  }

  MemberPage page;
  const std::size_t expected = limit != 0 ? std::min<std::size_t>(limit, users.size()) : users.size();
  // Room for the text from the ids' average size (the writer grows it when needed).
  if (as_lines) page.lines.resize(expected * (order->average_id_bytes() + 2));
  else page.ids.reserve(expected);
  PageWriter writer(limit, as_lines, page);
  std::size_t f = 0;
  // Merges one ranked id with the fresh ids before it; false when the page is full.
  auto emit = [&](std::string_view id) {
    if (f == fresh.size()) return writer.add(id);
    for (; f < fresh.size() && fresh[f] < id; ++f)
      if (!writer.add(fresh[f])) return false;
    return writer.add(id);
  };
  bool open = true;
  if (use_bitmap) {
    for (std::uint32_t w = start >> 6; open && w < rank_bits.size(); ++w) {
      std::uint64_t word = rank_bits[w];
      if (w == (start >> 6)) word &= ~std::uint64_t{0} << (start & 63);
      for (; open && word; word &= word - 1)
        open = emit(order->id_at(index, w * 64 + static_cast<std::uint32_t>(std::countr_zero(word))));
    }
  } else {
    for (std::size_t i = 0; open && i < ranks.size(); ++i) open = emit(order->id_at(index, ranks[i]));
  }
  for (; open && f < fresh.size(); ++f) open = writer.add(fresh[f]);
  writer.finish();
  return page;
}

}  // namespace retarget
