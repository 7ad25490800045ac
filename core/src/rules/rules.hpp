// Segments as written by rule authors, and their compilation into plans.
//
// A RuleSet holds segment definitions read from rule files (validated for
// shape). compile() checks every leaf against the filter registry and the
// catalog and produces a Plan: the boolean tree with one compiled sdk::Filter
// per leaf. Every problem of every segment is reported, each with
// file:line:column and a plain sentence.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "common/time.hpp"
#include "common/yaml_tree.hpp"
#include "rules/filter_lookup.hpp"
#include "retarget/config.hpp"
#include "retarget/diagnostics.hpp"
#include "rules/param_binder.hpp"

namespace retarget {

struct SegmentDefinition {
  std::string id, name;
  YamlNode match;
  std::vector<YamlNode> exclude;
  SourceLocation where;
};

class RuleSet {
 public:
  // Reads the segments of a rules file; a segment id defined twice (in this
  // file or an earlier one) is an error. Segments whose shape is wrong are not
  // added; the others are, so that compiling them can report every problem at
  // once. REQUIRES of the caller: a RuleSet read with errors is never applied.
  void add_file(const std::string& path, const Limits& limits, Diagnostics& diags);
  void add_text(const std::string& text, const std::string& file, const Limits& limits, Diagnostics& diags);
  // Upserts (rules apply): replaces segments with the same id.
  void upsert(const RuleSet& other);

  bool remove(const std::string& id) { return segments_.erase(id) > 0; }
  const SegmentDefinition* find(std::string_view id) const;
  const std::map<std::string, SegmentDefinition, std::less<>>& segments() const { return segments_; }
  std::set<std::string> ids() const;
  // Second definitions of an id (an error already reported): compiled for
  // their diagnostics only, never evaluated.
  const std::vector<SegmentDefinition>& duplicates() const { return duplicates_; }
  void clear_duplicates() { duplicates_.clear(); }

 private:
  void add(const YamlNode& root, const std::string& file, const Limits& limits, Diagnostics& diags);
  std::map<std::string, SegmentDefinition, std::less<>> segments_;
  std::vector<SegmentDefinition> duplicates_;
};

struct PlanNode {
  enum class Op { kAll, kAny, kNot, kLeaf };
  Op op = Op::kLeaf;
  std::vector<PlanNode> children;
  std::shared_ptr<const sdk::Filter> filter;  // kLeaf
  const RegisteredFilter* definition = nullptr;  // kLeaf
  std::string label;  // "all", "any", "not", or the leaf as written
  SourceLocation where;
  // kLeaf with a kSegment parameter: the nested segment's id (explain expands
  // its tree under the leaf).
  std::string nested_segment;
};

// Every source a compiled segment reads (by id, or through its tags now),
// nested segments included: "campaign:<id>" / "canvas:<id>".
struct CompiledSegment;
std::set<std::string> sources_read(const CompiledSegment& segment, const Catalog& catalog);
// The sources one set of references reads (tags expanded through the catalog now).
void add_sources_read(const References& refs, const Catalog& catalog, std::set<std::string>& out);

struct CompiledSegment {
  std::string id, name;
  PlanNode match;
  std::vector<PlanNode> exclude;
  References references;  // of this segment's own leaves
  // Every segment reached through `segment` references, transitively
  // (flattened: nested segments resolve theirs from the same map). Set by
  // Compiler::compile on the root only; a nested segment's own map is empty.
  std::map<std::string, std::shared_ptr<const CompiledSegment>> nested;
};

// A compiled plan depends on the catalog, the rules and the lifecycle's
// deleted sources, never on the clock: time predicates are bound at
// evaluation, so plans can be cached.
struct CompileOptions {
  const TimeZone* zone = nullptr;
  const Limits* limits = nullptr;
  const std::set<std::string>* deleted_sources = nullptr;  // legacy deletions
};

// Not thread-safe: one Compiler per thread (it caches each segment's own plan).
class Compiler {
 public:
  Compiler(const FilterLookup& registry, const Catalog& catalog, const RuleSet& rules, CompileOptions options);

  // Compiles one segment and every segment it nests (each segment's own tree
  // once per Compiler); nullopt after reporting errors (a nesting cycle, or
  // nesting deeper than limits.max_segment_depth, is one).
  std::optional<CompiledSegment> compile(const SegmentDefinition& segment, Diagnostics& diags) const;
  // Compiles the segment's own trees only (its `nested` stays empty); cached,
  // so validating every segment of a rule set is linear in its size. nullptr
  // after reporting errors (reported once per Compiler).
  std::shared_ptr<const CompiledSegment> compile_own(const SegmentDefinition& segment, Diagnostics& diags) const;
  // Compiles a bare tree (an inline audience); nullopt after reporting errors.
  std::optional<PlanNode> compile_tree(const YamlNode& tree, const std::string& file, References& refs,
                                       Diagnostics& diags) const;
  // Checks the graph of `segment` references among `refs` (each segment's own
  // references): every cycle is reported once, and every segment that is not
  // nested itself and nests segments more than limits.max_segment_depth levels
  // deep. Iterative and linear: a chain of any length is checked without
  // recursion. Returns false after reporting.
  // With `order`, it also receives the segments of `refs` children first
  // (every segment after those it nests), when there is no cycle.
  bool check_nesting(const std::map<std::string, References>& refs, Diagnostics& diags,
                     std::vector<std::string>* order = nullptr) const;

 private:
  std::optional<CompiledSegment> compile_tree_of(const SegmentDefinition& segment, Diagnostics& diags) const;
  std::optional<PlanNode> node(const YamlNode& n, const std::string& file, std::size_t depth, std::size_t& count,
                               References& refs, Diagnostics& diags) const;
  std::optional<PlanNode> leaf(const YamlNode& key, const YamlNode& params, const std::string& file,
                               References& refs, Diagnostics& diags) const;

  const FilterLookup& registry_;
  const Catalog& catalog_;
  const RuleSet& rules_;
  CompileOptions options_;
  std::set<std::string> segment_ids_;
  // compile_own's results by definition (nullptr: it had errors). By address,
  // not id: a duplicate definition of an id is compiled for its own problems.
  mutable std::map<const SegmentDefinition*, std::shared_ptr<const CompiledSegment>> own_;
};

// Renders a YAML node as a one-line flow value: {campaign: x, have: false}.
std::string to_flow(const YamlNode& n);

}  // namespace retarget
