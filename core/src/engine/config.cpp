#include <filesystem>
#include <functional>
#include <map>

#include "common/text.hpp"
#include "common/time.hpp"
#include "common/yaml_tree.hpp"
#include "lifecycle/lifecycle.hpp"
#include "retarget/config.hpp"

namespace retarget {
namespace {

namespace fs = std::filesystem;

using Handler = std::function<void(const YamlNode&)>;

struct Reader {
  const std::string& file;
  Diagnostics& diags;

  void error(const YamlNode& n, const std::string& msg) { diags.error(n.where(file), msg); }

  void read_map(const YamlNode& node, const std::string& what, const std::map<std::string, Handler>& handlers) {
    if (!node.is_map()) {
      if (!node.is_null()) error(node, what + " must be a map");
      return;
    }
    std::vector<std::string> known;
    for (const auto& [k, h] : handlers) known.push_back(k);
    for (const auto& [k, v] : node.entries) {
      auto it = handlers.find(k.value);
      if (it == handlers.end()) {
        error(k, "unknown key '" + k.value + "' in " + what + did_you_mean(k.value, known));
        continue;
      }
      it->second(v);
    }
  }
  Handler boolean(bool& out) {
    return [this, &out](const YamlNode& n) {
      if (!yaml_as_bool(n, out)) error(n, "expected true or false");
    };
  }
  Handler size(std::size_t& out) {
    return [this, &out](const YamlNode& n) {
      long long v;
      if (!yaml_as_int(n, v) || v <= 0) return error(n, "expected a positive integer");
      out = static_cast<std::size_t>(v);
    };
  }
  // A positive integer of at most `max` (a bound that protects the process).
  Handler size_up_to(std::size_t& out, std::size_t max) {
    return [this, &out, max](const YamlNode& n) {
      long long v;
      if (!yaml_as_int(n, v) || v <= 0 || static_cast<unsigned long long>(v) > max)
        return error(n, "expected an integer from 1 to " + std::to_string(max));
      out = static_cast<std::size_t>(v);
    };
  }
  // A byte count: a number, or with a unit (KiB, MiB, GiB).
  Handler bytes(std::uint64_t& out) {
    return [this, &out](const YamlNode& n) {
      if (!n.is_scalar()) return error(n, "expected a size such as 256MiB");
      std::string v = n.value;
      std::uint64_t scale = 1;
      for (auto [unit, mult] : {std::pair<const char*, std::uint64_t>{"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}})
        if (v.size() > 3 && v.compare(v.size() - 3, 3, unit) == 0) scale = mult, v.resize(v.size() - 3);
      YamlNode num = n;
      num.value = v;
      long long x;
      if (!yaml_as_int(num, x) || x <= 0 || static_cast<std::uint64_t>(x) > (~0ull) / scale)
        return error(n, "expected a size such as 256MiB (a positive number, optionally KiB, MiB or GiB)");
      out = static_cast<std::uint64_t>(x) * scale;
    };
  }
  Handler string(std::string& out) {
    return [this, &out](const YamlNode& n) {
      if (!n.is_scalar()) return error(n, "expected a string");
      out = n.value;
    };
  }
  Handler path(std::string& out, const fs::path& base) {
    return [this, &out, base](const YamlNode& n) {
      if (!n.is_scalar()) return error(n, "expected a path");
      out = (n.value == ":memory:" || n.value.empty()) ? n.value : (base / n.value).lexically_normal().string();
    };
  }
  Handler strings(std::vector<std::string>& out, const fs::path* base) {
    return [this, &out, base](const YamlNode& n) {
      if (!n.is_sequence()) return error(n, "expected a list");
      out.clear();
      for (const auto& item : n.items) {
        if (!item.is_scalar()) {
          error(item, "expected a string");
          continue;
        }
        out.push_back(base ? (*base / item.value).lexically_normal().string() : item.value);
      }
    };
  }
};

}  // namespace

Config load_config(const std::string& path, Diagnostics& diags) {
  Config c;
  YamlLimits limits;
  YamlNode root = load_yaml_file(path, limits, diags);
  if (diags.has_errors()) return c;
  fs::path base = fs::absolute(fs::path(path)).parent_path();
  Reader r{path, diags};
  r.read_map(root, "the config", {
      {"version", [&](const YamlNode& n) {
         long long v;
         if (!yaml_as_int(n, v) || v != 1) r.error(n, "unsupported config version (expected 1)");
       }},
      {"plugin_dirs", r.strings(c.plugin_dirs, &base)},
      {"plugin_sha256_allowlist", r.strings(c.plugin_sha256_allowlist, nullptr)},
      {"data_dir", r.path(c.data_dir, base)},
      {"timezone", [&](const YamlNode& n) {
         if (!n.is_scalar()) return r.error(n, "expected an IANA time zone name");
         auto tz = TimeZone::Locate(n.value);
         if (!tz.ok()) return r.error(n, tz.status().message());
         c.timezone = n.value;
       }},
      {"expiry_window", [&](const YamlNode& n) {
         auto d = n.is_scalar() ? parse_duration(n.value) : std::nullopt;
         if (!d || *d <= 0) return r.error(n, "expected a duration such as 90d");
         c.expiry_window_ms = *d;
       }},
      {"sweep_schedule", [&](const YamlNode& n) {
         int minutes;
         if (!n.is_scalar() || !LifecyclePolicy::parse_schedule(n.value, minutes))
           return r.error(n, "sweep_schedule must be \"daily HH:MM\" (company time zone)");
         c.sweep_schedule = n.value;
       }},
      {"pin_by_tag", r.boolean(c.pin_by_tag)},
      {"segments_pin", r.boolean(c.segments_pin)},
      {"restore_when_pinned", r.boolean(c.restore_when_pinned)},
      {"policy", [&](const YamlNode& n) {
         if (!n.is_scalar() || (n.value != "tiered" && n.value != "legacy"))
           return r.error(n, "policy must be 'tiered' or 'legacy'");
         c.policy = n.value;
       }},
      {"threads", [&](const YamlNode& n) {
         long long v;
         if (!yaml_as_int(n, v) || v < 0 || v > 1024) return r.error(n, "threads must be 0 (one per core) to 1024");
         c.threads = static_cast<unsigned>(v);
       }},
      {"dead_letter", r.path(c.dead_letter, base)},
      {"checkpoint_bytes", r.bytes(c.checkpoint_bytes)},
      {"checkpoint_interval", [&](const YamlNode& n) {
         auto d = n.is_scalar() ? parse_duration(n.value) : std::nullopt;
         if (!d || *d <= 0) return r.error(n, "expected a duration such as 10m");
         c.checkpoint_interval_ms = *d;
       }},
      {"limits", [&](const YamlNode& n) {
         r.read_map(n, "limits", {
             {"max_rules_file_bytes", r.size(c.limits.max_rules_file_bytes)},
             {"max_yaml_nodes", r.size(c.limits.max_yaml_nodes)},
             {"max_tree_depth", r.size(c.limits.max_tree_depth)},
             {"max_tree_nodes", r.size(c.limits.max_tree_nodes)},
             // Evaluation nests a few stack frames per level: bounded.
             {"max_segment_depth", r.size_up_to(c.limits.max_segment_depth, 256)},
             {"max_in_values", r.size(c.limits.max_in_values)},
             {"max_event_line_bytes", r.size(c.limits.max_event_line_bytes)},
             {"max_attribute_names", r.size(c.limits.max_attribute_names)},
             {"max_attribute_value_bytes", r.size(c.limits.max_attribute_value_bytes)},
             {"max_users_per_request", r.size(c.limits.max_users_per_request)},
             {"max_evaluation_time", [&](const YamlNode& n) {
                auto d = n.is_scalar() ? parse_duration(n.value) : std::nullopt;
                if (!d || *d <= 0) return r.error(n, "expected a duration such as 60s");
                c.limits.max_evaluation_ms = *d;
              }},
         });
       }},
      {"notifications", [&](const YamlNode& n) {
         r.read_map(n, "notifications", {
             {"log", r.boolean(c.notifications.log)},
             {"command", r.string(c.notifications.command)},
             {"webhook", r.string(c.notifications.webhook)},
         });
       }},
  });
  return c;
}

}  // namespace retarget
