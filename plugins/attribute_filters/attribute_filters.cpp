// General profile-level filters (filters.md, "General filters"):
// custom_attribute, segment (membership of another segment) and random_bucket.
//
// Types: an attribute's type comes from the catalog's `attributes` when
// declared (then an op or value of another type is a validation error);
// otherwise each stored value keeps the JSON type it arrived with, and a
// comparison across types does not match. `not_equals` and `not_in` also
// match users who lack the attribute.
//
// `matches` is an RE2 regular expression (docs/rules.md) searched anywhere in
// the value (anchor with ^...$ for a full match). RE2 runs in time linear in
// the value and never recurses per character, so no pattern and no value can
// hang or crash an evaluation; a pattern RE2 rejects (including the
// backtracking-only constructs: backreferences, lookaround) is a located
// compile error. A value longer than kMatchesMaxValueBytes is not searched: it
// does not match, and is reported through EvalContext::count_skipped_values.
#include <dlfcn.h>
#include <re2/re2.h>

#include <retarget/sdk/helpers.hpp>
#include <retarget/sdk/plugin.hpp>
#include <retarget/sdk/simple_factory.hpp>

namespace {

using namespace retarget::sdk;
using Type = AttributeRef::Type;

enum class Op { kEquals, kNotEquals, kIn, kNotIn, kMatches, kExists, kNotExists, kMoreThan, kLessThan, kTime };

// The longest value `matches` searches (bytes of UTF-8); longer values do not
// match. Documented in docs/rules.md and docs/security.md.
constexpr std::size_t kMatchesMaxValueBytes = 64 * 1024;
// RE2's memory budget for one compiled pattern (its default, 8 MiB, written
// out: a pattern that needs more is a compile error, not a slow evaluation).
constexpr std::int64_t kMatchesMaxProgramBytes = 8 << 20;

// RE2 allocates a few process-wide singletons on first use and never frees
// them. Were libre2 unloaded with this plugin (the engine unloads its plugins
// when it is destroyed), each load would leak them (128 bytes, and
// LeakSanitizer says so). So libre2, when it is a library of its own, stays
// loaded for the life of the process once this plugin has loaded it.
void pin_re2() {}
[[maybe_unused]] const bool kRe2Pinned = [] {
  Dl_info re2_lib, self;
  if (!::dladdr(reinterpret_cast<void*>(&re2::RE2::FullMatchN), &re2_lib) || !re2_lib.dli_fname) return false;
  if (::dladdr(reinterpret_cast<void*>(&pin_re2), &self) && self.dli_fbase == re2_lib.dli_fbase) return false;  // linked in
  return ::dlopen(re2_lib.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
}();

const std::vector<std::string> kOps = {"equals", "not_equals", "in", "not_in", "matches", "exists", "not_exists",
                                       "more_than", "less_than", "more_than_days_ago", "less_than_days_ago",
                                       "after", "before", "blank"};

Op op_of(const std::string& s) {
  if (s == "equals") return Op::kEquals;
  if (s == "not_equals") return Op::kNotEquals;
  if (s == "in") return Op::kIn;
  if (s == "not_in") return Op::kNotIn;
  if (s == "matches") return Op::kMatches;
  if (s == "exists") return Op::kExists;
  if (s == "not_exists") return Op::kNotExists;
  if (s == "more_than") return Op::kMoreThan;
  if (s == "less_than") return Op::kLessThan;
  return Op::kTime;
}

// One comparand, typed.
struct Operand {
  Type type = Type::kString;
  std::string text;
  double number = 0;
  bool boolean = false;
};

bool same(const AttributeRef& v, const Operand& o) {
  if (v.type != o.type) return false;
  switch (v.type) {
    case Type::kString: return v.text == o.text;
    case Type::kNumber: return v.number == o.number;
    case Type::kBool: return v.boolean == o.boolean;
  }
  return false;
}

// At most `max` bytes of `text`, cut at a UTF-8 character boundary.
std::string_view utf8_prefix(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

std::string describe(const AttributeRef& v) {
  switch (v.type) {
    case Type::kString: {
      constexpr std::size_t kShown = 200;  // an explanation names the value, it does not repeat 50 KB of it
      std::string s(1, '"');
      s.append(utf8_prefix(v.text, kShown));
      if (v.text.size() <= kShown) return s += '"';
      return s.append("...\" (").append(std::to_string(v.text.size())).append(" bytes)");
    }
    case Type::kNumber: {
      std::string s = std::to_string(v.number);
      s.erase(s.find_last_not_of('0') + 1);
      if (!s.empty() && s.back() == '.') s.pop_back();
      return s;
    }
    case Type::kBool: return v.boolean ? "true" : "false";
  }
  return "?";
}

class CustomAttribute final : public Filter {
 public:
  CustomAttribute(std::string name, Op op, std::vector<Operand> operands, std::shared_ptr<const re2::RE2> regex,
                  std::optional<TimePredicate> when, std::string text)
      : name_(std::move(name)), op_(op), operands_(std::move(operands)), regex_(std::move(regex)),
        when_(std::move(when)), text_(std::move(text)) {}

  // Whether a user with value `v` (nullptr = lacks the attribute) matches;
  // `when` is the time predicate bound to the evaluation's clock (time ops).
  bool matches(const AttributeRef* v, const TimeRange& when) const {
    switch (op_) {
      case Op::kExists: return v != nullptr;
      case Op::kNotExists: return v == nullptr;
      case Op::kEquals: return v && same(*v, operands_[0]);
      case Op::kNotEquals: return !v || (v->type == operands_[0].type && !same(*v, operands_[0]));
      case Op::kIn:
        if (!v) return false;
        for (const auto& o : operands_)
          if (same(*v, o)) return true;
        return false;
      case Op::kNotIn:
        if (!v) return true;
        if (v->type != operands_[0].type) return false;
        for (const auto& o : operands_)
          if (same(*v, o)) return false;
        return true;
      case Op::kMatches:
        return v && v->type == Type::kString && v->text.size() <= kMatchesMaxValueBytes &&
               re2::RE2::PartialMatch(re2::StringPiece(v->text.data(), v->text.size()), *regex_);
      case Op::kMoreThan: return v && v->type == Type::kNumber && v->number > operands_[0].number;
      case Op::kLessThan: return v && v->type == Type::kNumber && v->number < operands_[0].number;
      case Op::kTime:
        if (!v) return when.matches(kNoTime);
        if (v->type != Type::kString || v->time == kNoTime) return false;  // not a time: no match
        return when.matches(v->time);
    }
    return false;
  }

  // For more_than, less_than and equals with a number: the codes of the
  // matching values in a sorted dictionary, [first, end). nullopt for other
  // operators and for blocks without a sorted dictionary.
  std::optional<std::pair<std::uint32_t, std::uint32_t>> number_code_range(const retarget::sdk::AttributeBlock& b) const {
    if (!b.sorted() || operands_.empty() || operands_[0].type != Type::kNumber) return std::nullopt;
    const double x = operands_[0].number;
    auto [first, end] = b.number_codes();
    switch (op_) {
      case Op::kMoreThan: return std::pair{b.partition_numbers(first, end, [x](double d) { return !(d > x); }), end};
      case Op::kLessThan: return std::pair{first, b.partition_numbers(first, end, [x](double d) { return d < x; })};
      case Op::kEquals:
        return std::pair{b.partition_numbers(first, end, [x](double d) { return d < x; }),
                         b.partition_numbers(first, end, [x](double d) { return d <= x; })};
      default: return std::nullopt;
    }
  }

  TimeRange bound(const EvalContext& ctx) const { return when_ ? when_->at(ctx.now()) : TimeRange{}; }

  // A value `matches` does not search (too long): it does not match.
  bool skipped(const AttributeRef& v) const {
    return op_ == Op::kMatches && v.type == Type::kString && v.text.size() > kMatchesMaxValueBytes;
  }

  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    const UserAttributes* column = ctx.profiles().attribute(name_);
    TimeRange when = bound(ctx);
    bool absent_matches = matches(nullptr, when);
    if (absent_matches) ctx.universe(chunk, out);
    const AttributeChunk* block = column ? column->chunk(chunk) : nullptr;
    if (!block) return;
    // Ordered comparisons of numbers over a sorted dictionary: a range of
    // codes found by binary search, no pass over the dictionary.
    if (auto range = number_code_range(block->main())) {
      block->evaluate_code_range(range->first, range->second, [&](const AttributeRef& v) { return matches(&v, when); },
                                 absent_matches, out);
      return;
    }
    // Each distinct value of the chunk is decided once (AttributeChunk::evaluate).
    bool any_skipped = false;
    block->evaluate(
        [&](const AttributeRef& v) {
          any_skipped = any_skipped || skipped(v);
          return matches(&v, when);
        },
        absent_matches, out);
    // Rare: count the users whose value was skipped (one more pass, only then).
    if (any_skipped) {
      std::uint64_t n = 0;
      block->for_each([&](std::uint32_t, const AttributeRef& v) { n += skipped(v) ? 1 : 0; });
      ctx.count_skipped_values(n);
    }
  }

  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    const UserAttributes* column = ctx.profiles().attribute(name_);
    auto v = column ? column->find(user) : std::nullopt;
    std::string because = (v ? name_ + " = " + describe(*v) : name_ + " is not set") + "; wanted " + text_;
    if (v && skipped(*v)) {
      ctx.count_skipped_values(1);
      because += " (the value is longer than the " + std::to_string(kMatchesMaxValueBytes) +
                 " bytes matches searches: it does not match)";
    }
    return {matches(v ? &*v : nullptr, bound(ctx)), std::move(because)};
  }

 private:
  std::string name_;
  Op op_;
  std::vector<Operand> operands_;
  std::shared_ptr<const re2::RE2> regex_;
  std::optional<TimePredicate> when_;
  std::string text_;
};

class CustomAttributeFactory final : public FilterFactory {
 public:
  CustomAttributeFactory() {
    info_ = {"custom_attribute", "Users by the value of a custom attribute", "1.0.0", false,
             {{"name", ParamType::kString, true, {}, "", "the attribute's name"},
              {"op", ParamType::kString, true, kOps, "", "the comparison; a time predicate key for time attributes"},
              {"value", ParamType::kValue, false, {}, "",
               "the comparand: a value, a list (in/not_in), an RE2 regular expression (matches: searched in values "
               "of at most 64 KiB), days, a date or a bool (time ops)"}},
             "{name: country, op: equals, value: DE}"};
  }
  const FilterInfo& info() const override { return info_; }

