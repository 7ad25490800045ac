// What every `retarget` command shares: the global flags, the exit codes, how
// a command opens the engine, and small output helpers. Each commands_*.cpp
// registers one group of subcommands on the CLI11 app; main.cpp parses.
//
// Exit codes (formats.md): 0 done, 1 the request failed (unknown id, refused,
// I/O), 2 bad usage or invalid input (nothing applied), 3 done but some input
// lines were rejected.
//
// Thread safety: none needed; the command line runs on one thread.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "partitions.hpp"
#include "retarget/engine.hpp"
#include "retarget/format.hpp"

namespace retarget::cli {

using nlohmann::json;

constexpr int kOk = 0, kFailed = 1, kBadInput = 2, kSomeRejected = 3;

// The exit-code table, as --help and docs/cli.md print it.
inline constexpr const char* kExitCodes =
    "Exit codes:\n"
    "  0  done, all input accepted\n"
    "  1  the request failed: unknown id, refused action, I/O error, data directory in use\n"
    "  2  bad usage or invalid input, nothing applied (validation errors, missing or unreadable file, bad flags)\n"
    "  3  done, but some input lines were rejected (the good lines are durable)\n";

struct Globals {
  std::string config;
  std::optional<std::string> data_dir;
  std::vector<std::string> plugin_dirs;
  std::string now;
  std::optional<unsigned> threads;
  std::vector<std::string> catalogs;  // applied before the command (one-process form)
  std::vector<std::string> events;    // ingested before the command (one-process form)
  std::vector<std::string> rules;     // applied (rules apply) before the command (one-process form)
};

// What a command does with the data directory.
enum class Access {
  kRead,    // only reads: opened read-only (no lock: works while a service writes); must exist
  kWrite,   // changes it: takes the lock (created when missing)
  kNoData,  // needs none (plugins, schema): read-only when it exists, else nothing
};

// The state of one invocation. Commands register their flags into objects
// from keep<T>(), which live as long as the app.
class Cli {
 public:
  Globals globals;
  // Where partial results meet: the identity for `retarget`, the other
  // processes for retarget-mpi (partitions.hpp). Never null.
  Partitions* partitions = &single_;
  int code = kOk;               // the exit code the command set
  bool rejected_lines = false;  // an ingest (the command or --events) rejected lines: exit 3 if otherwise ok
  std::optional<std::string> as_of;  // a read-only open: when the state read was written

  template <typename T>
  T& keep() {
    auto p = std::make_shared<T>();
    kept_.push_back(p);
    return *p;
  }

  // Opens the engine for `access` (applying --catalog, --events and --rules
  // first) and runs `body`; returns its exit code, or the open's.
  int run(Access access, const std::function<int(Engine&)>& body);
  // The engine options of the global flags, with this process's data
  // directory (commands that open the directory themselves: store rebuild
  // and repair); false (after a message) on a bad flag or directory.
  bool options(EngineOptions& options, bool writes);

 private:
  Partitions single_;
  std::vector<std::shared_ptr<void>> kept_;
};

// Where configuration and data are found (docs/cli.md): --config, then
// $RETARGET_CONFIG, then the installed system config when it exists, else the
// built-in defaults; --data-dir, then $RETARGET_DATA_DIR, then the config's.
std::string config_path(const Globals& g);
std::optional<std::string> data_dir_override(const Globals& g);
// The engine options of the global flags; false (after a message) on a bad flag.
bool engine_options(const Globals& g, EngineOptions& options);

// JSON as text; bytes that are not UTF-8 become U+FFFD instead of aborting.
std::string dump(const json& j, int indent = 2);
std::string join(const std::vector<std::string>& v, const char* sep);
std::string time_text(std::optional<std::int64_t> t);
// Prints a failed status on stderr; its exit code (0 when ok).
int report(const Status& s);
void print_diagnostics(const Diagnostics& d);
// `--rules` of one command: used for that command only, never stored.
int load_command_rules(Engine& e, const std::vector<std::string>& files);
// Adds "--format" with the allowed values to a subcommand.
CLI::Option* add_format(CLI::App* cmd, std::string& format, const std::vector<std::string>& allowed);
// The examples block of a subcommand's --help.
void add_examples(CLI::App* cmd, const std::vector<std::string>& lines);

// The command groups (commands_*.cpp).
void add_inspect_commands(CLI::App& app, Cli& cli);    // version, plugins, validate, schema, completion
void add_data_commands(CLI::App& app, Cli& cli);       // catalog, ingest, rules, campaign/canvas/card
void add_query_commands(CLI::App& app, Cli& cli);      // evaluate, explain, profile, export, analytics, deps
void add_lifecycle_commands(CLI::App& app, Cli& cli);  // lifecycle, restore
void add_store_commands(CLI::App& app, Cli& cli);      // store check|rebuild|repair|checkpoint

// Builds the whole `retarget` command line (global flags and every command)
// on `app`, for `program` (the name --help and --version print); app.cpp.
void build_app(CLI::App& app, Cli& cli, const std::string& program);
// Checks the arguments, parses them and runs the command; the exit code.
int run_app(CLI::App& app, Cli& cli, int argc, char** argv);

// A bash completion script for `app` (completion.cpp).
std::string bash_completion(const CLI::App& app);

}  // namespace retarget::cli
