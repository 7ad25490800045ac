#include "plugin/plugin_host.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

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

// A file descriptor, closed with the object.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::string errno_text(int e) { return std::strerror(e); }

// A library loaded through its descriptor, by the name "/proc/self/fd/N".
// The dynamic loader recognises a library already loaded by its name before
// it looks at the file, so that name must not be reused while the library is
// loaded: the descriptor stays open as long as the library does (closing it
// lets a later plugin get the same N and, by name, this library). When
// dlclose leaves the library mapped (a library may be marked not deletable),
// the descriptor is kept open for the life of the process.
class LoadedLibrary {
 public:
  LoadedLibrary(void* handle, Fd fd, std::string name) : handle_(handle), fd_(std::move(fd)), name_(std::move(name)) {}
  ~LoadedLibrary() {
    ::dlclose(handle_);
    if (void* still = ::dlopen(name_.c_str(), RTLD_LAZY | RTLD_NOLOAD)) {
      ::dlclose(still);
      (void)fd_.release();  // never reuse the name of a library that is still mapped
    }
  }
  LoadedLibrary(const LoadedLibrary&) = delete;
  LoadedLibrary& operator=(const LoadedLibrary&) = delete;
  void* handle() const { return handle_; }

 private:
  void* handle_;
  Fd fd_;
  std::string name_;
};

// Lower-case hex SHA-256 of what `fd` holds (read from offset 0), or "" on a read error.
std::string sha256_fd(int fd) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(std::size_t{1} << 16);
  off_t offset = 0;
  bool ok = true;
  while (true) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ok = false;
    if (n <= 0) break;
    EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(n));
    offset += n;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  if (!ok) return "";
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += kHex[md[i] >> 4], out += kHex[md[i] & 15];
  return out;
}

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

bool trusted_owner(uid_t uid) { return uid == 0 || uid == ::geteuid(); }

// Opens `name` in the (checked) plugin directory without following a link,
// and checks what was opened: the descriptor returned is the file that will
// be hashed and loaded, whatever happens to the name afterwards.
Fd open_trusted(int dir_fd, const std::string& name, const PluginHostOptions& options) {
  // O_NONBLOCK: opening a FIFO must not hang the engine (it is refused below).
  Fd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) {
    int e = errno;
    if (e == ELOOP) throw Refusal{"a symbolic link; plugins are loaded from regular files only, never through a link"};
    throw Refusal{"cannot open it: " + errno_text(e)};
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw Refusal{"cannot stat it: " + errno_text(errno)};
  if (!S_ISREG(st.st_mode)) throw Refusal{"not a regular file"};
  if (!trusted_owner(st.st_uid))
    throw Refusal{"owned by another user (uid " + std::to_string(st.st_uid) + "); plugins must be owned by root or the running user"};
  if (st.st_mode & (S_IWGRP | S_IWOTH)) throw Refusal{"group- or world-writable; refusing to load it"};
  if (!options.sha256_allowlist.empty()) {
    std::string digest = sha256_fd(fd.get());
    if (digest.empty()) throw Refusal{"cannot read it to compute its SHA-256"};
    bool allowed = false;
    for (const auto& d : options.sha256_allowlist) {
      std::string lower = d;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      allowed |= (lower == digest);
    }
    if (!allowed) throw Refusal{"its SHA-256 " + digest + " is not in plugin_sha256_allowlist"};
  }
  return fd;
}

