// build_app and run_app (cli.hpp): the global flags, the command groups, and
// parsing with a suggestion for a mistyped subcommand.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "retarget/version.hpp"

namespace retarget::cli {

namespace {

// CLI11 reports a mistyped subcommand as an unexpected argument; say what
// the nearest subcommand is instead. Finds the deepest subcommand parsed and
// the first word after it that names none of its subcommands.
std::string suggest_subcommand(const CLI::App& app, const std::string& program, int argc, char** argv) {
  const CLI::App* at = &app;
  for (int i = 1; i < argc; ++i) {
    std::string_view word(argv[i]);
    if (word.empty() || word[0] == '-') continue;
    std::vector<std::string> names;
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : at->get_subcommands({})) {
      names.push_back(sub->get_name());
      if (sub->get_name() == word) next = sub;
    }
    if (next) {
      at = next;
      continue;
    }
    if (names.empty()) return "";  // a command without subcommands: its own arguments follow
    // A value of an option (--data-dir D) is not a command: only suggest when
    // the word is close to a subcommand name.
    std::string hint = retarget::did_you_mean(word, names);
    if (hint.empty()) continue;
    std::string where = at == &app ? program : program + " " + at->get_name();
    return program + ": '" + std::string(word) + "' is not a command of " + where + hint;
  }
  return "";
}

}  // namespace

void build_app(CLI::App& app, Cli& cli, const std::string& program) {
  app.require_subcommand(1);
  app.set_version_flag("--version", program + " " + retarget::version());
  app.footer(std::string("\n") + kExitCodes +
             "\nConfiguration: --config, else $RETARGET_CONFIG, else the installed system config when it exists, else "
             "the built-in defaults.\nData directory: --data-dir, else $RETARGET_DATA_DIR, else the config's data_dir."
             "\nEach command's --help has examples; docs/cli.md has the whole reference.\n");
  Globals& g = cli.globals;
  app.add_option("--config", g.config, "config file (default: $RETARGET_CONFIG, the system config, or built-in)");
  app.add_option("--data-dir", g.data_dir, "data directory, or :memory: (default: $RETARGET_DATA_DIR or the config's)");
  app.add_option("--plugins", g.plugin_dirs, "an extra plugin directory (repeatable)");
  app.add_option("--now", g.now, "fix the clock for every time rule (RFC 3339)");
  app.add_option("--threads", g.threads, "evaluation threads (default: config, 0 = one per core)");
  app.add_option("--catalog", g.catalogs, "apply this catalog file first (repeatable; one-process form)");
  app.add_option("--events", g.events, "ingest this JSON Lines file first (repeatable; one-process form)");
  app.add_option("--rules", g.rules, "apply this rules file first (repeatable; one-process form)");

  add_inspect_commands(app, cli);
  add_data_commands(app, cli);
  add_query_commands(app, cli);
  add_lifecycle_commands(app, cli);
  add_store_commands(app, cli);
}

int run_app(CLI::App& app, Cli& cli, int argc, char** argv) {
  const std::string program = app.get_name().empty() ? "retarget" : app.get_name();

  // Every argument must be UTF-8 (ids, paths, times): checked here, at the edge.
  for (int i = 1; i < argc; ++i) {
    if (!retarget::is_utf8_text(argv[i])) {
      std::cerr << program << ": argument " << i << " is not valid UTF-8\n";
      return kBadInput;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string hint = suggest_subcommand(app, program, argc, argv);
    if (!hint.empty()) {
      std::cerr << hint << "\nRun with --help for more information.\n";
      return kBadInput;
    }
    app.exit(e);
    return kBadInput;
  }
  if (cli.code == kOk && cli.rejected_lines) return kSomeRejected;
  return cli.code;
}

}  // namespace retarget::cli
