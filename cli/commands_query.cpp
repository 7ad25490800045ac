// evaluate, explain, profile, export, analytics, deps: commands that read.
#include <iostream>
#include <sstream>

#include "cli.hpp"
#include "progress.hpp"

namespace retarget::cli {

namespace {

// A segment id nobody defined: exit 1 with the nearest known ids.
Status unknown_segment(const Status& s, const std::string& id, const Engine& e) {
  if (s.code() != Status::Code::kNotFound) return s;
  return Status::NotFound(s.message() + did_you_mean(id, e.segment_ids()));
}

void add_evaluate(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("evaluate", "members of segments");
  struct Args {
    std::vector<std::string> rules, segments;
    std::string format = "text", after;
    std::size_t limit = 0;
  };
  auto& a = cli.keep<Args>();
  cmd->add_option("--rules", a.rules, "rule files");
  cmd->add_option("--segment", a.segments, "segment id (repeatable; default: every segment)");
  add_format(cmd, a.format, {"text", "count", "ids", "csv", "json"});
  cmd->add_option("--limit", a.limit, "members: at most N per segment, in id order (0 = all); the JSON's next_after "
                                      "(or a note on stderr) gives the --after of the next page");
  cmd->add_option("--after", a.after, "members: only those whose id sorts after this one (the next page)");
  add_examples(cmd, {"retarget evaluate --segment win_back --format ids",
                     "retarget evaluate --segment win_back --format ids --limit 1000 --after u0041",
                     "retarget evaluate --format count                 # every stored segment",
                     "retarget evaluate --rules draft.yaml --segment new_idea --format json"});
  cmd->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      if (int rc = load_command_rules(e, a.rules); rc != kOk) return rc;
      std::vector<std::string> ids = a.segments.empty() ? e.segment_ids() : a.segments;
      if (ids.empty()) {
        std::cerr << "retarget: no segments: pass --rules FILE\n";
        return kBadInput;
      }
      // One segment asked for: the plain forms of formats.md. Several (or
      // none named, meaning all): lines labelled with the segment id.
      bool labelled = a.segments.size() != 1;
      bool json_out = a.format == "json";
      json all = json::array();
      if (a.format == "csv") std::cout << (labelled ? "segment,external_id\n" : "external_id\n");
      for (const auto& id : ids) {
        EvaluateOptions options;
        options.with_members = a.format != "count" && a.format != "text";
        options.members_after = a.after;
        options.members_limit = a.limit;
        // The plain id list is printed as the engine writes it: one text, no string per member.
        options.members_as_lines = a.format == "ids" && !labelled;
        auto r = cli.partitions->merge(e.evaluate(id, options), options);
        if (!r.ok()) return report(unknown_segment(r.status(), id, e));
        if (!json_out && !r->next_after.empty())
          std::cerr << "note: " << r->id << " has more members: --after " << r->next_after << " for the next page\n";
        if (!json_out)
          for (const auto& w : r->warnings) std::cerr << "warning: " << w << "\n";
        if (a.format == "count") {
          if (labelled) std::cout << r->id << "\t";
          std::cout << r->count << "\n";
        } else if (a.format == "ids") {
          std::cout << r->member_lines;
          for (const auto& m : r->members) {
            if (labelled) std::cout << r->id << "\t";
            std::cout << m << "\n";
          }
        } else if (a.format == "csv") {
          for (const auto& m : r->members) {
            if (labelled) std::cout << csv_cell(r->id) << ",";
            std::cout << csv_cell(m) << "\n";
          }
        } else if (json_out) {
          json one{{"segment", r->id}, {"count", r->count}, {"members", r->members}, {"warnings", r->warnings},
                   {"timing", {{"evaluate_ms", r->evaluate_ms}, {"compile_ms", r->compile_ms}}}};
          if (!r->next_after.empty()) one["next_after"] = r->next_after;
          if (cli.as_of) one["as_of"] = *cli.as_of;
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
}

json explain_json(const ExplainNode& n) {
  json j{{"node", n.label}, {"value", n.value}};
  if (!n.because.empty()) j["because"] = n.because;
  if (!n.children.empty()) {
    j["children"] = json::array();
    for (const auto& c : n.children) j["children"].push_back(explain_json(c));
  }
  return j;
}

void explain_text(const ExplainNode& n, const std::string& indent, std::ostream& out) {
  out << indent << (n.value ? "[yes] " : "[no]  ") << n.label;
  if (!n.because.empty()) out << "  -- " << n.because;
  out << "\n";
  for (const auto& c : n.children) explain_text(c, indent + "      ", out);
}

void add_explain(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("explain", "why a user is or is not in a segment");
  struct Args {
    std::vector<std::string> rules;
    std::string segment, user, format = "text";
  };
  auto& a = cli.keep<Args>();
  cmd->add_option("--rules", a.rules, "rule files");
  cmd->add_option("--segment", a.segment, "segment id")->required();
  cmd->add_option("--user", a.user, "external user id")->required();
  add_format(cmd, a.format, {"text", "json"});
  add_examples(cmd, {"retarget explain --segment win_back --user u42"});
  cmd->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      if (int rc = load_command_rules(e, a.rules); rc != kOk) return rc;
      cli.partitions->answer_for_user(a.user);
      auto r = e.explain(a.segment, a.user);
      if (!r.ok()) return report(unknown_segment(r.status(), a.segment, e));
      if (a.format == "json") {
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
}

void add_profile(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("profile", "a user's profile: Campaigns Received, Canvas Messages Received (JSON)");
  auto& user = cli.keep<std::string>();
  cmd->add_option("user", user, "external user id")->required();
  add_examples(cmd, {"retarget profile u42"});
  cmd->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      cli.partitions->answer_for_user(user);
      auto r = e.profile(user);
      if (!r.ok()) return report(r.status());
      json j = json::parse(to_json(*r));  // expired data it leaves out: the JSON's "warnings"
      if (cli.as_of) j["as_of"] = *cli.as_of;
      std::cout << dump(j) << "\n";
      return kOk;
    });
  });
}

void add_export(CLI::App& app, Cli& cli) {
  auto* exp = app.add_subcommand("export", "interaction-data exports (expired data excluded)");
  exp->require_subcommand(1);

  auto* users = exp->add_subcommand("users", "the users export (JSON) for external ids");
  auto& ids_text = cli.keep<std::string>();
  users->add_option("--ids", ids_text, "comma-separated external ids")->required();
  add_examples(users, {"retarget export users --ids u1,u2,u3"});
  users->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      std::vector<std::string> ids;
      std::stringstream ss(ids_text);
      for (std::string id; std::getline(ss, id, ',');)
        if (!id.empty()) ids.push_back(id);
      auto exported = e.export_users(ids);
      if (!exported.ok()) return report(exported.status());
      json j = json::parse(to_json(cli.partitions->merge(std::move(*exported), ids)));  // with "warnings" naming expired sources it leaves out
      if (cli.as_of) j["as_of"] = *cli.as_of;
      std::cout << dump(j) << "\n";
      return kOk;
    });
  });

  auto* rec = exp->add_subcommand("recipients", "User Data CSV of a campaign, a Canvas or one step");
  struct Args {
    std::string campaign, canvas, step;
  };
  auto& a = cli.keep<Args>();
  rec->add_option("--campaign", a.campaign, "campaign id");
  rec->add_option("--canvas", a.canvas, "Canvas id");
  rec->add_option("--step", a.step, "one step of the Canvas");
  add_examples(rec, {"retarget export recipients --campaign spring_sale > recipients.csv",
                     "retarget export recipients --canvas onboarding --step day3"});
  rec->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      if (a.campaign.empty() == a.canvas.empty() || (!a.step.empty() && a.canvas.empty())) {
        std::cerr << "retarget: export recipients needs --campaign C, or --canvas K [--step S]\n";
        return kBadInput;
      }
      auto r = a.campaign.empty() ? e.export_recipients(SourceKind::kCanvas, a.canvas, a.step)
                                  : e.export_recipients(SourceKind::kCampaign, a.campaign);
      if (!r.ok()) return report(r.status());
      *r = cli.partitions->merge(std::move(*r));
      for (const auto& w : r->warnings) std::cerr << "warning: " << w << "\n";
      Progress progress("export", "rows", r->rows.size());
      write_csv(*r, std::cout, [&](std::size_t rows) { progress.update(rows, rows, ""); });
      progress.finish();
      return kOk;
    });
  });
}

