// `retarget`: the command line, a thin layer over the public API (engine.hpp).
// Exit codes (formats.md): 0 done, 1 the request failed (unknown id, refused,
// I/O), 2 bad usage or invalid input (nothing applied), 3 done but some input
// lines were rejected.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "retarget/engine.hpp"

namespace {

using nlohmann::json;
using retarget::Diagnostics;
using retarget::Engine;
using retarget::Status;
using retarget::csv_cell;

constexpr int kOk = 0, kFailed = 1, kBadInput = 2, kSomeRejected = 3;

// Set when an ingest (the command or --events) rejected lines: a command that
// otherwise succeeds then exits 3.
bool g_rejected_lines = false;

// JSON as text; bytes that are not UTF-8 (none should reach here: input is
// checked at the edge) become U+FFFD instead of aborting the process.
std::string dump(const json& j, int indent = 2) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

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

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

int report(const Status& s) {
  if (s.ok()) return kOk;
  std::cerr << "retarget: " << s.message() << "\n";
  return s.exit_code();
}

void print_diagnostics(const Diagnostics& d) {
  for (const auto& item : d.items()) std::cerr << item.to_string() << "\n";
}

// What a command does with the data directory.
enum class Access {
  kRead,    // only reads: opened read-only (no lock: works while a service writes); must exist
  kWrite,   // changes it: takes the lock (created when missing)
  kNoData,  // needs none (plugins, schema): read-only when it exists, else nothing
};

// The engine options of the global flags; false (after a message) on a bad flag.
bool engine_options(const Globals& g, retarget::EngineOptions& options) {
  options.config_path = g.config;
  options.data_dir = g.data_dir;
  options.extra_plugin_dirs = g.plugin_dirs;
  options.threads = g.threads;
  if (!g.now.empty()) {
    auto t = retarget::parse_time_ms(g.now);
    if (!t) {
      std::cerr << "retarget: --now '" << g.now << "' is not an RFC 3339 time such as 2026-06-01T00:00:00Z\n";
      return false;
    }
    options.now_ms = *t;
  }
  return true;
}

// The data directory a command uses: --data-dir, else the config's.
std::string data_dir_of(const retarget::EngineOptions& options) {
  if (options.data_dir) return *options.data_dir;
  if (options.config_path.empty()) return retarget::Config{}.data_dir;
  Diagnostics d;
  return retarget::load_config(options.config_path, d).data_dir;
}

// Set for a read-only open of a durable directory: when its state was written.
std::optional<std::string> g_as_of;

int run_with_engine(const Globals& g, Access access, const std::function<int(Engine&)>& body) {
  retarget::EngineOptions options;
  if (!engine_options(g, options)) return kBadInput;
  // The one-process form writes (catalog and events first).
  if (!g.catalogs.empty() || !g.events.empty()) access = Access::kWrite;
  std::string dir = data_dir_of(options);
  if (dir != ":memory:" && access != Access::kWrite) {
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
      if (access == Access::kNoData) {
        options.data_dir = ":memory:";  // nothing is created for a command that only reads
      } else {
        std::cerr << "retarget: no data directory at '" << dir
                  << "' (a command that writes creates it: catalog apply, ingest, rules apply; or pass --data-dir)\n";
        return kBadInput;
      }
    } else {
      options.read_only = true;
    }
  }
  auto engine = Engine::Open(options);
  if (!engine.ok()) return report(engine.status());
  if ((*engine)->read_only()) {
    g_as_of = retarget::format_time_ms((*engine)->as_of_ms());
    std::cerr << "as of: " << *g_as_of << "\n";
  }
  for (const auto& r : (*engine)->refused_plugins())
    std::cerr << "retarget: warning: plugin " << r.library << " refused: " << r.reason << "\n";
  for (const auto& c : g.catalogs) {
    Diagnostics d;
    Status s = (*engine)->apply_catalog_file(c, d);
    print_diagnostics(d);
    if (!s.ok()) return report(s);
  }
  for (const auto& e : g.events) {
    auto r = (*engine)->ingest_file(e);
    if (!r.ok()) return report(r.status());
    std::cerr << e << ": " << r->accepted << " accepted, " << r->duplicates << " duplicates, " << r->rejected
              << " rejected\n";
    for (const auto& rej : r->rejections) std::cerr << e << ":" << rej.line << ": rejected: " << rej.reason << "\n";
    if (r->rejected) g_rejected_lines = true;
  }
  if (!g.rules.empty()) {
    Diagnostics d;
    Status s = (*engine)->load_rules(g.rules, d, /*store=*/false);
    print_diagnostics(d);
    if (!s.ok()) return report(s);
  }
  return body(**engine);
}

