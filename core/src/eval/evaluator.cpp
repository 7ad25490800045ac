#include "eval/evaluator.hpp"

#include "eval/bit_kernels.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <utility>

namespace retarget {
namespace {

using sdk::ChunkBits;

using bit_kernels::none;

std::size_t depth_of(const PlanNode& n) {
  std::size_t d = 0;
  for (const auto& c : n.children) d = std::max(d, depth_of(c));
  return d + 1;
}

std::size_t depth_of(const CompiledSegment& s) {
  std::size_t d = depth_of(s.match);
  for (const auto& ex : s.exclude) d = std::max(d, depth_of(ex));
  return d + 1;
}

std::string leaf_name(const PlanNode& n) {
  return "filter '" + n.definition->info->name + "' (plugin " + n.definition->plugin_name + ", " +
         n.definition->library_path + ")";
}

// Records every column an evaluation opens, with the bytes a full scan of it
// reads (the Footprint of an evaluation). Thread-safe: chunks are evaluated in parallel.
class Recorder {
 public:
  template <typename Column>
  const Column* seen(const Column* c) const {
    if (c) record(c, c->scan_bytes());
    return c;
  }
  void record(const void* column, std::size_t bytes) const {
    std::lock_guard lock(mu_);
    if (seen_.insert(column).second) bytes_ += bytes;
  }
  void add_to(Footprint& f) const {
    std::lock_guard lock(mu_);
    f.columns += seen_.size();
    f.column_bytes += bytes_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::unordered_set<const void*> seen_;
  mutable std::uint64_t bytes_ = 0;
};

// Forwarding views that record what they hand out. Two objects, as for the
// index itself: the profile one holds no route to interaction data.
class RecordingInteractions final : public sdk::InteractionView {
 public:
  RecordingInteractions(const InteractionIndex& index, const Recorder& r) : index_(index), r_(r) {}
  const sdk::UserTimes* fact(const sdk::FactKey& key) const override { return r_.seen(index_.fact(key)); }

 private:
  const InteractionIndex& index_;
  const Recorder& r_;
};

class RecordingProfiles final : public sdk::ProfileView {
 public:
  RecordingProfiles(const ProfileIndex& index, const Recorder& r) : index_(index), r_(r) {}
  const sdk::UserTimes* times(sdk::SummaryKind kind, std::string_view a, std::string_view b) const override {
    return r_.seen(index_.times(kind, a, b));
  }
  const sdk::UserCounts* news_feed_views() const override { return r_.seen(index_.news_feed_views()); }
  // Attributes count their codes only (a conservative figure: a filter that
  // decides each distinct value also reads the dictionary, small unless
  // nearly every value is distinct, and then ordered comparisons skip it).
  const sdk::UserAttributes* attribute(std::string_view name) const override {
    const sdk::UserAttributes* a = index_.attribute(name);
    if (a) r_.record(a, a->code_bytes());
    return a;
  }
  std::span<const std::uint16_t> user_buckets(std::uint32_t chunk) const override {
    auto b = index_.user_buckets(chunk);
    r_.record(b.data(), b.size_bytes());
    return b;
  }

 private:
  const ProfileIndex& index_;
  const Recorder& r_;
};

// The bitsets a chunk's evaluation works in, taken from a stack this thread
// keeps between evaluations: fresh 8 KiB blocks per chunk would be allocated,
// faulted in and zeroed again for every chunk of every evaluation. Frames nest
// (a nested segment's chunk is evaluated inside its parent's) and are released
// in reverse order.
class ScratchFrame {
 public:
  explicit ScratchFrame(std::size_t n) : level_(stack().top++) {
    Stack& st = stack();
    if (st.frames.size() <= level_) st.frames.resize(level_ + 1);
    Stack::Frame& f = st.frames[level_];
    if (f.size < n) {
      f.bits.reset(new ChunkBits[n]);
      f.size = n;
    }
    bits_ = f.bits.get();
  }
  ~ScratchFrame() { --stack().top; }
  ScratchFrame(const ScratchFrame&) = delete;
  ScratchFrame& operator=(const ScratchFrame&) = delete;
  ChunkBits* bits() const { return bits_; }

