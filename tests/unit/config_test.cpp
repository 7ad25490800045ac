// load_config (retarget/config.hpp): defaults, every key, unknown keys,
// bad values, relative paths, and the repository's config/retarget.yaml.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "retarget/config.hpp"

namespace retarget {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("retarget_config_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "etc");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes etc/retarget.yaml and returns its path.
  std::string write(const std::string& text, const std::string& name = "retarget.yaml") {
    fs::path p = dir_ / "etc" / name;
    std::ofstream out(p);
    out << text;
    return p.string();
  }

  Config load(const std::string& text, Diagnostics& d) { return load_config(write(text), d); }

  static bool same_path(const std::string& a, const fs::path& b) {
    return fs::weakly_canonical(fs::path(a)) == fs::weakly_canonical(b);
  }

  fs::path dir_;
};

const Diagnostic* find_error(const Diagnostics& d, const std::string& needle) {
  for (const auto& i : d.items())
    if (i.severity == Diagnostic::Severity::kError && i.message.find(needle) != std::string::npos) return &i;
  return nullptr;
}

void expect_defaults(const Config& c) {
  Config def;
  EXPECT_TRUE(c.plugin_dirs.empty());
  EXPECT_TRUE(c.plugin_sha256_allowlist.empty());
  EXPECT_EQ(c.data_dir, "retarget-data");  // formats.md: the default is the durable store
  EXPECT_EQ(c.timezone, "UTC");
  EXPECT_EQ(c.expiry_window_ms, 90LL * 24 * 3600 * 1000);
  EXPECT_EQ(c.sweep_schedule, def.sweep_schedule);
  EXPECT_TRUE(c.pin_by_tag);
  EXPECT_FALSE(c.segments_pin);
  EXPECT_EQ(c.policy, "tiered");
  EXPECT_EQ(c.threads, 0u);
  EXPECT_EQ(c.dead_letter, "");
  EXPECT_EQ(c.limits.max_rules_file_bytes, def.limits.max_rules_file_bytes);
  EXPECT_EQ(c.limits.max_yaml_nodes, def.limits.max_yaml_nodes);
  EXPECT_EQ(c.limits.max_tree_depth, def.limits.max_tree_depth);
  EXPECT_EQ(c.limits.max_tree_nodes, def.limits.max_tree_nodes);
  EXPECT_EQ(c.limits.max_in_values, 256u);
  EXPECT_EQ(c.limits.max_event_line_bytes, def.limits.max_event_line_bytes);
  EXPECT_TRUE(c.notifications.log);
  EXPECT_EQ(c.notifications.command, "");
  EXPECT_EQ(c.notifications.webhook, "");
}

TEST_F(ConfigTest, DefaultsWhenOnlyTheVersionIsGiven) {
  Diagnostics d;
  Config c = load("version: 1\n", d);
  EXPECT_FALSE(d.has_errors()) << d.to_string();
  expect_defaults(c);
}

TEST_F(ConfigTest, DocumentedDefaultValues) {
  // filters.md: the company time zone defaults to UTC; formats.md: expiry
  // window 90d, pin_by_tag true, segments_pin false, policy tiered, `in` lists
  // of at most 256 values.
  expect_defaults(Config{});
}

TEST_F(ConfigTest, EveryKey) {
  Diagnostics d;
  Config c = load(
      "version: 1\n"
      "plugin_dirs: [plugins, /opt/retarget/plugins]\n"
      "plugin_sha256_allowlist: [abc123, def456]\n"
      "data_dir: data\n"
      "timezone: America/New_York\n"
      "expiry_window: 30d\n"
      "sweep_schedule: daily 04:30\n"
      "pin_by_tag: false\n"
      "segments_pin: true\n"
      "policy: legacy\n"
      "threads: 4\n"
      "dead_letter: rejected.jsonl\n"
      "limits:\n"
      "  max_rules_file_bytes: 1000\n"
      "  max_yaml_nodes: 2000\n"
      "  max_tree_depth: 8\n"
      "  max_tree_nodes: 300\n"
      "  max_in_values: 16\n"
      "  max_event_line_bytes: 4096\n"
      "notifications:\n"
      "  log: false\n"
      "  command: /usr/bin/notify\n"
      "  webhook: https://example.com/hook\n",
      d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  ASSERT_EQ(c.plugin_dirs.size(), 2u);
  EXPECT_TRUE(same_path(c.plugin_dirs[0], dir_ / "etc" / "plugins")) << c.plugin_dirs[0];
  EXPECT_EQ(c.plugin_dirs[1], "/opt/retarget/plugins");
  EXPECT_EQ(c.plugin_sha256_allowlist, (std::vector<std::string>{"abc123", "def456"}));
  EXPECT_TRUE(same_path(c.data_dir, dir_ / "etc" / "data")) << c.data_dir;
  EXPECT_EQ(c.timezone, "America/New_York");
  EXPECT_EQ(c.expiry_window_ms, 30LL * 86400000);
  EXPECT_EQ(c.sweep_schedule, "daily 04:30");
  EXPECT_FALSE(c.pin_by_tag);
  EXPECT_TRUE(c.segments_pin);
  EXPECT_EQ(c.policy, "legacy");
  EXPECT_EQ(c.threads, 4u);
  EXPECT_TRUE(same_path(c.dead_letter, dir_ / "etc" / "rejected.jsonl")) << c.dead_letter;
  EXPECT_EQ(c.limits.max_rules_file_bytes, 1000u);
  EXPECT_EQ(c.limits.max_yaml_nodes, 2000u);
  EXPECT_EQ(c.limits.max_tree_depth, 8u);
  EXPECT_EQ(c.limits.max_tree_nodes, 300u);
  EXPECT_EQ(c.limits.max_in_values, 16u);
  EXPECT_EQ(c.limits.max_event_line_bytes, 4096u);
  EXPECT_FALSE(c.notifications.log);
  EXPECT_EQ(c.notifications.command, "/usr/bin/notify");
  EXPECT_EQ(c.notifications.webhook, "https://example.com/hook");
}

TEST_F(ConfigTest, ExpiryWindowUnits) {
  struct Case {
    const char* text;
    std::int64_t ms;
  } cases[] = {{"90d", 90LL * 86400000}, {"36h", 36LL * 3600000}, {"15m", 15LL * 60000}, {"45s", 45000}};
  for (const auto& k : cases) {
    Diagnostics d;
    Config c = load(std::string("version: 1\nexpiry_window: ") + k.text + "\n", d);
    EXPECT_FALSE(d.has_errors()) << k.text << ": " << d.to_string();
    EXPECT_EQ(c.expiry_window_ms, k.ms) << k.text;
  }
}

TEST_F(ConfigTest, UnknownKeyIsAnErrorWithDidYouMeanAndLocation) {
  Diagnostics d;
  std::string path = write("version: 1\ntimezon: UTC\n");
  Config c = load_config(path, d);
  ASSERT_TRUE(d.has_errors());
  ASSERT_EQ(d.error_count(), 1u) << d.to_string();
  const Diagnostic& e = d.items()[0];
  EXPECT_EQ(e.where.file, path);
  EXPECT_EQ(e.where.line, 2);
  EXPECT_EQ(e.where.column, 1);
  EXPECT_NE(e.message.find("timezon"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("did you mean 'timezone'"), std::string::npos) << e.message;
}

TEST_F(ConfigTest, UnknownNestedKeys) {
  Diagnostics d;
  load("version: 1\nlimits:\n  max_tree_dept: 3\nnotifications:\n  webhok: x\n", d);
  EXPECT_EQ(d.error_count(), 2u) << d.to_string();
  const Diagnostic* a = find_error(d, "max_tree_dept");
  ASSERT_NE(a, nullptr) << d.to_string();
  EXPECT_EQ(a->where.line, 3);
  EXPECT_EQ(a->where.column, 3);
  EXPECT_NE(a->message.find("did you mean 'max_tree_depth'"), std::string::npos) << a->message;
  const Diagnostic* b = find_error(d, "webhok");
  ASSERT_NE(b, nullptr) << d.to_string();
  EXPECT_EQ(b->where.line, 5);
  EXPECT_NE(b->message.find("did you mean 'webhook'"), std::string::npos) << b->message;
}

TEST_F(ConfigTest, UnknownKeyFarFromAnyKnownOneHasNoSuggestion) {
  Diagnostics d;
  load("version: 1\ncompletely_unrelated_setting: 1\n", d);
  ASSERT_EQ(d.error_count(), 1u);
  EXPECT_NE(d.items()[0].message.find("completely_unrelated_setting"), std::string::npos);
  EXPECT_EQ(d.items()[0].message.find("did you mean"), std::string::npos) << d.items()[0].message;
}

TEST_F(ConfigTest, BadValuesAreErrorsAtTheirLocation) {
  struct Case {
    std::string line;  // written as line 2
    std::string name;
  } cases[] = {
      {"policy: tierd", "policy"},
      {"policy: [tiered]", "policy list"},
      {"timezone: Mars/Olympus", "timezone"},
      {"timezone: Europe/Berln", "timezone typo"},
      {"expiry_window: 90", "expiry without unit"},
      {"expiry_window: -5d", "negative expiry"},
      {"expiry_window: ninety days", "expiry words"},
      {"expiry_window: 1.5d", "fractional expiry"},
      {"threads: -1", "negative threads"},
      {"threads: many", "threads word"},
      {"threads: 1.5", "fractional threads"},
      {"pin_by_tag: maybe", "pin_by_tag"},
      {"segments_pin: 1", "segments_pin"},
      {"limits: {max_in_values: 0}", "zero limit"},
      {"limits: {max_tree_depth: -3}", "negative limit"},
      {"plugin_dirs: plugins", "plugin_dirs not a list"},
      {"version: 2", "version"},
  };
  for (const auto& k : cases) {
    Diagnostics d;
    load("version: 1\n" + k.line + "\n", d);
    if (k.name == "version") {
      Diagnostics d2;
      load(k.line + "\n", d2);
      ASSERT_TRUE(d2.has_errors()) << k.name;
      EXPECT_EQ(d2.items()[0].where.line, 1) << k.name;
      continue;
    }
    ASSERT_TRUE(d.has_errors()) << k.name << ": '" << k.line << "' was accepted";
    EXPECT_EQ(d.items()[0].where.line, 2) << k.name << ": " << d.to_string();
    EXPECT_GT(d.items()[0].where.column, 0) << k.name;
    EXPECT_FALSE(d.items()[0].message.empty()) << k.name;
  }
}

TEST_F(ConfigTest, AnExpiryWindowTooLargeForMillisecondsIsAnError) {
  // 213503982336 days does not fit in 64-bit milliseconds; it must be refused,
  // not wrapped around to a window of about 1.4 days.
  Diagnostics d;
  Config c = load("version: 1\nexpiry_window: 213503982336d\n", d);
  EXPECT_TRUE(d.has_errors()) << "accepted as " << c.expiry_window_ms << " ms";
  if (d.has_errors()) {
    EXPECT_EQ(d.items()[0].where.line, 2);
  }
}

TEST_F(ConfigTest, EveryProblemIsReportedAtOnce) {
  Diagnostics d;
  load("version: 1\npolicy: tierd\ntimezone: Nowhere/Land\nthreads: -2\nbogus: 1\n", d);
  EXPECT_EQ(d.error_count(), 4u) << d.to_string();
}

TEST_F(ConfigTest, ThreadsAcceptsZero) {
  Diagnostics d;
  Config c = load("version: 1\nthreads: 0\n", d);
  EXPECT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_EQ(c.threads, 0u);
}

TEST_F(ConfigTest, RelativePathsAreResolvedAgainstTheConfigDirectory) {
  Diagnostics d;
  Config c = load(
      "version: 1\n"
      "data_dir: ../var/data\n"
      "dead_letter: dl/rejected.jsonl\n"
      "plugin_dirs: [., sub/plugins]\n",
      d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_TRUE(same_path(c.data_dir, dir_ / "var" / "data")) << c.data_dir;
  EXPECT_TRUE(same_path(c.dead_letter, dir_ / "etc" / "dl" / "rejected.jsonl")) << c.dead_letter;
  ASSERT_EQ(c.plugin_dirs.size(), 2u);
  EXPECT_TRUE(same_path(c.plugin_dirs[0], dir_ / "etc")) << c.plugin_dirs[0];
  EXPECT_TRUE(same_path(c.plugin_dirs[1], dir_ / "etc" / "sub" / "plugins")) << c.plugin_dirs[1];
}

TEST_F(ConfigTest, RelativeConfigPathStillResolvesAgainstItsDirectory) {
  // The config file named by a path relative to the working directory.
  std::string path = write("version: 1\ndata_dir: data\n");
  std::string relative = fs::relative(fs::path(path)).string();
  ASSERT_FALSE(relative.empty());
  Diagnostics d;
  Config c = load_config(relative, d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_TRUE(same_path(c.data_dir, dir_ / "etc" / "data")) << c.data_dir;
}

TEST_F(ConfigTest, AbsolutePathsAreKept) {
  Diagnostics d;
  Config c = load("version: 1\ndata_dir: /srv/retarget/data\ndead_letter: /var/log/dl.jsonl\n", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_EQ(c.data_dir, "/srv/retarget/data");
  EXPECT_EQ(c.dead_letter, "/var/log/dl.jsonl");
}

TEST_F(ConfigTest, MemoryDataDirIsKeptAsIs) {
  Diagnostics d;
  Config c = load("version: 1\ndata_dir: \":memory:\"\n", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_EQ(c.data_dir, ":memory:");
}

TEST_F(ConfigTest, MissingFileIsAnError) {
  Diagnostics d;
  load_config((dir_ / "does_not_exist.yaml").string(), d);
  EXPECT_TRUE(d.has_errors());
}

TEST_F(ConfigTest, DuplicateKeyIsAnError) {
  Diagnostics d;
  load("version: 1\npolicy: tiered\npolicy: legacy\n", d);
  ASSERT_TRUE(d.has_errors());
  EXPECT_EQ(d.items()[0].where.line, 3);
}

TEST_F(ConfigTest, SyntaxErrorHasALocation) {
  Diagnostics d;
  load("version: 1\nplugin_dirs: [a, b\n", d);
  ASSERT_TRUE(d.has_errors());
  EXPECT_GT(d.items()[0].where.line, 0);
}

TEST(RepoConfig, LoadsWithoutErrors) {
  std::string path = std::string(RETARGET_SOURCE_DIR) + "/config/retarget.yaml";
  ASSERT_TRUE(fs::exists(path)) << path << " does not exist";
  Diagnostics d;
  Config c = load_config(path, d);
  EXPECT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_EQ(d.items().size(), 0u) << d.to_string();
  // formats.md: the file holds the defaults.
  EXPECT_EQ(c.expiry_window_ms, 90LL * 86400000);
  EXPECT_TRUE(c.pin_by_tag);
  EXPECT_FALSE(c.segments_pin);
  EXPECT_EQ(c.policy, "tiered");
  EXPECT_EQ(c.timezone, "UTC");
}

}  // namespace
}  // namespace retarget
