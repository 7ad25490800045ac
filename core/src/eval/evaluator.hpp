// Runs compiled segment plans over an Index: bulk (every user, in parallel
// over chunks of 65,536 users) and point (one user, with the reason of every node).
//
// Both walk the same PlanNode tree with the same boolean semantics; each leaf
// supplies its bulk kernel and its point check (see sdk::Filter). `not` and
// `have: false` are complements over U, the users the index knows.
//
// Thread safety: evaluate() runs its parallel work inside the task arena it
// was given; any number of evaluations may run at once over immutable indexes.
#pragma once

#include <roaring/roaring.hh>
#include <tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "index/index.hpp"
#include "retarget/status.hpp"
#include "rules/rules.hpp"

namespace retarget {

struct BulkResult {
  Roaring members;  // dense user indexes (empty unless asked for)
  std::uint64_t count = 0;
  double evaluate_ms = 0;
  // Values filters did not evaluate and took as not matching
  // (sdk::EvalContext::count_skipped_values): the caller warns when non-zero,
  // with skipped_values_warning().
  std::uint64_t skipped_values = 0;
};

struct PointNode {
  std::string label;
  bool value = false;
  std::string because;  // leaves: the deciding fact
  std::vector<PointNode> children;
};

struct PointResult {
  bool member = false;
  PointNode match;
  std::vector<PointNode> exclude;
  std::uint64_t skipped_values = 0;  // as BulkResult::skipped_values
};

// The warning for `n` > 0 skipped values: "3 attribute values were not
// evaluated (longer than a filter's bound, e.g. custom_attribute matches
// searches at most 64 KiB) and count as not matching".
std::string skipped_values_warning(std::uint64_t n);

// What one bulk evaluation read: the index columns its leaves opened (each
// scanned whole: users and values, or codes where dictionary-coded) and the
// 8 KiB chunk bitsets its nodes wrote.
// Columns stream from memory; bitsets stay in cache.
struct Footprint {
  std::uint64_t columns = 0;        // distinct columns opened
  std::uint64_t column_bytes = 0;   // the bytes a scan of them reads
  std::uint64_t bitset_writes = 0;  // node results computed (one per node and chunk)
};

// When a bulk evaluation must stop: past `at`, or once `*cancel` is true. It
// is checked before every node of every chunk, so a stop takes effect within
// one leaf's work on one chunk of 65,536 users; the evaluation then fails
// with Status::kTimedOut.
struct Deadline {
  std::chrono::steady_clock::time_point at = std::chrono::steady_clock::time_point::max();
  const std::atomic<bool>* cancel = nullptr;  // may be set from any thread
  std::int64_t limit_ms = 0;  // what `at` came from, for the message
};

// Throws nothing: a filter that throws fails the evaluation with a message
// naming the filter and its plugin. With `footprint`, the evaluation also
// records what it read (slower: for benchmarks, never for serving). Without
// `with_members` only the count is computed (no member list is built).
// `now` is the evaluation's clock: the plan's time predicates are bound to it.
Result<BulkResult> evaluate_bulk(const CompiledSegment& segment, const Index& index, tbb::task_arena& arena,
                                 sdk::Timestamp now, bool with_members = true, Footprint* footprint = nullptr,
                                 const Deadline& deadline = {});
Result<PointResult> evaluate_point(const CompiledSegment& segment, const Index& index, sdk::UserIndex user,
                                   sdk::Timestamp now);

}  // namespace retarget
