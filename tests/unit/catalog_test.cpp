// Catalog::apply_text (catalog/catalog.hpp): the catalog format of formats.md,
// its errors, all-or-nothing application and upsert by id.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <unistd.h>

#include "catalog/catalog.hpp"
#include "common/time.hpp"

namespace retarget {
namespace {

// The catalog example of formats.md, verbatim.
const char* kFormatsExample = R"(version: 1
campaigns:
  - id: spring_sale            # the API id
    name: Spring Sale
    tags: [promo, spring]
    multivariate: true
    variants: [{id: a, name: Variant A}, {id: b, name: Variant B}]
    aliases: [cta, footer]     # tracked link aliases
    recurring: false
    status: stopped            # draft | active | stopped | archived
    stopped_at: 2026-05-01T00:00:00Z
    audience: {segments: [win_back]}          # or {match: <boolean tree>}
canvases:
  - id: onboarding
    name: Onboarding
    tags: [lifecycle]
    variations: [{id: v1, name: Variant 1}, {id: ctl, name: Control, control: true}]
    steps: [{id: welcome, name: Welcome}, {id: day3, name: Day 3}]
    status: active
    audience: {match: {received_campaign: {campaign: spring_sale}}}
content_cards:
  - id: card_spring
    status: active
    audience: {segments: [win_back]}
attributes:                    # optional declared custom attribute types
  country: string
  lifetime_value: number
)";

const Diagnostic* find_error(const Diagnostics& d, const std::string& needle) {
  for (const auto& i : d.items())
    if (i.severity == Diagnostic::Severity::kError && i.message.find(needle) != std::string::npos) return &i;
  return nullptr;
}

Timestamp at(const char* rfc3339) {
  auto t = parse_time(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(0);
}

TEST(Catalog, FormatsExampleParses) {
  Catalog cat;
  Diagnostics d;
  cat.apply_text(kFormatsExample, "catalog.yaml", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();

  const Campaign* c = cat.campaign("spring_sale");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->id, "spring_sale");
  EXPECT_EQ(c->name, "Spring Sale");
  EXPECT_EQ(c->tags, (std::vector<std::string>{"promo", "spring"}));
  EXPECT_TRUE(c->multivariate);
  ASSERT_EQ(c->variants.size(), 2u);
  EXPECT_EQ(c->variants[0].id, "a");
  EXPECT_EQ(c->variants[0].name, "Variant A");
  EXPECT_EQ(c->variants[1].id, "b");
  EXPECT_EQ(c->variants[1].name, "Variant B");
  ASSERT_NE(c->variant("b"), nullptr);
  EXPECT_EQ(c->variant("b")->name, "Variant B");
  EXPECT_EQ(c->variant("c"), nullptr);
  EXPECT_EQ(c->aliases, (std::vector<std::string>{"cta", "footer"}));
  EXPECT_FALSE(c->recurring);
  EXPECT_EQ(c->status, LifecycleStatus::kStopped);
  EXPECT_EQ(c->stopped_at, at("2026-05-01T00:00:00Z"));
  EXPECT_EQ(c->audience.segments, (std::vector<std::string>{"win_back"}));
  EXPECT_FALSE(c->audience.match.has_value());
  EXPECT_FALSE(c->audience.empty());
  EXPECT_EQ(c->where.file, "catalog.yaml");
  EXPECT_EQ(c->where.line, 3);

  const Canvas* k = cat.canvas("onboarding");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->name, "Onboarding");
  EXPECT_EQ(k->tags, (std::vector<std::string>{"lifecycle"}));
  ASSERT_EQ(k->variations.size(), 2u);
  EXPECT_EQ(k->variations[0].id, "v1");
  EXPECT_FALSE(k->variations[0].control);
  EXPECT_EQ(k->variations[1].id, "ctl");
  EXPECT_EQ(k->variations[1].name, "Control");
  EXPECT_TRUE(k->variations[1].control);
  ASSERT_EQ(k->steps.size(), 2u);
  EXPECT_EQ(k->steps[0].id, "welcome");
  EXPECT_EQ(k->steps[1].id, "day3");
  EXPECT_EQ(k->steps[1].name, "Day 3");
  ASSERT_NE(k->step("day3"), nullptr);
  EXPECT_EQ(k->step("day4"), nullptr);
  ASSERT_NE(k->variation("ctl"), nullptr);
  EXPECT_TRUE(k->variation("ctl")->control);
  EXPECT_EQ(k->status, LifecycleStatus::kActive);
  EXPECT_EQ(k->stopped_at, sdk::kNoTime);
  ASSERT_TRUE(k->audience.match.has_value());
  ASSERT_TRUE(k->audience.match->is_map());
  const YamlNode* rc = k->audience.match->find("received_campaign");
  ASSERT_NE(rc, nullptr);
  ASSERT_NE(rc->find("campaign"), nullptr);
  EXPECT_EQ(rc->find("campaign")->value, "spring_sale");
  EXPECT_TRUE(k->audience.segments.empty());

  const ContentCard* card = cat.content_card("card_spring");
  ASSERT_NE(card, nullptr);
  EXPECT_EQ(card->status, LifecycleStatus::kActive);
  EXPECT_EQ(card->audience.segments, (std::vector<std::string>{"win_back"}));

  EXPECT_EQ(cat.attribute_type("country"), "string");
  EXPECT_EQ(cat.attribute_type("lifetime_value"), "number");
  EXPECT_EQ(cat.attribute_type("unknown"), std::nullopt);
  EXPECT_EQ(cat.attribute_types().size(), 2u);

  EXPECT_EQ(cat.campaign_ids(), (std::vector<std::string>{"spring_sale"}));
  EXPECT_EQ(cat.canvas_ids(), (std::vector<std::string>{"onboarding"}));
  auto tags = cat.tags();
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{"lifecycle", "promo", "spring"}));

  EXPECT_EQ(cat.campaign("onboarding"), nullptr);
  EXPECT_EQ(cat.canvas("spring_sale"), nullptr);
}