 private:
  struct Stack {
    struct Frame {
      std::unique_ptr<ChunkBits[]> bits;
      std::size_t size = 0;
    };
    std::vector<Frame> frames;  // never shrinks; a frame's block moves only when it grows
    std::size_t top = 0;
  };
  static Stack& stack() {
    thread_local Stack s;
    return s;
  }
  std::size_t level_;
  ChunkBits* bits_;
};

// One evaluation over one index snapshot. It is also the SegmentResolver that
// gives `segment` leaves the membership of nested segments, evaluated with the
// same machinery. Interaction-dependent leaves get the interaction view,
// profile-level leaves a context without it (the enforced tag).
class Evaluation final : public sdk::SegmentResolver {
 public:
  // `interactions` and `profiles` are the index's halves (or recording stand-ins);
  // `now` is the clock time predicates are bound to.
  Evaluation(const CompiledSegment& root, std::uint32_t user_count, const sdk::InteractionView& interactions,
             const sdk::ProfileView& profiles, sdk::Timestamp now, std::atomic<std::uint64_t>* bitset_writes = nullptr,
             const Deadline* deadline = nullptr)
      : full_(user_count, &interactions, profiles, this, now, &skipped_values_),
        profile_only_(user_count, nullptr, profiles, this, now, &skipped_values_),
        bitset_writes_(bitset_writes),
        deadline_(deadline) {
    std::size_t slot = 0;
    for (const auto& [id, nested] : root.nested)
      memberships_.emplace(id, std::make_unique<Membership>(*this, *nested, slot++));
  }

  const sdk::SegmentMembership* segment(std::string_view id) const override {
    auto it = memberships_.find(std::string(id));
    return it == memberships_.end() ? nullptr : it->second.get();
  }

  const sdk::EvalContext& context() const { return full_; }
  // Whether the deadline passed or the evaluation was cancelled (sticky:
  // once true, every node left computes nothing).
  bool stopped() const {
    if (stopped_.load(std::memory_order_relaxed)) return true;
    if (!deadline_) return false;
    if ((deadline_->cancel && deadline_->cancel->load(std::memory_order_relaxed)) ||
        std::chrono::steady_clock::now() >= deadline_->at) {
      stopped_.store(true, std::memory_order_relaxed);
      return true;
    }
    return false;
  }

  // What the leaves reported through EvalContext::count_skipped_values.
  std::uint64_t skipped_values() const { return skipped_values_.load(std::memory_order_relaxed); }

  // The members of `segment` in one chunk (match AND NOT any exclude). Each
  // nested segment is evaluated at most once for the chunk (a memo on this
  // thread), however many paths lead to it.
  void chunk(const CompiledSegment& segment, std::uint32_t chunk, ChunkBits& out) const {
    if (memberships_.empty()) return chunk_of(segment, chunk, out);
    ScratchFrame memo_bits(memberships_.size());
    ChunkMemo memo{this, chunk, memo_bits.bits(), std::vector<bool>(memberships_.size(), false)};
    ScopedMemo<ChunkMemo> scope(t_chunk_memo, &memo);
    chunk_of(segment, chunk, out);
  }

  // Whether `user` is a member of `segment`, with the tree of every node's
  // value. Each nested segment is evaluated once per call and its tree shown
  // once, under the first leaf that reaches it.
  PointResult point(const CompiledSegment& segment, sdk::UserIndex user) const {
    if (memberships_.empty()) return point_of(segment, user);
    PointMemo memo{this, user, std::vector<PointMemo::Slot>(memberships_.size())};
    ScopedMemo<PointMemo> scope(t_point_memo, &memo);
    return point_of(segment, user);
  }

