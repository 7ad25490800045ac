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
    std::vector<const UserTimes*> columns;
    for (const auto& key : facts_)
      if (const UserTimes* c = ctx.interactions().fact(key)) columns.push_back(c);
    if (columns.size() <= 1) {
      match_time_chunk(ctx, columns.empty() ? nullptr : columns[0], when_, chunk, out);
      return;
    }
    // Several sources: the predicate applies to each user's maximum, gathered
    // in a dense per-chunk array (O(entries), no sort). The array is reused
    // per thread and reset entry by entry, so a call never clears 512 KiB.
    thread_local std::vector<Timestamp> latest(kChunkUsers, kNoTime);
    ChunkBits present;
    present.clear();
    for (const UserTimes* c : columns) {
      auto users = c->users_in_chunk(chunk);
      auto times = c->values_in_chunk(chunk);
      for (std::size_t i = 0; i < users.size(); ++i) {
        std::uint32_t bit = offset_in_chunk(users[i]);
        latest[bit] = std::max(latest[bit], times[i]);
        present.set(bit);
      }
    }
    if (when_.match_absent) ctx.universe(chunk, out);
    for (std::uint32_t w = 0; w < kChunkWords; ++w) {
      for (std::uint64_t word = present.words[w]; word; word &= word - 1) {
        std::uint32_t bit = w * 64 + static_cast<std::uint32_t>(std::countr_zero(word));
        if (when_.matches(latest[bit])) out.set(bit);
        else out.words[w] &= ~(1ULL << (bit & 63));
        latest[bit] = kNoTime;
      }
    }
  }

  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    Timestamp latest = kNoTime;
    for (const auto& key : facts_) latest = std::max(latest, time_of(ctx.interactions().fact(key), user));
    return {when_.matches(latest), what_ + ": " + format_time(latest) + "; wanted " + when_.text};
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
