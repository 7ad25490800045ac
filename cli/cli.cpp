// cli.hpp: opening the engine for a command, and the output helpers.
#include "cli.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace retarget::cli {

#ifndef RETARGET_SYSTEM_CONFIG
#define RETARGET_SYSTEM_CONFIG "/etc/retarget/retarget.yaml"
#endif

std::string config_path(const Globals& g) {
  if (!g.config.empty()) return g.config;
  if (const char* env = std::getenv("RETARGET_CONFIG"); env && *env) return env;
  std::error_code ec;
  if (std::filesystem::is_regular_file(RETARGET_SYSTEM_CONFIG, ec)) return RETARGET_SYSTEM_CONFIG;
  return "";
}

std::optional<std::string> data_dir_override(const Globals& g) {
  if (g.data_dir) return g.data_dir;
  if (const char* env = std::getenv("RETARGET_DATA_DIR"); env && *env) return std::string(env);
  return std::nullopt;
}

std::string dump(const json& j, int indent) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string time_text(std::optional<std::int64_t> t) { return t ? format_time_ms(*t) : "never"; }

int report(const Status& s) {
  if (s.ok()) return kOk;
  std::cerr << "retarget: " << s.message() << "\n";
  return s.exit_code();
}

void print_diagnostics(const Diagnostics& d) {
  for (const auto& item : d.items()) std::cerr << item.to_string() << "\n";
}

int load_command_rules(Engine& e, const std::vector<std::string>& files) {
  if (files.empty()) return kOk;
  Diagnostics d;
  Status s = e.load_rules(files, d, /*store=*/false);
  print_diagnostics(d);
  return report(s);
}

CLI::Option* add_format(CLI::App* cmd, std::string& format, const std::vector<std::string>& allowed) {
  return cmd->add_option("--format", format, join(allowed, ", "))->check(CLI::IsMember(allowed));
}

void add_examples(CLI::App* cmd, const std::vector<std::string>& lines) {
  std::string text = "\nExamples:\n";
  for (const auto& l : lines) text += "  " + l + "\n";
  cmd->footer(text);
}

bool engine_options(const Globals& g, EngineOptions& options) {
  options.config_path = config_path(g);
  options.data_dir = data_dir_override(g);
  options.extra_plugin_dirs = g.plugin_dirs;
  options.threads = g.threads;
  if (!g.now.empty()) {
    auto t = parse_time_ms(g.now);
    if (!t) {
      std::cerr << "retarget: --now '" << g.now << "' is not an RFC 3339 time such as 2026-06-01T00:00:00Z\n";
      return false;
    }
    options.now_ms = *t;
  }
  return true;
}

namespace {

// The data directory a command uses: the override, else the config's.
std::string data_dir_of(const EngineOptions& options) {
  if (options.data_dir) return *options.data_dir;
  if (options.config_path.empty()) return Config{}.data_dir;
  Diagnostics d;
  return load_config(options.config_path, d).data_dir;
}

}  // namespace

bool Cli::options(EngineOptions& options, bool writes) {
  if (!engine_options(globals, options)) return false;
  auto dir = partitions->data_directory(data_dir_of(options), writes);
  if (!dir.ok()) {
    std::cerr << "retarget: " << dir.status().message() << "\n";
    return false;
  }
  options.data_dir = *dir;
  return true;
}

int Cli::run(Access access, const std::function<int(Engine&)>& body) {
  const Globals& g = globals;
  // The one-process form writes (catalog and events first).
  if (!g.catalogs.empty() || !g.events.empty()) access = Access::kWrite;
  // Failing before the open completes: the other processes learn it at the same meeting point.
  auto not_opened = [&](int code) {
    partitions->all_ok(false);
    return code;
  };
  EngineOptions options;
  if (!this->options(options, access == Access::kWrite)) return not_opened(kBadInput);
  std::string dir = *options.data_dir;
  if (dir != ":memory:" && access != Access::kWrite) {
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
      if (access == Access::kNoData) {
        options.data_dir = ":memory:";  // nothing is created for a command that only reads
      } else {
        std::cerr << "retarget: no data directory at '" << dir
                  << "' (a command that writes creates it: catalog apply, ingest, rules apply; or pass --data-dir "
                     "or set RETARGET_DATA_DIR)\n";
        return not_opened(kBadInput);
      }
    } else {
      options.read_only = true;
    }
  }
  auto engine = Engine::Open(options);
  if (!engine.ok()) return not_opened(report(engine.status()));
  if ((*engine)->read_only()) {
    as_of = format_time_ms((*engine)->as_of_ms());
    std::cerr << "as of: " << *as_of << " (data directory " << dir << ")\n";
  }
  for (const auto& r : (*engine)->refused_plugins())
    std::cerr << "retarget: warning: plugin " << r.library << " refused: " << r.reason << "\n";
  Status catalogs_applied = Status::Ok();
  for (const auto& c : g.catalogs) {
    Diagnostics d;
    catalogs_applied = (*engine)->apply_catalog_file(c, d);
    print_diagnostics(d);
    if (!catalogs_applied.ok()) break;
  }
  // Every process opened its directory: from here on they exchange data.
  if (!partitions->all_ok(catalogs_applied.ok())) return catalogs_applied.ok() ? kFailed : report(catalogs_applied);
  for (const auto& e : g.events) {
    auto r = partitions->ingest(**engine, e, {});
    if (!r.ok()) return report(r.status());
    std::cerr << e << ": " << r->accepted << " accepted, " << r->duplicates << " duplicates, " << r->rejected
              << " rejected\n";
    for (const auto& rej : r->rejections) std::cerr << e << ":" << rej.line << ": rejected: " << rej.reason << "\n";
    if (r->rejected) rejected_lines = true;
  }
  if (!g.rules.empty()) {
    Diagnostics d;
    Status s = (*engine)->load_rules(g.rules, d, /*store=*/false);
    print_diagnostics(d);
    if (!s.ok()) return report(s);
  }
  if (Status s = partitions->prepare(**engine); !s.ok()) return report(s);
  return body(**engine);
}

}  // namespace retarget::cli
