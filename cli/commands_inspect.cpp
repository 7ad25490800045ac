// version, plugins, validate, schema, completion: commands that read no
// interaction data.
#include <fstream>
#include <iostream>

#include "cli.hpp"
#include "retarget/version.hpp"

namespace retarget::cli {

namespace {

void add_version(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("version", "the version, the plugin ABI and the libraries built with");
  auto& format = cli.keep<std::string>() = "text";
  add_format(cmd, format, {"text", "json"});
  add_examples(cmd, {"retarget version", "retarget --version", "retarget version --format json"});
  cmd->callback([&] {
    BuildInfo info = build_info();
    if (format == "json") {
      json libs = json::object();
      for (const auto& [name, v] : info.libraries) libs[name] = v;
      std::cout << dump(json{{"version", info.version}, {"abi_version", info.abi_version},
                             {"build_type", info.build_type}, {"libraries", libs}})
                << "\n";
    } else {
      std::cout << "retarget " << info.version << "\nplugin ABI " << info.abi_version << "\nbuild type "
                << (info.build_type.empty() ? "(none)" : info.build_type) << "\nlibraries:";
      for (const auto& [name, v] : info.libraries) std::cout << " " << name << " " << v << ";";
      std::cout << "\n";
    }
    cli.code = kOk;
  });
}

json plugins_json(const Engine& e) {
  json j{{"plugins", json::array()}, {"filters", json::array()}, {"refused", json::array()}};
  for (const auto& p : e.plugins())
    j["plugins"].push_back({{"name", p.name}, {"version", p.version}, {"library", p.library}, {"filters", p.filters}});
  for (const auto& f : e.filters()) {
    json params = json::array();
    for (const auto& p : f.params) {
      json pj{{"name", p.name}, {"type", p.type}, {"required", p.required}};
      if (!p.allowed.empty()) pj["allowed"] = p.allowed;
      if (!p.default_value.empty()) pj["default"] = p.default_value;
      if (!p.description.empty()) pj["description"] = p.description;
      params.push_back(pj);
    }
    j["filters"].push_back({{"name", f.name}, {"description", f.description}, {"version", f.version},
                            {"plugin", f.plugin}, {"interaction_dependent", f.interaction_dependent},
                            {"params", params}, {"example", f.example}});
  }
  for (const auto& r : e.refused_plugins()) j["refused"].push_back({{"library", r.library}, {"reason", r.reason}});
  return j;
}

void add_plugins(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("plugins", "list loaded plugins and their filters");
  auto& format = cli.keep<std::string>() = "text";
  add_format(cmd, format, {"text", "json"});
  add_examples(cmd, {"retarget plugins", "retarget --plugins ./my-plugins plugins --format json"});
  cmd->callback([&] {
    cli.code = cli.run(Access::kNoData, [&](Engine& e) {
      if (format == "json") {
        std::cout << dump(plugins_json(e)) << "\n";
        return kOk;
      }
      for (const auto& p : e.plugins()) std::cout << p.name << " " << p.version << "  (" << p.library << ")\n";
      std::cout << "\n";
      for (const auto& f : e.filters()) {
        std::cout << f.name << " " << f.version
                  << (f.interaction_dependent ? "  [interaction-dependent]" : "  [profile-level]") << "\n    "
                  << f.description << "\n    params:";
        for (const auto& p : f.params) std::cout << " " << p.name << ":" << p.type << (p.required ? "" : "?");
        std::cout << "\n    example: " << f.name << ": " << f.example << "\n";
      }
      for (const auto& r : e.refused_plugins()) std::cout << "\nrefused: " << r.library << ": " << r.reason << "\n";
      return kOk;
    });
  });
}

void add_validate(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("validate", "check rule files against the catalog and the loaded filters");
  auto& files = cli.keep<std::vector<std::string>>();
  cmd->add_option("rules", files, "rule files")->required();
  add_examples(cmd, {"retarget --data-dir /var/lib/retarget validate rules/*.yaml",
                     "retarget --catalog catalog.yaml validate rules.yaml   # against a catalog file"});
  cmd->callback([&] {
    cli.code = cli.run(Access::kNoData, [&](Engine& e) {
      Diagnostics d;
      Status s = e.validate_rules(files, d);
      print_diagnostics(d);
      if (e.catalog_entries().empty())
        std::cerr << "note: the catalog is empty, so every campaign, Canvas, step and tag named is unknown: pass "
                     "--catalog FILE, or --data-dir of a store that has one\n";
      if (s.ok()) std::cout << "ok: " << files.size() << " file(s) valid\n";
      return s.ok() ? kOk : kBadInput;
    });
  });
}

void add_schema(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("schema", "write a JSON Schema for rule files (from the loaded filters)");
  struct Args {
    std::string out;
    std::vector<std::string> rules;
  };
  auto& a = cli.keep<Args>();
  cmd->add_option("--output,-o", a.out, "file to write (default: standard output)");
  cmd->add_option("--rules", a.rules, "rule files whose segment ids to suggest");
  add_examples(cmd, {"retarget --data-dir /var/lib/retarget schema -o rules.schema.json"});
  cmd->callback([&] {
    cli.code = cli.run(Access::kNoData, [&](Engine& e) {
      if (int rc = load_command_rules(e, a.rules); rc != kOk) return rc;
      std::string text = e.rules_json_schema() + "\n";
      if (a.out.empty()) {
        std::cout << text;
        return kOk;
      }
      std::ofstream out(a.out);
      if (!(out << text)) {
        std::cerr << "retarget: cannot write " << a.out << "\n";
        return kFailed;
      }
      std::cerr << "wrote " << a.out << "\n";
      return kOk;
    });
  });
}

void add_completion(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("completion", "print a shell completion script (bash)");
  auto& shell = cli.keep<std::string>() = "bash";
  cmd->add_option("shell", shell, "bash")->check(CLI::IsMember({"bash"}));
  add_examples(cmd, {"source <(retarget completion bash)",
                     "retarget completion bash > /etc/bash_completion.d/retarget"});
  cmd->callback([&app, &cli] {
    std::cout << bash_completion(app);
    cli.code = kOk;
  });
}

}  // namespace

void add_inspect_commands(CLI::App& app, Cli& cli) {
  add_version(app, cli);
  add_plugins(app, cli);
  add_validate(app, cli);
  add_schema(app, cli);
  add_completion(app, cli);
}

}  // namespace retarget::cli
