#include "rules/rules.hpp"
#include "retarget/identity.hpp"

#include <algorithm>

#include "common/text.hpp"

namespace retarget {

// --- RuleSet ---------------------------------------------------------------

void RuleSet::add_file(const std::string& path, const Limits& limits, Diagnostics& diags) {
  YamlLimits yl;
  yl.max_bytes = limits.max_rules_file_bytes;
  yl.max_nodes = limits.max_yaml_nodes;
  yl.max_depth = limits.max_tree_depth * 2 + 8;  // a tree level is a map and a list in YAML
  Diagnostics local;
  YamlNode root = load_yaml_file(path, yl, local);
  if (!local.has_errors()) add(root, path, limits, local);
  diags.append(local);
}

void RuleSet::add_text(const std::string& text, const std::string& file, const Limits& limits, Diagnostics& diags) {
  YamlLimits yl;
  yl.max_bytes = limits.max_rules_file_bytes;
  yl.max_nodes = limits.max_yaml_nodes;
  yl.max_depth = limits.max_tree_depth * 2 + 8;
  Diagnostics local;
  YamlNode root = parse_yaml(text, file, yl, local);
  if (!local.has_errors()) add(root, file, limits, local);
  diags.append(local);
}

void RuleSet::add(const YamlNode& root, const std::string& file, const Limits&, Diagnostics& diags) {
  auto error = [&](const YamlNode& n, const std::string& m) { diags.error(n.where(file), m); };
  if (!root.is_map()) return error(root, "a rules file must be a map with 'version: 1' and 'segments'");
  for (const auto& [k, v] : root.entries)
    if (k.value != "version" && k.value != "segments")
      error(k, "unknown key '" + k.value + "' in a rules file" + did_you_mean(k.value, {"version", "segments"}));
  const YamlNode* version = root.find("version");
  long long ver = 0;
  if (!version || !yaml_as_int(*version, ver) || ver != 1)
    error(version ? *version : root, "a rules file must declare 'version: 1'");
  const YamlNode* segs = root.find("segments");
  std::map<std::string, SegmentDefinition, std::less<>> added;
  if (!segs || !segs->is_sequence()) {
    error(segs ? *segs : root, "'segments' must be a list of segments");
  } else {
    for (const auto& s : segs->items) {
      if (!s.is_map()) {
        error(s, "a segment must be a map with id, name, match and optional exclude");
        continue;
      }
      static const std::vector<std::string> kKeys = {"id", "name", "match", "exclude", "description"};
      for (const auto& [k, v] : s.entries)
        if (std::find(kKeys.begin(), kKeys.end(), k.value) == kKeys.end())
          error(k, "unknown key '" + k.value + "' in a segment" + did_you_mean(k.value, kKeys));
      SegmentDefinition def;
      def.where = s.where(file);
      const YamlNode* id = s.find("id");
      if (!id || !id->is_scalar() || id->value.empty()) {
        error(id ? *id : s, "a segment needs a non-empty 'id'");
        continue;
      }
      def.id = id->value;
      bool duplicate = added.count(def.id) || segments_.count(def.id);
      if (duplicate) {
        const auto& first = added.count(def.id) ? added.at(def.id).where : segments_.at(def.id).where;
        error(*id, "duplicate segment id '" + def.id + "' (first defined at " + first.to_string() + ")");
      }
      const YamlNode* name = s.find("name");
      def.name = name && name->is_scalar() ? name->value : def.id;
      const YamlNode* match = s.find("match");
      if (!match) {
        error(s, "segment '" + def.id + "' has no 'match' tree");
        continue;
      }
      def.match = *match;
      if (const YamlNode* ex = s.find("exclude")) {
        if (!ex->is_sequence()) {
          error(*ex, "'exclude' must be a list of trees");
          continue;
        }
        def.exclude = ex->items;
      }
      // A duplicate is not added, but its trees are still checked, so that
      // one mistake does not hide the others.
      if (duplicate) duplicates_.push_back(std::move(def));
      else added.emplace(def.id, std::move(def));
    }
  }
  for (auto& [id, def] : added) segments_.emplace(id, std::move(def));
}

void RuleSet::upsert(const RuleSet& other) {
  for (const auto& [id, def] : other.segments_) segments_[id] = def;
  duplicates_.insert(duplicates_.end(), other.duplicates_.begin(), other.duplicates_.end());
}

const SegmentDefinition* RuleSet::find(std::string_view id) const {
  auto it = segments_.find(id);
  return it == segments_.end() ? nullptr : &it->second;
}

std::set<std::string> RuleSet::ids() const {
  std::set<std::string> s;
  for (const auto& [id, d] : segments_) s.insert(id);
  return s;
}

void add_sources_read(const References& r, const Catalog& catalog, std::set<std::string>& out) {
  for (const auto& c : r.campaigns) out.insert(source_key(SourceKind::kCampaign, c));
  for (const auto& c : r.canvases) out.insert(source_key(SourceKind::kCanvas, c));
  for (const auto& t : r.tags)
    for (auto& key : catalog.sources_with_tag(t)) out.insert(std::move(key));
}

std::set<std::string> sources_read(const CompiledSegment& segment, const Catalog& catalog) {
  std::set<std::string> out;
  add_sources_read(segment.references, catalog, out);
  for (const auto& [id, nested] : segment.nested) add_sources_read(nested->references, catalog, out);
  return out;
}

// --- rendering ----------------------------------------------------------------

std::string to_flow(const YamlNode& n) {
  switch (n.kind) {
    case YamlNode::Kind::kNull: return "{}";
    case YamlNode::Kind::kScalar: return n.quoted ? "\"" + n.value + "\"" : n.value;
    case YamlNode::Kind::kSequence: {
      std::string s = "[";
      for (std::size_t i = 0; i < n.items.size(); ++i) s += (i ? ", " : "") + to_flow(n.items[i]);
      return s + "]";
    }
    case YamlNode::Kind::kMap: {
      std::string s = "{";
      for (std::size_t i = 0; i < n.entries.size(); ++i)
        s += (i ? ", " : "") + n.entries[i].first.value + ": " + to_flow(n.entries[i].second);
      return s + "}";
    }
  }
  return "";
}

// --- Compiler -----------------------------------------------------------------

namespace {

// The compile context a plugin sees for one leaf.
class LeafCompileContext : public sdk::CompileContext {
 public:
  LeafCompileContext(const Catalog& catalog, const RegisteredFilter& def, const BoundParams& bound,
                     const SourceLocation& leaf, const TimeZone& zone, Diagnostics& diags)
      : catalog_(catalog), def_(def), bound_(bound), leaf_(leaf), zone_(zone), diags_(diags) {}

