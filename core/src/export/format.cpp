// The JSON and CSV forms of the typed results (retarget/format.hpp). The
// JSON objects are nlohmann's, whose keys print sorted: the output is the
// same whatever order the fields are set in.
#include "retarget/format.hpp"

#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "export/exports.hpp"
#include "retarget/engine.hpp"

namespace retarget {

using nlohmann::json;

namespace {

json attribute_json(const UserAttributeValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  double n = std::get<double>(v);
  // Whole numbers print as integers (7, not 7.0), as they were most likely sent.
  if (n == static_cast<double>(static_cast<std::int64_t>(n)) && n > -9e15 && n < 9e15)
    return static_cast<std::int64_t>(n);
  return n;
}

json user_json(const UserProfile& p) {
  json user{{"external_id", p.external_id}};
  if (!p.custom_attributes.empty()) {
    json attrs = json::object();
    for (const auto& [name, value] : p.custom_attributes) attrs[name] = attribute_json(value);
    user["custom_attributes"] = std::move(attrs);
  }
  if (!p.campaigns_received.empty()) {
    json campaigns = json::array();
    for (const auto& c : p.campaigns_received) {
      json e{{"name", c.name}, {"api_campaign_id", c.id}, {"last_received", format_time_ms(c.last_received_ms)}};
      e["engaged"] = {{"opened_email", c.opened_email},
                      {"opened_push", c.opened_push},
                      {"clicked_email", c.clicked_email},
                      {"clicked_triggered_in_app_message", c.clicked_in_app}};
      e["converted"] = c.converted;
      if (c.variation_name) e["variation_name"] = *c.variation_name;
      if (c.variation_id) e["variation_api_id"] = *c.variation_id;
      if (c.in_control) e["in_control"] = *c.in_control;
      campaigns.push_back(std::move(e));
    }
    user["campaigns_received"] = std::move(campaigns);
  }
  if (!p.canvases_received.empty()) {
    json canvases = json::array();
    for (const auto& k : p.canvases_received) {
      json e{{"name", k.name}, {"api_canvas_id", k.id}};
      if (k.last_received_ms) e["last_received_message"] = format_time_ms(*k.last_received_ms);
      if (k.last_entered_ms) e["last_entered"] = format_time_ms(*k.last_entered_ms);
      if (k.variation_name) e["variation_name"] = *k.variation_name;
      if (k.in_control) e["in_control"] = *k.in_control;
      if (k.last_exited_ms) e["last_exited"] = format_time_ms(*k.last_exited_ms);
      if (!k.steps.empty()) {
        json steps = json::array();
        for (const auto& s : k.steps)
          steps.push_back({{"name", s.name}, {"api_canvas_step_id", s.id}, {"last_received", format_time_ms(s.last_received_ms)}});
        e["steps_received"] = std::move(steps);
      }
      canvases.push_back(std::move(e));
    }
    user["canvases_received"] = std::move(canvases);
  }
  return user;
}

std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string to_text(const UserAttributeValue& value) {
  json j = attribute_json(value);
  return j.is_string() ? j.get<std::string>() : j.dump();
}

std::string to_json(const UserProfile& profile) {
  json j = user_json(profile);
  j["warnings"] = profile.warnings;
  return dump(j);
}

std::string to_json(const UsersExport& users) {
  json list = json::array();
  for (const auto& u : users.users) list.push_back(user_json(u));
  return dump(json{{"users", std::move(list)},
                   {"invalid_user_ids", users.invalid_user_ids},
                   {"message", "success"},
                   {"warnings", users.warnings}});
}

std::string to_json(const AnalyticsReport& a) {
  return json{{"source", a.source},         {"sends", a.sends},
              {"unique_recipients", a.unique_recipients}, {"opens", a.opens},
              {"clicks", a.clicks},         {"conversions", a.conversions},
              {"control_size", a.control_size}}
      .dump(2);
}

std::string to_json(const StoreCheck& check) {
  json sources = json::array(), problems = json::array();
  for (const auto& s : check.sources)
    sources.push_back({{"source", s.key},
                       {"tier", to_string(s.tier)},
                       {"records", s.records},
                       {"columns_in", s.columns_in},
                       {"move_pending", s.move_pending}});
  for (const auto& p : check.problems) problems.push_back({{"file", p.file}, {"offset", p.offset}, {"message", p.message}});
  json out{{"durable", check.durable}, {"events", check.events}, {"sources", std::move(sources)},
           {"problems", std::move(problems)}, {"ok", check.ok()}};
  if (check.bytes)
    out["bytes"] = {{"tables", check.bytes->tables}, {"archive", check.bytes->archive},
                    {"events", check.bytes->events}, {"wal", check.bytes->wal}};
  return dump(out);
}

void write_csv(const RecipientsExport& r, std::ostream& out, const std::function<void(std::size_t)>& on_rows) {
  std::string line = "external_id";
  for (const auto& a : r.attribute_names) line += "," + csv_cell(a);
  line += ",variation_name,variation_api_id,in_control,last_received";
  const bool canvas = r.kind == SourceKind::kCanvas;
  if (canvas) line += ",step";
  line += "\r\n";
  out << line;
  std::size_t written = 0;
  for (const auto& row : r.rows) {
    line = csv_cell(row.external_id);
    for (const auto& v : row.attributes) {
      line += ',';
      if (v) line += csv_cell(to_text(*v));
    }
    line += "," + csv_cell(row.variation_name) + "," + csv_cell(row.variation_id) + "," +
            (row.in_control ? "true" : "false") + "," + format_time_ms(row.last_received_ms);
    if (canvas) line += "," + csv_cell(row.step);
    line += "\r\n";
    out << line;
    if (on_rows && ++written % 4096 == 0) on_rows(written);
  }
  if (on_rows) on_rows(r.rows.size());
}

std::string to_csv(const RecipientsExport& r) {
  std::ostringstream out;
  write_csv(r, out);
  return std::move(out).str();
}

}  // namespace retarget