 private:
  // The memos of the evaluation running on this thread (a nested evaluation
  // started by a leaf saves and restores the outer one).
  struct ChunkMemo {
    const Evaluation* owner;
    std::uint32_t chunk;
    ChunkBits* bits;                  // by membership slot (a scratch frame)
    std::vector<bool> evaluated;      // by membership slot
  };
  struct PointMemo {
    struct Slot {
      bool evaluated = false, member = false, shown = false;
      PointResult tree;  // moved under the first leaf that shows it
    };
    const Evaluation* owner;
    sdk::UserIndex user;
    std::vector<Slot> slots;
  };
  static thread_local ChunkMemo* t_chunk_memo;
  static thread_local PointMemo* t_point_memo;
  template <typename Memo>
  class ScopedMemo {
   public:
    ScopedMemo(Memo*& current, Memo* memo) : current_(current), saved_(std::exchange(current, memo)) {}
    ~ScopedMemo() { current_ = saved_; }
    ScopedMemo(const ScopedMemo&) = delete;
    ScopedMemo& operator=(const ScopedMemo&) = delete;

   private:
    Memo*& current_;
    Memo* saved_;
  };

  class Membership final : public sdk::SegmentMembership {
   public:
    Membership(const Evaluation& ev, const CompiledSegment& segment, std::size_t slot)
        : ev_(ev), segment_(segment), slot_(slot) {}
    void evaluate_chunk(std::uint32_t chunk, ChunkBits& out) const override {
      ChunkMemo* memo = t_chunk_memo;
      if (!memo || memo->owner != &ev_ || memo->chunk != chunk) return ev_.chunk(segment_, chunk, out);
      ChunkBits& bits = memo->bits[slot_];
      if (!memo->evaluated[slot_]) {
        ev_.chunk_of(segment_, chunk, bits);
        memo->evaluated[slot_] = true;
      }
      out = bits;
    }
    bool contains(sdk::UserIndex user) const override {
      PointMemo* memo = t_point_memo;
      if (memo && memo->owner == &ev_ && memo->user == user) return slot(user).member;
      // Outside a point evaluation of this Evaluation: one of its own.
      PointMemo own{&ev_, user, std::vector<PointMemo::Slot>(ev_.memberships_.size())};
      ScopedMemo<PointMemo> scope(t_point_memo, &own);
      return slot(user).member;
    }
    // This segment's memo slot for `user`, evaluated if it was not yet.
    // REQUIRES: a point memo of this Evaluation for `user` on this thread.
    PointMemo::Slot& slot(sdk::UserIndex user) const {
      PointMemo::Slot& s = t_point_memo->slots[slot_];
      if (!s.evaluated) {
        PointResult r = ev_.point_of(segment_, user);
        s.member = r.member;
        s.tree = std::move(r);
        s.evaluated = true;
      }
      return s;
    }
    const CompiledSegment& segment() const { return segment_; }

   private:
    const Evaluation& ev_;
    const CompiledSegment& segment_;
    std::size_t slot_;
  };

  void chunk_of(const CompiledSegment& segment, std::uint32_t chunk, ChunkBits& out) const {
    std::size_t depth = depth_of(segment);
    // Reused by this thread (nested segments push a frame per level of nesting).
    ScratchFrame frame(depth + 2);
    ChunkBits* scratch = frame.bits();
    ChunkBits& universe = scratch[depth + 1];
    full_.universe(chunk, universe);
    eval(segment.match, chunk, universe, out, scratch, 0);
    ChunkBits& excluded = scratch[depth];
    for (const auto& ex : segment.exclude) {
      if (none(out)) break;
      eval(ex, chunk, universe, excluded, scratch, 0);
      bit_kernels::and_not(out, excluded);
    }
  }

  PointResult point_of(const CompiledSegment& segment, sdk::UserIndex user) const {
    PointResult out;
    out.match = point(segment.match, user);
    bool excluded = false;
    for (const auto& ex : segment.exclude) {
      out.exclude.push_back(point(ex, user));
      excluded = excluded || out.exclude.back().value;
    }
    out.member = out.match.value && !excluded;
    return out;
  }

  const sdk::EvalContext& for_leaf(const PlanNode& n) const {
    return n.definition->info->interaction_dependent ? full_ : profile_only_;
  }

