#include "rules/param_binder.hpp"
#include "retarget/identity.hpp"

#include <limits>

#include "common/text.hpp"

namespace retarget {

using sdk::ParamSpec;
using sdk::ParamType;
using sdk::ParamValue;

void References::merge(const References& o) {
  campaigns.insert(o.campaigns.begin(), o.campaigns.end());
  canvases.insert(o.canvases.begin(), o.canvases.end());
  tags.insert(o.tags.begin(), o.tags.end());
  segments.insert(o.segments.begin(), o.segments.end());
}

const std::vector<std::string>& time_predicate_keys() {
  static const std::vector<std::string> kKeys = {"more_than_days_ago", "less_than_days_ago", "after", "before",
                                                 "blank"};
  return kKeys;
}

namespace {

constexpr long long kMaxDays = 1000000;

class Binder {
 public:
  Binder(const sdk::FilterInfo& info, BindContext& ctx, BoundParams& out) : info_(info), ctx_(ctx), out_(out) {}

  void error(const YamlNode& n, const std::string& msg) { ctx_.diags->error(n.where(ctx_.file), msg); }

  bool run(const YamlNode& leaf, const YamlNode& node) {
    std::size_t errors = ctx_.diags->error_count();
    if (!node.is_map() && !node.is_null()) {
      error(node, "the parameters of '" + info_.name + "' must be a map such as " + info_.example);
      return false;
    }
    const ParamSpec* time_spec = nullptr;
    std::vector<std::string> known;
    for (const auto& p : info_.params) {
      if (p.type == ParamType::kTimePredicate) {
        time_spec = &p;
        for (const auto& k : time_predicate_keys()) known.push_back(k);
      } else {
        known.push_back(p.name);
      }
    }
    // Unknown keys, and the time predicate (exactly one key).
    const YamlNode* time_key = nullptr;
    const YamlNode* time_value = nullptr;
    for (const auto& [k, v] : node.entries) {
      bool is_time_key = false;
      for (const auto& t : time_predicate_keys()) is_time_key |= (k.value == t);
      if (time_spec && is_time_key) {
        if (time_key) {
          error(k, "'" + info_.name + "' takes exactly one time predicate, but has both '" + time_key->value +
                       "' and '" + k.value + "'");
          continue;
        }
        time_key = &k;
        time_value = &v;
        continue;
      }
      bool declared = false;
      for (const auto& p : info_.params) declared |= (p.type != ParamType::kTimePredicate && p.name == k.value);
      if (!declared)
        error(k, "unknown parameter '" + k.value + "' for filter '" + info_.name + "'" +
                     did_you_mean(k.value, known) + "; it takes: " + join(known, ", "));
    }
    if (time_spec) {
      if (!time_key) {
        if (time_spec->required)
          error(leaf, "filter '" + info_.name + "' needs one time predicate: " + join(time_predicate_keys(), ", "));
      } else {
        bind_time(*time_key, *time_value);
      }
    }
    // Declared parameters in declaration order, so references that depend on
    // another parameter (a step of a Canvas) are checked after it.
    for (const auto& p : info_.params) {
      if (p.type == ParamType::kTimePredicate) continue;
      const YamlNode* v = node.is_map() ? node.find(p.name) : nullptr;
      if (!v) {
        if (!p.default_value.empty()) {
          Diagnostics scratch;
          YamlNode d = parse_yaml(p.default_value, "<default>", YamlLimits{}, scratch);
          bind_one(p, d, leaf);
        } else if (p.required) {
          error(leaf, "filter '" + info_.name + "' is missing its required parameter '" + p.name + "'");
        }
        continue;
      }
      out_.where[p.name] = v->where(ctx_.file);
      bind_one(p, *v, leaf);
    }
    return ctx_.diags->error_count() == errors;
  }

 private:
  void bind_time(const YamlNode& key, const YamlNode& v) {
    out_.where["time"] = v.where(ctx_.file);
    if (!v.is_scalar()) return error(v, "'" + key.value + "' needs a single value");
    std::string problem;
    auto tp = compile_time_predicate(key.value, v.value, *ctx_.zone, problem);
    if (!tp) return error(v, problem);
    out_.params.set_time_predicate(std::move(*tp));
  }