// Checks a plugin directory and every directory above it, then opens it.
// Each must be a directory owned by root or the running user and writable by
// no one else: a group- or world-writable directory is refused, except, above
// the plugin directory, one with the sticky bit owned by root or the running
// user (such as /tmp: others may add entries there but not rename or remove
// ours). Returns the open directory, the one that was checked.
Fd open_trusted_directory(const fs::path& canonical) {
  fs::path prefix;
  struct stat last {};
  std::vector<fs::path> chain;
  for (const auto& part : canonical) {
    prefix /= part;
    chain.push_back(prefix);
  }
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const fs::path& d = chain[i];
    bool is_plugin_dir = i + 1 == chain.size();
    std::string who = is_plugin_dir ? "the plugin directory" : "a directory above the plugin directory, " + d.string() + ",";
    struct stat st;
    if (::lstat(d.c_str(), &st) != 0) throw Refusal{"cannot stat " + d.string() + ": " + errno_text(errno)};
    if (!S_ISDIR(st.st_mode)) throw Refusal{d.string() + " is no longer a directory (it changed while being checked)"};
    if (!trusted_owner(st.st_uid))
      throw Refusal{who + " is owned by another user (uid " + std::to_string(st.st_uid) +
                    "); it and every directory above it must be owned by root or the running user"};
    bool sticky_ok = !is_plugin_dir && (st.st_mode & S_ISVTX);
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !sticky_ok)
      throw Refusal{who + std::string(st.st_mode & S_IWOTH ? " is world-writable" : " is group-writable") +
                    "; refusing to load plugins from it (only a directory with the sticky bit, such as /tmp, may be "
                    "writable by others above the plugin directory)"};
    last = st;
  }
  Fd fd(::open(canonical.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) throw Refusal{"cannot open the plugin directory: " + errno_text(errno)};
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || st.st_dev != last.st_dev || st.st_ino != last.st_ino)
    throw Refusal{"the plugin directory changed while being checked"};
  return fd;
}

// The lib*.so names of an open directory, sorted.
std::vector<std::string> plugin_names(int dir_fd) {
  std::vector<std::string> names;
  int dup = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return names;
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return names;
  }
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 6 && name.rfind("lib", 0) == 0 && name.compare(name.size() - 3, 3, ".so") == 0)
      names.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
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
//
// Trust is decided before dlopen: a library's constructors run when it is
// loaded, before anything can look at its entry point. So the file is opened
// once (no link followed), that descriptor is checked and hashed, and that
// descriptor is what the dynamic loader opens (/proc/self/fd/N): renaming
// another file over the name between the check and the load changes nothing.
void load_one(int dir_fd, const fs::path& path, const PluginHostOptions& options, FilterRegistry& registry,
              std::vector<std::string>& provided) {
  Fd fd = open_trusted(dir_fd, path.filename().string(), options);
  std::string via = "/proc/self/fd/" + std::to_string(fd.get());
  ::dlerror();
  void* handle = ::dlopen(via.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    std::string reason = why ? why : "unknown error";
    // The loader names the /proc path: say which file it was.
    if (auto at = reason.find(via); at != std::string::npos) reason.replace(at, via.size(), path.string());
    if (::access("/proc/self/fd", F_OK) != 0)
      reason += " (/proc is not mounted: plugins are loaded through /proc/self/fd/N, the descriptor that was checked)";
    throw Refusal{"cannot load it: " + reason};
  }
  auto lib = std::make_shared<LoadedLibrary>(handle, std::move(fd), via);
  ::dlerror();
  void* symbol = ::dlsym(handle, "retarget_plugin_entry");
  if (!symbol) throw Refusal{"no entry point: it does not export 'retarget_plugin_entry' (see docs/plugins.md)"};
  auto entry = reinterpret_cast<const sdk::PluginTable* (*)()>(symbol);
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
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  return fd.get() < 0 ? "" : sha256_fd(fd.get());
}

void load_plugins(const PluginHostOptions& options, FilterRegistry& registry) {
  std::set<fs::path> seen;  // a directory named twice is searched once
  for (const auto& dir : options.directories) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      registry.add_refused({dir, "plugin directory does not exist"});
      continue;
    }
    fs::path canonical = fs::canonical(dir, ec);
    if (ec) {
      registry.add_refused({dir, "cannot resolve the plugin directory: " + ec.message()});
      continue;
    }
    if (!seen.insert(canonical).second) continue;
    Fd dir_fd;
    try {
      dir_fd = open_trusted_directory(canonical);
    } catch (const Refusal& r) {
      registry.add_refused({dir, r.reason});
      continue;
    }
    for (const auto& name : plugin_names(dir_fd.get())) {
      fs::path f = fs::path(dir) / name;
      std::vector<std::string> provided;
      try {
        load_one(dir_fd.get(), f, options, registry, provided);
      } catch (const Refusal& r) {
        registry.add_refused({f.string(), r.reason, std::move(provided)});
      }
    }
  }
  registry.freeze();
}

}  // namespace retarget