  // REQUIRES: scratch has a slot per level of the tree.
  void eval(const PlanNode& n, std::uint32_t chunk, const ChunkBits& universe, ChunkBits& out, ChunkBits* scratch,
            std::size_t level) const {
    if (stopped()) {  // the result is thrown away: stop working on it
      out.clear();
      return;
    }
    if (bitset_writes_) bitset_writes_->fetch_add(1, std::memory_order_relaxed);
    switch (n.op) {
      case PlanNode::Op::kLeaf:
        out.clear();
        n.filter->evaluate_chunk(for_leaf(n), chunk, out);
        bit_kernels::and_with(out, universe);
        return;
      case PlanNode::Op::kAll: {
        eval(n.children[0], chunk, universe, out, scratch, level + 1);
        ChunkBits& tmp = scratch[level];
        for (std::size_t i = 1; i < n.children.size() && !none(out); ++i) {
          eval(n.children[i], chunk, universe, tmp, scratch, level + 1);
          bit_kernels::and_with(out, tmp);
        }
        return;
      }
      case PlanNode::Op::kAny: {
        eval(n.children[0], chunk, universe, out, scratch, level + 1);
        ChunkBits& tmp = scratch[level];
        for (std::size_t i = 1; i < n.children.size(); ++i) {
          eval(n.children[i], chunk, universe, tmp, scratch, level + 1);
          bit_kernels::or_with(out, tmp);
        }
        return;
      }
      case PlanNode::Op::kNot:
        eval(n.children[0], chunk, universe, out, scratch, level + 1);
        bit_kernels::complement_within(out, universe);
        return;
    }
  }

  PointNode point(const PlanNode& n, sdk::UserIndex user) const {
    PointNode out;
    out.label = n.label;
    switch (n.op) {
      case PlanNode::Op::kLeaf: {
        sdk::Verdict v;
        try {
          v = n.filter->evaluate_user(for_leaf(n), user);
        } catch (const sdk::InteractionAccessDenied&) {
          throw;
        } catch (const std::exception& e) {
          throw std::runtime_error(leaf_name(n) + " failed: " + e.what());
        }
        out.value = v.match;
        out.because = std::move(v.because);
        // A nested segment: show its own tree, with each node's value, under
        // the first leaf that reaches it; later leaves point back to it.
        if (!n.nested_segment.empty()) {
          auto it = memberships_.find(n.nested_segment);
          if (it != memberships_.end()) {
            PointMemo::Slot& slot = it->second->slot(user);
            if (slot.shown) {
              PointNode seen;
              seen.label = "segment " + n.nested_segment + ": its tree is shown above";
              seen.value = slot.member;
              out.children.push_back(std::move(seen));
            } else {
              slot.shown = true;
              PointResult nested = std::move(slot.tree);
              nested.match.label = "segment " + n.nested_segment + " match: " + nested.match.label;
              out.children.push_back(std::move(nested.match));
              for (auto& ex : nested.exclude) {
                ex.label = "segment " + n.nested_segment + " exclude: " + ex.label;
                out.children.push_back(std::move(ex));
              }
            }
          }
        }
        return out;
      }
      case PlanNode::Op::kAll:
        out.value = true;
        for (const auto& c : n.children) {
          out.children.push_back(point(c, user));
          out.value = out.value && out.children.back().value;
        }
        return out;
      case PlanNode::Op::kAny:
        out.value = false;
        for (const auto& c : n.children) {
          out.children.push_back(point(c, user));
          out.value = out.value || out.children.back().value;
        }
        return out;
      case PlanNode::Op::kNot:
        out.children.push_back(point(n.children[0], user));
        out.value = !out.children[0].value;
        return out;
    }
    return out;
  }