  const sdk::CampaignInfo* campaign(std::string_view id) const override {
    deny_profile_level();
    const Campaign* c = catalog_.campaign(id);
    if (!c) return nullptr;
    campaigns_.push_back(std::make_unique<sdk::CampaignInfo>(catalog_.campaign_info(*c)));
    return campaigns_.back().get();
  }
  const sdk::CanvasInfo* canvas(std::string_view id) const override {
    deny_profile_level();
    const Canvas* c = catalog_.canvas(id);
    if (!c) return nullptr;
    canvases_.push_back(std::make_unique<sdk::CanvasInfo>(catalog_.canvas_info(*c)));
    return canvases_.back().get();
  }
  std::vector<sdk::SourceRef> sources_with_tag(std::string_view tag) const override {
    deny_profile_level();
    std::vector<sdk::SourceRef> out;
    for (const auto& key : catalog_.sources_with_tag(tag))
      if (auto source = SourceId::parse(key)) out.push_back({source->kind, source->id});
    return out;
  }
  std::optional<std::string> declared_attribute_type(std::string_view name) const override {
    return catalog_.attribute_type(name);
  }
  std::optional<sdk::TimePredicate> compile_time_predicate(std::string_view key, std::string_view value,
                                                          std::string_view param) override {
    std::string problem;
    auto tp = retarget::compile_time_predicate(key, value, zone_, problem);
    if (!tp) diags_.error(where(param), problem);
    return tp;
  }
  void error(std::string_view param, std::string message) override {
    diags_.error(where(param), std::move(message));
  }
  void warning(std::string_view param, std::string message) override {
    diags_.warning(where(param), std::move(message));
  }

