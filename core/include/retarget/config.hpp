// Engine configuration: config/retarget.yaml documents every key and default.
//
// Unknown keys are an error (a typo must not silently fall back to a default).
// Relative paths in a config file are resolved against the file's directory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "retarget/diagnostics.hpp"
#include "retarget/status.hpp"

namespace retarget {

struct Limits {
  std::size_t max_rules_file_bytes = 4u << 20;    // a rules or catalog file
  std::size_t max_yaml_nodes = 200000;            // after alias expansion
  std::size_t max_tree_depth = 32;                // nesting of all/any/not in one segment
  std::size_t max_tree_nodes = 10000;             // nodes of one segment's trees
  std::size_t max_segment_depth = 32;             // segments nested in segments (a -> b -> c is 2)
  std::size_t max_in_values = 256;                // values of one `in` list
  std::size_t max_event_line_bytes = 1u << 20;    // one JSON Lines event
  std::size_t max_attribute_names = 10000;        // distinct custom attribute names stored
  std::size_t max_attribute_value_bytes = 128u << 10;  // one attribute's string value
  std::size_t max_users_per_request = 50;         // external ids of one users export
  // One evaluation (a segment's members or count, an explain, an export's
  // audience): stopped past this, the request fails (Status::kTimedOut).
  std::int64_t max_evaluation_ms = 60000;         // "60s"
};

struct Notifications {
  bool log = true;          // write a line to the log (standard error)
  std::string command;      // run with the notification as JSON on stdin, "" = none
  std::string webhook;      // POST the notification as JSON, "" = none
};

struct Config {
  // Directories searched for plugin libraries (lib*.so). Empty = the default:
  // <dir of the executable>/../lib/retarget/plugins (build tree and install tree alike).
  std::vector<std::string> plugin_dirs;
  // Optional SHA-256 digests (hex) a plugin file must match; empty = no allowlist.
  std::vector<std::string> plugin_sha256_allowlist;
  // The durable data directory (RocksDB), created when missing; relative to
  // the working directory. ":memory:" keeps everything in the process.
  std::string data_dir = "retarget-data";
  std::string timezone = "UTC";                     // company time zone (IANA)
  std::int64_t expiry_window_ms = 90LL * 86400000;  // "90d"
  std::string sweep_schedule = "daily 03:00";       // embedded scheduler
  bool pin_by_tag = true;
  bool segments_pin = false;
  // A change that makes an active consumer depend on an expired source (a tag
  // added, a segment edited) warns; with this, the source is also restored.
  bool restore_when_pinned = false;
  std::string policy = "tiered";                    // tiered | legacy
  unsigned threads = 0;                             // 0 = one per core
  // A checkpoint is written when the log since the last one reaches this
  // many bytes, or this long after it (and on clean close).
  std::uint64_t checkpoint_bytes = 256ull << 20;    // "256MiB"
  std::int64_t checkpoint_interval_ms = 600000;     // "10m"
  std::string dead_letter;                          // file for rejected events, "" = none
  Limits limits;
  Notifications notifications;
};

// Reads a config file. Every problem is reported in `diags` with its location.
Config load_config(const std::string& path, Diagnostics& diags);

}  // namespace retarget
