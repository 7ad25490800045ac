// The interaction-data surfaces (formats.md "Exports"): exact field names and
// CSV header, formula neutralisation, and expired data excluded (analytics not).
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "retarget/format.hpp"
#include "export/exports.hpp"
#include "test_support.hpp"

namespace retarget {
namespace {

using nlohmann::json;
constexpr std::int64_t kDay = 86400000;

const char* kCatalog = R"(version: 1
campaigns:
  - id: promo
    name: Promo
    multivariate: true
    variants: [{id: a, name: Variant A}, {id: b, name: Variant B}]
    status: stopped
    stopped_at: 2026-01-01T00:00:00Z
  - {id: plain, name: Plain, status: active}
canvases:
  - id: flow
    name: Flow
    variations: [{id: v1, name: Variation 1}, {id: ctl, name: Control, control: true}]
    steps: [{id: s1, name: Step One}, {id: s2, name: Step Two}]
    status: active
attributes:
  plan: string
  score: number
)";
const char* kEvents = R"EV({"time":"2025-12-01T10:00:00Z","user":"u1","type":"received","campaign":"promo","variant":"b","channel":"email"}
{"time":"2025-12-01T11:00:00Z","user":"u1","type":"interaction","campaign":"promo","action":"opened_email_machine"}
{"time":"2025-12-01T12:00:00Z","user":"u1","type":"interaction","campaign":"promo","action":"clicked_in_app"}
{"time":"2025-12-02T10:00:00Z","user":"u1","type":"converted","campaign":"promo"}
{"time":"2025-12-01T10:00:00Z","user":"u2","type":"received","campaign":"promo","variant":"a","channel":"push"}
{"time":"2025-12-01T10:00:00Z","user":"u3","type":"control","campaign":"promo"}
{"time":"2025-12-03T10:00:00Z","user":"u1","type":"received","campaign":"plain","channel":"sms"}
{"time":"2025-12-04T10:00:00Z","user":"u1","type":"canvas_entered","canvas":"flow","variation":"ctl"}
{"time":"2025-12-04T11:00:00Z","user":"u1","type":"received","canvas":"flow","step":"s2","channel":"email"}
{"time":"2025-12-05T11:00:00Z","user":"u1","type":"canvas_exited","canvas":"flow"}
{"time":"2025-12-01T00:00:00Z","user":"u1","type":"attributes","attributes":{"plan":"=HYPERLINK(\"http://x\")","score":7}}
{"time":"2025-12-01T00:00:00Z","user":"u2","type":"attributes","attributes":{"plan":"+1 555, \"quoted\"","score":-3}}
)EV";

std::unique_ptr<Engine> open() {
  auto e = Engine::Open(testing::test_options("2026-02-01T00:00:00Z"));
  EXPECT_TRUE(e.ok());
  Diagnostics d;
  EXPECT_TRUE((*e)->apply_catalog_text(kCatalog, "c.yaml", d).ok()) << d.to_string();
  EXPECT_EQ((*e)->ingest_text(kEvents)->rejected, 0u);
  return std::move(e).value();
}

TEST(Exports, UsersExportHasExactlyTheReferenceFieldNames) {
  auto e = open();
  json j = json::parse(to_json(*e->export_users({"u1", "ghost"})));
  EXPECT_EQ(j["message"], "success");
  EXPECT_EQ(j["invalid_user_ids"], json::array({"ghost"}));
  ASSERT_EQ(j["users"].size(), 1u);
  const json& u = j["users"][0];
  EXPECT_EQ(u["external_id"], "u1");
  EXPECT_EQ(u["custom_attributes"]["score"], 7);
  // Campaigns and Canvases are listed by id.
  const json& promo = u["campaigns_received"][1];
  EXPECT_EQ(promo, json::parse(R"({"name":"Promo","api_campaign_id":"promo","last_received":"2025-12-01T10:00:00.000Z",
    "engaged":{"opened_email":true,"opened_push":false,"clicked_email":false,"clicked_triggered_in_app_message":true},
    "converted":true,"variation_name":"Variant B","variation_api_id":"b","in_control":false})"));
  // Not multivariate: no variation fields, no in_control.
  const json& plain = u["campaigns_received"][0];
  EXPECT_EQ(plain["api_campaign_id"], "plain");
  EXPECT_FALSE(plain.contains("variation_name"));
  EXPECT_FALSE(plain.contains("in_control"));
  const json& flow = u["canvases_received"][0];
  EXPECT_EQ(flow, json::parse(R"({"name":"Flow","api_canvas_id":"flow","last_received_message":"2025-12-04T11:00:00.000Z",
    "last_entered":"2025-12-04T10:00:00.000Z","variation_name":"Control","in_control":true,
    "last_exited":"2025-12-05T11:00:00.000Z",
    "steps_received":[{"name":"Step Two","api_canvas_step_id":"s2","last_received":"2025-12-04T11:00:00.000Z"}]})"));
  // The typed profile behind that JSON.
  auto typed = e->profile("u1");
  ASSERT_TRUE(typed.ok());
  EXPECT_EQ(typed->external_id, "u1");
  ASSERT_FALSE(typed->campaigns_received.empty());
  EXPECT_FALSE(typed->canvases_received.empty());
  EXPECT_TRUE(std::is_sorted(typed->custom_attributes.begin(), typed->custom_attributes.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; }));
  EXPECT_EQ(e->profile("ghost").status().code(), Status::Code::kNotFound);
  // Fields the user has no data for are omitted.
  json u3 = json::parse(to_json(*e->profile("u3")));
  EXPECT_FALSE(u3.contains("campaigns_received"));
  EXPECT_FALSE(u3.contains("custom_attributes"));
}