  std::unique_ptr<Filter> create(const Params& p, CompileContext& ctx) const override {
    const std::string& name = p.text("name");
    const std::string& op_text = p.text("op");
    Op op = op_of(op_text);
    std::optional<std::string> declared = ctx.declared_attribute_type(name);
    bool has_value = p.has("value");
    const ParamValue* value = has_value ? &p.get("value") : nullptr;
    std::string text = op_text + (value ? " " + (value->is_list ? "[" + join_list(value->list) + "]" : value->text) : "");

    auto fail = [&](std::string_view param, std::string msg) -> std::unique_ptr<Filter> {
      ctx.error(param, std::move(msg));
      return nullptr;
    };
    // Which declared types each op accepts.
    auto type_ok = [&](std::initializer_list<const char*> types) {
      if (!declared) return true;
      for (const char* t : types)
        if (*declared == t) return true;
      return false;
    };
    if (op == Op::kExists || op == Op::kNotExists) {
      if (has_value) return fail("value", "'" + op_text + "' takes no value");
      return make(name, op, {}, nullptr, std::nullopt, text);
    }
    if (!has_value) return fail("value", "'" + op_text + "' needs a value");
    if (op == Op::kIn || op == Op::kNotIn) {
      if (!value->is_list) return fail("value", "'" + op_text + "' needs a list of values");
      if (!type_ok({"string"})) return fail("op", type_error(name, *declared, op_text));
      std::vector<Operand> operands;
      for (const auto& s : value->list) operands.push_back({Type::kString, s, 0, false});
      return make(name, op, std::move(operands), nullptr, std::nullopt, text);
    }
    if (value->is_list) return fail("value", "'" + op_text + "' needs a single value, not a list");
    if (op == Op::kMatches) {
      if (!type_ok({"string"})) return fail("op", type_error(name, *declared, op_text));
      re2::RE2::Options options;
      options.set_log_errors(false);  // reported below, with the location
      options.set_never_capture(true);
      options.set_max_mem(kMatchesMaxProgramBytes);
      auto re = std::make_shared<const re2::RE2>(value->text, options);
      if (!re->ok())
        return fail("value", "'" + std::string(utf8_prefix(value->text, 200)) +
                                 "' is not a valid RE2 regular expression: " + re->error() +
                                 " (RE2 has no backreferences or lookaround; see docs/rules.md)");
      return make(name, op, {}, std::move(re), std::nullopt, text);
    }
    if (op == Op::kMoreThan || op == Op::kLessThan) {
      if (!type_ok({"number"})) return fail("op", type_error(name, *declared, op_text));
      if (value->scalar_type != Type::kNumber) return fail("value", "'" + op_text + "' needs a number");
      return make(name, op, {{Type::kNumber, "", value->number, false}}, nullptr, std::nullopt, text);
    }
    if (op == Op::kTime) {
      if (!type_ok({"time"})) return fail("op", type_error(name, *declared, op_text));
      auto when = ctx.compile_time_predicate(op_text, value->text, "value");
      if (!when) return nullptr;
      return make(name, op, {}, nullptr, std::move(when), text);
    }
    // equals / not_equals: the comparand takes the declared type, else its own.
    Operand o{value->scalar_type, value->text, value->number, value->boolean};
    if (value->scalar_type != Type::kString) o.text.clear();
    if (declared) {
      if (*declared == "time") return fail("op", type_error(name, *declared, op_text));
      if (*declared == "string") {
        o = {Type::kString, value->text, 0, false};
      } else if (*declared == "number") {
        if (value->scalar_type != Type::kNumber) return fail("value", "attribute '" + name + "' is a number; '" + value->text + "' is not");
      } else if (*declared == "bool") {
        if (value->scalar_type != Type::kBool) return fail("value", "attribute '" + name + "' is a bool; '" + value->text + "' is not");
        if (op == Op::kNotEquals) return fail("op", "bool attributes take only 'equals'");
      }
    }
    return make(name, op, {o}, nullptr, std::nullopt, text);
  }

