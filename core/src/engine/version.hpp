// What readers hold: an immutable Version of everything an evaluation, an
// explanation or an export reads. Writers build the next one and publish it
// atomically; a reader loads the current one and never takes an engine lock.
//
//   std::shared_ptr<const Version> v = impl.current();   // lock-free for the reader
//   auto plan = v->schema->plan(segment_id, compile);    // cached per schema
//   evaluate_bulk(*plan->segment, *v->index, ...);
//
// A Version is the index snapshot plus the Schema (catalog, rules, lifecycle
// tiers) it was built under; a Schema changes only with the catalog, the
// rules or a tier, so ingest publishes new Versions that share it (and its
// compiled plans).
//
// Thread safety: immutable, except the plan cache, which is internally
// synchronised (a short lock around a map; compiling happens outside it).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "catalog/catalog.hpp"
#include "index/index.hpp"
#include "lifecycle/lifecycle.hpp"
#include "retarget/diagnostics.hpp"
#include "rules/rules.hpp"

namespace retarget {

// One segment compiled against one Schema; time predicates are bound at
// evaluation, so one plan serves every clock.
struct CompiledPlan {
  std::optional<CompiledSegment> segment;  // nullopt: it did not compile (diags say why)
  Diagnostics diags;
  std::set<std::string> sources_read;  // "campaign:x" / "canvas:y", nested segments and tags included
};

struct Schema {
  std::uint64_t id = 0;
  Catalog catalog;
  RuleSet rules;
  std::map<std::string, SourceLifecycle> lifecycle;  // by source key
  std::set<std::string> expired;                     // tier expired
  std::set<std::string> deleted;                     // tier deleted (legacy policy)

  // The compiled plan of a segment, compiling it once per Schema with
  // `compile` (called without any lock held; two threads may race to compile
  // the same segment, and one result wins).
  std::shared_ptr<const CompiledPlan> plan(const std::string& segment_id,
                                           const std::function<CompiledPlan()>& compile) const {
    {
      std::lock_guard lock(plans_mu_);
      auto it = plans_.find(segment_id);
      if (it != plans_.end()) return it->second;
    }
    auto p = std::make_shared<const CompiledPlan>(compile());
    std::lock_guard lock(plans_mu_);
    return plans_.emplace(segment_id, std::move(p)).first->second;
  }

 private:
  mutable std::mutex plans_mu_;
  mutable std::map<std::string, std::shared_ptr<const CompiledPlan>> plans_;
};

struct Version {
  std::shared_ptr<const Index> index;
  std::shared_ptr<const Schema> schema;
  std::int64_t as_of_ms = 0;  // when this state was published (read-only opens: of the data read)
};

}  // namespace retarget
