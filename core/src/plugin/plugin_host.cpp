#include "plugin/plugin_host.hpp"

#define BOOST_DLL_USE_STD_FS
#include <dlfcn.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/time.hpp"
#include "common/yaml_tree.hpp"
#include "retarget/sdk/plugin.hpp"
#include "rules/param_binder.hpp"

namespace retarget {
namespace {

namespace fs = std::filesystem;

struct Refusal {
  std::string reason;
};

// Compile context of the probe: no catalog; profile-level filters get no
// source access at all.
class ProbeCompileContext : public sdk::CompileContext {
 public:
  explicit ProbeCompileContext(bool interaction_dependent) : interaction_dependent_(interaction_dependent) {}
  const sdk::CampaignInfo* campaign(std::string_view) const override {
    if (!interaction_dependent_) throw sdk::InteractionAccessDenied("campaign data requested while compiling");
    return nullptr;
  }
  const sdk::CanvasInfo* canvas(std::string_view) const override {
    if (!interaction_dependent_) throw sdk::InteractionAccessDenied("Canvas data requested while compiling");
    return nullptr;
  }
  std::vector<sdk::SourceRef> sources_with_tag(std::string_view) const override {
    if (!interaction_dependent_) throw sdk::InteractionAccessDenied("tagged sources requested while compiling");
    return {};
  }
  std::optional<std::string> declared_attribute_type(std::string_view) const override { return std::nullopt; }
  std::optional<sdk::TimePredicate> compile_time_predicate(std::string_view key, std::string_view value,
                                                          std::string_view) override {
    std::string problem;
    auto tp = retarget::compile_time_predicate(key, value, TimeZone::Utc(), problem);
    if (!tp) ++errors;
    return tp;
  }
  void error(std::string_view, std::string) override { ++errors; }
  void warning(std::string_view, std::string) override {}
  int errors = 0;

 private:
  bool interaction_dependent_;
};

// Empty views for the probe: no facts, no profile data, one user (bucket 0).
// Two objects, as in the index: the profile view holds no interaction view.
struct ProbeViews {
  struct Interactions final : sdk::InteractionView {
    const sdk::UserTimes* fact(const sdk::FactKey&) const override { return nullptr; }
  } interactions;
  struct Profiles final : sdk::ProfileView {
    const sdk::UserTimes* times(sdk::SummaryKind, std::string_view, std::string_view) const override { return nullptr; }
    const sdk::UserCounts* news_feed_views() const override { return nullptr; }
    const sdk::UserAttributes* attribute(std::string_view) const override { return nullptr; }
    std::span<const std::uint16_t> user_buckets(std::uint32_t chunk) const override {
      static const std::uint16_t kOne[1] = {0};
      return chunk == 0 ? std::span<const std::uint16_t>(kOne) : std::span<const std::uint16_t>();
    }
  } profiles;
};

// Every segment a probed filter asks for exists and is empty.
class ProbeSegments final : public sdk::SegmentResolver, public sdk::SegmentMembership {
 public:
  const sdk::SegmentMembership* segment(std::string_view) const override { return this; }
  void evaluate_chunk(std::uint32_t, sdk::ChunkBits&) const override {}
  bool contains(sdk::UserIndex) const override { return false; }
};

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64 || !std::islower(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'; });
}

void check_trust(const fs::path& path, const PluginHostOptions& options) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw Refusal{"cannot stat the file"};
  if (!S_ISREG(st.st_mode)) throw Refusal{"not a regular file"};
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    throw Refusal{"owned by another user (uid " + std::to_string(st.st_uid) + "); plugins must be owned by root or the running user"};
  if (st.st_mode & (S_IWGRP | S_IWOTH)) throw Refusal{"group- or world-writable; refusing to load it"};
  if (!options.sha256_allowlist.empty()) {
    std::string digest = sha256_file(path.string());
    bool allowed = false;
    for (const auto& d : options.sha256_allowlist) {
      std::string lower = d;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      allowed |= (lower == digest);
    }
    if (!allowed) throw Refusal{"its SHA-256 " + digest + " is not in plugin_sha256_allowlist"};
  }
}

void check_metadata(const sdk::FilterInfo& info, const std::set<std::string>& taken) {
  std::string who = "filter '" + info.name + "'";
  if (!valid_name(info.name)) throw Refusal{"bad metadata: filter name '" + info.name + "' is not snake_case"};
  if (taken.count(info.name)) throw Refusal{"filter '" + info.name + "' is already provided by another plugin"};
  if (info.description.empty()) throw Refusal{"bad metadata: " + who + " has no description"};
  if (info.version.empty()) throw Refusal{"bad metadata: " + who + " has no version"};
  std::set<std::string> names;
  int time_predicates = 0;
  for (const auto& p : info.params) {
    if (p.type == sdk::ParamType::kTimePredicate) {
      ++time_predicates;
      continue;
    }
    if (!valid_name(p.name) || !names.insert(p.name).second)
      throw Refusal{"bad metadata: " + who + " has a bad or duplicate parameter name '" + p.name + "'"};
  }
  if (time_predicates > 1) throw Refusal{"bad metadata: " + who + " declares more than one time predicate"};
  if (info.example.empty()) throw Refusal{"bad metadata: " + who + " has no example"};
}

// Compiles the filter from its example and evaluates it once on an empty index.
void probe(const sdk::FilterFactory& factory) {
  const sdk::FilterInfo& info = factory.info();
  std::string who = "filter '" + info.name + "'";
  Diagnostics diags;
  YamlNode example = parse_yaml(info.example, "<example>", YamlLimits{}, diags);
  if (diags.has_errors() || !(example.is_map() || example.is_null()))
    throw Refusal{"bad metadata: the example of " + who + " is not a YAML map: " + info.example};
  TimeZone utc = TimeZone::Utc();
  Limits limits;
  BindContext bind{nullptr, nullptr, nullptr, &utc, &limits, "<example>", &diags};
  BoundParams bound;
  if (!bind_params(info, example, example, bind, bound))
    throw Refusal{"bad metadata: the example of " + who + " does not fit its parameters: " + diags.to_string()};

  ProbeCompileContext compile(info.interaction_dependent);
  // Views with one user and no data: the probe evaluates user 0.
  ProbeViews empty;
  std::unique_ptr<sdk::Filter> filter;
  try {
    filter = factory.create(bound.params, compile);
  } catch (const sdk::InteractionAccessDenied& e) {
    throw Refusal{who + " is declared profile-level but reads interaction data (" + e.what() + ")"};
  } catch (const std::exception& e) {
    throw Refusal{who + " threw while compiling its example: " + e.what()};
  } catch (...) {
    throw Refusal{who + " threw while compiling its example"};
  }
  if (!filter) return;  // it needs catalog data the probe lacks: nothing to evaluate
  ProbeSegments segments;
  sdk::EvalContext eval(1, info.interaction_dependent ? &empty.interactions : nullptr, empty.profiles, &segments, 0);
  try {
    sdk::ChunkBits bits;
    bits.clear();
    filter->evaluate_chunk(eval, 0, bits);
    (void)filter->evaluate_user(eval, 0);
  } catch (const sdk::InteractionAccessDenied& e) {
    throw Refusal{who + " is declared profile-level but reads interaction data (" + e.what() + ")"};
  } catch (const std::exception& e) {
    throw Refusal{who + " threw while evaluating: " + e.what()};
  } catch (...) {
    throw Refusal{who + " threw while evaluating"};
  }
}

// `provided` collects the names of the filters the library declares, once its
// ABI is known to match (so that a refusal can say which filters it would have
// provided).
void load_one(const fs::path& path, const PluginHostOptions& options, FilterRegistry& registry,
              std::vector<std::string>& provided) {
  check_trust(path, options);
  auto lib = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code ec;
  lib->load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) throw Refusal{"cannot load it: " + ec.message() + " (" + std::string(::dlerror() ? ::dlerror() : "") + ")"};
  if (!lib->has("retarget_plugin_entry"))
    throw Refusal{"no entry point: it does not export 'retarget_plugin_entry' (see docs/plugins.md)"};
  auto entry = lib->get<const sdk::PluginTable*()>("retarget_plugin_entry");
  const sdk::PluginTable* table = nullptr;
  try {
    table = entry();
  } catch (...) {
    throw Refusal{"its entry point threw"};
  }
  if (!table) throw Refusal{"its entry point returned no plugin table"};
  if (table->abi_version != sdk::kAbiVersion)
    throw Refusal{"wrong ABI version " + std::to_string(table->abi_version) + " (this engine needs " +
                  std::to_string(sdk::kAbiVersion) + "); rebuild it against this engine's SDK"};
  std::string fingerprint = table->build_fingerprint ? table->build_fingerprint : "";
  if (fingerprint != RETARGET_BUILD_FINGERPRINT)
    throw Refusal{"built with another toolchain ('" + fingerprint + "', the engine is '" +
                  RETARGET_BUILD_FINGERPRINT + "'); plugins must be built with the engine's compiler and SDK"};
  if (!table->plugin_name || !*table->plugin_name) throw Refusal{"bad metadata: the plugin has no name"};
  if (table->factory_count > 0 && !table->factories) throw Refusal{"bad metadata: no factory table"};