TEST(Catalog, PluginFacingDescriptions) {
  Catalog cat;
  Diagnostics d;
  cat.apply_text(kFormatsExample, "catalog.yaml", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  sdk::CampaignInfo ci = cat.campaign_info(*cat.campaign("spring_sale"));
  EXPECT_EQ(ci.id, "spring_sale");
  EXPECT_EQ(ci.name, "Spring Sale");
  EXPECT_TRUE(ci.multivariate);
  EXPECT_FALSE(ci.recurring);
  EXPECT_EQ(ci.variants, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ci.aliases, (std::vector<std::string>{"cta", "footer"}));
  EXPECT_EQ(ci.tags, (std::vector<std::string>{"promo", "spring"}));
  sdk::CanvasInfo ki = cat.canvas_info(*cat.canvas("onboarding"));
  EXPECT_EQ(ki.id, "onboarding");
  EXPECT_EQ(ki.steps, (std::vector<std::string>{"welcome", "day3"}));
  EXPECT_EQ(ki.variations, (std::vector<std::string>{"v1", "ctl"}));
  EXPECT_EQ(ki.control_variations, (std::vector<std::string>{"ctl"}));
  EXPECT_EQ(ki.tags, (std::vector<std::string>{"lifecycle"}));
}

TEST(Catalog, AllStatusesAndRecurring) {
  Catalog cat;
  Diagnostics d;
  cat.apply_text(R"(version: 1
campaigns:
  - {id: c_draft, status: draft}
  - {id: c_active, status: active, recurring: true}
  - {id: c_stopped, status: stopped, stopped_at: "2026-05-01T02:00:00+02:00"}
  - {id: c_archived, status: archived}
canvases:
  - {id: k_stopped, status: stopped, stopped_at: 2026-06-01T00:00:00.250Z, steps: [s1]}
)",
                 "c.yaml", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_EQ(cat.campaign("c_draft")->status, LifecycleStatus::kDraft);
  EXPECT_EQ(cat.campaign("c_active")->status, LifecycleStatus::kActive);
  EXPECT_TRUE(cat.campaign("c_active")->recurring);
  EXPECT_EQ(cat.campaign("c_stopped")->status, LifecycleStatus::kStopped);
  EXPECT_EQ(cat.campaign("c_stopped")->stopped_at, at("2026-05-01T00:00:00Z"));
  EXPECT_EQ(cat.campaign("c_archived")->status, LifecycleStatus::kArchived);
  EXPECT_EQ(cat.canvas("k_stopped")->stopped_at, at("2026-06-01T00:00:00.250Z"));
  // One spelling each way (retarget/identity.hpp).
  for (auto [status, text] : {std::pair{CatalogStatus::kDraft, "draft"}, std::pair{CatalogStatus::kActive, "active"},
                              std::pair{CatalogStatus::kStopped, "stopped"}, std::pair{CatalogStatus::kArchived, "archived"}}) {
    EXPECT_EQ(to_string(status), text);
    EXPECT_EQ(parse_catalog_status(text), status);
  }
  EXPECT_EQ(parse_catalog_status("Active"), std::nullopt);
  for (auto [kind, text] : {std::pair{CatalogKind::kCampaign, "campaign"}, std::pair{CatalogKind::kCanvas, "canvas"},
                            std::pair{CatalogKind::kCard, "card"}}) {
    EXPECT_EQ(to_string(kind), text);
    EXPECT_EQ(parse_catalog_kind(text), kind);
  }
  EXPECT_EQ(parse_catalog_kind("cards"), std::nullopt);
}

TEST(Catalog, AttributeTypes) {
  Catalog cat;
  Diagnostics d;
  cat.apply_text("version: 1\nattributes: {a: string, b: number, c: bool, d: time}\n", "c.yaml", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_EQ(cat.attribute_type("a"), "string");
  EXPECT_EQ(cat.attribute_type("b"), "number");
  EXPECT_EQ(cat.attribute_type("c"), "bool");
  EXPECT_EQ(cat.attribute_type("d"), "time");
}

TEST(Catalog, EmptySectionsAreFine) {
  Catalog cat;
  Diagnostics d;
  cat.apply_text("version: 1\ncampaigns: []\ncanvases: []\ncontent_cards: []\n", "c.yaml", d);
  EXPECT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_TRUE(cat.campaigns().empty());
}

// -------------------------------------------------------------------- errors

struct ErrorCase {
  const char* name;
  const char* text;
  const char* needle;  // expected in the message
  int line, column;    // expected location (0 = not checked)
};

class CatalogErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(CatalogErrors, IsReportedAndChangesNothing) {
  const ErrorCase& k = GetParam();
  Catalog cat;
  Diagnostics d;
  cat.apply_text(k.text, "bad.yaml", d);
  ASSERT_TRUE(d.has_errors()) << k.name << ": accepted";
  const Diagnostic* e = find_error(d, k.needle);
  ASSERT_NE(e, nullptr) << k.name << ": no error mentions '" << k.needle << "':\n" << d.to_string();
  EXPECT_EQ(e->where.file, "bad.yaml");
  if (k.line) {
    EXPECT_EQ(e->where.line, k.line) << k.name << ": " << e->to_string();
    EXPECT_EQ(e->where.column, k.column) << k.name << ": " << e->to_string();
  } else {
    EXPECT_GT(e->where.line, 0) << k.name << ": " << e->to_string();
  }
  EXPECT_TRUE(cat.campaigns().empty()) << k.name;
  EXPECT_TRUE(cat.canvases().empty()) << k.name;
  EXPECT_TRUE(cat.content_cards().empty()) << k.name;
  EXPECT_TRUE(cat.attribute_types().empty()) << k.name;
}

INSTANTIATE_TEST_SUITE_P(
    Catalog, CatalogErrors,
    ::testing::Values(
        ErrorCase{"unknown campaign key", "version: 1\ncampaigns:\n  - id: c1\n    tag: [x]\n",
                  "did you mean 'tags'", 4, 5},
        ErrorCase{"unknown top-level key", "version: 1\ncampaign:\n  - id: c1\n", "did you mean 'campaigns'", 2, 1},
        ErrorCase{"unknown Canvas key", "version: 1\ncanvases:\n  - id: k1\n    step: [s]\n", "did you mean 'steps'",
                  4, 5},
        ErrorCase{"unknown content card key", "version: 1\ncontent_cards:\n  - id: card\n    statis: active\n",
                  "did you mean 'status'", 4, 5},
        ErrorCase{"unknown audience key", "version: 1\ncampaigns:\n  - id: c1\n    audience: {segment: [s]}\n",
                  "did you mean 'segments'", 4, 16},
        ErrorCase{"control on a step",
                  "version: 1\ncanvases:\n  - id: k1\n    steps: [{id: s1, control: true}]\n", "control", 4, 22},
        ErrorCase{"missing campaign id", "version: 1\ncampaigns:\n  - name: No Id\n", "id", 3, 5},
        ErrorCase{"missing Canvas id", "version: 1\ncanvases:\n  - name: No Id\n", "id", 3, 5},
        ErrorCase{"missing card id", "version: 1\ncontent_cards:\n  - status: active\n", "id", 3, 5},
        ErrorCase{"empty id", "version: 1\ncampaigns:\n  - id: \"\"\n", "id", 0, 0},
        ErrorCase{"duplicate campaign id", "version: 1\ncampaigns:\n  - id: c1\n  - id: c1\n", "c1", 4, 5},
        ErrorCase{"duplicate Canvas id", "version: 1\ncanvases:\n  - id: k1\n  - id: k1\n", "k1", 4, 5},
        ErrorCase{"duplicate variant id",
                  "version: 1\ncampaigns:\n  - id: c1\n    multivariate: true\n    variants: [a, a]\n", "'a'", 0, 0},
        ErrorCase{"bad status", "version: 1\ncampaigns:\n  - id: c1\n    status: actve\n", "did you mean 'active'", 4,
                  13},
        ErrorCase{"bad Canvas status", "version: 1\ncanvases:\n  - id: k1\n    status: stoped\n",
                  "did you mean 'stopped'", 4, 13},
        ErrorCase{"bad stopped_at", "version: 1\ncampaigns:\n  - id: c1\n    stopped_at: 2026-05-01\n", "stopped_at",
                  4, 17},
        ErrorCase{"impossible stopped_at",
                  "version: 1\ncampaigns:\n  - id: c1\n    stopped_at: 2026-02-30T00:00:00Z\n", "stopped_at", 4, 17},
        ErrorCase{"variants on a non-multivariate campaign",
                  "version: 1\ncampaigns:\n  - id: c1\n    variants: [{id: a}]\n", "multivariate", 4, 15},
        ErrorCase{"bad attribute type", "version: 1\nattributes:\n  country: strin\n", "did you mean 'string'", 3, 12},
        ErrorCase{"attribute type not a scalar", "version: 1\nattributes:\n  country: [string]\n", "string", 3, 12},
        ErrorCase{"campaign and Canvas sharing an id",
                  "version: 1\ncampaigns:\n  - id: shared\ncanvases:\n  - id: shared\n", "shared", 0, 0},
        ErrorCase{"missing version", "campaigns:\n  - id: c1\n", "version", 0, 0},
        ErrorCase{"wrong version", "version: 2\ncampaigns:\n  - id: c1\n", "version", 1, 10},
        ErrorCase{"multivariate not a bool", "version: 1\ncampaigns:\n  - id: c1\n    multivariate: yes\n",
                  "multivariate", 4, 19},
        ErrorCase{"tags not a list", "version: 1\ncampaigns:\n  - id: c1\n    tags: promo\n", "tags", 4, 11},
        ErrorCase{"campaigns not a list", "version: 1\ncampaigns: {id: c1}\n", "campaigns", 2, 12},
        ErrorCase{"duplicate YAML key", "version: 1\ncampaigns:\n  - id: c1\n    status: active\n    status: draft\n",
                  "status", 5, 5},
        ErrorCase{"syntax error", "version: 1\ncampaigns:\n  - id: [c1\n", "", 0, 0}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) {
      std::string n = info.param.name;
      for (char& ch : n)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

TEST(Catalog, EveryProblemIsReportedAtOnce) {
  Catalog cat;
  Diagnostics d;
  cat.apply_text(R"(version: 1
campaigns:
  - id: c1
    status: actve
  - id: c2
    stopped_at: never
  - name: no id
attributes:
  x: numbr
)",
                 "bad.yaml", d);
  EXPECT_GE(d.error_count(), 4u) << d.to_string();
  std::set<int> lines;
  for (const auto& i : d.items()) lines.insert(i.where.line);
  for (int line : {4, 6, 7, 9}) EXPECT_EQ(lines.count(line), 1u) << "no error on line " << line << "\n" << d.to_string();
  EXPECT_NE(find_error(d, "did you mean 'active'"), nullptr) << d.to_string();
  EXPECT_NE(find_error(d, "stopped_at"), nullptr) << d.to_string();
  EXPECT_NE(find_error(d, "did you mean 'number'"), nullptr) << d.to_string();
}

TEST(Catalog, CampaignAndCanvasMayNotShareAnIdAcrossFiles) {
  Catalog cat;
  Diagnostics d1;
  cat.apply_text("version: 1\ncampaigns:\n  - id: shared\n", "a.yaml", d1);
  ASSERT_FALSE(d1.has_errors()) << d1.to_string();
  Diagnostics d2;
  cat.apply_text("version: 1\ncanvases:\n  - id: shared\n    steps: [s]\n", "b.yaml", d2);
  ASSERT_TRUE(d2.has_errors());
  EXPECT_NE(find_error(d2, "shared"), nullptr) << d2.to_string();
  EXPECT_EQ(d2.items()[0].where.file, "b.yaml");
  EXPECT_EQ(cat.canvas("shared"), nullptr);
  EXPECT_NE(cat.campaign("shared"), nullptr);

  // And the other way round.
  Catalog cat2;
  Diagnostics d3;
  cat2.apply_text("version: 1\ncanvases:\n  - id: shared\n", "a.yaml", d3);
  ASSERT_FALSE(d3.has_errors()) << d3.to_string();
  Diagnostics d4;
  cat2.apply_text("version: 1\ncampaigns:\n  - id: shared\n", "b.yaml", d4);
  EXPECT_TRUE(d4.has_errors());
  EXPECT_EQ(cat2.campaign("shared"), nullptr);
}

TEST(Catalog, SameIdForACampaignAndAContentCardIsFine) {
  // Only campaigns and Canvases share the source namespace of events and filters.
  Catalog cat;
  Diagnostics d;
  cat.apply_text("version: 1\ncampaigns:\n  - id: x\ncontent_cards:\n  - id: x\n", "c.yaml", d);
  EXPECT_FALSE(d.has_errors()) << d.to_string();
}

// ----------------------------------------------------- all or nothing, upsert

TEST(Catalog, AFileWithAnErrorChangesNothing) {
  Catalog cat;
  Diagnostics d;
  cat.apply_text(kFormatsExample, "catalog.yaml", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();

  Diagnostics bad;
  cat.apply_text(R"(version: 1
campaigns:
  - id: spring_sale
    name: Renamed
    status: active
  - id: brand_new
    status: active
canvases:
  - id: onboarding
    status: archived
  - id: new_canvas
content_cards:
  - id: card_new
attributes:
  country: number
  newattr: string
  broken: strng
)",
                 "bad.yaml", bad);
  ASSERT_TRUE(bad.has_errors());

  EXPECT_EQ(cat.campaign("spring_sale")->name, "Spring Sale");
  EXPECT_EQ(cat.campaign("spring_sale")->status, LifecycleStatus::kStopped);
  EXPECT_EQ(cat.campaign("brand_new"), nullptr);
  EXPECT_EQ(cat.canvas("onboarding")->status, LifecycleStatus::kActive);
  EXPECT_EQ(cat.canvas("new_canvas"), nullptr);
  EXPECT_EQ(cat.content_card("card_new"), nullptr);
  EXPECT_EQ(cat.attribute_type("country"), "string");
  EXPECT_EQ(cat.attribute_type("newattr"), std::nullopt);
  EXPECT_EQ(cat.campaigns().size(), 1u);
  EXPECT_EQ(cat.canvases().size(), 1u);
  EXPECT_EQ(cat.content_cards().size(), 1u);
}

TEST(Catalog, UpsertById) {
  Catalog cat;
  Diagnostics d;
  cat.apply_text(kFormatsExample, "catalog.yaml", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();

  Diagnostics d2;
  cat.apply_text(R"(version: 1
campaigns:
  - id: spring_sale
    name: Spring Sale 2
    status: active
    tags: [promo]
  - id: summer
    status: draft
)",
                 "update.yaml", d2);
  ASSERT_FALSE(d2.has_errors()) << d2.to_string();
  EXPECT_EQ(cat.campaigns().size(), 2u);
  const Campaign* c = cat.campaign("spring_sale");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->name, "Spring Sale 2");
  EXPECT_EQ(c->status, LifecycleStatus::kActive);
  EXPECT_EQ(c->tags, (std::vector<std::string>{"promo"}));
  EXPECT_EQ(c->where.file, "update.yaml");
  ASSERT_NE(cat.campaign("summer"), nullptr);
  // Entries the second file does not name are untouched.
  ASSERT_NE(cat.canvas("onboarding"), nullptr);
  EXPECT_EQ(cat.canvas("onboarding")->status, LifecycleStatus::kActive);
  ASSERT_NE(cat.content_card("card_spring"), nullptr);
  EXPECT_EQ(cat.attribute_type("country"), "string");
  // Tags follow the current entries.
  auto tags = cat.tags();
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{"lifecycle", "promo"}));
}

