// Ready-made filters over interaction facts, for the common shapes of
// filters.md: "has any of these facts" (with `have`) and "the latest time of
// any of these facts" (with a time predicate). The shipped campaign, Canvas
// and tag plugins are built from them; third-party plugins may use them too.
//
// Both read InteractionView, so only interaction-dependent filters may use
// them. Facts of expired sources are absent, as for every such filter.
#pragma once

#include <algorithm>
#include <bit>
#include <string>
#include <utility>
#include <vector>

#include "retarget/sdk/actions.hpp"
#include "retarget/sdk/helpers.hpp"

namespace retarget::sdk {

// Users with at least one of `facts` (have: true), or every other user (have: false).
class AnyFactFilter final : public Filter {
 public:
  // `what` names the facts in explanations: "received spring_sale".
  AnyFactFilter(std::vector<FactKey> facts, bool have, std::string what)
      : facts_(std::move(facts)), have_(have), what_(std::move(what)) {}

  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    for (const auto& key : facts_)
      if (const UserTimes* c = ctx.interactions().fact(key)) c->set_chunk_bits(chunk, out);
    if (!have_) {
      ChunkBits universe;
      ctx.universe(chunk, universe);
      out.complement_within(universe);
    }
  }

  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    Timestamp latest = kNoTime;
    for (const auto& key : facts_) latest = std::max(latest, time_of(ctx.interactions().fact(key), user));
    bool has = latest != kNoTime;
    return {has == have_, has ? what_ + ", last at " + format_time(latest) : "never " + what_ + " (in live data)"};
  }

 private:
  std::vector<FactKey> facts_;
  bool have_;
  std::string what_;
};

// t = the latest time over `facts` (absent when the user has none of them);
// matches the users whose t satisfies the predicate.
class LatestFactTimeFilter final : public Filter {
 public:
  LatestFactTimeFilter(std::vector<FactKey> facts, TimePredicate when, std::string what)
      : facts_(std::move(facts)), when_(std::move(when)), what_(std::move(what)) {}

  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    TimeRange range = when_.at(ctx.now());
    const ValueChunk* blocks[64];
    std::vector<const ValueChunk*> many;
    std::size_t n = 0;
    for (const auto& key : facts_) {
      const UserTimes* c = ctx.interactions().fact(key);
      const ValueChunk* b = c ? c->chunk(chunk) : nullptr;
      if (!b) continue;
      if (n < 64) blocks[n] = b;
      else many.push_back(b);
      ++n;
    }
    if (n <= 1) {
      // One source (or none): the block's own kernel, zone maps included.
      if (range.match_absent) ctx.universe(chunk, out);
      if (n == 0) return;
      if (range.match_absent) blocks[0]->clear_bits_outside(range.match_present ? range.lo : 1,
                                                            range.match_present ? range.hi : 0, out);
      else if (range.match_present) blocks[0]->set_bits_in_range(range.lo, range.hi, out);
      return;
    }
    // Several sources: the predicate applies to each user's maximum time, and
    //   lo <= max  <=>  some time >= lo,   max <= hi  <=>  no time > hi,
    // so the answer is two unions of range kernels over the blocks: branch-free
    // per user, and a block whose zone map lies wholly inside or outside a
    // range costs its presence bits or nothing.
    auto each = [&](auto&& f) {
      for (std::size_t i = 0; i < std::min<std::size_t>(n, 64); ++i) f(blocks[i]);
      for (const ValueChunk* b : many) f(b);
    };
    ChunkBits result;
    result.clear();
    if (range.match_present) {
      each([&](const ValueChunk* b) { b->set_bits_in_range(range.lo, kMaxTime, result); });
      if (range.hi < kMaxTime) {
        ChunkBits later;
        later.clear();
        each([&](const ValueChunk* b) { b->set_bits_in_range(range.hi + 1, kMaxTime, later); });
        result.and_not(later);
      }
    }
    if (range.match_absent) {
      ChunkBits present, universe;
      present.clear();
      each([&](const ValueChunk* b) { b->set_bits(present); });
      ctx.universe(chunk, universe);
      universe.and_not(present);
      result.or_with(universe);
    }
    out.or_with(result);
  }

  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    Timestamp latest = kNoTime;
    for (const auto& key : facts_) latest = std::max(latest, time_of(ctx.interactions().fact(key), user));
    return {when_.at(ctx.now()).matches(latest), what_ + ": " + format_time(latest) + "; wanted " + when_.text};
  }

 private:
  std::vector<FactKey> facts_;
  TimePredicate when_;
  std::string what_;
};

// The facts of an interaction `action` (actions.hpp) on one source or step.
inline std::vector<FactKey> action_facts(SourceKind kind, const std::string& source, const std::string& step,
                                         std::string_view action) {
  std::vector<FactKey> keys;
  for (auto& a : event_actions_for(action)) keys.push_back(FactKey{kind, source, FactKind::kInteraction, step, a});
  return keys;
}

}  // namespace retarget::sdk
