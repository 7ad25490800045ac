// The filter plugin contract: metadata, compilation, bulk and point evaluation.
//
// A filter type is a FilterFactory. Its FilterInfo is plain data the host
// reads without evaluating anything (`retarget plugins`, the rules schema,
// validation). For each leaf of a segment the host validates the parameters
// against FilterInfo::params, then calls FilterFactory::create() once; the
// Filter it returns is then evaluated many times, from several threads at once.
//
// Thread safety: FilterFactory and Filter methods are const and must be safe to
// call concurrently. A Filter must not outlive the plugin library (the host
// guarantees it by keeping libraries loaded for the engine's life).
//
// Toolchain rule: C++ classes cross the plugin boundary, so a plugin must be
// built with the same compiler, standard library and SDK as the host. The host
// checks kAbiVersion and the build fingerprint (plugin.hpp) before anything else.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "retarget/sdk/data.hpp"
#include "retarget/sdk/time_predicate.hpp"
#include "retarget/sdk/types.hpp"

namespace retarget::sdk {

// Parameter types. The reference types (kCampaign ... kSegment) are checked by
// the host against the catalog and are how the host extracts a filter's
// references for the dependency graph: a filter never has to.
enum class ParamType : std::uint8_t {
  kString,
  kInteger,
  kNumber,
  kBool,
  kStringList,
  kValue,          // a string, number or bool, or a list of them (attribute values)
  kCampaign,       // a campaign id
  kCanvas,         // a Canvas id
  kCanvasStep,     // a step id of the Canvas named by the filter's kCanvas param
  kVariant,        // a variant id of the campaign named by the kCampaign param
  kVariation,      // a variation id of the Canvas named by the kCanvas param
  kTag,            // a tag some campaign or Canvas carries (formats.md: unknown tags are errors);
                   // the sources carrying it are resolved at evaluation time
  kAlias,          // a link alias
  kSegment,        // a segment id
  kTimePredicate,  // not a key itself: exactly one of the time-predicate keys
                   // (more_than_days_ago, less_than_days_ago, after, before, blank)
};

inline const char* to_string(ParamType t) {
  switch (t) {
    case ParamType::kString: return "string";
    case ParamType::kInteger: return "integer";
    case ParamType::kNumber: return "number";
    case ParamType::kBool: return "bool";
    case ParamType::kStringList: return "string_list";
    case ParamType::kValue: return "value";
    case ParamType::kCampaign: return "campaign";
    case ParamType::kCanvas: return "canvas";
    case ParamType::kCanvasStep: return "canvas_step";
    case ParamType::kVariant: return "variant";
    case ParamType::kVariation: return "variation";
    case ParamType::kTag: return "tag";
    case ParamType::kAlias: return "alias";
    case ParamType::kSegment: return "segment";
    case ParamType::kTimePredicate: return "time_predicate";
  }
  return "?";
}

struct ParamSpec {
  std::string name;  // for kTimePredicate: "time" (the keys are the predicate's)
  ParamType type = ParamType::kString;
  bool required = true;
  std::vector<std::string> allowed;  // allowed values (strings), empty = any
  std::string default_value;         // as YAML text, "" = none
  std::string description;
};

struct FilterInfo {
  std::string name;         // snake_case, unique across all plugins
  std::string description;  // one line
  std::string version;      // semantic version of this filter's behaviour
  bool interaction_dependent = false;
  std::vector<ParamSpec> params;
  // One valid parameter map, as a YAML flow map (e.g. "{campaign: c1}"): used
  // in docs, in the rules schema and in the host's load-time probe.
  std::string example;
};

// A parameter value after the host validated it against its ParamSpec.
struct ParamValue {
  ParamType type = ParamType::kString;
  std::string text;                // string-like types; kValue: the scalar as written
  std::int64_t integer = 0;        // kInteger
  double number = 0;               // kNumber; kValue numbers
  bool boolean = false;            // kBool; kValue bools
  std::vector<std::string> list;   // kStringList; kValue lists (as written)
  bool is_list = false;            // kValue: a list was given
  AttributeRef::Type scalar_type = AttributeRef::Type::kString;  // kValue scalars
};

class Params {
 public:
  bool has(std::string_view name) const { return values_.find(std::string(name)) != values_.end(); }
  // REQUIRES: the parameter is declared (the host fills in declared defaults).
  const ParamValue& get(std::string_view name) const { return values_.at(std::string(name)); }
  const std::string& text(std::string_view name) const { return get(name).text; }
  bool boolean(std::string_view name) const { return get(name).boolean; }
  std::int64_t integer(std::string_view name) const { return get(name).integer; }
  // The compiled time predicate, when the filter declares kTimePredicate.
  const std::optional<TimePredicate>& time_predicate() const { return time_predicate_; }

  // Host side.
  void set(std::string name, ParamValue v) { values_[std::move(name)] = std::move(v); }
  void set_time_predicate(TimePredicate p) { time_predicate_ = std::move(p); }