TEST(Catalog, ApplyingTheSameFileTwiceIsIdempotent) {
  Catalog cat;
  Diagnostics d;
  cat.apply_text(kFormatsExample, "catalog.yaml", d);
  cat.apply_text(kFormatsExample, "catalog.yaml", d);
  EXPECT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_EQ(cat.campaigns().size(), 1u);
  EXPECT_EQ(cat.canvases().size(), 1u);
  EXPECT_EQ(cat.content_cards().size(), 1u);
  EXPECT_EQ(cat.campaign("spring_sale")->variants.size(), 2u);
}

TEST(Catalog, ApplyFileAndItsLimits) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("retarget_catalog_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path p = dir / "catalog.yaml";
  {
    std::ofstream out(p);
    out << kFormatsExample;
  }
  std::size_t size = fs::file_size(p);

  Catalog cat;
  Diagnostics d;
  cat.apply_file(p.string(), size, 200000, d);  // exactly at the size limit
  EXPECT_FALSE(d.has_errors()) << d.to_string();
  ASSERT_NE(cat.campaign("spring_sale"), nullptr);
  EXPECT_EQ(cat.campaign("spring_sale")->where.file, p.string());

  Catalog small;
  Diagnostics too_big;
  small.apply_file(p.string(), size - 1, 200000, too_big);
  EXPECT_TRUE(too_big.has_errors());
  EXPECT_TRUE(small.campaigns().empty());

  Catalog few;
  Diagnostics too_many;
  few.apply_file(p.string(), size, 10, too_many);
  EXPECT_TRUE(too_many.has_errors());
  EXPECT_TRUE(few.campaigns().empty());

  Catalog none;
  Diagnostics missing;
  none.apply_file((dir / "nope.yaml").string(), 1 << 20, 200000, missing);
  EXPECT_TRUE(missing.has_errors());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace retarget