TEST(Exports, RecipientsCsvHeaderRowsAndFormulaNeutralisation) {
  auto e = open();
  auto rows = e->export_recipients(SourceKind::kCampaign, "promo");
  ASSERT_TRUE(rows.ok());
  // The typed rows: attributes in the declared order, values as their types.
  EXPECT_EQ(rows->attribute_names, (std::vector<std::string>{"plan", "score"}));
  ASSERT_EQ(rows->rows.size(), 2u);
  EXPECT_EQ(rows->rows[0].external_id, "u1");
  ASSERT_TRUE(rows->rows[0].attributes[1].has_value());
  EXPECT_EQ(std::get<double>(*rows->rows[0].attributes[1]), 7.0);
  EXPECT_EQ(rows->rows[0].variation_id, "b");
  EXPECT_FALSE(rows->rows[0].in_control);
  EXPECT_TRUE(rows->warnings.empty());
  EXPECT_EQ(to_csv(*rows),
            "external_id,plan,score,variation_name,variation_api_id,in_control,last_received\r\n"
            "u1,\"'=HYPERLINK(\"\"http://x\"\")\",7,Variant B,b,false,2025-12-01T10:00:00.000Z\r\n"
            "u2,\"'+1 555, \"\"quoted\"\"\",'-3,Variant A,a,false,2025-12-01T10:00:00.000Z\r\n");
  auto canvas = e->export_recipients(SourceKind::kCanvas, "flow", "s2");
  ASSERT_TRUE(canvas.ok());
  EXPECT_EQ(to_csv(*canvas), "external_id,plan,score,variation_name,variation_api_id,in_control,last_received,step\r\n"
                     "u1,\"'=HYPERLINK(\"\"http://x\"\")\",7,Control,ctl,true,2025-12-04T11:00:00.000Z,s2\r\n");
  EXPECT_EQ(csv_cell("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(csv_cell("plain"), "plain");
  EXPECT_EQ(e->export_recipients(SourceKind::kCanvas, "flow", "nope").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(e->export_recipients(SourceKind::kCampaign, "nope").status().code(), Status::Code::kNotFound);
}

TEST(Exports, ExpiredDataIsExcludedButAnalyticsNeverChange) {
  auto e = open();
  auto typed = e->analytics(SourceKind::kCampaign, "promo");
  ASSERT_TRUE(typed.ok());
  EXPECT_EQ(typed->source, "campaign:promo");
  EXPECT_EQ(typed->sends, 2u);
  EXPECT_EQ(typed->control_size, 1u);
  EXPECT_EQ(e->analytics(SourceKind::kCanvas, "promo").status().code(), Status::Code::kNotFound);
  std::string analytics_before = to_json(*typed);
  json a = json::parse(analytics_before);
  EXPECT_EQ(a["sends"], 2);
  EXPECT_EQ(a["unique_recipients"], 2);
  EXPECT_EQ(a["opens"], 1);
  EXPECT_EQ(a["clicks"], 1);
  EXPECT_EQ(a["conversions"], 1);
  EXPECT_EQ(a["control_size"], 1);

  e->set_now_ms(*parse_time_ms("2026-01-01T00:00:00Z") + 91 * kDay);
  ASSERT_EQ(e->sweep()->expired, std::vector<std::string>{"campaign:promo"});
  json u = json::parse(to_json(*e->export_users({"u1"})))["users"][0];
  ASSERT_EQ(u["campaigns_received"].size(), 1u);
  EXPECT_EQ(u["campaigns_received"][0]["api_campaign_id"], "plain");
  EXPECT_FALSE(json::parse(to_json(*e->profile("u2"))).contains("campaigns_received"));
  auto csv = e->export_recipients(SourceKind::kCampaign, "promo");
  EXPECT_EQ(to_csv(*csv), "external_id,plan,score,variation_name,variation_api_id,in_control,last_received\r\n");
  ASSERT_EQ(csv->warnings.size(), 1u);
  EXPECT_NE(csv->warnings[0].find("campaign:promo is expired"), std::string::npos);
  EXPECT_EQ(to_json(*e->analytics(SourceKind::kCampaign, "promo")), analytics_before);

  auto job = e->restore({{"promo"}, {}, {}});
  e->wait_restore(job->id);
  EXPECT_EQ(json::parse(to_json(*e->export_users({"u1"})))["users"][0]["campaigns_received"].size(), 2u);
  EXPECT_EQ(to_json(*e->analytics(SourceKind::kCampaign, "promo")), analytics_before);
}

}  // namespace
}  // namespace retarget