 private:
  std::map<std::string, ParamValue, std::less<>> values_;
  std::optional<TimePredicate> time_predicate_;
};

// Thrown by the host when a profile-level filter reaches for interaction
// data. The host refuses the plugin (at load, by a probe) or fails the
// evaluation naming the filter.
class InteractionAccessDenied : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// What a filter may consult while compiling. Errors are reported per
// parameter; the host attaches file:line:column.
class CompileContext {
 public:
  virtual ~CompileContext() = default;
  // (No clock here: a compiled filter is cached and evaluated at any time;
  // bind time predicates to EvalContext::now() when evaluating.)
  // Catalog entries of sources. Interaction-dependent filters only: throws
  // InteractionAccessDenied for a profile-level filter.
  virtual const CampaignInfo* campaign(std::string_view id) const = 0;
  virtual const CanvasInfo* canvas(std::string_view id) const = 0;
  // Every campaign and Canvas carrying the tag now (evaluation time).
  // Interaction-dependent filters only.
  virtual std::vector<SourceRef> sources_with_tag(std::string_view tag) const = 0;
  // The type declared for a custom attribute in the catalog ("string",
  // "number", "bool", "time"), or nullopt when undeclared.
  virtual std::optional<std::string> declared_attribute_type(std::string_view name) const = 0;
  // Compiles a time predicate from one of its keys (more_than_days_ago, ...)
  // and a value as written, exactly as the host compiles kTimePredicate
  // parameters. Returns nullopt after reporting an error on `param`.
  virtual std::optional<TimePredicate> compile_time_predicate(std::string_view key, std::string_view value,
                                                              std::string_view param) = 0;
  // Reports a validation problem about one parameter ("" = the whole leaf).
  virtual void error(std::string_view param, std::string message) = 0;
  virtual void warning(std::string_view param, std::string message) = 0;
};

// Membership of another segment (a kSegment parameter), evaluated by the host
// with the same plan machinery as any segment.
class SegmentMembership {
 public:
  virtual ~SegmentMembership() = default;
  // Sets the bits of the chunk's members in `out` (cleared by the caller).
  virtual void evaluate_chunk(std::uint32_t chunk, ChunkBits& out) const = 0;
  virtual bool contains(UserIndex user) const = 0;
};

class SegmentResolver {
 public:
  virtual ~SegmentResolver() = default;
  // nullptr when the segment is unknown (validation prevents that).
  virtual const SegmentMembership* segment(std::string_view id) const = 0;
};

// What a filter sees while evaluating. One per evaluation, shared by threads.
class EvalContext {
 public:
  // `skipped_values`: the host's counter of values filters skipped in this
  // evaluation (count_skipped_values); nullptr = the host does not collect them.
  EvalContext(std::uint32_t user_count, const InteractionView* interactions, const ProfileView& profiles,
              const SegmentResolver* segments, Timestamp now, std::atomic<std::uint64_t>* skipped_values = nullptr)
      : user_count_(user_count), interactions_(interactions), profiles_(&profiles), segments_(segments), now_(now),
        skipped_values_(skipped_values) {}

  // |U|: users are 0..user_count()-1.
  std::uint32_t user_count() const { return user_count_; }
  // The evaluation's clock: bind time predicates with TimePredicate::at(now()).
  Timestamp now() const { return now_; }
  // The users that exist in one chunk (the universe for complements).
  void universe(std::uint32_t chunk, ChunkBits& out) const;
  // REQUIRES: the filter is interaction-dependent (else throws InteractionAccessDenied:
  // a profile-level filter's context has no interaction view at all).
  const InteractionView& interactions() const {
    if (interactions_ == nullptr)
      throw InteractionAccessDenied("a profile-level filter may not read interaction data");
    return *interactions_;
  }
  const ProfileView& profiles() const { return *profiles_; }
  // Another segment's membership, for filters with a kSegment parameter
  // (the host compiled it). Throws std::logic_error when unavailable.
  const SegmentMembership& segment(std::string_view id) const {
    const SegmentMembership* s = segments_ ? segments_->segment(id) : nullptr;
    if (!s) throw std::logic_error("segment '" + std::string(id) + "' is not available to this evaluation");
    return *s;
  }
  // Reports that `n` stored values were not evaluated (e.g. longer than a
  // bound the filter documents) and were taken as not matching. Count each
  // (user, leaf) once per evaluate_chunk / evaluate_user call. The host sums
  // the reports of one evaluation and turns a non-zero sum into one warning.
  // Thread-safe (relaxed atomic add); does nothing when the host passed no counter.
  void count_skipped_values(std::uint64_t n) const {
    if (skipped_values_ != nullptr && n != 0) skipped_values_->fetch_add(n, std::memory_order_relaxed);
  }

 private:
  std::uint32_t user_count_;
  const InteractionView* interactions_;
  const ProfileView* profiles_;
  const SegmentResolver* segments_;
  Timestamp now_;
  std::atomic<std::uint64_t>* skipped_values_;  // host-owned; outlives the context
};

inline void EvalContext::universe(std::uint32_t chunk, ChunkBits& out) const {
  out.clear();
  std::uint64_t first = std::uint64_t{chunk} << kChunkShift;
  if (first >= user_count_) return;
  std::uint64_t n = std::min<std::uint64_t>(kChunkUsers, user_count_ - first);
  std::uint64_t full = n / 64;
  for (std::uint64_t w = 0; w < full; ++w) out.words[w] = ~0ULL;
  if (n % 64) out.words[full] = (1ULL << (n % 64)) - 1;
}

// A point verdict: the leaf's value for one user and the fact that decided it,
// in a plain sentence ("last received spring_sale at 2026-03-01T09:00:00.000Z").
struct Verdict {
  bool match = false;
  std::string because;
};

class Filter {
 public:
  virtual ~Filter() = default;
  // Bulk: set in `out` (cleared by the host) the bits of the users of `chunk`
  // that match. Bits of users that do not exist are ignored by the host.
  virtual void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const = 0;
  // Point: the same semantics for one user, with the deciding fact.
  virtual Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const = 0;
};

class FilterFactory {
 public:
  virtual ~FilterFactory() = default;
  virtual const FilterInfo& info() const = 0;
  // Returns nullptr after reporting at least one error through ctx.
  virtual std::unique_ptr<Filter> create(const Params& params, CompileContext& ctx) const = 0;
};

}  // namespace retarget::sdk