  void bind_one(const ParamSpec& p, const YamlNode& v, const YamlNode& leaf) {
    ParamValue pv;
    pv.type = p.type;
    auto where = "parameter '" + p.name + "' of '" + info_.name + "'";
    switch (p.type) {
      case ParamType::kBool:
        if (!yaml_as_bool(v, pv.boolean)) return error(v, where + " must be true or false");
        pv.text = pv.boolean ? "true" : "false";
        break;
      case ParamType::kInteger: {
        long long n;
        if (!yaml_as_int(v, n)) return error(v, where + " must be a whole number");
        pv.integer = n;
        pv.number = static_cast<double>(n);
        pv.text = v.value;
        break;
      }
      case ParamType::kNumber:
        if (!yaml_as_double(v, pv.number)) return error(v, where + " must be a number");
        pv.text = v.value;
        break;
      case ParamType::kStringList:
        if (!v.is_sequence()) return error(v, where + " must be a list");
        if (v.items.size() > ctx_.limits->max_in_values)
          return error(v, where + " has " + std::to_string(v.items.size()) + " values, over the limit of " +
                              std::to_string(ctx_.limits->max_in_values));
        for (const auto& i : v.items) {
          if (!i.is_scalar()) return error(i, where + " must hold only strings");
          pv.list.push_back(i.value);
        }
        break;
      case ParamType::kValue:
        if (v.is_sequence()) {
          if (v.items.size() > ctx_.limits->max_in_values)
            return error(v, where + " has " + std::to_string(v.items.size()) + " values, over the limit of " +
                                std::to_string(ctx_.limits->max_in_values));
          for (const auto& i : v.items) {
            if (!i.is_scalar()) return error(i, where + " must hold only scalars");
            pv.list.push_back(i.value);
          }
          pv.is_list = true;
          break;
        }
        if (!v.is_scalar()) return error(v, where + " must be a string, number or bool");
        pv.text = v.value;
        if (!v.quoted && yaml_as_bool(v, pv.boolean)) {
          pv.scalar_type = sdk::AttributeRef::Type::kBool;
        } else if (!v.quoted && yaml_as_double(v, pv.number)) {
          pv.scalar_type = sdk::AttributeRef::Type::kNumber;
        } else {
          pv.scalar_type = sdk::AttributeRef::Type::kString;
        }
        break;
      default:  // string-like, references
        if (!v.is_scalar() || v.value.empty()) return error(v, where + " must be a non-empty string");
        pv.text = v.value;
        if (!check_reference(p, v)) return;
        break;
    }
    if (!p.allowed.empty() && p.type != ParamType::kStringList && !pv.is_list) {
      bool ok = false;
      for (const auto& a : p.allowed) ok |= (a == pv.text);
      if (!ok)
        return error(v, where + " must be one of " + join(p.allowed, ", ") + ", not '" + pv.text + "'" +
                            did_you_mean(pv.text, p.allowed));
    }
    out_.params.set(p.name, std::move(pv));
  }

  // The campaign or Canvas named by another parameter of the leaf.
  const std::string* param_text(ParamType type) {
    for (const auto& q : info_.params)
      if (q.type == type && out_.params.has(q.name)) return &out_.params.text(q.name);
    return nullptr;
  }

