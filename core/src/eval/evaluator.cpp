#include "eval/evaluator.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <chrono>
#include <memory>

namespace retarget {
namespace {

using sdk::ChunkBits;

bool none(const ChunkBits& b) {
  for (std::uint32_t w = 0; w < sdk::kChunkWords; ++w)
    if (b.words[w]) return false;
  return true;
}

std::size_t depth_of(const PlanNode& n) {
  std::size_t d = 0;
  for (const auto& c : n.children) d = std::max(d, depth_of(c));
  return d + 1;
}

// The two contexts of one evaluation: interaction-dependent leaves get the
// interaction view, profile-level leaves a context without it (enforced tag).
struct Contexts {
  sdk::EvalContext full;
  sdk::EvalContext profile_only;
  Contexts(const Index& index)
      : full(index.user_count(), &index, index), profile_only(index.user_count(), nullptr, index) {}
  const sdk::EvalContext& for_leaf(const PlanNode& n) const {
    return n.definition->info->interaction_dependent ? full : profile_only;
  }
};

class ChunkEvaluator {
 public:
  ChunkEvaluator(const Contexts& ctx, std::uint32_t chunk, std::size_t depth)
      : ctx_(ctx), chunk_(chunk), scratch_(new ChunkBits[depth + 1]) {
    ctx.full.universe(chunk, universe_);
  }

  // REQUIRES: `level` < depth of the plan.
  void eval(const PlanNode& n, ChunkBits& out, std::size_t level) {
    switch (n.op) {
      case PlanNode::Op::kLeaf:
        out.clear();
        n.filter->evaluate_chunk(ctx_.for_leaf(n), chunk_, out);
        out.and_with(universe_);
        return;
      case PlanNode::Op::kAll: {
        eval(n.children[0], out, level + 1);
        ChunkBits& tmp = scratch_[level];
        for (std::size_t i = 1; i < n.children.size() && !none(out); ++i) {
          eval(n.children[i], tmp, level + 1);
          out.and_with(tmp);
        }
        return;
      }
      case PlanNode::Op::kAny: {
        eval(n.children[0], out, level + 1);
        ChunkBits& tmp = scratch_[level];
        for (std::size_t i = 1; i < n.children.size(); ++i) {
          eval(n.children[i], tmp, level + 1);
          out.or_with(tmp);
        }
        return;
      }
      case PlanNode::Op::kNot:
        eval(n.children[0], out, level + 1);
        out.complement_within(universe_);
        return;
    }
  }

  const ChunkBits& universe() const { return universe_; }

 private:
  const Contexts& ctx_;
  std::uint32_t chunk_;
  ChunkBits universe_;
  std::unique_ptr<ChunkBits[]> scratch_;
};

std::string leaf_name(const PlanNode& n) {
  return "filter '" + n.definition->info->name + "' (plugin " + n.definition->plugin_name + ", " +
         n.definition->library_path + ")";
}

// Finds the first leaf (in tree order) to blame for an exception.
const PlanNode* first_leaf(const PlanNode& n) {
  if (n.op == PlanNode::Op::kLeaf) return &n;
  return n.children.empty() ? nullptr : first_leaf(n.children[0]);
}

PointNode point(const Contexts& ctx, const PlanNode& n, sdk::UserIndex user) {
  PointNode out;
  out.label = n.label;
  switch (n.op) {
    case PlanNode::Op::kLeaf: {
      sdk::Verdict v;
      try {
        v = n.filter->evaluate_user(ctx.for_leaf(n), user);
      } catch (const std::exception& e) {
        throw std::runtime_error(leaf_name(n) + " failed: " + e.what());
      }
      out.value = v.match;
      out.because = std::move(v.because);
      return out;
    }
    case PlanNode::Op::kAll:
      out.value = true;
      for (const auto& c : n.children) {
        out.children.push_back(point(ctx, c, user));
        out.value = out.value && out.children.back().value;
      }
      return out;
    case PlanNode::Op::kAny:
      out.value = false;
      for (const auto& c : n.children) {
        out.children.push_back(point(ctx, c, user));
        out.value = out.value || out.children.back().value;
      }
      return out;
    case PlanNode::Op::kNot:
      out.children.push_back(point(ctx, n.children[0], user));
      out.value = !out.children[0].value;
      return out;
  }
  return out;
}

}  // namespace

Result<BulkResult> evaluate_bulk(const CompiledSegment& segment, const Index& index, tbb::task_arena& arena) {
  auto start = std::chrono::steady_clock::now();
  Contexts ctx(index);
  std::uint32_t users = index.user_count();
  std::uint32_t chunks = (users + sdk::kChunkUsers - 1) / sdk::kChunkUsers;
  std::size_t depth = depth_of(segment.match);
  for (const auto& ex : segment.exclude) depth = std::max(depth, depth_of(ex));
  depth += 1;

  std::vector<std::vector<sdk::UserIndex>> per_chunk(chunks);
  std::string failure;
  std::exception_ptr error;
  try {
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::uint32_t>(0, chunks, 1), [&](const auto& range) {
        auto result = std::make_unique<ChunkBits>();
        auto excluded = std::make_unique<ChunkBits>();
        for (std::uint32_t c = range.begin(); c != range.end(); ++c) {
          ChunkEvaluator ev(ctx, c, depth);
          ev.eval(segment.match, *result, 0);
          for (const auto& ex : segment.exclude) {
            if (none(*result)) break;
            ev.eval(ex, *excluded, 0);
            result->and_not(*excluded);
          }
          auto& out = per_chunk[c];
          std::uint32_t base = c << sdk::kChunkShift;
          for (std::uint32_t w = 0; w < sdk::kChunkWords; ++w) {
            std::uint64_t word = result->words[w];
            while (word) {
              out.push_back(base + w * 64 + static_cast<std::uint32_t>(std::countr_zero(word)));
              word &= word - 1;
            }
          }
        }
      });
    });
  } catch (const sdk::InteractionAccessDenied& e) {
    return Status::Failed(std::string("a profile-level filter of segment '") + segment.id +
                          "' reached for interaction data and was stopped: " + e.what());
  } catch (const std::exception& e) {
    const PlanNode* blame = first_leaf(segment.match);
    return Status::Failed("evaluating segment '" + segment.id + "' failed in a filter" +
                          (blame ? " (first leaf: " + leaf_name(*blame) + ")" : "") + ": " + e.what());
  }
  BulkResult out;
  for (const auto& v : per_chunk) {
    out.members.addMany(v.size(), v.data());
    out.count += v.size();
  }
  out.evaluate_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

Result<PointResult> evaluate_point(const CompiledSegment& segment, const Index& index, sdk::UserIndex user) {
  Contexts ctx(index);
  PointResult out;
  try {
    out.match = point(ctx, segment.match, user);
    bool excluded = false;
    for (const auto& ex : segment.exclude) {
      out.exclude.push_back(point(ctx, ex, user));
      excluded = excluded || out.exclude.back().value;
    }
    out.member = out.match.value && !excluded;
  } catch (const sdk::InteractionAccessDenied& e) {
    return Status::Failed(std::string("a profile-level filter reached for interaction data and was stopped: ") +
                          e.what());
  } catch (const std::exception& e) {
    return Status::Failed(e.what());
  }
  return out;
}

}  // namespace retarget