 private:
  static std::string join_list(const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
  }
  static std::string type_error(const std::string& name, const std::string& type, const std::string& op) {
    return "attribute '" + name + "' is declared " + type + " in the catalog; '" + op + "' does not apply to " + type +
           " values";
  }
  static std::unique_ptr<Filter> make(const std::string& name, Op op, std::vector<Operand> operands,
                                      std::shared_ptr<const re2::RE2> regex, std::optional<TimePredicate> when,
                                      const std::string& text) {
    return std::make_unique<CustomAttribute>(name, op, std::move(operands), std::move(regex), std::move(when), text);
  }
  FilterInfo info_;
};

// segment: members (in: true) or non-members (in: false) of another segment,
// evaluated by the host with the same plans; cycles are rejected at validation.
class SegmentFilter final : public Filter {
 public:
  SegmentFilter(std::string id, bool in) : id_(std::move(id)), in_(in) {}
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    ctx.segment(id_).evaluate_chunk(chunk, out);
    if (!in_) {
      ChunkBits universe;
      ctx.universe(chunk, universe);
      out.complement_within(universe);
    }
  }
  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    bool member = ctx.segment(id_).contains(user);
    return {member == in_, std::string(member ? "a member" : "not a member") + " of segment " + id_};
  }

 private:
  std::string id_;
  bool in_;
};

