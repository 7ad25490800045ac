#include "export/exports.hpp"

#include "retarget/sdk/helpers.hpp"

namespace retarget {

using nlohmann::json;
using sdk::FactKey;
using sdk::FactKind;
using sdk::SourceKind;
using sdk::Timestamp;

namespace {

Timestamp time_of(const Index& index, const FactKey& key, UserIndex u) {
  return sdk::time_of(index.interactions().fact(key), u);
}

json attribute_json(const sdk::AttributeRef& v) {
  switch (v.type) {
    case sdk::AttributeRef::Type::kString: return std::string(v.text);
    case sdk::AttributeRef::Type::kNumber:
      // Whole numbers print as integers (7, not 7.0), as they were most likely sent.
      if (v.number == static_cast<double>(static_cast<std::int64_t>(v.number)) && v.number > -9e15 && v.number < 9e15)
        return static_cast<std::int64_t>(v.number);
      return v.number;
    case sdk::AttributeRef::Type::kBool: return v.boolean;
  }
  return nullptr;
}

// The variant/variation with the latest time among `ids` for a fact kind.
std::string latest_of(const Index& index, SourceKind kind, const std::string& source, FactKind fact,
                      const std::vector<NamedId>& ids, UserIndex u, Timestamp* at = nullptr) {
  std::string best;
  Timestamp best_t = sdk::kNoTime;
  for (const auto& v : ids) {
    Timestamp t = time_of(index, FactKey{kind, source, fact, "", v.id}, u);
    if (t != sdk::kNoTime && t >= best_t) best_t = t, best = v.id;
  }
  if (at) *at = best_t;
  return best;
}

}  // namespace

json user_export(const Index& index, const Catalog& catalog, UserIndex u) {
  json user{{"external_id", std::string(index.user_id(u))}};
  json attrs = json::object();
  for (const auto& name : index.profiles().attribute_names())
    if (const sdk::UserAttributes* col = index.profiles().attribute(name))
      if (auto v = col->find(u)) attrs[name] = attribute_json(*v);
  if (!attrs.empty()) user["custom_attributes"] = attrs;

  json campaigns = json::array();
  // (No structured bindings here: the lambdas capture `id`, which clang 14 does not allow.)
  for (const auto& campaign_entry : catalog.campaigns()) {
    const std::string& id = campaign_entry.first;
    const Campaign& c = campaign_entry.second;
    auto fact = [&](FactKind k, std::string detail = "") { return time_of(index, FactKey{SourceKind::kCampaign, id, k, "", detail}, u); };
    Timestamp received = fact(FactKind::kReceived);
    if (received == sdk::kNoTime) continue;  // not a recipient (or the data is expired)
    json e{{"name", c.name}, {"api_campaign_id", id}, {"last_received", sdk::format_time(received)}};
    e["engaged"] = {{"opened_email", fact(FactKind::kInteraction, "opened_email") != sdk::kNoTime ||
                                         fact(FactKind::kInteraction, "opened_email_machine") != sdk::kNoTime},
                    {"opened_push", fact(FactKind::kInteraction, "opened_push") != sdk::kNoTime},
                    {"clicked_email", fact(FactKind::kInteraction, "clicked_email") != sdk::kNoTime},
                    {"clicked_triggered_in_app_message", fact(FactKind::kInteraction, "clicked_in_app") != sdk::kNoTime}};
    e["converted"] = fact(FactKind::kConverted, "0") != sdk::kNoTime;
    if (c.multivariate) {
      std::string variant = latest_of(index, SourceKind::kCampaign, id, FactKind::kReceivedVariant, c.variants, u);
      if (const NamedId* v = c.variant(variant)) {
        e["variation_name"] = v->name;
        e["variation_api_id"] = v->id;
      }
      e["in_control"] = fact(FactKind::kControl) != sdk::kNoTime;
    }
    campaigns.push_back(std::move(e));
  }
  if (!campaigns.empty()) user["campaigns_received"] = campaigns;

  json canvases = json::array();
  for (const auto& canvas_entry : catalog.canvases()) {
    const std::string& id = canvas_entry.first;
    const Canvas& k = canvas_entry.second;
    auto fact = [&](FactKind f, std::string step = "", std::string detail = "") {
      return time_of(index, FactKey{SourceKind::kCanvas, id, f, step, detail}, u);
    };
    Timestamp received = fact(FactKind::kReceived);
    Timestamp entered = fact(FactKind::kCanvasEntered);
    if (received == sdk::kNoTime && entered == sdk::kNoTime) continue;
    json e{{"name", k.name}, {"api_canvas_id", id}};
    if (received != sdk::kNoTime) e["last_received_message"] = sdk::format_time(received);
    if (entered != sdk::kNoTime) {
      e["last_entered"] = sdk::format_time(entered);
      std::string variation = latest_of(index, SourceKind::kCanvas, id, FactKind::kCanvasEntered, k.variations, u);
      if (const NamedId* v = k.variation(variation)) {
        e["variation_name"] = v->name;
        bool control = false;
        for (const auto& cv : k.variations)
          if (cv.control && fact(FactKind::kCanvasEntered, "", cv.id) != sdk::kNoTime) control = true;
        e["in_control"] = control;
      }
    }
    Timestamp exited = fact(FactKind::kCanvasExited);
    if (exited != sdk::kNoTime) e["last_exited"] = sdk::format_time(exited);
    json steps = json::array();
    for (const auto& s : k.steps) {
      Timestamp t = fact(FactKind::kReceived, s.id);
      if (t != sdk::kNoTime)
        steps.push_back({{"name", s.name}, {"api_canvas_step_id", s.id}, {"last_received", sdk::format_time(t)}});
    }
    if (!steps.empty()) e["steps_received"] = steps;
    canvases.push_back(std::move(e));
  }
  if (!canvases.empty()) user["canvases_received"] = canvases;
  return user;
}

std::string csv_cell(const std::string& value) {
  std::string v = value;
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r'))
    v.insert(v.begin(), '\'');
  bool quote = v.find_first_of(",\"\r\n") != std::string::npos;
  if (!quote) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string recipients_csv(const Index& index, const Catalog& catalog, SourceKind kind, const std::string& id,
                           const std::string& step) {
  std::vector<std::string> attrs;
  for (const auto& [name, type] : catalog.attribute_types()) attrs.push_back(name);
  std::string out = "external_id";
  for (const auto& a : attrs) out += "," + csv_cell(a);
  out += ",variation_name,variation_api_id,in_control,last_received";
  if (kind == SourceKind::kCanvas) out += ",step";
  out += "\r\n";
  auto attr_cell = [&](const std::string& name, UserIndex u) -> std::string {
    const sdk::UserAttributes* col = index.profiles().attribute(name);
    auto v = col ? col->find(u) : std::nullopt;
    if (!v) return "";
    json j = attribute_json(*v);
    return csv_cell(j.is_string() ? j.get<std::string>() : j.dump());
  };
  auto row = [&](UserIndex u, const std::string& vname, const std::string& vid, const std::string& control,
                 Timestamp last, const std::string* step_id) {
    out += csv_cell(std::string(index.user_id(u)));
    for (const auto& a : attrs) out += "," + attr_cell(a, u);
    out += "," + csv_cell(vname) + "," + csv_cell(vid) + "," + control + "," + sdk::format_time(last);
    if (step_id) out += "," + csv_cell(*step_id);
    out += "\r\n";
  };
  if (kind == SourceKind::kCampaign) {
    const Campaign* c = catalog.campaign(id);
    const sdk::UserTimes* received = index.interactions().fact(FactKey{SourceKind::kCampaign, id, FactKind::kReceived, "", ""});
    if (!c || !received) return out;
    const sdk::UserTimes* control = index.interactions().fact(FactKey{SourceKind::kCampaign, id, FactKind::kControl, "", ""});
    received->for_each([&](sdk::UserIndex u, std::int64_t t) {
      std::string variant = latest_of(index, SourceKind::kCampaign, id, FactKind::kReceivedVariant, c->variants, u);
      const NamedId* v = c->variant(variant);
      row(u, v ? v->name : "", v ? v->id : "", control && control->contains(u) ? "true" : "false", t, nullptr);
    });
    return out;
  }
  const Canvas* k = catalog.canvas(id);
  if (!k) return out;
  for (const auto& s : k->steps) {
    if (!step.empty() && s.id != step) continue;
    const sdk::UserTimes* received = index.interactions().fact(FactKey{SourceKind::kCanvas, id, FactKind::kReceived, s.id, ""});
    if (!received) continue;
    received->for_each([&](sdk::UserIndex u, std::int64_t t) {
      std::string variation = latest_of(index, SourceKind::kCanvas, id, FactKind::kCanvasEntered, k->variations, u);
      const NamedId* v = k->variation(variation);
      row(u, v ? v->name : "", v ? v->id : "", v && v->control ? "true" : "false", t, &s.id);
    });
  }
  return out;
}

json analytics_json(const IndexBuilder::SourceAnalytics* a, const std::string& source_key) {
  json j{{"source", source_key}, {"sends", 0}, {"unique_recipients", 0}, {"opens", 0}, {"clicks", 0},
         {"conversions", 0}, {"control_size", 0}};
  if (!a) return j;
  j["sends"] = a->sends;
  j["unique_recipients"] = a->recipients.cardinality();
  j["opens"] = a->opens;
  j["clicks"] = a->clicks;
  j["conversions"] = a->conversions;
  j["control_size"] = a->control.cardinality();
  return j;
}

}  // namespace retarget