  bool check_reference(const ParamSpec& p, const YamlNode& v) {
    const std::string& id = v.value;
    switch (p.type) {
      case ParamType::kCampaign: out_.references.campaigns.insert(id); break;
      case ParamType::kCanvas: out_.references.canvases.insert(id); break;
      case ParamType::kTag: out_.references.tags.insert(id); break;
      case ParamType::kSegment: out_.references.segments.insert(id); break;
      default: break;
    }
    const Catalog* cat = ctx_.catalog;
    if (!cat) return true;  // probe: no catalog to check against
    switch (p.type) {
      case ParamType::kCampaign:
        if (!cat->campaign(id)) {
          error(v, "unknown campaign '" + id + "'" + did_you_mean(id, cat->campaign_ids()));
          return false;
        }
        if (ctx_.deleted_sources && ctx_.deleted_sources->count(source_key(SourceKind::kCampaign, id))) {
          error(v, "campaign '" + id + "': its interaction data was deleted under the legacy policy");
          return false;
        }
        break;
      case ParamType::kCanvas:
        if (!cat->canvas(id)) {
          error(v, "unknown Canvas '" + id + "'" + did_you_mean(id, cat->canvas_ids()));
          return false;
        }
        if (ctx_.deleted_sources && ctx_.deleted_sources->count(source_key(SourceKind::kCanvas, id))) {
          error(v, "Canvas '" + id + "': its interaction data was deleted under the legacy policy");
          return false;
        }
        break;
      case ParamType::kCanvasStep:
      case ParamType::kVariation: {
        const std::string* canvas_id = param_text(ParamType::kCanvas);
        const Canvas* canvas = canvas_id ? cat->canvas(*canvas_id) : nullptr;
        if (!canvas) return true;  // the Canvas itself is already reported
        const auto& items = p.type == ParamType::kCanvasStep ? canvas->steps : canvas->variations;
        std::vector<std::string> ids;
        for (const auto& s : items) ids.push_back(s.id);
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
          error(v, std::string("unknown ") + (p.type == ParamType::kCanvasStep ? "step" : "variation") + " '" +
                       id + "' of Canvas '" + canvas->id + "'" + did_you_mean(id, ids));
          return false;
        }
        break;
      }
      case ParamType::kVariant: {
        const std::string* campaign_id = param_text(ParamType::kCampaign);
        const Campaign* campaign = campaign_id ? cat->campaign(*campaign_id) : nullptr;
        // A campaign that is not multivariate has no variants: the filter
        // itself says so ("... is not multivariate"), which is the better message.
        if (!campaign || !campaign->multivariate) return true;
        std::vector<std::string> ids;
        for (const auto& s : campaign->variants) ids.push_back(s.id);
        if (!campaign->variant(id)) {
          error(v, "unknown variant '" + id + "' of campaign '" + campaign->id + "'" + did_you_mean(id, ids));
          return false;
        }
        break;
      }
      case ParamType::kTag: {
        auto tags = cat->tags();
        if (std::find(tags.begin(), tags.end(), id) == tags.end()) {
          error(v, "unknown tag '" + id + "': no campaign or Canvas carries it" + did_you_mean(id, tags));
          return false;
        }
        break;
      }
      case ParamType::kSegment:
        if (ctx_.segment_ids && !ctx_.segment_ids->count(id)) {
          std::vector<std::string> ids(ctx_.segment_ids->begin(), ctx_.segment_ids->end());
          error(v, "unknown segment '" + id + "'" + did_you_mean(id, ids));
          return false;
        }
        break;
      default:
        break;
    }
    return true;
  }

  const sdk::FilterInfo& info_;
  BindContext& ctx_;
  BoundParams& out_;
};

}  // namespace

std::optional<sdk::TimePredicate> compile_time_predicate(std::string_view key, std::string_view value,
                                                         const TimeZone& zone, std::string& error) {
  sdk::TimePredicate tp;
  std::string k(key);
  tp.text = k + ": " + std::string(value);
  YamlNode v;
  v.kind = YamlNode::Kind::kScalar;
  v.value = std::string(value);
  if (k == "more_than_days_ago" || k == "less_than_days_ago") {
    long long n;
    if (!yaml_as_int(v, n) || n < 0 || n > kMaxDays) {
      error = "'" + k + "' must be a whole number of days (0 or more)";
      return std::nullopt;
    }
    tp.kind = k == "more_than_days_ago" ? sdk::TimePredicate::Kind::kMoreThanDaysAgo
                                        : sdk::TimePredicate::Kind::kLessThanDaysAgo;
    tp.days = n;  // relative to the evaluation's clock: bound with TimePredicate::at(now)
  } else if (k == "after" || k == "before") {
    auto days = parse_date(value);
    if (!days) {
      error = "'" + k + "' must be a date YYYY-MM-DD (in the company time zone)";
      return std::nullopt;
    }
    if (k == "after") {
      tp.kind = sdk::TimePredicate::Kind::kAfter;
      tp.edge = zone.start_of_day(*days + 1);  // t >= start of the day after DATE
    } else {
      tp.kind = sdk::TimePredicate::Kind::kBefore;
      tp.edge = zone.start_of_day(*days);  // t < start of DATE
    }
  } else if (k == "blank") {
    bool b;
    if (!yaml_as_bool(v, b)) {
      error = "'blank' must be true or false";
      return std::nullopt;
    }
    tp.kind = sdk::TimePredicate::Kind::kBlank;
    tp.blank = b;
  } else {
    error = "'" + k + "' is not a time predicate (" + join(time_predicate_keys(), ", ") + ")";
    return std::nullopt;
  }
  return tp;
}

bool bind_params(const sdk::FilterInfo& info, const YamlNode& leaf, const YamlNode& node, BindContext& ctx,
                 BoundParams& out) {
  return Binder(info, ctx, out).run(leaf, node);
}

}  // namespace retarget