// random_bucket: bucket = FNV-1a 64 of the external id % 10000
// (ProfileView::user_buckets, precomputed by the host): stable across runs,
// machines and versions.
class RandomBucket final : public Filter {
 public:
  // The op is resolved once to an inclusive range of buckets (value is 0-9999).
  RandomBucket(std::string op, std::int64_t value) : op_(std::move(op)), value_(value) {
    if (op_ == "less_than") lo_ = 0, hi_ = value - 1;
    else if (op_ == "more_than") lo_ = value + 1, hi_ = 9999;
    else lo_ = hi_ = value;
  }
  bool matches(std::int64_t b) const { return lo_ <= b && b <= hi_; }
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    auto buckets = ctx.profiles().user_buckets(chunk);
    // Branch-free: the unsigned difference is in range exactly when lo <= b <= hi.
    const auto lo = static_cast<std::uint32_t>(lo_), span = static_cast<std::uint32_t>(hi_ - lo_);
    if (hi_ < lo_) return;
    const std::size_t n = buckets.size();
    for (std::size_t w = 0; w * 64 < n; ++w) {
      std::uint64_t word = 0;
      std::size_t end = std::min<std::size_t>(64, n - w * 64);
      for (std::size_t i = 0; i < end; ++i)
        word |= static_cast<std::uint64_t>(static_cast<std::uint32_t>(buckets[w * 64 + i]) - lo <= span) << i;
      out.words[w] |= word;
    }
  }
  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    std::int64_t b = ctx.profiles().user_buckets(chunk_of(user))[offset_in_chunk(user)];
    return {matches(b), "random bucket " + std::to_string(b) + "; wanted " + op_ + " " + std::to_string(value_)};
  }

 private:
  std::string op_;
  std::int64_t value_;
  std::int64_t lo_ = 0, hi_ = -1;
};

