// The plugin host refuses bad plugins with the file and the reason, and goes
// on with the good ones.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "plugin/plugin_host.hpp"
#include "retarget/sdk/plugin.hpp"
#include "test_support.hpp"

namespace retarget {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<Engine> open_with(const std::vector<std::string>& dirs) {
  EngineOptions o = testing::test_options();
  o.extra_plugin_dirs = dirs;
  auto e = Engine::Open(o);
  EXPECT_TRUE(e.ok());
  return std::move(e).value();
}

std::string reason_for(const Engine& e, const std::string& file) {
  for (const auto& r : e.refused_plugins())
    if (fs::path(r.library).filename() == file) return r.reason;
  return "";
}

bool has_filter(const Engine& e, const std::string& name) {
  for (const auto& f : e.filters())
    if (f.name == name) return true;
  return false;
}

const std::string kBad = std::string(RETARGET_TEST_PLUGIN_DIR) + "/bad";
const std::string kGood = std::string(RETARGET_TEST_PLUGIN_DIR) + "/good";

TEST(PluginHost, RefusesWrongAbiVersionNamingTheFileAndTheVersions) {
  auto e = open_with({RETARGET_PLUGIN_DIR, kBad});
  std::string reason = reason_for(*e, "libbad_abi_version.so");
  EXPECT_NE(reason.find("wrong ABI version 999"), std::string::npos) << reason;
  EXPECT_NE(reason.find("needs " + std::to_string(retarget::sdk::kAbiVersion)), std::string::npos) << reason;
}

TEST(PluginHost, RefusesALibraryWithoutEntryPoint) {
  auto e = open_with({kBad});
  std::string reason = reason_for(*e, "libbad_no_entry_point.so");
  EXPECT_NE(reason.find("no entry point"), std::string::npos) << reason;
  EXPECT_NE(reason.find("retarget_plugin_entry"), std::string::npos) << reason;
}

TEST(PluginHost, RefusesAProfileLevelFilterThatReadsInteractionData) {
  auto e = open_with({kBad});
  std::string reason = reason_for(*e, "libbad_profile_reads_interactions.so");
  EXPECT_NE(reason.find("declared profile-level but reads interaction data"), std::string::npos) << reason;
  EXPECT_FALSE(has_filter(*e, "sneaky_profile_filter"));
}

TEST(PluginHost, RefusesAFilterThatThrowsAndOneWithBadMetadata) {
  auto e = open_with({kBad});
  EXPECT_NE(reason_for(*e, "libbad_throws.so").find("threw while evaluating: boom"), std::string::npos);
  EXPECT_NE(reason_for(*e, "libbad_metadata.so").find("bad metadata"), std::string::npos);
  EXPECT_FALSE(has_filter(*e, "throwing_filter"));
}

TEST(PluginHost, GoesOnWithTheGoodPlugins) {
  auto e = open_with({RETARGET_PLUGIN_DIR, kBad, kGood});
  EXPECT_EQ(e->refused_plugins().size(), 5u);
  for (const char* name : {"received_campaign", "clicked_opened_campaign", "last_received_campaign",
                           "last_received_email", "hard_bounced", "custom_attribute", "every_other_user"})
    EXPECT_TRUE(has_filter(*e, name)) << name;
  // The third-party filter works end to end.
  Diagnostics d;
  ASSERT_TRUE(e->apply_catalog_text("version: 1\n", "c.yaml", d).ok());
  ASSERT_TRUE(e->ingest_text(R"({"time":"2026-01-01T00:00:00Z","user":"a","type":"hard_bounce"}
{"time":"2026-01-01T00:00:00Z","user":"b","type":"hard_bounce"}
{"time":"2026-01-01T00:00:00Z","user":"c","type":"hard_bounce"}
)").ok());
  ASSERT_TRUE(e->load_rules_text("version: 1\nsegments:\n  - id: s\n    match: {every_other_user: {}}\n", "r.yaml", d).ok())
      << d.to_string();
  auto r = e->evaluate("s");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->members, (std::vector<std::string>{"a", "c"}));
}

TEST(PluginHost, TagsEveryFilterAsDeclared) {
  auto e = open_with({RETARGET_PLUGIN_DIR});
  std::map<std::string, bool> tags;
  for (const auto& f : e->filters()) tags[f.name] = f.interaction_dependent;
  EXPECT_TRUE(tags.at("received_campaign"));
  EXPECT_TRUE(tags.at("clicked_opened_campaign"));
  EXPECT_TRUE(tags.at("last_received_campaign"));
  EXPECT_FALSE(tags.at("last_received_email"));
  EXPECT_FALSE(tags.at("hard_bounced"));
  EXPECT_FALSE(tags.at("custom_attribute"));
}

TEST(PluginHost, RefusesGroupWritableFilesAndFilesOutsideTheAllowlist) {
  testing::TempDir dir;
  fs::copy_file(kGood + "/libgood_extra.so", dir / "libgood_extra.so");
  ::chmod((dir / "libgood_extra.so").c_str(), 0775);
  auto e = open_with({dir.path().string()});
  EXPECT_NE(reason_for(*e, "libgood_extra.so").find("group- or world-writable"), std::string::npos);

  ::chmod((dir / "libgood_extra.so").c_str(), 0755);
  FilterRegistry allowed, denied;
  std::string digest = sha256_file((dir / "libgood_extra.so").string());
  ASSERT_EQ(digest.size(), 64u);
  load_plugins({{dir.path().string()}, {digest}}, allowed);
  EXPECT_TRUE(allowed.find("every_other_user"));
  load_plugins({{dir.path().string()}, {std::string(64, '0')}}, denied);
  EXPECT_FALSE(denied.find("every_other_user"));
  ASSERT_EQ(denied.refused().size(), 1u);
  EXPECT_NE(denied.refused()[0].reason.find("not in plugin_sha256_allowlist"), std::string::npos);
}

TEST(PluginHost, AMissingDirectoryIsReportedNotFatal) {
  auto e = open_with({"/nonexistent/plugins", RETARGET_PLUGIN_DIR});
  EXPECT_NE(reason_for(*e, "plugins").find("does not exist"), std::string::npos);
  EXPECT_TRUE(has_filter(*e, "received_campaign"));
}

}  // namespace
}  // namespace retarget