void add_analytics(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("analytics", "sends, recipients, opens, clicks, conversions, control size");
  struct Args {
    std::string campaign, canvas, format = "text";
  };
  auto& a = cli.keep<Args>();
  cmd->add_option("--campaign", a.campaign, "campaign id");
  cmd->add_option("--canvas", a.canvas, "Canvas id");
  add_format(cmd, a.format, {"text", "json"});
  add_examples(cmd, {"retarget analytics --campaign spring_sale --format json"});
  cmd->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      if (a.campaign.empty() == a.canvas.empty()) {
        std::cerr << "retarget: analytics needs --campaign C or --canvas K\n";
        return kBadInput;
      }
      auto r = a.campaign.empty() ? e.analytics(SourceKind::kCanvas, a.canvas)
                                  : e.analytics(SourceKind::kCampaign, a.campaign);
      if (!r.ok()) return report(r.status());
      json j = json::parse(to_json(cli.partitions->merge(*r)));
      if (a.format == "json") {
        if (cli.as_of) j["as_of"] = *cli.as_of;
        std::cout << dump(j) << "\n";
        return kOk;
      }
      for (const auto& [k, v] : j.items()) std::cout << k << ": " << v.dump() << "\n";
      return kOk;
    });
  });
}

void add_deps(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("deps", "the dependency graph: who pins which campaign and why");
  auto& format = cli.keep<std::string>() = "text";
  add_format(cmd, format, {"text", "json", "dot"});
  add_examples(cmd, {"retarget deps", "retarget deps --format dot | dot -Tsvg > deps.svg"});
  cmd->callback([&] {
    cli.code = cli.run(Access::kRead, [&](Engine& e) {
      if (format == "json") {
        json j = json::parse(e.dependency_graph(format));
        if (cli.as_of) j["as_of"] = *cli.as_of;
        std::cout << dump(j) << "\n";
        return kOk;
      }
      std::cout << e.dependency_graph(format);
      return kOk;
    });
  });
}

}  // namespace

void add_query_commands(CLI::App& app, Cli& cli) {
  add_evaluate(app, cli);
  add_explain(app, cli);
  add_profile(app, cli);
  add_export(app, cli);
  add_analytics(app, cli);
  add_deps(app, cli);
}

}  // namespace retarget::cli