const CustomAttributeFactory kCustomAttribute;

const SimpleFactory kSegment(
    {"segment", "Members (or non-members) of another segment", "1.0.0", false,
     {{"id", ParamType::kSegment, true, {}, "", "the other segment's id"},
      {"in", ParamType::kBool, false, {}, "true", "false: users not in that segment"}},
     "{id: win_back}"},
    [](const Params& p, CompileContext&) -> std::unique_ptr<Filter> {
      return std::make_unique<SegmentFilter>(p.text("id"), p.boolean("in"));
    });

const SimpleFactory kRandomBucket(
    {"random_bucket", "Users by a stable random bucket 0-9999 (FNV-1a 64 of the user id, mod 10000)", "1.0.0", false,
     {{"op", ParamType::kString, true, {"less_than", "more_than", "equals"}, "", "the comparison"},
      {"value", ParamType::kInteger, true, {}, "", "a bucket, 0 to 9999"}},
     "{op: less_than, value: 1000}"},
    [](const Params& p, CompileContext& ctx) -> std::unique_ptr<Filter> {
      std::int64_t v = p.integer("value");
      if (v < 0 || v > 9999) {
        ctx.error("value", "a bucket is 0 to 9999, not " + std::to_string(v));
        return nullptr;
      }
      return std::make_unique<RandomBucket>(p.text("op"), v);
    });

}  // namespace

RETARGET_PLUGIN("io.retarget.attribute_filters", "1.1.0", &kCustomAttribute, &kRandomBucket, &kSegment)
