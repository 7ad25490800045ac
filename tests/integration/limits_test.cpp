// The resource limits of the config's `limits:` (docs/security.md): each
// enforced with a rejection that names its key, nothing else lost. Regressions
// of the hardening issue: 1M distinct attribute names cost 1.28 GB resident
// and 6 s on every reopen, with no way to bound them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "retarget/format.hpp"
#include "retarget/config.hpp"
#include "test_support.hpp"

namespace retarget {
namespace {

using testing::TempDir;

std::string attributes_event(const std::string& user, const std::string& attributes_json,
                             const std::string& time = "2026-01-01T00:00:00Z") {
  return R"({"time":")" + time + R"(","user":")" + user + R"(","type":"attributes","attributes":)" +
         attributes_json + "}\n";
}

struct Fixture {
  TempDir dir;
  EngineOptions options;
  explicit Fixture(const std::string& limits_yaml, bool durable = false) {
    options = testing::test_options();
    options.config_path = (dir / "retarget.yaml").string();
    testing::write_file(options.config_path, "version: 1\nlimits:\n" + limits_yaml);
    if (durable) options.data_dir = (dir / "data").string();
  }
  std::unique_ptr<Engine> open() const {
    auto e = Engine::Open(options);
    EXPECT_TRUE(e.ok()) << e.status().message();
    return e.ok() ? std::move(e).value() : nullptr;
  }
};

TEST(Limits, AnEventAddingAnAttributeNameBeyondTheLimitIsRejectedWithItsLine) {
  Fixture f("  max_attribute_names: 3\n", /*durable=*/true);
  {
    auto e = f.open();
    ASSERT_TRUE(e);
    auto r = e->ingest_text(attributes_event("u1", R"({"a":"1","b":"2"})") +  // line 1: 2 names
                            attributes_event("u2", R"({"c":"3","d":"4"})") +  // line 2: 4 > 3, rejected whole
                            attributes_event("u2", R"({"c":"3"})") +          // line 3: the third name
                            attributes_event("u3", R"({"a":"9"})") +          // line 4: known name
                            attributes_event("u3", R"({"e":"5"})"));          // line 5: rejected
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->accepted, 3u);
    EXPECT_EQ(r->rejected, 2u);
    ASSERT_EQ(r->rejections.size(), 2u);
    EXPECT_EQ(r->rejections[0].line, 2u);
    EXPECT_EQ(r->rejections[1].line, 5u);
    EXPECT_NE(r->rejections[0].reason.find("limits.max_attribute_names"), std::string::npos)
        << r->rejections[0].reason;
    EXPECT_NE(r->rejections[1].reason.find("attribute 'e'"), std::string::npos) << r->rejections[1].reason;
  }
  // After a reopen the stored names still count; known names still update.
  auto e = f.open();
  ASSERT_TRUE(e);
  auto r = e->ingest_text(attributes_event("u9", R"({"z":"1"})") +
                          attributes_event("u1", R"({"a":"new"})", "2026-02-01T00:00:00Z"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->accepted, 1u);
  ASSERT_EQ(r->rejections.size(), 1u);
  EXPECT_EQ(r->rejections[0].line, 1u);
  auto profile = e->profile("u1");
  ASSERT_TRUE(profile.ok()) << profile.status().message();
  ASSERT_FALSE(profile->custom_attributes.empty());
  EXPECT_EQ(profile->custom_attributes[0].first, "a");
  EXPECT_EQ(std::get<std::string>(profile->custom_attributes[0].second), "new");
}

TEST(Limits, AnAttributeValueLongerThanTheLimitRejectsItsEventOnly) {
  Fixture f("  max_attribute_value_bytes: 100\n");
  auto e = f.open();
  ASSERT_TRUE(e);
  auto r = e->ingest_text(attributes_event("u1", R"({"bio":")" + std::string(100, 'x') + "\"}") +
                          attributes_event("u2", R"({"bio":")" + std::string(101, 'x') + "\"}") +
                          attributes_event("u3", R"({"n":12345678901234567890})"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->accepted, 2u);
  ASSERT_EQ(r->rejections.size(), 1u);
  EXPECT_EQ(r->rejections[0].line, 2u);
  EXPECT_NE(r->rejections[0].reason.find("field 'attributes.bio': the value is 101 bytes"), std::string::npos)
      << r->rejections[0].reason;
  EXPECT_NE(r->rejections[0].reason.find("limits.max_attribute_value_bytes (100)"), std::string::npos)
      << r->rejections[0].reason;
}

TEST(Limits, AUsersExportOfMoreIdsThanTheLimitIsRefused) {
  Fixture f("  max_users_per_request: 2\n");
  auto e = f.open();
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->ingest_text(attributes_event("u1", R"({"a":"1"})")).ok());
  auto ok = e->export_users({"u1", "ghost"});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->users.size(), 1u);
  EXPECT_EQ(ok->invalid_user_ids, std::vector<std::string>{"ghost"});
  auto refused = e->export_users({"u1", "u2", "u3"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(refused.status().message().find("3 external ids"), std::string::npos) << refused.status().message();
  EXPECT_NE(refused.status().message().find("limits.max_users_per_request (2)"), std::string::npos)
      << refused.status().message();
}

TEST(Limits, TheDefaultsAreTheDocumentedOnes) {
  Config c;
  EXPECT_EQ(c.limits.max_attribute_names, 10000u);
  EXPECT_EQ(c.limits.max_attribute_value_bytes, 128u * 1024);
  EXPECT_EQ(c.limits.max_users_per_request, 50u);
  EXPECT_EQ(c.limits.max_segment_depth, 32u);
  // The shipped config file says the same.
  Diagnostics d;
  Config shipped = load_config(std::string(RETARGET_SOURCE_DIR) + "/config/retarget.yaml", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_EQ(shipped.limits.max_attribute_names, c.limits.max_attribute_names);
  EXPECT_EQ(shipped.limits.max_attribute_value_bytes, c.limits.max_attribute_value_bytes);
  EXPECT_EQ(shipped.limits.max_users_per_request, c.limits.max_users_per_request);
  EXPECT_EQ(shipped.limits.max_segment_depth, c.limits.max_segment_depth);
}

TEST(Limits, AnUnknownLimitKeyIsAnError) {
  TempDir dir;
  testing::write_file(dir / "c.yaml", "version: 1\nlimits:\n  max_atribute_names: 5\n");
  Diagnostics d;
  load_config((dir / "c.yaml").string(), d);
  EXPECT_TRUE(d.has_errors());
  EXPECT_NE(d.to_string().find("max_atribute_names"), std::string::npos) << d.to_string();
}

}  // namespace
}  // namespace retarget