 private:
  void deny_profile_level() const {
    if (!def_.info->interaction_dependent)
      throw sdk::InteractionAccessDenied("profile-level filter '" + def_.info->name + "' (" + def_.library_path +
                                         ") asked for campaign or Canvas data");
  }
  SourceLocation where(std::string_view param) const {
    auto it = bound_.where.find(std::string(param));
    return it == bound_.where.end() ? leaf_ : it->second;
  }

  const Catalog& catalog_;
  const RegisteredFilter& def_;
  const BoundParams& bound_;
  SourceLocation leaf_;
  const TimeZone& zone_;
  Diagnostics& diags_;
  // Stable storage for the infos handed out (valid for the compile call).
  mutable std::vector<std::unique_ptr<sdk::CampaignInfo>> campaigns_;
  mutable std::vector<std::unique_ptr<sdk::CanvasInfo>> canvases_;
};

}  // namespace

Compiler::Compiler(const FilterLookup& registry, const Catalog& catalog, const RuleSet& rules,
                   CompileOptions options)
    : registry_(registry), catalog_(catalog), rules_(rules), options_(options), segment_ids_(rules.ids()) {}

std::optional<CompiledSegment> Compiler::compile(const SegmentDefinition& segment, Diagnostics& diags) const {
  auto own = compile_own(segment, diags);
  if (!own) return std::nullopt;
  CompiledSegment root = *own;
  // Gather the nested segments (each once) and their own references, then
  // check the graph they form before anything evaluates it.
  std::map<std::string, References> refs{{root.id, root.references}};
  std::vector<std::string> pending(root.references.segments.begin(), root.references.segments.end());
  while (!pending.empty()) {
    std::string id = std::move(pending.back());
    pending.pop_back();
    if (id == root.id || root.nested.count(id)) continue;
    const SegmentDefinition* def = rules_.find(id);
    if (!def) {
      diags.error(segment.where, "segment '" + segment.id + "' nests unknown segment '" + id + "'");
      return std::nullopt;
    }
    auto nested = compile_own(*def, diags);
    if (!nested) return std::nullopt;
    refs.emplace(id, nested->references);
    pending.insert(pending.end(), nested->references.segments.begin(), nested->references.segments.end());
    root.nested.emplace(id, std::move(nested));
  }
  if (!check_nesting(refs, diags)) return std::nullopt;
  return root;
}

std::shared_ptr<const CompiledSegment> Compiler::compile_own(const SegmentDefinition& segment,
                                                             Diagnostics& diags) const {
  auto [it, inserted] = own_.try_emplace(&segment);
  if (inserted) {
    auto compiled = compile_tree_of(segment, diags);
    if (compiled) it->second = std::make_shared<const CompiledSegment>(std::move(*compiled));
  }
  return it->second;
}

std::optional<CompiledSegment> Compiler::compile_tree_of(const SegmentDefinition& segment, Diagnostics& diags) const {
  CompiledSegment out;
  out.id = segment.id;
  out.name = segment.name;
  std::size_t before = diags.error_count();
  std::size_t count = 0;
  auto match = node(segment.match, segment.where.file, 1, count, out.references, diags);
  if (match) out.match = std::move(*match);
  for (const auto& ex : segment.exclude) {
    auto e = node(ex, segment.where.file, 1, count, out.references, diags);
    if (e) out.exclude.push_back(std::move(*e));
  }
  if (diags.error_count() > before) return std::nullopt;
  return out;
}

std::optional<PlanNode> Compiler::compile_tree(const YamlNode& tree, const std::string& file, References& refs,
                                               Diagnostics& diags) const {
  std::size_t count = 0;
  return node(tree, file, 1, count, refs, diags);
}

std::optional<PlanNode> Compiler::node(const YamlNode& n, const std::string& file, std::size_t depth,
                                       std::size_t& count, References& refs, Diagnostics& diags) const {
  auto error = [&](const YamlNode& at, const std::string& m) {
    diags.error(at.where(file), m);
    return std::nullopt;
  };
  if (depth > options_.limits->max_tree_depth)
    return error(n, "the tree is nested deeper than " + std::to_string(options_.limits->max_tree_depth) +
                        " levels (limits.max_tree_depth)");
  if (++count > options_.limits->max_tree_nodes)
    return error(n, "the segment has more than " + std::to_string(options_.limits->max_tree_nodes) +
                        " nodes (limits.max_tree_nodes)");
  if (!n.is_map() || n.entries.size() != 1)
    return error(n, "a node must be a map with exactly one key: all, any, not, or a filter name");
  const YamlNode& key = n.entries[0].first;
  const YamlNode& value = n.entries[0].second;
  PlanNode out;
  out.where = n.where(file);
  if (key.value == "all" || key.value == "any") {
    out.op = key.value == "all" ? PlanNode::Op::kAll : PlanNode::Op::kAny;
    out.label = key.value;
    if (!value.is_sequence() || value.items.empty())
      return error(value, "'" + key.value + "' needs a non-empty list of nodes");
    bool ok = true;
    for (const auto& child : value.items) {
      auto c = node(child, file, depth + 1, count, refs, diags);
      if (c) out.children.push_back(std::move(*c));
      else ok = false;
    }
    if (!ok) return std::nullopt;
    return out;
  }
  if (key.value == "not") {
    out.op = PlanNode::Op::kNot;
    out.label = "not";
    auto c = node(value, file, depth + 1, count, refs, diags);
    if (!c) return std::nullopt;
    out.children.push_back(std::move(*c));
    return out;
  }
  return leaf(key, value, file, refs, diags);
}

std::optional<PlanNode> Compiler::leaf(const YamlNode& key, const YamlNode& params, const std::string& file,
                                       References& refs, Diagnostics& diags) const {
  const RegisteredFilter* def = registry_.find(key.value);
  if (!def) {
    std::vector<std::string> names = registry_.names();
    names.insert(names.end(), {"all", "any", "not"});
    std::string refused = registry_.unavailable_because(key.value);
    if (refused.rfind("filter '", 0) == 0) diags.error(key.where(file), refused);
    else diags.error(key.where(file), "unknown filter '" + key.value + "'" + did_you_mean(key.value, names) +
                                          (refused.empty() ? "" : "; " + refused));
    return std::nullopt;
  }
  std::set<std::string> segment_ids = segment_ids_;
  BindContext bind{&catalog_, &segment_ids, options_.deleted_sources, options_.zone, options_.limits,
                   file, &diags};
  BoundParams bound;
  if (!bind_params(*def->info, key, params, bind, bound)) return std::nullopt;

  LeafCompileContext ctx(catalog_, *def, bound, key.where(file), *options_.zone, diags);
  std::size_t before = diags.error_count();
  std::unique_ptr<sdk::Filter> filter;
  try {
    filter = def->factory->create(bound.params, ctx);
  } catch (const sdk::InteractionAccessDenied& e) {
    diags.error(key.where(file), e.what());
    return std::nullopt;
  } catch (const std::exception& e) {
    diags.error(key.where(file), "filter '" + key.value + "' (" + def->library_path + ") failed to compile: " + e.what());
    return std::nullopt;
  }
  if (!filter) {
    if (diags.error_count() == before)
      diags.error(key.where(file), "filter '" + key.value + "' refused its parameters");
    return std::nullopt;
  }
  // Only interaction-dependent filters read sources: profile-level filters
  // create no edges to sources or tags (they may still nest segments).
  if (!def->info->interaction_dependent) {
    bound.references.campaigns.clear();
    bound.references.canvases.clear();
    bound.references.tags.clear();
  }
  refs.merge(bound.references);
  PlanNode out;
  out.op = PlanNode::Op::kLeaf;
  out.filter = std::move(filter);
  out.definition = def;
  out.label = key.value + " " + to_flow(params);
  out.where = key.where(file);
  for (const auto& p : def->info->params)
    if (p.type == sdk::ParamType::kSegment && bound.params.has(p.name)) out.nested_segment = bound.params.text(p.name);
  return out;
}

bool Compiler::check_nesting(const std::map<std::string, References>& refs, Diagnostics& diags,
                             std::vector<std::string>* order) const {
  const std::size_t limit = options_.limits ? options_.limits->max_segment_depth : Limits{}.max_segment_depth;
  enum class Mark { kNone, kActive, kDone };
  struct State {
    Mark mark = Mark::kNone;
    std::size_t depth = 0;           // levels of segments nested below this one
    const std::string* deepest = nullptr;  // the nested segment that gives the depth
    bool nested = false;             // some segment of `refs` nests this one
  };
  std::map<std::string_view, State> state;
  for (const auto& [id, r] : refs)
    for (const auto& next : r.segments) state[next].nested = true;
  static const std::set<std::string> kNothing;
  auto children = [&](const std::string& id) -> const std::set<std::string>& {
    auto it = refs.find(id);
    return it == refs.end() ? kNothing : it->second.segments;
  };
  // Depth-first, with an explicit stack of (segment, next child to visit).
  struct Frame {
    const std::string* id;
    std::set<std::string>::const_iterator next;
  };
  std::vector<Frame> stack;
  std::set<std::string> reported;
  bool ok = true;
  for (const auto& [root_id, r] : refs) {
    if (state[root_id].mark != Mark::kNone) continue;
    state[root_id].mark = Mark::kActive;
    stack.push_back({&root_id, children(root_id).begin()});
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next == children(*f.id).end()) {
        State& s = state[*f.id];
        for (const auto& c : children(*f.id)) {
          const State& cs = state[c];
          if (cs.mark == Mark::kDone && cs.depth + 1 > s.depth) {
            s.depth = cs.depth + 1;
            s.deepest = &c;
          }
        }
        s.mark = Mark::kDone;
        if (order && refs.count(*f.id)) order->push_back(*f.id);
        stack.pop_back();
        continue;
      }
      const std::string& next = *f.next++;
      State& ns = state[next];
      if (ns.mark == Mark::kActive) {
        ok = false;
        std::vector<std::string> cycle;
        auto start = std::find_if(stack.begin(), stack.end(), [&](const Frame& g) { return *g.id == next; });
        for (auto g = start; g != stack.end(); ++g) cycle.push_back(*g->id);
        cycle.push_back(next);
        if (reported.insert(next).second) {
          const SegmentDefinition* def = rules_.find(next);
          diags.error(def ? def->where : SourceLocation{}, "segment cycle: " + join(cycle, " -> "));
        }
      } else if (ns.mark == Mark::kNone) {
        ns.mark = Mark::kActive;
        stack.push_back({&next, children(next).begin()});
      }
    }
  }
  if (!ok) return false;
  // Too deep: reported at the outermost segments only (every segment above a
  // too-deep one is too deep as well).
  for (const auto& [id, r] : refs) {
    const State& s = state[id];
    if (s.nested || s.depth <= limit) continue;
    ok = false;
    std::vector<std::string> chain{id};
    for (const std::string* c = s.deepest; c; c = state[*c].deepest) chain.push_back(*c);
    std::string path = chain.size() <= 6 ? join(chain, " -> ")
                                          : chain[0] + " -> " + chain[1] + " -> " + chain[2] + " -> ... -> " +
                                                chain[chain.size() - 2] + " -> " + chain.back();
    const SegmentDefinition* def = rules_.find(id);
    diags.error(def ? def->where : SourceLocation{},
                "segment '" + id + "' nests segments " + std::to_string(s.depth) + " levels deep (" + path +
                    "); at most " + std::to_string(limit) + " are allowed (limits.max_segment_depth in the config)");
  }
  return ok;
}

}  // namespace retarget