// `--rules` of one command: used for that command only, never stored.
int load_command_rules(Engine& e, const std::vector<std::string>& files) {
  if (files.empty()) return kOk;
  Diagnostics d;
  Status s = e.load_rules(files, d, /*store=*/false);
  print_diagnostics(d);
  return report(s);
}

std::string time_text(std::optional<std::int64_t> t) {
  if (!t) return "never";
  return retarget::format_time_ms(*t);
}

json explain_json(const retarget::ExplainNode& n) {
  json j{{"node", n.label}, {"value", n.value}};
  if (!n.because.empty()) j["because"] = n.because;
  if (!n.children.empty()) {
    j["children"] = json::array();
    for (const auto& c : n.children) j["children"].push_back(explain_json(c));
  }
  return j;
}

void explain_text(const retarget::ExplainNode& n, const std::string& indent, std::ostream& out) {
  out << indent << (n.value ? "[yes] " : "[no]  ") << n.label;
  if (!n.because.empty()) out << "  -- " << n.because;
  out << "\n";
  for (const auto& c : n.children) explain_text(c, indent + "      ", out);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"retarget: a rules engine for retargeting segmentation"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("--config", g.config, "config file (default: built-in defaults, see config/retarget.yaml)");
  app.add_option("--data-dir", g.data_dir, "data directory, or :memory:");
  app.add_option("--plugins", g.plugin_dirs, "an extra plugin directory (repeatable)");
  app.add_option("--now", g.now, "fix the clock for every time rule (RFC 3339)");
  app.add_option("--threads", g.threads, "evaluation threads (default: config, 0 = one per core)");
  app.add_option("--catalog", g.catalogs, "apply this catalog file first (repeatable; one-process form)");
  app.add_option("--events", g.events, "ingest this JSON Lines file first (repeatable; one-process form)");
  app.add_option("--rules", g.rules, "apply this rules file first (repeatable; one-process form)");

  int code = kOk;

  // plugins
  auto* plugins = app.add_subcommand("plugins", "list loaded plugins and their filters");
  std::string plugins_format = "text";
  plugins->add_option("--format", plugins_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  plugins->callback([&] {
    code = run_with_engine(g, Access::kNoData, [&](Engine& e) {
      if (plugins_format == "json") {
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
        std::cout << dump(j) << "\n";
        return kOk;
      }
      for (const auto& p : e.plugins()) std::cout << p.name << " " << p.version << "  (" << p.library << ")\n";
      std::cout << "\n";
      for (const auto& f : e.filters()) {
        std::cout << f.name << " " << f.version << (f.interaction_dependent ? "  [interaction-dependent]" : "  [profile-level]")
                  << "\n    " << f.description << "\n    params:";
        for (const auto& p : f.params)
          std::cout << " " << p.name << ":" << p.type << (p.required ? "" : "?");
        std::cout << "\n    example: " << f.name << ": " << f.example << "\n";
      }
      for (const auto& r : e.refused_plugins()) std::cout << "\nrefused: " << r.library << ": " << r.reason << "\n";
      return kOk;
    });
  });

  // validate
  auto* validate = app.add_subcommand("validate", "check rule files against the catalog and the loaded filters");
  std::vector<std::string> validate_files;
  validate->add_option("rules", validate_files, "rule files")->required();
  validate->callback([&] {
    code = run_with_engine(g, Access::kNoData, [&](Engine& e) {
      Diagnostics d;
      Status s = e.validate_rules(validate_files, d);
      print_diagnostics(d);
      if (s.ok()) std::cout << "ok: " << validate_files.size() << " file(s) valid\n";
      return s.ok() ? kOk : kBadInput;
    });
  });

  // catalog apply
  auto* catalog = app.add_subcommand("catalog", "catalog commands");
  auto* catalog_apply = catalog->add_subcommand("apply", "upsert campaigns, Canvases and Content Cards");
  catalog->require_subcommand(1);
  std::string catalog_file;
  catalog_apply->add_option("file", catalog_file, "catalog YAML")->required();
  catalog_apply->callback([&] {
    code = run_with_engine(g, Access::kWrite, [&](Engine& e) {
      Diagnostics d;
      Status s = e.apply_catalog_file(catalog_file, d);
      print_diagnostics(d);
      if (s.ok()) std::cout << "applied " << catalog_file << "\n";
      return report(s);
    });
  });

  // ingest
  auto* ingest = app.add_subcommand("ingest", "ingest JSON Lines events (- = standard input)");
  std::string ingest_file;
  std::string ingest_format = "text";
  ingest->add_option("file", ingest_file, "events file or -")->required();
  ingest->add_option("--format", ingest_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  retarget::IngestOptions ingest_options;
  bool ingest_ack = false;
  ingest->add_option("--batch", ingest_options.batch, "events per group commit (default 65536)");
  ingest->add_flag("--ack", ingest_ack, "print 'durable LINE' on stderr after each group commit");
  ingest->callback([&] {
    code = run_with_engine(g, Access::kWrite, [&](Engine& e) {
      if (ingest_ack)
        ingest_options.on_durable = [](std::uint64_t line) { std::cerr << "durable " << line << std::endl; };
      auto r = e.ingest_file(ingest_file, ingest_options);
      if (!r.ok()) return report(r.status());
      if (ingest_format == "json") {
        json rej = json::array();
        for (const auto& x : r->rejections) rej.push_back({{"line", x.line}, {"reason", x.reason}});
        std::cout << dump(json{{"lines", r->lines}, {"accepted", r->accepted}, {"duplicates", r->duplicates},
                               {"rejected", r->rejected}, {"rejections", rej}, {"seconds", r->seconds}})
                  << "\n";
      } else {
        for (const auto& x : r->rejections) std::cerr << ingest_file << ":" << x.line << ": rejected: " << x.reason << "\n";
        if (r->rejected > r->rejections.size())
          std::cerr << ingest_file << ": " << (r->rejected - r->rejections.size()) << " more rejected line(s) not listed\n";
        std::cout << r->accepted << " accepted, " << r->duplicates << " duplicates, " << r->rejected << " rejected\n";
      }
      return r->rejected ? kSomeRejected : kOk;
    });
  });

  // evaluate
  auto* evaluate = app.add_subcommand("evaluate", "members of a segment");
  std::vector<std::string> eval_rules;
  std::vector<std::string> eval_segments;
  std::string eval_format = "text";
  evaluate->add_option("--rules", eval_rules, "rule files");
  evaluate->add_option("--segment", eval_segments, "segment id (repeatable; default: every segment)");
  evaluate->add_option("--format", eval_format, "text, count, ids, csv or json")
      ->check(CLI::IsMember({"text", "count", "ids", "csv", "json"}));
  evaluate->callback([&] {
    code = run_with_engine(g, Access::kRead, [&](Engine& e) {
      if (int rc = load_command_rules(e, eval_rules); rc != kOk) return rc;
      std::vector<std::string> ids = eval_segments.empty() ? e.segment_ids() : eval_segments;
      if (ids.empty()) {
        std::cerr << "retarget: no segments: pass --rules FILE\n";
        return kBadInput;
      }
      // One segment asked for: the plain forms of formats.md. Several (or
      // none named, meaning all): lines labelled with the segment id.
      bool labelled = eval_segments.size() != 1;
      bool json_out = eval_format == "json";
      json all = json::array();
      if (eval_format == "csv") std::cout << (labelled ? "segment,external_id\n" : "external_id\n");
      for (const auto& id : ids) {
        auto r = e.evaluate(id, eval_format != "count" && eval_format != "text");
        if (!r.ok()) {
          if (r.status().code() == Status::Code::kNotFound)
            return report(Status::NotFound(r.status().message() + retarget::did_you_mean(id, e.segment_ids())));
          return report(r.status());
        }
        if (!json_out)
          for (const auto& w : r->warnings) std::cerr << "warning: " << w << "\n";
        if (eval_format == "count") {
          if (labelled) std::cout << r->id << "\t";
          std::cout << r->count << "\n";
        } else if (eval_format == "ids") {
          for (const auto& m : r->members) {
            if (labelled) std::cout << r->id << "\t";
            std::cout << m << "\n";
          }
        } else if (eval_format == "csv") {
          for (const auto& m : r->members) {
            if (labelled) std::cout << csv_cell(r->id) << ",";
            std::cout << csv_cell(m) << "\n";
          }
        } else if (json_out) {
          json one{{"segment", r->id}, {"count", r->count}, {"members", r->members}, {"warnings", r->warnings},
                   {"timing", {{"evaluate_ms", r->evaluate_ms}, {"compile_ms", r->compile_ms}}}};
          if (g_as_of) one["as_of"] = *g_as_of;
          all.push_back(std::move(one));
        } else {
          std::cout << r->id << " (" << r->name << "): " << r->count << " user(s)  [" << r->evaluate_ms << " ms]\n";
        }
      }
      // JSON has one shape whatever the number of segments: an array.
      if (json_out) std::cout << dump(all) << "\n";
      return kOk;
    });
  });

  // explain
  auto* explain = app.add_subcommand("explain", "why a user is or is not in a segment");
  std::vector<std::string> explain_rules;
  std::string explain_segment, explain_user, explain_format = "text";
  explain->add_option("--rules", explain_rules, "rule files");
  explain->add_option("--segment", explain_segment, "segment id")->required();
  explain->add_option("--user", explain_user, "external user id")->required();
  explain->add_option("--format", explain_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  explain->callback([&] {
    code = run_with_engine(g, Access::kRead, [&](Engine& e) {
      if (int rc = load_command_rules(e, explain_rules); rc != kOk) return rc;
      auto r = e.explain(explain_segment, explain_user);
      if (!r.ok()) {
        if (r.status().code() == Status::Code::kNotFound)
          return report(Status::NotFound(r.status().message() + retarget::did_you_mean(explain_segment, e.segment_ids())));
        return report(r.status());
      }
      if (explain_format == "json") {
        json j{{"segment", r->segment}, {"user", r->user}, {"known_user", r->known_user}, {"member", r->member},
               {"match", explain_json(r->match)}, {"exclude", json::array()}, {"warnings", r->warnings}};
        for (const auto& x : r->exclude) j["exclude"].push_back(explain_json(x));
        std::cout << dump(j) << "\n";
        return kOk;
      }
      std::cout << "segment " << r->segment << ", user " << r->user << ": "
                << (r->member ? "MEMBER" : "not a member") << "\n";
      if (!r->known_user) {
        std::cout << "  " << r->match.label << "\n";
        return kOk;
      }
      std::cout << "match:\n";
      explain_text(r->match, "  ", std::cout);
      if (!r->exclude.empty()) {
        std::cout << "exclude (a user in any of these is removed):\n";
        for (const auto& x : r->exclude) explain_text(x, "  ", std::cout);
      }
      for (const auto& w : r->warnings) std::cout << "warning: " << w << "\n";
      return kOk;
    });
  });

  // rules apply / remove
  auto* rules = app.add_subcommand("rules", "stored segments");
  rules->require_subcommand(1);
  auto* rules_apply = rules->add_subcommand("apply", "validate and store segments (upsert by id)");
  std::vector<std::string> apply_files;
  rules_apply->add_option("files", apply_files, "rule files")->required();
  rules_apply->callback([&] {
    code = run_with_engine(g, Access::kWrite, [&](Engine& e) {
      Diagnostics d;
      retarget::RulesChange change;
      Status s = e.load_rules(apply_files, d, /*store=*/true, &change);
      print_diagnostics(d);
      if (s.ok()) {
        std::cout << "stored " << change.added.size() + change.updated.size() << " segment(s) from "
                  << join(apply_files, ", ") << ": " << change.added.size() << " new";
        if (!change.added.empty()) std::cout << " (" << join(change.added, ", ") << ")";
        std::cout << ", " << change.updated.size() << " updated";
        if (!change.updated.empty()) std::cout << " (" << join(change.updated, ", ") << ")";
        std::cout << "; " << e.segment_ids().size() << " stored in total\n";
      }
      return report(s);
    });
  });
  auto* rules_remove = rules->add_subcommand("remove", "remove a stored segment");
  std::string remove_id;
  rules_remove->add_option("id", remove_id, "segment id")->required();
  rules_remove->callback([&] {
    code = run_with_engine(g, Access::kWrite, [&](Engine& e) {
      Status s = e.remove_segment(remove_id);
      if (s.ok()) std::cout << "removed " << remove_id << "\n";
      return report(s);
    });
  });

  // campaign|canvas|card stop|resume
  struct StatusCommand {
    std::string id;
    bool restore = false;
  };
  static StatusCommand status_args;
  for (const char* kind : {"campaign", "canvas", "card"}) {
    auto* cmd = app.add_subcommand(kind, std::string("change a ") + kind + "'s status");
    cmd->require_subcommand(1);
    for (const char* verb : {"stop", "resume"}) {
      auto* sub = cmd->add_subcommand(verb, std::string(verb) + " it");
      sub->add_option("id", status_args.id, "id")->required();
      if (std::string(verb) == "resume")
        sub->add_flag("--restore", status_args.restore, "restore the expired data its audience needs first");
      std::string k = kind, v = verb;
      sub->callback([&, k, v] {
        code = run_with_engine(g, Access::kWrite, [&](Engine& e) {
          Status s = e.set_status(k, status_args.id, v == "stop" ? "stopped" : "active", status_args.restore);
          if (s.ok()) std::cout << k << " " << status_args.id << ": " << (v == "stop" ? "stopped" : "active") << "\n";
          return report(s);
        });
      });
    }
  }

  // deps
  auto* deps = app.add_subcommand("deps", "the dependency graph: who pins which campaign and why");
  std::string deps_format = "text";
  deps->add_option("--format", deps_format, "text, json or dot")->check(CLI::IsMember({"text", "json", "dot"}));
  deps->callback([&] {
    code = run_with_engine(g, Access::kRead, [&](Engine& e) {
      if (deps_format == "json") {
        json j = json::parse(e.dependency_graph(deps_format));
        if (g_as_of) j["as_of"] = *g_as_of;
        std::cout << dump(j) << "\n";
        return kOk;
      }
      std::cout << e.dependency_graph(deps_format);
      return kOk;
    });
  });

  // lifecycle sweep|status|plan
  auto* lifecycle = app.add_subcommand("lifecycle", "expiry and long-term storage");
  lifecycle->require_subcommand(1);
  std::string lifecycle_format = "text";
  auto* sweep = lifecycle->add_subcommand("sweep", "expire what is due now");
  sweep->add_option("--format", lifecycle_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  sweep->callback([&] {
    code = run_with_engine(g, Access::kWrite, [&](Engine& e) {
      auto r = e.sweep();
      if (!r.ok()) return report(r.status());
      if (lifecycle_format == "json") {
        std::cout << dump(json{{"expired", r->expired}, {"deleted", r->deleted}, {"records_moved", r->records_moved}}) << "\n";
        return kOk;
      }
      for (const auto& s : r->expired) std::cout << "expired " << s << " (moved to long-term storage)\n";
      for (const auto& s : r->deleted) std::cout << "deleted " << s << " (legacy policy)\n";
      if (r->expired.empty() && r->deleted.empty()) std::cout << "nothing is due\n";
      return kOk;
    });
  });
  auto* status = lifecycle->add_subcommand("status", "per campaign/Canvas: live, expired, restoring; pins; expiry date");
  std::vector<std::string> status_ids;
  status->add_option("ids", status_ids, "campaign or Canvas ids (default: all)");
  status->add_option("--format", lifecycle_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  status->callback([&] {
    code = run_with_engine(g, Access::kRead, [&](Engine& e) {
      auto list = e.lifecycle_status(status_ids);
      // Every id asked for must exist: an unknown one is exit 1, with a suggestion.
      std::vector<std::string> known;
      for (const auto& s : e.lifecycle_status()) known.push_back(s.id), known.push_back(s.key);
      for (const auto& id : status_ids)
        if (std::find(known.begin(), known.end(), id) == known.end())
          return report(Status::NotFound("unknown campaign or Canvas '" + id + "'" + retarget::did_you_mean(id, known)));
      if (lifecycle_format == "json") {
        json arr = json::array();
        for (const auto& s : list) {
          json pins = json::array();
          for (const auto& p : s.pinned_by) pins.push_back({{"pinner", p.pinner}, {"path", p.path}});
          json j{{"source", s.key}, {"name", s.name}, {"status", s.status}, {"tier", s.tier}, {"pinned", s.pinned},
                 {"pinned_by", pins}, {"records", s.records}, {"last_activity_reason", s.last_activity_reason},
                 {"action", s.action}};
          j["last_activity"] = s.last_activity_ms ? json(time_text(s.last_activity_ms)) : json(nullptr);
          j["due"] = s.due_ms ? json(time_text(s.due_ms)) : json(nullptr);
          j[s.action == "delete" ? "deleted_at" : "expires_at"] =
              s.expires_at_ms ? json(time_text(s.expires_at_ms)) : json(nullptr);
          if (s.tier == "deleted" || s.tier == "expired")
            j[s.tier == "deleted" ? "was_deleted_at" : "expired_at"] =
                s.tier_changed_at_ms ? json(time_text(s.tier_changed_at_ms)) : json(nullptr);
          if (s.deletion_basis_ms) j["last_sent_or_stopped"] = time_text(s.deletion_basis_ms);
          if (g_as_of) j["as_of"] = *g_as_of;
          arr.push_back(j);
        }
        std::cout << dump(arr) << "\n";
        return kOk;
      }
      for (const auto& s : list) {
        std::cout << s.key << " (" << s.status << "): " << s.tier << ", " << s.records << " records";
        if (s.tier == "deleted") {
          std::cout << ", interaction data deleted at " << time_text(s.tier_changed_at_ms) << " (legacy policy)";
        } else if (s.tier == "expired") {
          std::cout << ", expired at " << time_text(s.tier_changed_at_ms) << " (in long-term storage; "
                    << "retarget restore --" << s.kind << " " << s.id << ")";
        } else if (s.pinned) {
          std::cout << ", pinned by";
          for (const auto& p : s.pinned_by) std::cout << " [" << join(p.path, " -> ") << "]";
        } else if (s.expires_at_ms && s.action == "delete") {
          std::cout << ", deleted at the sweep of " << time_text(s.expires_at_ms)
                    << " (legacy policy: 25 calendar months after " << time_text(s.deletion_basis_ms) << ")";
        } else if (s.expires_at_ms) {
          std::cout << ", expires at the sweep of " << time_text(s.expires_at_ms) << " (last activity: "
                    << s.last_activity_reason << " " << time_text(s.last_activity_ms) << ")";
        }
        std::cout << "\n";
      }
      return kOk;
    });
  });
  auto* plan = lifecycle->add_subcommand("plan", "what would expire (or, under legacy, be deleted) by a time");
  std::string plan_until;
  plan->add_option("--until", plan_until, "RFC 3339 time")->required();
  plan->add_option("--format", lifecycle_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  plan->callback([&] {
    code = run_with_engine(g, Access::kRead, [&](Engine& e) {
      auto until = retarget::parse_time_ms(plan_until);
      if (!until) {
        std::cerr << "retarget: --until '" << plan_until << "' is not an RFC 3339 time\n";
        return kBadInput;
      }
      auto entries = e.lifecycle_plan(*until);
      if (lifecycle_format == "json") {
        json arr = json::array();
        for (const auto& p : entries) arr.push_back({{"source", p.source}, {"action", p.action}, {"at", time_text(p.at_ms)}});
        std::cout << dump(arr) << "\n";
        return kOk;
      }
      for (const auto& p : entries) std::cout << time_text(p.at_ms) << "  " << p.action << "  " << p.source << "\n";
      if (entries.empty()) std::cout << "nothing would expire by " << plan_until << "\n";
      return kOk;
    });
  });

  // restore
  auto* restore = app.add_subcommand("restore", "restore expired data from long-term storage");
  retarget::RestoreRequest restore_req;
  bool restore_wait = false;
  std::string restore_format = "text";
  restore->add_option("--campaign", restore_req.campaigns, "campaign id (repeatable)");
  restore->add_option("--canvas", restore_req.canvases, "Canvas id (repeatable)");
  restore->add_option("--tag", restore_req.tags, "every expired source carrying the tag (repeatable)");
  restore->add_flag("--wait", restore_wait, "wait until the data is live again");
  restore->add_option("--format", restore_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  auto* restore_status = restore->add_subcommand("status", "restore jobs: every recent one, or one by id");
  std::optional<std::uint64_t> restore_status_id;
  restore_status->add_option("job", restore_status_id, "job id");
  restore_status->add_option("--format", restore_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  restore_status->callback([&] {
    code = run_with_engine(g, Access::kRead, [&](Engine& e) {
      std::vector<retarget::RestoreJobInfo> jobs;
      if (restore_status_id) {
        auto j = e.restore_job(*restore_status_id);
        if (!j.ok()) return report(j.status());
        jobs.push_back(*j);
      } else {
        jobs = e.restore_jobs();
      }
      json arr = json::array();
      for (const auto& j : jobs) {
        json o{{"job", j.id}, {"sources", j.sources}, {"state", to_string(j.state)}, {"moved", j.moved}, {"total", j.total}};
        if (!j.error.empty()) o["error"] = j.error;
        if (!j.not_restored.empty()) o["not_restored"] = j.not_restored;
        if (j.created_at_ms) o["created_at"] = time_text(j.created_at_ms);
        if (j.completed_at_ms) o["completed_at"] = time_text(j.completed_at_ms);
        if (j.moving_total) o["moving"] = {{"moved", j.moving_done}, {"total", j.moving_total}};
        if (g_as_of) o["as_of"] = *g_as_of;
        arr.push_back(o);
        if (restore_format != "json") {
          std::cout << "restore job " << j.id << " " << j.state << ": " << join(j.sources, ", ") << " (" << j.moved << "/"
                    << j.total << " records)";
          if (j.moving_total && j.moving_done < j.moving_total)
            std::cout << "; bytes moving back: " << j.moving_done << "/" << j.moving_total << " sources";
          if (!j.error.empty()) std::cout << "; " << j.error;
          if (!j.not_restored.empty()) std::cout << "; not restored: " << join(j.not_restored, ", ");
          std::cout << "\n";
        }
      }
      if (restore_format == "json") std::cout << dump(restore_status_id ? arr[0] : arr) << "\n";
      else if (jobs.empty()) std::cout << "no restore jobs\n";
      return kOk;
    });
  });
  restore->callback([&] {
    if (restore_status->parsed()) return;
    code = run_with_engine(g, Access::kWrite, [&](Engine& e) {
      if (restore_req.campaigns.empty() && restore_req.canvases.empty() && restore_req.tags.empty()) {
        std::cerr << "retarget: restore needs --campaign, --canvas or --tag\n";
        return kBadInput;
      }
      auto job = e.restore(restore_req);
      if (!job.ok()) return report(job.status());
      retarget::RestoreJobInfo info = *job;
      if (restore_wait && info.id) info = e.wait_restore(info.id);
      if (restore_format == "json") {
        std::cout << dump(json{{"job", info.id}, {"sources", info.sources}, {"state", to_string(info.state)},
                               {"moved", info.moved}, {"total", info.total}})
                  << "\n";
      } else if (info.sources.empty()) {
        std::cout << "nothing to restore: the data is live\n";
      } else {
        std::cout << "restore job " << info.id << " " << info.state << ": " << join(info.sources, ", ") << " ("
                  << info.moved << "/" << info.total << " records)\n";
      }
      return info.state == retarget::JobState::kFailed ? kFailed : kOk;
    });
  });

  // profile / export / analytics
  auto* profile = app.add_subcommand("profile", "a user's profile: Campaigns Received, Canvas Messages Received (JSON)");
  std::string profile_user;
  profile->add_option("user", profile_user, "external user id")->required();
  profile->callback([&] {
    code = run_with_engine(g, Access::kRead, [&](Engine& e) {
      auto r = e.profile(profile_user);
      if (!r.ok()) return report(r.status());
      json j = json::parse(*r);  // expired data it leaves out: the JSON's "warnings"
      if (g_as_of) j["as_of"] = *g_as_of;
      std::cout << dump(j) << "\n";
      return kOk;
    });
  });
  auto* exp = app.add_subcommand("export", "interaction-data exports (expired data excluded)");
  exp->require_subcommand(1);
  auto* exp_users = exp->add_subcommand("users", "the users export (JSON) for external ids");
  std::string export_ids;
  exp_users->add_option("--ids", export_ids, "comma-separated external ids")->required();
  exp_users->callback([&] {
    code = run_with_engine(g, Access::kRead, [&](Engine& e) {
      std::vector<std::string> ids;
      std::stringstream ss(export_ids);
      for (std::string id; std::getline(ss, id, ',');)
        if (!id.empty()) ids.push_back(id);
      auto exported = e.export_users(ids);
      if (!exported.ok()) return report(exported.status());
      json j = json::parse(*exported);  // with "warnings" naming expired sources it leaves out
      if (g_as_of) j["as_of"] = *g_as_of;
      std::cout << dump(j) << "\n";
      return kOk;
    });
  });
  auto* exp_rec = exp->add_subcommand("recipients", "User Data CSV of a campaign, a Canvas or one step");
  std::string rec_campaign, rec_canvas, rec_step;
  exp_rec->add_option("--campaign", rec_campaign, "campaign id");
  exp_rec->add_option("--canvas", rec_canvas, "Canvas id");
  exp_rec->add_option("--step", rec_step, "one step of the Canvas");
  exp_rec->callback([&] {
    code = run_with_engine(g, Access::kRead, [&](Engine& e) {
      if (rec_campaign.empty() == rec_canvas.empty() || (!rec_step.empty() && rec_canvas.empty())) {
        std::cerr << "retarget: export recipients needs --campaign C, or --canvas K [--step S]\n";
        return kBadInput;
      }
      std::vector<std::string> warnings;
      auto r = rec_campaign.empty() ? e.export_recipients("canvas", rec_canvas, rec_step, &warnings)
                                    : e.export_recipients("campaign", rec_campaign, "", &warnings);
      if (!r.ok()) return report(r.status());
      for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
      std::cout << *r;
      return kOk;
    });
  });
  auto* analytics = app.add_subcommand("analytics", "sends, recipients, opens, clicks, conversions, control size");
  std::string an_campaign, an_canvas, an_format = "text";
  analytics->add_option("--campaign", an_campaign, "campaign id");
  analytics->add_option("--canvas", an_canvas, "Canvas id");
  analytics->add_option("--format", an_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  analytics->callback([&] {
    code = run_with_engine(g, Access::kRead, [&](Engine& e) {
      if (an_campaign.empty() == an_canvas.empty()) {
        std::cerr << "retarget: analytics needs --campaign C or --canvas K\n";
        return kBadInput;
      }
      auto r = an_campaign.empty() ? e.analytics("canvas", an_canvas) : e.analytics("campaign", an_campaign);
      if (!r.ok()) return report(r.status());
      if (an_format == "json") {
        json j = json::parse(*r);
        if (g_as_of) j["as_of"] = *g_as_of;
        std::cout << dump(j) << "\n";
        return kOk;
      }
      json parsed = json::parse(*r);
      for (const auto& [k, v] : parsed.items()) std::cout << k << ": " << v.dump() << "\n";
      return kOk;
    });
  });

  // store check
  auto* store = app.add_subcommand("store", "the data directory");
  store->require_subcommand(1);
  auto* check = store->add_subcommand("check", "verify every checksum and record; where each source's data is (JSON)");
  check->callback([&] {
    code = run_with_engine(g, Access::kRead, [&](Engine& e) {
      json report_json = json::parse(e.check_store());
      if (g_as_of) report_json["as_of"] = *g_as_of;
      std::cout << dump(report_json) << "\n";
      for (const auto& p : report_json["problems"])
        std::cerr << "retarget: " << p["message"].get<std::string>() << "\n";
      return report_json["ok"].get<bool>() ? kOk : kFailed;
    });
  });
  auto* rebuild = store->add_subcommand(
      "rebuild", "rebuild the index from the raw events kept in the data directory (or convert an earlier release's)");
  rebuild->callback([&] {
    retarget::EngineOptions options;
    if (!engine_options(g, options)) {
      code = kBadInput;
      return;
    }
    auto r = Engine::RebuildStore(options);
    if (!r.ok()) {
      code = report(r.status());
      return;
    }
    if (r->migrated)
      std::cout << "converted the earlier release's data directory; its files are kept in " << r->backup_dir << "\n";
    std::cout << "rebuilt the index from " << r->events << " events, " << r->changes << " catalog and rules changes, "
              << r->sources << " sources' lifecycle states in " << r->seconds << " s\n";
    code = kOk;
  });
  auto* repair = store->add_subcommand(
      "repair", "drop the damaged parts of the log and the raw events (listing exactly what), then rebuild");
  repair->callback([&] {
    retarget::EngineOptions options;
    if (!engine_options(g, options)) {
      code = kBadInput;
      return;
    }
    auto r = Engine::RepairStore(options);
    if (!r.ok()) {
      code = report(r.status());
      return;
    }
    for (const auto& d : r->dropped)
      std::cout << "dropped " << d.file << ": bytes " << d.offset << " to " << d.offset + d.length << " (damaged)\n";
    if (r->dropped.empty()) std::cout << "nothing was damaged\n";
    std::cout << r->records_kept << " records kept; the index was rebuilt from them\n";
    code = kOk;
  });
  auto* checkpoint = store->add_subcommand("checkpoint", "write a checkpoint now (the next open replays nothing before it)");
  checkpoint->callback([&] {
    code = run_with_engine(g, Access::kWrite, [&](Engine& e) { return report(e.checkpoint()); });
  });

  // schema
  auto* schema = app.add_subcommand("schema", "write a JSON Schema for rule files (from the loaded filters)");
  std::string schema_out;
  std::vector<std::string> schema_rules;
  schema->add_option("--output,-o", schema_out, "file to write (default: standard output)");
  schema->add_option("--rules", schema_rules, "rule files whose segment ids to suggest");
  schema->callback([&] {
    code = run_with_engine(g, Access::kNoData, [&](Engine& e) {
      if (int rc = load_command_rules(e, schema_rules); rc != kOk) return rc;
      std::string text = e.rules_json_schema() + "\n";
      if (schema_out.empty()) {
        std::cout << text;
        return kOk;
      }
      std::ofstream out(schema_out);
      if (!(out << text)) {
        std::cerr << "retarget: cannot write " << schema_out << "\n";
        return kFailed;
      }
      std::cerr << "wrote " << schema_out << "\n";
      return kOk;
    });
  });

  // Every argument must be UTF-8 (ids, paths, times): checked here, at the edge.
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (!retarget::is_utf8_text(arg)) {
      std::cerr << "retarget: argument " << i << " is not valid UTF-8\n";
      return kBadInput;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kBadInput;
  }
  if (code == kOk && g_rejected_lines) return kSomeRejected;
  return code;
}