  for (std::uint32_t i = 0; i < table->factory_count; ++i)
    if (table->factories[i]) provided.push_back(table->factories[i]->info().name);
  std::set<std::string> taken;
  for (const auto& n : registry.names()) taken.insert(n);
  std::vector<const sdk::FilterFactory*> factories;
  for (std::uint32_t i = 0; i < table->factory_count; ++i) {
    const sdk::FilterFactory* f = table->factories[i];
    if (!f) throw Refusal{"bad metadata: factory " + std::to_string(i) + " is null"};
    check_metadata(f->info(), taken);
    taken.insert(f->info().name);
    probe(*f);
    factories.push_back(f);
  }
  PluginRecord record{table->plugin_name, table->plugin_version ? table->plugin_version : "", path.string(), {}};
  for (const auto* f : factories) {
    registry.add({f, &f->info(), record.name, record.version, record.path});
    record.filters.push_back(f->info().name);
  }
  registry.add_plugin(std::move(record));
  registry.keep_alive(std::move(lib));
}

}  // namespace

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof buf);
    EVP_DigestUpdate(ctx, buf, static_cast<std::size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; ++i) s += kHex[md[i] >> 4], s += kHex[md[i] & 15];
  return s;
}

void load_plugins(const PluginHostOptions& options, FilterRegistry& registry) {
  std::set<fs::path> seen;  // a directory named twice is searched once
  for (const auto& dir : options.directories) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      registry.add_refused({dir, "plugin directory does not exist"});
      continue;
    }
    if (!seen.insert(fs::canonical(dir, ec)).second) continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const auto name = entry.path().filename().string();
      if (name.rfind("lib", 0) == 0 && entry.path().extension() == ".so") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::vector<std::string> provided;
      try {
        load_one(f, options, registry, provided);
      } catch (const Refusal& r) {
        registry.add_refused({f.string(), r.reason, std::move(provided)});
      }
    }
  }
  registry.freeze();
}

}  // namespace retarget