  std::atomic<std::uint64_t> skipped_values_{0};  // before the contexts that point to it
  sdk::EvalContext full_;
  sdk::EvalContext profile_only_;
  std::atomic<std::uint64_t>* bitset_writes_;
  const Deadline* deadline_;
  mutable std::atomic<bool> stopped_{false};
  std::map<std::string, std::unique_ptr<Membership>> memberships_;
};

thread_local Evaluation::ChunkMemo* Evaluation::t_chunk_memo = nullptr;
thread_local Evaluation::PointMemo* Evaluation::t_point_memo = nullptr;

}  // namespace

std::string skipped_values_warning(std::uint64_t n) {
  return std::to_string(n) + (n == 1 ? " value was" : " values were") +
         " not evaluated and counted as not matching: longer than a filter's bound (custom_attribute "
         "`matches` searches values of at most 64 KiB; docs/rules.md)";
}

Result<BulkResult> evaluate_bulk(const CompiledSegment& segment, const Index& index, tbb::task_arena& arena,
                                 sdk::Timestamp now, bool with_members, Footprint* footprint,
                                 const Deadline& deadline) {
  auto start = std::chrono::steady_clock::now();
  Recorder recorder;
  RecordingInteractions rec_interactions(index.interactions(), recorder);
  RecordingProfiles rec_profiles(index.profiles(), recorder);
  std::atomic<std::uint64_t> bitset_writes{0};
  const sdk::InteractionView& interactions =
      footprint ? static_cast<const sdk::InteractionView&>(rec_interactions) : index.interactions();
  const sdk::ProfileView& profiles = footprint ? static_cast<const sdk::ProfileView&>(rec_profiles) : index.profiles();
  Evaluation evaluation(segment, index.user_count(), interactions, profiles, now, footprint ? &bitset_writes : nullptr,
                        &deadline);
  std::uint32_t users = index.user_count();
  std::uint32_t chunks = (users + sdk::kChunkUsers - 1) / sdk::kChunkUsers;

  std::vector<std::vector<sdk::UserIndex>> per_chunk(with_members ? chunks : 0);
  std::vector<std::uint64_t> counts(chunks, 0);
  try {
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::uint32_t>(0, chunks, 1), [&](const auto& range) {
        ScratchFrame frame(1);
        ChunkBits* result = frame.bits();
        for (std::uint32_t c = range.begin(); c != range.end(); ++c) {
          if (evaluation.stopped()) return;
          evaluation.chunk(segment, c, *result);
          counts[c] = bit_kernels::count(*result);
          if (with_members) bit_kernels::append_members(*result, c << sdk::kChunkShift, per_chunk[c]);
        }
      });
    });
  } catch (const sdk::InteractionAccessDenied& e) {
    return Status::Failed("a profile-level filter of segment '" + segment.id +
                          "' reached for interaction data and was stopped: " + e.what());
  } catch (const std::exception& e) {
    return Status::Failed("evaluating segment '" + segment.id + "' failed in a filter: " + e.what());
  }
  if (evaluation.stopped()) {
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (deadline.cancel && deadline.cancel->load())
      return Status::TimedOut("evaluating segment '" + segment.id + "' was cancelled");
    return Status::TimedOut("evaluating segment '" + segment.id + "' was stopped after " +
                            std::to_string(static_cast<long long>(ms)) + " ms: longer than its deadline (" +
                            std::to_string(deadline.limit_ms) + " ms, limits.max_evaluation_time in the config)");
  }
  if (footprint) {
    recorder.add_to(*footprint);
    footprint->bitset_writes += bitset_writes.load();
  }
  BulkResult out;
  for (std::uint64_t n : counts) out.count += n;
  out.skipped_values = evaluation.skipped_values();
  for (const auto& v : per_chunk) out.members.addMany(v.size(), v.data());
  out.evaluate_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

Result<PointResult> evaluate_point(const CompiledSegment& segment, const Index& index, sdk::UserIndex user,
                                   sdk::Timestamp now) {
  Evaluation evaluation(segment, index.user_count(), index.interactions(), index.profiles(), now);
  try {
    PointResult out = evaluation.point(segment, user);
    out.skipped_values = evaluation.skipped_values();
    return out;
  } catch (const sdk::InteractionAccessDenied& e) {
    return Status::Failed(std::string("a profile-level filter reached for interaction data and was stopped: ") +
                          e.what());
  } catch (const std::exception& e) {
    return Status::Failed(e.what());
  }
}

}  // namespace retarget
