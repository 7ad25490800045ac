#include "export/exports.hpp"

#include <algorithm>

#include "retarget/sdk/helpers.hpp"

namespace retarget {

using sdk::FactKey;
using sdk::FactKind;
using sdk::SourceKind;
using sdk::Timestamp;

namespace {

Timestamp time_of(const Index& index, const FactKey& key, UserIndex u) {
  return sdk::time_of(index.interactions().fact(key), u);
}

UserAttributeValue attribute_value(const sdk::AttributeRef& v) {
  switch (v.type) {
    case sdk::AttributeRef::Type::kString: return std::string(v.text);
    case sdk::AttributeRef::Type::kNumber: return v.number;
    case sdk::AttributeRef::Type::kBool: return v.boolean;
  }
  return std::string();
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

UserProfile user_profile(const Index& index, const Catalog& catalog, UserIndex u) {
  UserProfile user;
  user.external_id = std::string(index.user_id(u));
  for (const auto& name : index.profiles().attribute_names())
    if (const sdk::UserAttributes* col = index.profiles().attribute(name))
      if (auto v = col->find(u)) user.custom_attributes.emplace_back(name, attribute_value(*v));
  std::sort(user.custom_attributes.begin(), user.custom_attributes.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  // (No structured bindings here: the lambdas capture `id`, which clang 14 does not allow.)
  for (const auto& campaign_entry : catalog.campaigns()) {
    const std::string& id = campaign_entry.first;
    const Campaign& c = campaign_entry.second;
    auto fact = [&](FactKind k, std::string detail = "") { return time_of(index, FactKey{SourceKind::kCampaign, id, k, "", detail}, u); };
    auto has = [&](FactKind k, std::string detail = "") { return fact(k, std::move(detail)) != sdk::kNoTime; };
    Timestamp received = fact(FactKind::kReceived);
    if (received == sdk::kNoTime) continue;  // not a recipient (or the data is expired)
    CampaignReceived e;
    e.id = id, e.name = c.name, e.last_received_ms = received;
    e.opened_email = has(FactKind::kInteraction, "opened_email") || has(FactKind::kInteraction, "opened_email_machine");
    e.opened_push = has(FactKind::kInteraction, "opened_push");
    e.clicked_email = has(FactKind::kInteraction, "clicked_email");
    e.clicked_in_app = has(FactKind::kInteraction, "clicked_in_app");
    e.converted = has(FactKind::kConverted, "0");
    if (c.multivariate) {
      std::string variant = latest_of(index, SourceKind::kCampaign, id, FactKind::kReceivedVariant, c.variants, u);
      if (const NamedId* v = c.variant(variant)) e.variation_name = v->name, e.variation_id = v->id;
      e.in_control = has(FactKind::kControl);
    }
    user.campaigns_received.push_back(std::move(e));
  }

  for (const auto& canvas_entry : catalog.canvases()) {
    const std::string& id = canvas_entry.first;
    const Canvas& k = canvas_entry.second;
    auto fact = [&](FactKind f, std::string step = "", std::string detail = "") {
      return time_of(index, FactKey{SourceKind::kCanvas, id, f, step, detail}, u);
    };
    auto opt = [](Timestamp t) { return t == sdk::kNoTime ? std::nullopt : std::optional<std::int64_t>(t); };
    Timestamp received = fact(FactKind::kReceived);
    Timestamp entered = fact(FactKind::kCanvasEntered);
    if (received == sdk::kNoTime && entered == sdk::kNoTime) continue;
    CanvasReceived e;
    e.id = id, e.name = k.name;
    e.last_received_ms = opt(received);
    e.last_entered_ms = opt(entered);
    if (entered != sdk::kNoTime) {
      std::string variation = latest_of(index, SourceKind::kCanvas, id, FactKind::kCanvasEntered, k.variations, u);
      if (const NamedId* v = k.variation(variation)) {
        e.variation_name = v->name;
        bool control = false;
        for (const auto& cv : k.variations)
          if (cv.control && fact(FactKind::kCanvasEntered, "", cv.id) != sdk::kNoTime) control = true;
        e.in_control = control;
      }
    }
    e.last_exited_ms = opt(fact(FactKind::kCanvasExited));
    for (const auto& s : k.steps) {
      Timestamp t = fact(FactKind::kReceived, s.id);
      if (t != sdk::kNoTime) e.steps.push_back({s.id, s.name, t});
    }
    user.canvases_received.push_back(std::move(e));
  }
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

namespace {

// Rows by external id (byte order): the same order however the users were
// ingested, and however they are partitioned (retarget-mpi merges by it).
void sort_by_external_id(std::vector<RecipientRow>::iterator first, std::vector<RecipientRow>::iterator last) {
  std::sort(first, last, [](const RecipientRow& a, const RecipientRow& b) { return a.external_id < b.external_id; });
}

}  // namespace

RecipientsExport recipients(const Index& index, const Catalog& catalog, SourceKind kind, const std::string& id,
                            const std::string& step) {
  RecipientsExport out;
  out.kind = kind;
  for (const auto& [name, type] : catalog.attribute_types()) out.attribute_names.push_back(name);
  std::vector<const sdk::UserAttributes*> columns;
  for (const auto& name : out.attribute_names) columns.push_back(index.profiles().attribute(name));
  auto row = [&](UserIndex u, const NamedId* v, bool control, Timestamp last, const std::string* step_id) {
    RecipientRow r;
    r.external_id = std::string(index.user_id(u));
    for (const sdk::UserAttributes* col : columns) {
      auto value = col ? col->find(u) : std::nullopt;
      r.attributes.push_back(value ? std::optional<UserAttributeValue>(attribute_value(*value)) : std::nullopt);
    }
    if (v) r.variation_name = v->name, r.variation_id = v->id;
    r.in_control = control;
    r.last_received_ms = last;
    if (step_id) r.step = *step_id;
    out.rows.push_back(std::move(r));
  };
  if (kind == SourceKind::kCampaign) {
    const Campaign* c = catalog.campaign(id);
    const sdk::UserTimes* received = index.interactions().fact(FactKey{SourceKind::kCampaign, id, FactKind::kReceived, "", ""});
    if (!c || !received) return out;
    const sdk::UserTimes* control = index.interactions().fact(FactKey{SourceKind::kCampaign, id, FactKind::kControl, "", ""});
    received->for_each([&](sdk::UserIndex u, std::int64_t t) {
      std::string variant = latest_of(index, SourceKind::kCampaign, id, FactKind::kReceivedVariant, c->variants, u);
      row(u, c->variant(variant), control && control->contains(u), t, nullptr);
    });
    sort_by_external_id(out.rows.begin(), out.rows.end());
    return out;
  }
  const Canvas* k = catalog.canvas(id);
  if (!k) return out;
  for (const auto& s : k->steps) out.steps.push_back(s.id);
  for (const auto& s : k->steps) {
    if (!step.empty() && s.id != step) continue;
    const sdk::UserTimes* received = index.interactions().fact(FactKey{SourceKind::kCanvas, id, FactKind::kReceived, s.id, ""});
    if (!received) continue;
    const std::size_t first = out.rows.size();
    received->for_each([&](sdk::UserIndex u, std::int64_t t) {
      std::string variation = latest_of(index, SourceKind::kCanvas, id, FactKind::kCanvasEntered, k->variations, u);
      const NamedId* v = k->variation(variation);
      row(u, v, v && v->control, t, &s.id);
    });
    sort_by_external_id(out.rows.begin() + static_cast<std::ptrdiff_t>(first), out.rows.end());
  }
  return out;
}

AnalyticsReport analytics_of(const IndexBuilder::SourceAnalytics* a, const std::string& source_key) {
  AnalyticsReport out;
  out.source = source_key;
  if (!a) return out;
  out.sends = a->sends;
  out.unique_recipients = a->recipients.cardinality();
  out.opens = a->opens;
  out.clicks = a->clicks;
  out.conversions = a->conversions;
  out.control_size = a->control.cardinality();
  return out;
}

}  // namespace retarget
